// What the benchmark's scenarios share: the receiver process and its figures, Tidings processes on a
// fresh database, queues filled straight in the database, the API as a client sees it, percentiles.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { sql, type RawBuilder } from 'kysely';
import { Agent, request } from 'undici';
import { openTidings } from '../src/cli/composition.js';
import { loadConfig } from '../src/config/config.js';
import { newId } from '../src/domain/ids.js';
import type { StoredRecord } from '../src/domain/projection.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { RecordStore } from '../src/store/record-store.js';
import type { DatabaseKind } from '../test/support/databases.js';

const ROOT = join(import.meta.dirname, '..');
export const SPACE = 'bench';
const TOKEN = 'bench-token';
const PASSWORD = 'bench-password';
const AUTHORIZATION = `Basic ${Buffer.from(`${TOKEN}:${PASSWORD}`).toString('base64')}`;

/** A ~1 KB notification body, like a small account. */
export const BODY = JSON.stringify([{ id: newId(), event: 'Account.Update', event_time: '2026-11-27 12:00:00.000000+00:00', team_space_id: SPACE, entity: { id: newId(), name: 'x'.repeat(700) }, related_entity: null }]);

/** Epoch milliseconds with sub-millisecond precision, comparable with the receiver's. */
export const now = () => performance.timeOrigin + performance.now();
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function spawnScript(args: string[], env: Record<string, string>, nodeArgs: string[] = ['--import', 'tsx']): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}


/** SIGTERM, then SIGKILL after `graceMs`: a worker waits for its attempts in flight to end. */
async function stopProcess(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(killer);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** 100 a second on Linux: the unit of /proc's CPU times. */
const TICKS_PER_SECOND = 100;

/**
 * What /proc/<pid>/stat says of a process, or undefined once it is gone. Its fields after the
 * command's closing parenthesis: ppid the 2nd, utime and stime the 12th and 13th, cutime and cstime
 * (its children that have ended and been waited for) the 14th and 15th, in clock ticks.
 */
function procStat(pid: number | string): { name: string; parent: string; ownTicks: number; endedChildrenTicks: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const end = stat.lastIndexOf(') ');
  const fields = stat.slice(end + 2).split(' ');
  return {
    name: stat.slice(stat.indexOf('(') + 1, end), parent: fields[1]!,
    ownTicks: Number(fields[11]) + Number(fields[12]), endedChildrenTicks: Number(fields[13]) + Number(fields[14]),
  };
}

/**
 * CPU time the local PostgreSQL server has used so far, all its processes, in seconds: the live ones'
 * own, and the server's (postmaster's) count of its children that have ended (backends of closed
 * connections). Undefined when no PostgreSQL process runs on this machine (a server elsewhere).
 */
export function postgresCpuSeconds(): number | undefined {
  const servers = new Map(readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).flatMap((pid) => {
    const stat = procStat(pid);
    return stat?.name === 'postgres' ? [[pid, stat] as const] : [];
  }));
  if (servers.size === 0) return undefined;
  let ticks = 0;
  for (const stat of servers.values()) ticks += stat.ownTicks + (servers.has(stat.parent) ? 0 : stat.endedChildrenTicks);
  return ticks / TICKS_PER_SECOND;
}

/**
 * For a scenario on `kind`, from now: PostgreSQL's CPU in milliseconds per unit of work when asked,
 * where the server runs on this machine; undefined otherwise (and always on SQLite).
 */
export function postgresCpuFromNow(kind: DatabaseKind): (units: number) => number | undefined {
  const start = kind === 'postgres' ? postgresCpuSeconds() : undefined;
  return (units) => {
    const end = start === undefined ? undefined : postgresCpuSeconds();
    return start === undefined || end === undefined ? undefined : ((end - start) * 1_000) / units;
  };
}

export interface PathStats {
  readonly count: number;
  readonly firstAt: number | null;
  readonly lastAt: number | null;
}

export class Receiver {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    const child = spawnScript(['bench/receiver.ts'], {});
    const port = await new Promise<string>((resolve, reject) => {
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk;
        const match = /listening (\d+)/.exec(output);
        if (match) resolve(match[1]);
      });
      child.once('exit', () => reject(new Error(`the receiver exited:\n${output}`)));
    });
    return new Receiver(child, `http://127.0.0.1:${port}`);
  }

  async stats(path: string): Promise<PathStats> {
    const response = await request(`${this.url}/stats/${path}`);
    return (await response.body.json()) as PathStats;
  }

  /** Entity name → receipt time, for the items received under /timed-… since the last call. */
  async receipts(path: string): Promise<Map<string, number>> {
    const response = await request(`${this.url}/receipts/${path}`);
    return new Map((await response.body.json()) as [string, number][]);
  }

  /** Waits until `count` requests have arrived under `path`, at most `limitMs`. */
  async waitFor(path: string, count: number, limitMs: number): Promise<PathStats> {
    const deadline = now() + limitMs;
    for (;;) {
      const stats = await this.stats(path);
      if (stats.count >= count) return stats;
      if (now() > deadline) throw new Error(`${path}: ${stats.count} of ${count} received within ${limitMs / 1000} s`);
      await sleep(20);
    }
  }

  stop(): Promise<void> {
    return stopProcess(this.child);
  }
}

export interface TidingsOptions {
  /** `serve` (API and worker), `worker` (worker only). */
  readonly command?: 'serve' | 'worker';
  readonly env?: Record<string, string>;
}

let profileDirectory: string | undefined;
/** From now on, every Tidings process writes a CPU profile (`node --cpu-prof`) into `directory`. */
export function profileInto(directory: string): void {
  profileDirectory = directory;
}

let showOutput = false;
/** From now on, every Tidings process logs at `info` onto this process's stderr (for debugging a run). */
export function showTidingsOutput(): void {
  showOutput = true;
}

/** The settings of every Tidings of the run, in this process or its own. */
function tidingsEnvironment(databaseUrl: string): Record<string, string> {
  return {
    TIDINGS_DATABASE_URL: databaseUrl, TIDINGS_SPACE: SPACE, TIDINGS_API_TOKEN: TOKEN, TIDINGS_API_PASSWORD: PASSWORD,
    TIDINGS_ALLOW_PRIVATE_TARGETS: '127.0.0.0/8', TIDINGS_HOST: '127.0.0.1',
  };
}

/**
 * Tidings opened in this process, without a delivery worker, its API on a free port: for a
 * scenario's set-up (its webhooks), which measures nothing, so it costs no process start (1.6-2.1 s).
 */
export async function openSetupTidings(databaseUrl: string): Promise<{ api: ApiClient; close(): Promise<void> }> {
  const tidings = await openTidings(loadConfig({ ...tidingsEnvironment(databaseUrl), TIDINGS_LOG_LEVEL: 'silent' }));
  const address = await tidings.app.listen({ host: '127.0.0.1', port: 0 });
  const api = new ApiClient(`${address}/api/v100/rest/spaces/${SPACE}`);
  return {
    api,
    close: async () => {
      await api.close();
      await tidings.close();
    },
  };
}

/** The node flags `npm start` and bin/tidings.js run Tidings (dist/, which run.ts builds first) with. */
const TIDINGS_NODE_FLAGS = ['--max-old-space-size=1024'];

/** A Tidings process, as an operator runs it, on the bench's database. */
export class TidingsProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly apiUrl: string,
  ) {}

  static async start(databaseUrl: string, options: TidingsOptions = {}): Promise<TidingsProcess> {
    const port = await freePort();
    const env = { ...tidingsEnvironment(databaseUrl), TIDINGS_LOG_LEVEL: showOutput ? 'info' : 'warn', TIDINGS_PORT: String(port), ...options.env };
    const profile = profileDirectory ? ['--cpu-prof', `--cpu-prof-dir=${profileDirectory}`] : [];
    const child = spawnScript(['dist/cli/main.js', options.command ?? 'serve'], env, [...TIDINGS_NODE_FLAGS, ...profile]);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk).slice(-4_000)));
    child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk).slice(-4_000)));
    if (showOutput) {
      child.stdout!.pipe(process.stderr);
      child.stderr!.pipe(process.stderr);
    }
    const tidings = new TidingsProcess(child, `http://127.0.0.1:${port}/api/v100/rest/spaces/${SPACE}`);
    if (options.command === 'worker') return tidings;
    const deadline = now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`tidings exited:\n${output}`);
      try {
        await request(`${tidings.apiUrl}/entities/Clients?first=1`, { headers: { authorization: AUTHORIZATION } }).then((response) => response.body.dump());
        return tidings;
      } catch {
        if (now() > deadline) throw new Error(`tidings did not start:\n${output}`);
        await sleep(100);
      }
    }
  }

  /** The most memory the process has held resident (its high-water mark), in MB. */
  peakRssMb(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
  }

  /** CPU time the process has used so far (user and system, all its threads), in seconds. */
  cpuSeconds(): number {
    const stat = procStat(this.child.pid!);
    if (!stat) throw new Error(`Tidings process ${this.child.pid} has exited`);
    return stat.ownTicks / TICKS_PER_SECOND;
  }

  /** Stops it as an operator would, or kills it after `graceMs` (attempts stuck on a silent receiver). */
  stop(graceMs?: number): Promise<void> {
    return stopProcess(this.child, graceMs);
  }
}

/** The API as a client uses it, over keep-alive connections. */
export class ApiClient {
  private readonly agent = new Agent({ keepAliveTimeout: 60_000, connections: 128 });

  constructor(private readonly apiUrl: string) {}

  async post(path: string, payload: unknown): Promise<{ status: number; body: { data?: unknown } }> {
    const response = await request(`${this.apiUrl}/${path}`, {
      method: 'POST',
      headers: { authorization: AUTHORIZATION, 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      dispatcher: this.agent,
    });
    return { status: response.statusCode, body: (await response.body.json()) as { data?: unknown } };
  }

  async get(path: string): Promise<{ data: Record<string, unknown>[] }> {
    const response = await request(`${this.apiUrl}/${path}`, { headers: { authorization: AUTHORIZATION }, dispatcher: this.agent });
    return (await response.body.json()) as { data: Record<string, unknown>[] };
  }

  async delete(path: string): Promise<void> {
    const response = await request(`${this.apiUrl}/${path}`, { method: 'DELETE', headers: { authorization: AUTHORIZATION }, dispatcher: this.agent });
    await response.body.dump();
    if (response.statusCode !== 200) throw new Error(`DELETE ${path}: ${response.statusCode}`);
  }

  /** Creates one record; fails loudly on anything but success. */
  async create(collection: string, payload: Record<string, unknown>): Promise<string> {
    const response = await this.post(`entities/${collection}`, payload);
    if (response.status !== 201) throw new Error(`creating ${collection}: ${response.status} ${JSON.stringify(response.body)}`);
    return (response.body.data as { id: string }).id;
  }

  /** Creates many records, a thousand per batch request. */
  async createMany(collection: string, payloads: Record<string, unknown>[]): Promise<void> {
    for (let start = 0; start < payloads.length; start += 1_000) {
      const response = await this.post(`entities/${collection}/batch-modify`, payloads.slice(start, start + 1_000));
      if (response.status !== 200) throw new Error(`batch of ${collection}: ${response.status} ${JSON.stringify(response.body).slice(0, 500)}`);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/**
 * Queues `count` deliveries of BODY for one webhook straight in the database, each about its own
 * record, due one millisecond apart from `firstDueAt` (so several webhooks' queues interleave), the
 * rows generated by the database itself: a million take seconds, not minutes.
 */
export async function fillQueue(databaseUrl: string, webhookId: string, count: number, firstDueAt: number): Promise<void> {
  const database = openDatabase(databaseUrl);
  const prefix = `${webhookId.slice(0, 8)}-${newId()}`;
  // The casts give PostgreSQL the types of the parameters.
  const [ids, dueAt, upTo] = [sql`CAST(${prefix} AS TEXT)`, sql`CAST(${firstDueAt} AS BIGINT)`, sql`CAST(${count} AS INTEGER)`];
  try {
    await database.db.transaction().execute(async (trx) => {
      await sql`
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${upTo})
        INSERT INTO deliveries (id, space_id, webhook_id, operation_id, chunk_index, events, item_count, body, status, due_at, attempts, created_at)
        SELECT ${ids} || '-' || i, ${SPACE}, ${webhookId}, ${ids} || '-' || i, 0, '["Account.Update"]', 1, ${BODY}, 'pending', ${dueAt} + i, 0, ${dueAt}
        FROM n`.execute(trx);
      await sql`
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${upTo})
        INSERT INTO delivery_records (delivery_id, webhook_id, record_id, sequence)
        SELECT ${ids} || '-' || i, ${webhookId}, ${ids} || '-record-' || i, i FROM n`.execute(trx);
    });
    // A queue measured at once gets the statistics autovacuum would have within a minute.
    await analyze(database, sql`deliveries, delivery_records`);
  } finally {
    await database.close();
  }
}

/**
 * PostgreSQL plans from statistics, which autovacuum refreshes within a minute of a bulk change
 * (its naptime); a database set up or warmed up and measured at once gets them now, as a running
 * system has them (see docs/performance.md). Without them, tables that grew from empty are planned
 * as ten pages: the steady scenario's claims read the whole queue by sequential scan.
 */
async function analyze(database: Database, tables?: RawBuilder<unknown>): Promise<void> {
  if (database.dialect === 'postgres') await sql`ANALYZE ${tables ?? sql``}`.execute(database.db);
}

/** As `analyze`, every table, through a connection of its own. */
export async function analyzeDatabase(databaseUrl: string): Promise<void> {
  const database = openDatabase(databaseUrl);
  try {
    await analyze(database);
  } finally {
    await database.close();
  }
}

/**
 * Registers `count` more webhooks like `templateId` (one created through the API, with its
 * WebhookEvent row), each with its own id, URL and event, written straight to the database in
 * batches: the API creates about 400 a second, and the matching scenario needs 100,000.
 */
export async function cloneWebhooks(databaseUrl: string, templateId: string, count: number, shape: (index: number) => { url: string; event: string }): Promise<void> {
  const database = openDatabase(databaseUrl);
  const records = new RecordStore(database);
  try {
    const [template] = await records.findManyByIds(database.db, SPACE, [templateId]);
    const [subscription] = await records.findChildren(database.db, SPACE, 'WebhookEvent', 'webhook_id', [templateId]);
    for (let start = 0; start < count; start += 500) {
      const webhooks: StoredRecord[] = [];
      const subscriptions: StoredRecord[] = [];
      for (let index = start; index < Math.min(count, start + 500); index += 1) {
        const { url, event } = shape(index);
        const webhook = { ...template.data, id: newId(), url, events: [event] };
        webhooks.push(webhook);
        subscriptions.push({ ...subscription, id: newId(), webhook_id: webhook.id, event });
      }
      await database.db.transaction().execute(async (trx) => {
        await records.insertMany(trx, SPACE, 'Webhook', webhooks);
        await records.insertMany(trx, SPACE, 'WebhookEvent', subscriptions);
      });
    }
    await analyze(database, sql`records`);
  } finally {
    await database.close();
  }
}

/** The p-th percentile (0–100) of the values, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function latencySummary(values: readonly number[]) {
  return { count: values.length, p50Ms: percentile(values, 50), p95Ms: percentile(values, 95), p99Ms: percentile(values, 99), maxMs: percentile(values, 100) };
}
