// Opens the one database Tidings runs on: embedded SQLite (the default) or PostgreSQL, both through
// Kysely. Dialect differences are named here, once, as capability flags and small SQL helpers.
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type Transaction,
} from 'kysely';
import pg from 'pg';

export interface SpacesTable {
  id: string;
  api_token: string;
  password_salt: string;
  password_hash: string;
  revision: number;
  created: string;
}

export interface RecordsTable {
  space_id: string;
  id: string;
  entity: string;
  /** The whole record as JSON: SQLite's binary JSONB, PostgreSQL's jsonb. */
  data: unknown;
  is_deleted: number;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveriesTable {
  id: string;
  space_id: string;
  webhook_id: string;
  /** Groups the chunks of one write operation for one webhook. */
  operation_id: string;
  chunk_index: number;
  /** The distinct event names of the items, as a JSON array. */
  events: string;
  item_count: number;
  /** The exact bytes every attempt sends. */
  body: string;
  status: DeliveryStatus;
  /** Epoch milliseconds. */
  due_at: number;
  attempts: number;
  last_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  /** A lease: the worker holding the row, until when. */
  locked_by: string | null;
  locked_until: number | null;
  created_at: number;
  finished_at: number | null;
}

export interface DeliveryAttemptsTable {
  id: string;
  delivery_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  /** JSON; never the signature header. */
  request_headers: string;
  status: number | null;
  /** JSON. */
  response_headers: string | null;
  /** A bounded prefix of the response body. */
  response_body: string | null;
  error: string | null;
}

export interface DeliveryRecordsTable {
  delivery_id: string;
  webhook_id: string;
  record_id: string;
  /** Orders a record's deliveries for one webhook in commit order. */
  sequence: number;
}

export interface WebhookHealthTable {
  webhook_id: string;
  space_id: string;
  consecutive_failures: number;
  failing_since: number;
  open_until: number | null;
  warned: number;
  /** The last delivery let through while half-open: in flight while it is leased. */
  probe_delivery_id: string | null;
}

export interface Schema {
  spaces: SpacesTable;
  records: RecordsTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  delivery_records: DeliveryRecordsTable;
  webhook_health: WebhookHealthTable;
}

export type Executor = Kysely<Schema> | Transaction<Schema>;

export type DialectName = 'sqlite' | 'postgres';

export interface Capabilities {
  /** `SELECT … FOR UPDATE` exists (PostgreSQL); SQLite has one writer, so it needs none. */
  readonly rowLocks: boolean;
  /**
   * A transaction holds the database's one write lock from its start to its end (SQLite, with
   * BEGIN IMMEDIATE): nothing else writes meanwhile, in this process or another.
   */
  readonly writeLockedTransactions: boolean;
}

export interface Database {
  readonly url: string;
  readonly db: Kysely<Schema>;
  /**
   * Where the delivery queue runs its own statements (claims, attempts' ends, the idle worker's
   * look-up): on PostgreSQL a small pool of its own, whose prepared statements each keep one generic
   * plan (see QUEUE_PLANS); elsewhere `db`.
   */
  readonly queueDb: Kysely<Schema>;
  readonly dialect: DialectName;
  readonly capabilities: Capabilities;
  close(): Promise<void>;
}

// bigint columns hold epoch milliseconds and counters, all well inside a double's exact range.
pg.types.setTypeParser(pg.types.builtins.INT8, Number);

// API requests share the pool, and so do the worker's look-ups of webhooks and their health. 20 per
// process, the queue's 4 (below) and the wake-ups' listener leave room for three processes within
// PostgreSQL's default max_connections of 100.
const POSTGRES_POOL_SIZE = 20;
/** The delivery queue's connections: two claims at once, an attempts' end, a look-up or a vacuum beside them. */
const QUEUE_POOL_SIZE = 4;
/**
 * JIT off: its compile time (30 ms, at times 500 ms) is paid by every claim whose cost estimate
 * crosses jit_above_cost, for queries that run in 1-2 ms (see docs/performance.md).
 */
const SESSION_OPTIONS = '-c jit=off';
/**
 * The queue's statements are index walks whose plan does not depend on their values, but
 * PostgreSQL's choice between a generic plan and one planned for each run's values goes by cost
 * estimates that do: with a few ended attempts and a small limit, as at 500 API writes/s, the
 * estimates for the values (arrays of known, small length) came out cheaper than the generic one's
 * (unknown lengths), so the claim's statement was planned anew at every run, 1.46 ms each, twice its
 * execution (pg_stat_statements: 7.2 s of planning in the steady scenario's 45 s, about a sixth of a
 * core). In a drain, with arrays of 40, the choice fell on the generic plan already.
 */
const QUEUE_PLANS = '-c plan_cache_mode=force_generic_plan';

export function openDatabase(url: string): Database {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const db = postgresPool(url, POSTGRES_POOL_SIZE, SESSION_OPTIONS);
    const queueDb = postgresPool(url, QUEUE_POOL_SIZE, `${SESSION_OPTIONS} ${QUEUE_PLANS}`);
    return {
      url, db, queueDb, dialect: 'postgres', capabilities: { rowLocks: true, writeLockedTransactions: false },
      close: async () => {
        await Promise.all([db.destroy(), queueDb.destroy()]);
      },
    };
  }
  const path = url.replace(/^sqlite:/, '');
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SqliteDatabase(path);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a process crash loses nothing committed; a power loss may lose the last
  // transactions but never corrupts the file.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  const stopCheckpointing = path === ':memory:' ? async () => {} : checkpointInBackground(sqlite, path);
  const db = new Kysely<Schema>({ dialect: new TidingsSqliteDialect({ database: withStatementCache(sqlite) }) });
  return {
    url, db, queueDb: db, dialect: 'sqlite', capabilities: { rowLocks: false, writeLockedTransactions: true },
    close: async () => {
      await stopCheckpointing();
      await db.destroy();
    },
  };
}

/** A pool of `size` connections to PostgreSQL at `url`, each session started with `options`. */
function postgresPool(url: string, size: number, options: string): Kysely<Schema> {
  const pool = new pg.Pool({ connectionString: url, max: size, options });
  // A connection's error (e.g. the server restarting) must not crash the process: an idle client's
  // reaches the pool; a checked-out client's also fails its query, which the caller handles, and
  // is then emitted on the client, where it needs a listener of its own.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
    sendStatements(client);
  });
  return new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
}

/** Distinct statements named per process; statements past them go unnamed. */
const NAMED_STATEMENTS = 200;
const statementNames = new Map<string, string>();

/**
 * A statement's last value, on PostgreSQL: the statement is sent with its transaction's COMMIT after
 * it, in one round trip, and the transaction ends with it (see sendStatements).
 */
export const AND_COMMIT = Symbol('and commit');

/** The wire connection pg.Query writes its messages to (not in pg's types). */
interface WireConnection {
  execute(config: { portal?: string; rows?: number }): void;
  parse(config: { text: string }): void;
  bind(config: object): void;
  sync(): void;
}

/**
 * A statement and then its transaction's COMMIT, in the extended protocol's pipeline: both go before
 * the one Sync, so they take one round trip. Should the statement fail, PostgreSQL skips the COMMIT
 * up to the Sync, and the transaction stays open, failed, for the caller's ROLLBACK. Its result is
 * the statement's.
 */
class StatementAndCommit extends pg.Query {
  declare readonly portal: string;

  constructor(config: pg.QueryConfig, callback: (error: Error | undefined, result: pg.QueryResult | undefined) => void) {
    super(config, (error, results) => callback(error, (results as unknown as pg.QueryResult[] | undefined)?.[0]));
  }

  /** The extended protocol even without parameters: the simple one has no pipeline. */
  requiresPreparation(): boolean {
    return true;
  }

  // pg.Query sends the statement's Execute and then the Sync here.
  _getRows(connection: WireConnection, rows?: number): void {
    connection.execute({ portal: this.portal, rows });
    connection.parse({ text: 'COMMIT' });
    connection.bind({});
    connection.execute({});
    connection.sync();
  }
}

/**
 * How Kysely's statements go to PostgreSQL, on each pooled connection:
 * - Statements with parameters go as named (prepared) ones. PostgreSQL parses and plans an unnamed
 *   statement anew each time; a named one is parsed once per connection, and after five runs
 *   PostgreSQL may keep a generic plan (for the claim's statement it is the same index scans as the
 *   custom one). In the steady scenario, alternating runs in one slow hour: 181 and 194 writes/s
 *   served against 123 and 138 unnamed. The names are bounded because statements whose text varies
 *   with a list's length (`IN (…)`, `VALUES …`) would otherwise prepare without end on every pooled
 *   connection. Statements without parameters (DDL, BEGIN, COMMIT) parse cheaply and stay unnamed.
 * - A statement whose last value is AND_COMMIT goes with COMMIT after it (StatementAndCommit), and
 *   the COMMIT or ROLLBACK that Kysely then sends to end the transaction is answered here, as it has
 *   ended. A write's revisions are taken so (see RecordStore.takeRevisionsAndCommit): from there to
 *   the commit the space's counter is locked, and the commit no longer waits for this process's
 *   event loop to come round to the statement's reply.
 */
function sendStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  let ended = false;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const [text, values] = args;
    const endedBefore = ended;
    ended = false;
    if (endedBefore && (text === 'commit' || text === 'rollback')) return Promise.resolve({ command: text.toUpperCase(), rowCount: null, rows: [], fields: [] });
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || args.length > 2) return query(...args);
    const commit = values.at(-1) === AND_COMMIT;
    const parameters = commit ? values.slice(0, -1) : values;
    let name = statementNames.get(text);
    if (name === undefined && statementNames.size < NAMED_STATEMENTS) statementNames.set(text, (name = `tidings_${statementNames.size}`));
    const config = { ...(name === undefined ? {} : { name }), text, values: parameters };
    if (!commit) return query(config);
    return new Promise((resolve, reject) => {
      query(new StatementAndCommit(config, (error, result) => {
        if (error) return reject(error);
        ended = true;
        resolve(result);
      }));
    });
  };
}

const CHECKPOINT_INTERVAL_MS = 250;
/** The WAL (4 KB pages) a checkpoint lets stand before the writer finishes it and starts the log over: 8 MB. */
const WAL_RESTART_AFTER_FRAMES = 2_000;

/**
 * Moves WAL checkpoints off this thread: SQLite runs one inside the commit that grows the WAL past
 * 1,000 pages, copying pages and syncing the file while the event loop waits (about 30 % of a
 * claim's time in the queue's own benchmark). A worker thread runs them every 250 ms instead. Should
 * it die, this connection checkpoints for itself again. Returns the function that stops it.
 *
 * Once the thread's checkpoints leave the log past its bound, this connection copies the rest, when
 * it is between transactions: only then is every page copied, and the next commit starts the log
 * over. The thread ran a RESTART checkpoint for it before, which must wait for this connection's
 * reads and holds its writes back meanwhile; both sides' busy waits sleep in growing steps, and at
 * 500 writes/s commits stalled the event loop for 8-80 ms, the checkpoints took up to 979 ms.
 */
function checkpointInBackground(sqlite: SqliteDatabase.Database, path: string): () => Promise<void> {
  sqlite.pragma('wal_autocheckpoint = 0');
  const checkpointer = new Worker(new URL('./sqlite-checkpointer.js', import.meta.url), {
    workerData: { path, intervalMs: CHECKPOINT_INTERVAL_MS, restartAfterFrames: WAL_RESTART_AFTER_FRAMES },
    // It holds one SQLite connection and a timer: a small heap is plenty.
    resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 },
  });
  const finishCheckpoint = () => {
    if (!sqlite.open) return;
    // A transaction awaiting its next statement holds the log's pages in use: try again shortly.
    if (sqlite.inTransaction) setTimeout(finishCheckpoint, 1).unref();
    // PASSIVE never waits: should the thread have begun its next checkpoint meanwhile, this one
    // copies nothing, and the thread asks again after its own.
    else sqlite.pragma('wal_checkpoint(PASSIVE)');
  };
  checkpointer.on('message', finishCheckpoint);
  // A process that forgets to close its database still exits.
  checkpointer.unref();
  let running = true;
  checkpointer.once('exit', () => {
    running = false;
    if (sqlite.open) sqlite.pragma('wal_autocheckpoint = 1000');
  });
  return async () => {
    if (!running) return;
    const exited = once(checkpointer, 'exit');
    checkpointer.ref();
    checkpointer.postMessage('stop');
    await exited;
  };
}

export const decodeJson = (value: unknown): Record<string, unknown> =>
  typeof value === 'string' ? JSON.parse(value) : (value as Record<string, unknown>);

// Kysely prepares every query anew; preparing cost about a sixth of a delivery's CPU time in the
// drain profile. Statements are reusable (Kysely runs each to completion at once), so keep the most
// recent ones. Schema changes (migrations) reset SQLite's own statement validity, which it handles.
const STATEMENT_CACHE_SIZE = 256;

function withStatementCache(sqlite: SqliteDatabase.Database) {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare: (text: string) => {
      let statement = statements.get(text);
      if (statement) {
        statements.delete(text);
      } else {
        statement = sqlite.prepare(text);
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
      }
      statements.set(text, statement);
      return statement;
    },
  };
}

// SQLite DDL is transactional; telling Kysely so makes each migration run inside one transaction, so
// two processes migrating one file at once cannot leave it half migrated (see store/migrate.ts).
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

// Transactions take the write lock when they begin (BEGIN IMMEDIATE). A deferred transaction that
// reads and then writes fails at once with SQLITE_BUSY when another process wrote in between; an
// immediate one waits (busy_timeout) for its turn instead.
class ImmediateTransactionSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TidingsSqliteDialect extends SqliteDialect {
  constructor(private readonly config: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }

  override createDriver(): Driver {
    return new ImmediateTransactionSqliteDriver(this.config);
  }
}
