// The composition root: builds every component from the Config and wires them together.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { ThreadedSender } from '../delivery/threaded-sender.js';
import { DeliveryWorker } from '../delivery/worker.js';
import { catalogue } from '../domain/entities.js';
import { TargetPolicy } from '../domain/target-policy.js';
import { EntityEngine } from '../engine/entity-engine.js';
import { Renderer } from '../engine/renderer.js';
import { bootstrapSpace, type BootstrapResult } from '../engine/space-bootstrap.js';
import { WebhookOutbox } from '../engine/webhook-outbox.js';
import { buildApp } from '../http/app.js';
import { openDatabase, type Database } from '../store/database.js';
import { DeliveryLog } from '../store/delivery-log.js';
import { DeliveryQueue } from '../store/delivery-queue.js';
import { migrateToLatest } from '../store/migrate.js';
import { RecordStore } from '../store/record-store.js';
import { SpaceStore } from '../store/space-store.js';
import { listenForDeliveries } from '../store/wakeups.js';
import { WebhookStatusStore } from '../store/webhook-status.js';
import { version } from '../version.js';

export interface Tidings {
  readonly database: Database;
  readonly app: FastifyInstance;
  readonly bootstrap: BootstrapResult;
  /** The in-process delivery worker; null when this process only serves the API. */
  readonly worker: DeliveryWorker | null;
  close(): Promise<void>;
}

export interface WorkerOptions {
  readonly logger?: FastifyBaseLogger;
  /** The worker's longest sleep without a wake-up (default 1 s). */
  readonly workerPollIntervalMs?: number;
}

export interface TidingsOptions extends WorkerOptions {
  /** Run a delivery worker in this process (started at once). */
  readonly workers?: boolean;
}

/** A started delivery worker with what it needs: its HTTP sender and its wake-up listener. */
export interface RunningWorker {
  readonly worker: DeliveryWorker;
  stop(): Promise<void>;
}

/**
 * Claims under way at once in a worker process of its own (on PostgreSQL). A serving process's worker
 * claims one at a time: beside the API, two took CPU and connections from the writes.
 */
const WORKER_PROCESS_CLAIMS_AT_ONCE = 2;

function startWorker(config: Config, database: Database, records: RecordStore, queue: DeliveryQueue, options: WorkerOptions & { claimsAtOnce?: number }): RunningWorker {
  // Its HTTP runs on a thread of its own (see threaded-sender.ts), the SSRF guard with it.
  const sender = new ThreadedSender({ timeoutMs: config.deliveryTimeoutMs, allowPrivateTargets: config.allowPrivateTargets });
  const worker = new DeliveryWorker(
    { queue, records, sender, webhookStatus: new WebhookStatusStore(database, records), logger: options.logger },
    {
      retryScheduleSeconds: config.retryScheduleSeconds,
      deliveryTimeoutMs: config.deliveryTimeoutMs,
      userAgent: `Tidings/${version}`,
      pollIntervalMs: options.workerPollIntervalMs,
      signatureGraceHours: config.signatureGraceHours,
      breaker: config.breaker,
      claimsAtOnce: options.claimsAtOnce,
    },
  );
  const listener = listenForDeliveries(database, (webhookIds) => worker.wake(webhookIds), (error) =>
    options.logger?.warn({ err: error }, 'lost the wake-up connection; reconnecting (polling meanwhile)'),
  );
  worker.start();
  const purge = startRetentionPurge(config, new DeliveryLog(database), options.logger);
  let stopped = false;
  return {
    worker,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      clearInterval(purge);
      await listener.close();
      await worker.stop();
      await sender.close();
    },
  };
}

const PURGE_INTERVAL_MS = 3_600_000;

/** Purges delivered history older than the retention period: at start, then hourly. */
function startRetentionPurge(config: Config, log: DeliveryLog, logger?: FastifyBaseLogger): NodeJS.Timeout {
  const purge = async () => {
    try {
      const purged = await log.purgeDelivered(Date.now() - config.retentionDays * 86_400_000);
      if (purged > 0) logger?.info({ purged }, 'purged delivered history past the retention period');
    } catch (error) {
      logger?.warn({ err: error }, 'retention purge failed; will try again');
    }
  };
  void purge();
  const timer = setInterval(() => void purge(), PURGE_INTERVAL_MS);
  timer.unref();
  return timer;
}

/**
 * Opens the database, migrates it, bootstraps the configured space, builds the (unstarted) app and,
 * if asked, starts a delivery worker.
 */
export async function openTidings(config: Config, options: TidingsOptions = {}): Promise<Tidings> {
  const database = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(database);
    const records = new RecordStore(database);
    const spaces = new SpaceStore();
    const queue = new DeliveryQueue(database);
    const bootstrap = await bootstrapSpace({ database, records, spaces, catalogue }, config.space, {
      token: config.apiToken,
      password: config.apiPassword,
    });
    const targetPolicy = new TargetPolicy(config.allowPrivateTargets);
    const running = options.workers ? startWorker(config, database, records, queue, options) : null;
    const renderer = new Renderer(records, catalogue, config.publicUrl);
    const engine = new EntityEngine({
      store: records,
      catalogue,
      renderer,
      targetPolicy,
      outbox: new WebhookOutbox(records, queue, catalogue, renderer),
      onDeliveriesEnqueued: (webhookIds) => running?.worker.wake(webhookIds),
    });
    const wake = () => running?.worker.wake();
    const app = await buildApp({
      engine, catalogue, spaces, db: database.db, logger: options.logger, bodyLimitBytes: config.bodyLimitBytes, version,
      deliveries: { log: new DeliveryLog(database), queue, records, wake, clock: Date.now },
    });
    let closed = false;
    return {
      database,
      app,
      bootstrap,
      worker: running?.worker ?? null,
      close: async () => {
        if (closed) return;
        closed = true;
        await app.close();
        await running?.stop();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

/** A worker-only process (`tidings worker`): no API, just deliveries. */
export async function openWorkerProcess(config: Config, options: WorkerOptions = {}): Promise<{ close(): Promise<void> }> {
  const database = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(database);
    const running = startWorker(config, database, new RecordStore(database), new DeliveryQueue(database), { ...options, claimsAtOnce: WORKER_PROCESS_CLAIMS_AT_ONCE });
    return {
      close: async () => {
        await running.stop();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}
