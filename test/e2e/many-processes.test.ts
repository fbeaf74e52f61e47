// Several processes on one PostgreSQL database: `tidings serve --no-workers` takes the writes and
// `tidings worker` processes deliver, woken by LISTEN/NOTIFY. Exactly once when nothing crashes;
// nothing lost when a worker is killed mid-load (its leases run out and another worker sends them);
// nothing duplicated when a worker is stopped with SIGTERM (it finishes what it started).
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { Receiver } from '../support/receiver.js';

const TOKEN = 'multi-token-1';
const PASSWORD = 'multi-password-1';
const SPACE = 'multi_space';

describe('many processes on one PostgreSQL database', () => {
  let database: TestDatabase;
  let receiver: Receiver;
  const children: ChildProcess[] = [];
  let apiUrl: string;
  let env: Record<string, string>;

  const start = (args: string[]) => startCli(args, env, children);
  const exited = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', (code) => resolve(code))));

  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${apiUrl}/api/v100/rest/spaces/${SPACE}/entities/${path}`, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`${TOKEN}:${PASSWORD}`).toString('base64')}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await response.json()) as any;
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json.data;
  };
  /** Creates `count` products in batches of `batch`, each one delivery (chunk_size 1). */
  const createProducts = async (prefix: string, count: number, batch = 1000) => {
    for (let start = 0; start < count; start += batch) {
      const items = Array.from({ length: Math.min(batch, count - start) }, (_, index) => ({ name: `${prefix} ${start + index}` }));
      await api('POST', 'Products/batch-modify', items);
    }
  };
  const deliveryIds = (path: string) =>
    receiver.requests.filter((request) => request.path === path).map((request) => String(request.headers['webhook-id']));
  /** Waits until every delivery of the webhook is delivered (bounded), as the database says. */
  const allDelivered = async (webhookId: string, timeoutMs: number) => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { rows } = await client.query("SELECT count(*)::int AS open FROM deliveries WHERE webhook_id = $1 AND status <> 'delivered'", [webhookId]);
        if (rows[0].open === 0) return;
        if (Date.now() > deadline) throw new Error(`${rows[0].open} deliveries not delivered after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    receiver = await Receiver.start();
    env = {
      TIDINGS_DATABASE_URL: database.url,
      TIDINGS_SPACE: SPACE,
      TIDINGS_API_TOKEN: TOKEN,
      TIDINGS_API_PASSWORD: PASSWORD,
      TIDINGS_PORT: '0',
      TIDINGS_ALLOW_PRIVATE_TARGETS: '127.0.0.0/8',
      TIDINGS_DELIVERY_TIMEOUT_MS: '1000',
      TIDINGS_RETRY_SCHEDULE: '1,1,1',
      TIDINGS_LOG_LEVEL: 'info',
    };
    const server = await start(['serve', '--no-workers']);
    apiUrl = /Server listening at (http:\/\/[\d.:]+)/.exec(server.output())![1];
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await receiver.close();
    await database.drop();
  });

  it('two worker processes deliver 10,000 notifications, each exactly once', async () => {
    const webhook = await api('POST', 'Webhooks', { url: `${receiver.url}/exactly-once`, events: ['Product.Create'], options: { chunk_size: 1 } });
    const workers = await Promise.all([start(['worker']), start(['worker'])]);
    await createProducts('once', 10_000);
    await receiver.waitFor((r) => r.requests.length >= 10_000, 120_000);
    await allDelivered(webhook.id, 30_000);
    await receiver.expectQuiet(1_000);
    const ids = deliveryIds('/exactly-once');
    expect(ids).toHaveLength(10_000);
    expect(new Set(ids).size).toBe(10_000);
    expect(new Set(receiver.items.map((item) => item.entity.name)).size).toBe(10_000);
    for (const { child } of workers) child.kill('SIGTERM');
    await Promise.all(workers.map(({ child }) => exited(child)));
    await api('DELETE', `Webhooks/${webhook.id}`);
    receiver.reset();
  }, 180_000);

  it("keeps each record's changes in commit order with a worker's claims side by side", async () => {
    const webhook = await api('POST', 'Webhooks', { url: `${receiver.url}/in-order`, events: ['Product.Update'], options: { chunk_size: 1 } });
    const ids = (await api('POST', 'Products/batch-modify', Array.from({ length: 5 }, (_, index) => ({ name: `ordered ${index} round 0` })))) as string[];
    // Each answer takes 5 ms: a record's next change must not arrive before its previous one was answered.
    const answered = new Map<string, number>();
    const early: string[] = [];
    receiver.respond = (request) => {
      const [, index, round] = /^ordered (\d+) round (\d+)$/.exec(request.json[0].entity.name)!;
      if ((answered.get(index!) ?? 0) !== Number(round) - 1) early.push(`${index} round ${round}`);
      setTimeout(() => answered.set(index!, Number(round)), 5);
      return { status: 204, delayMs: 5 };
    };
    // A backlog first: claims could take several changes of a record at once if they did not wait.
    const rounds = 20;
    for (let round = 1; round <= rounds; round += 1) {
      await api('POST', 'Products/batch-modify', ids.map((id, index) => ({ id, name: `ordered ${index} round ${round}` })));
    }
    const worker = await start(['worker']);
    await allDelivered(webhook.id, 60_000);
    const roundsSeen = new Map<string, number[]>();
    for (const item of receiver.items) {
      const [, index, round] = /^ordered (\d+) round (\d+)$/.exec(item.entity.name)!;
      roundsSeen.set(index!, [...(roundsSeen.get(index!) ?? []), Number(round)]);
    }
    expect(early).toEqual([]);
    expect(roundsSeen.size).toBe(5);
    for (const seen of roundsSeen.values()) expect(seen).toEqual([...Array(rounds).keys()].map((round) => round + 1));
    worker.child.kill('SIGTERM');
    await exited(worker.child);
    await api('DELETE', `Webhooks/${webhook.id}`);
    receiver.reset();
  }, 120_000);

  it('loses nothing when a worker is killed mid-load: its leases run out and another sends them', async () => {
    const webhook = await api('POST', 'Webhooks', { url: `${receiver.url}/killed`, events: ['Product.Create'], options: { chunk_size: 1 } });
    receiver.respond = { status: 204, delayMs: 100 };
    const doomed = await start(['worker']);
    await createProducts('killed', 300, 300);
    await receiver.waitFor((r) => r.requests.length >= 50, 30_000);
    doomed.child.kill('SIGKILL');
    await exited(doomed.child);
    const survivor = await start(['worker']);
    // The killed worker's leases (2 × timeout + 5 s) run out; then the survivor sends those too.
    await allDelivered(webhook.id, 60_000);
    const ids = deliveryIds('/killed');
    expect(new Set(ids).size).toBe(300);
    // Only attempts not yet recorded when it died are repeated, with the same webhook-id: at most
    // the 32 it had in flight to the webhook, the 32 a claim waits for before recording them, and
    // those that ended during its last claim (those waiting in its lane were never sent).
    expect(ids.length - 300).toBeLessThanOrEqual(96);
    survivor.child.kill('SIGTERM');
    await exited(survivor.child);
    await api('DELETE', `Webhooks/${webhook.id}`);
    receiver.reset();
  }, 120_000);

  it('duplicates nothing when a worker is stopped with SIGTERM mid-load', async () => {
    const webhook = await api('POST', 'Webhooks', { url: `${receiver.url}/terminated`, events: ['Product.Create'], options: { chunk_size: 1 } });
    receiver.respond = { status: 204, delayMs: 100 };
    const stopping = await start(['worker']);
    await createProducts('terminated', 300, 300);
    await receiver.waitFor((r) => r.requests.length >= 50, 30_000);
    stopping.child.kill('SIGTERM');
    expect(await exited(stopping.child)).toBe(0);
    const next = await start(['worker']);
    await allDelivered(webhook.id, 60_000);
    const ids = deliveryIds('/terminated');
    expect(ids).toHaveLength(300);
    expect(new Set(ids).size).toBe(300);
    next.child.kill('SIGTERM');
    await exited(next.child);
    await api('DELETE', `Webhooks/${webhook.id}`);
  }, 120_000);
});
