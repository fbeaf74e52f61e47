// The benchmark's receiver, run as its own process (loopback only). Every POST is counted under the
// first segment of its path ("/drain-1/…" → "drain-1"), with the time of the first and the last one
// received, and answered 204 at once, except:
// - under /timed-…, the receipt time of each notification item is kept by its entity's name
//   (write → receipt latency);
// - under /hang-…, the request is never answered (a receiver that times out).
// GET /stats/<name> reports a path's count and times, GET /receipts/<name> hands over (and forgets)
// its receipt times. Times are epoch milliseconds with sub-millisecond precision, comparable with
// those of another process on this machine.
import { createServer, type ServerResponse } from 'node:http';

interface PathStats {
  count: number;
  firstAt: number | null;
  lastAt: number | null;
  receipts: [string, number][];
}

const paths = new Map<string, PathStats>();
const statsOf = (name: string) => {
  let stats = paths.get(name);
  if (!stats) paths.set(name, (stats = { count: 0, firstAt: null, lastAt: null, receipts: [] }));
  return stats;
};
const now = () => performance.timeOrigin + performance.now();
const json = (response: ServerResponse, value: unknown) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));

const server = createServer((request, response) => {
  const [, first = '', name = ''] = (request.url ?? '/').split('/');
  if (request.method === 'GET' && first === 'stats') {
    const { receipts: _receipts, ...stats } = statsOf(name);
    return json(response, stats);
  }
  if (request.method === 'GET' && first === 'receipts') {
    const stats = statsOf(name);
    json(response, stats.receipts);
    stats.receipts = [];
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const at = now();
    const stats = statsOf(first);
    stats.count += 1;
    stats.firstAt ??= at;
    stats.lastAt = at;
    if (first.startsWith('timed-')) {
      for (const item of JSON.parse(Buffer.concat(chunks).toString()) as { entity: { name: string } }[]) stats.receipts.push([item.entity.name, at]);
    }
    if (!first.startsWith('hang-')) response.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`listening ${port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
