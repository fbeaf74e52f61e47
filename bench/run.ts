// `npm run bench`: how fast Tidings delivers, next to the most this machine can deliver (raw
// keep-alive undici POSTs of the same bodies to the same receiver), measured in the same run.
// Loopback only; Tidings and the receiver run as separate processes; bounded in count and time.
//   npm run bench [-- --quick] [-- --db sqlite|postgres]
// This first cut measures the drain scenario; the others of issue 5 are still to come.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Agent, request } from 'undici';
import { openTidings } from '../src/cli/composition.js';
import { loadConfig } from '../src/config/config.js';
import { newId } from '../src/domain/ids.js';
import { DeliveryQueue, type NewDelivery } from '../src/store/delivery-queue.js';
import { version } from '../src/version.js';
import { createTestDatabase, POSTGRES_ADMIN_URL, type DatabaseKind } from '../test/support/databases.js';

const { values: options } = parseArgs({ options: { quick: { type: 'boolean', default: false }, db: { type: 'string' }, out: { type: 'string' } } });
const DRAIN_COUNT = options.quick ? 2_000 : 100_000;
const BASELINE_COUNT = options.quick ? 2_000 : 20_000;
const BASELINE_CONCURRENCY = 32;
const TIME_LIMIT_MS = options.quick ? 60_000 : 300_000;
const ROOT = join(import.meta.dirname, '..');

/** A ~1 KB notification body, like a small account. */
const BODY = JSON.stringify([{ id: newId(), event: 'Account.Update', event_time: '2026-11-27 12:00:00.000000+00:00', team_space_id: 'bench', entity: { id: newId(), name: 'x'.repeat(700) }, related_entity: null }]);

function startProcess(command: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...command], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${command.join(' ')} did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  });
}

async function receivedCount(receiverUrl: string): Promise<number> {
  const response = await request(`${receiverUrl}/stats`);
  return ((await response.body.json()) as { received: number }).received;
}

async function waitForCount(receiverUrl: string, target: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    if ((await receivedCount(receiverUrl)) >= target) return performance.now() - started;
    if (performance.now() - started > TIME_LIMIT_MS) throw new Error(`not all ${target} received within ${TIME_LIMIT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The most this machine delivers: keep-alive POSTs of the same body, 32 at a time. */
async function baseline(receiverUrl: string): Promise<number> {
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: BASELINE_CONCURRENCY }, async () => {
    while (next < BASELINE_COUNT) {
      next += 1;
      const response = await request(`${receiverUrl}/baseline`, { method: 'POST', body: BODY, headers: { 'content-type': 'application/json' }, dispatcher: agent });
      await response.body.dump();
    }
  }));
  await agent.close();
  return BASELINE_COUNT / ((performance.now() - started) / 1000);
}

/** Drain: DRAIN_COUNT deliveries already queued for one webhook; a Tidings process sends them all. */
async function drain(kind: string, receiverUrl: string): Promise<number> {
  const database = await createTestDatabase(kind as DatabaseKind);
  const env = {
    TIDINGS_DATABASE_URL: database.url, TIDINGS_SPACE: 'bench', TIDINGS_API_TOKEN: 'bench-token', TIDINGS_API_PASSWORD: 'bench-password',
    TIDINGS_ALLOW_PRIVATE_TARGETS: '127.0.0.0/8', TIDINGS_LOG_LEVEL: 'info', TIDINGS_PORT: '0',
  };
  try {
    const tidings = await openTidings(loadConfig(env));
    const created = await tidings.app.inject({
      method: 'POST', url: '/api/v100/rest/spaces/bench/entities/Webhooks',
      headers: { authorization: `Basic ${Buffer.from('bench-token:bench-password').toString('base64')}` },
      payload: { url: `${receiverUrl}/drain`, events: ['Account.*'] },
    });
    const webhookId = created.json().data.id;
    const queue = new DeliveryQueue(tidings.database);
    const now = Date.now();
    for (let start = 0; start < DRAIN_COUNT; start += 500) {
      const rows: NewDelivery[] = Array.from({ length: Math.min(500, DRAIN_COUNT - start) }, (_, index) => {
        const id = newId(now);
        return {
          id, space_id: 'bench', webhook_id: webhookId, operation_id: id, chunk_index: 0, events: '["Account.Update"]', item_count: 1,
          body: BODY, due_at: now, created_at: now, recordIds: [`record-${start + index}`], sequence: start + index,
        };
      });
      await queue.enqueue(tidings.database.db, rows);
    }
    await tidings.close();
    const before = await receivedCount(receiverUrl);
    const { child } = await startProcess(['src/cli/main.ts', kind === 'sqlite' ? 'serve' : 'worker'], env, /Server listening|delivery worker running/);
    try {
      const elapsed = await waitForCount(receiverUrl, before + DRAIN_COUNT);
      return DRAIN_COUNT / (elapsed / 1000);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  } finally {
    await database.drop();
  }
}

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

const kinds = options.db ? [options.db] : (await postgresReachable()) ? ['sqlite', 'postgres'] : ['sqlite'];
const { child: receiver, match } = await startProcess(['bench/receiver.ts'], {}, /listening (\d+)/);
const receiverUrl = `http://127.0.0.1:${match[1]}`;
try {
  const baselinePerSecond = await baseline(receiverUrl);
  console.log(`baseline (raw keep-alive undici POSTs, ${BASELINE_CONCURRENCY} at a time): ${baselinePerSecond.toFixed(0)}/s`);
  for (const kind of kinds) {
    const drainPerSecond = await drain(kind, receiverUrl);
    const ratio = drainPerSecond / baselinePerSecond;
    console.log(`${kind}: drain of ${DRAIN_COUNT} queued deliveries: ${drainPerSecond.toFixed(0)}/s = ${(ratio * 100).toFixed(1)} % of the baseline`);
    const results = {
      date: new Date().toISOString(),
      quick: options.quick,
      database: kind,
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryBytes: os.totalmem(), platform: `${os.platform()} ${os.release()}` },
      versions: { tidings: version, node: process.version },
      figures: { baselinePerSecond, drain: { deliveries: DRAIN_COUNT, perSecond: drainPerSecond, ratioToBaseline: ratio } },
    };
    const directory = options.out ?? join(ROOT, 'bench', 'results');
    mkdirSync(directory, { recursive: true });
    writeFileSync(join(directory, `${results.date.slice(0, 10)}-${kind}${options.quick ? '-quick' : ''}.json`), `${JSON.stringify(results, null, 2)}\n`);
  }
} finally {
  receiver.kill('SIGTERM');
}
