// Waking delivery workers in other processes. On PostgreSQL a write that enqueues deliveries sends
// NOTIFY inside its transaction (PostgreSQL delivers it at commit, and never for a rollback), and
// every worker process LISTENs on a connection of its own, reconnecting after a server restart.
// Notifications can be lost while reconnecting: the workers' polling is the backstop. SQLite runs
// API and workers in one process, where the wake-up is a function call.
import pg from 'pg';
import { sql, type RawBuilder } from 'kysely';
import type { Database, Executor } from './database.js';

const CHANNEL = 'tidings_deliveries';
const RECONNECT_DELAY_MS = 1_000;
/** The most webhooks a notification names: its payload holds at most 8,000 bytes. Beyond, it names none. */
const MOST_NAMED = 200;

/**
 * PostgreSQL: the call that, inside the enqueuing transaction, tells the other processes' workers at
 * commit; with `webhookIds` (an expression: the deliveries' webhook ids, a TEXT[]) it names those
 * webhooks, so that a worker with all of them at their cap need not claim (see DeliveryWorker.wake).
 */
export const workersNotified = (webhookIds?: RawBuilder<unknown>) =>
  webhookIds === undefined
    ? sql`pg_notify(${CHANNEL}, '')`
    : sql`pg_notify(${CHANNEL}, (SELECT CASE WHEN count(*) <= ${sql.lit(MOST_NAMED)} THEN string_agg(id, ',') ELSE '' END FROM (SELECT DISTINCT unnest(${webhookIds}) AS id) AS named))`;

/** Inside the enqueuing transaction: tell the other processes' workers at commit. */
export async function notifyDeliveriesEnqueued(database: Database, executor: Executor): Promise<void> {
  if (database.dialect !== 'postgres') return;
  await sql`SELECT ${workersNotified()}`.execute(executor);
}

export interface WakeupListener {
  close(): Promise<void>;
}

/**
 * Calls `onWake` whenever another process enqueues deliveries (PostgreSQL; a no-op on SQLite), with
 * their webhooks when the notification names them.
 */
export function listenForDeliveries(database: Database, onWake: (webhookIds?: readonly string[]) => void, onError: (error: unknown) => void): WakeupListener {
  if (database.dialect !== 'postgres') return { close: async () => {} };
  let closed = false;
  let client: pg.Client | null = null;
  let retry: NodeJS.Timeout | null = null;

  const connect = async () => {
    if (closed) return;
    const current = new pg.Client({ connectionString: database.url });
    client = current;
    const reconnect = (error?: unknown) => {
      if (error) onError(error);
      current.removeAllListeners();
      current.on('error', () => {});
      void current.end().catch(() => {});
      if (!closed && client === current) {
        client = null;
        retry = setTimeout(() => void connect(), RECONNECT_DELAY_MS);
      }
    };
    current.on('notification', ({ payload }) => onWake(payload ? payload.split(',') : undefined));
    current.on('error', reconnect);
    current.on('end', () => reconnect());
    try {
      await current.connect();
      await current.query(`LISTEN ${CHANNEL}`);
      // Whatever was enqueued while this connection was down.
      onWake();
    } catch (error) {
      reconnect(error);
    }
  };
  void connect();

  return {
    close: async () => {
      closed = true;
      if (retry) clearTimeout(retry);
      const current = client;
      client = null;
      if (current) {
        current.removeAllListeners();
        current.on('error', () => {});
        await current.end().catch(() => {});
      }
    },
  };
}
