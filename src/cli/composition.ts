// The composition root: builds every component from the Config and wires them together.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { HttpSender } from '../delivery/sender.js';
import { DeliveryWorker } from '../delivery/worker.js';
import { catalogue } from '../domain/entities.js';
import { TargetPolicy } from '../domain/target-policy.js';
import { EntityEngine } from '../engine/entity-engine.js';
import { Renderer } from '../engine/renderer.js';
import { bootstrapSpace, type BootstrapResult } from '../engine/space-bootstrap.js';
import { WebhookOutbox } from '../engine/webhook-outbox.js';
import { buildApp } from '../http/app.js';
import { openDatabase, type Database } from '../store/database.js';
import { DeliveryQueue } from '../store/delivery-queue.js';
import { migrateToLatest } from '../store/migrate.js';
import { RecordStore } from '../store/record-store.js';
import { SpaceStore } from '../store/space-store.js';
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

export interface TidingsOptions {
  readonly logger?: FastifyBaseLogger;
  /** Run a delivery worker in this process (started at once). */
  readonly workers?: boolean;
  /** The worker's longest sleep without a wake-up (default 1 s). */
  readonly workerPollIntervalMs?: number;
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
    const sender = options.workers ? new HttpSender(config.deliveryTimeoutMs, targetPolicy) : null;
    const worker = sender
      ? new DeliveryWorker(
          { queue, records, sender, webhookStatus: new WebhookStatusStore(database, records), logger: options.logger },
          {
            retryScheduleSeconds: config.retryScheduleSeconds,
            deliveryTimeoutMs: config.deliveryTimeoutMs,
            userAgent: `Tidings/${version}`,
            pollIntervalMs: options.workerPollIntervalMs,
          },
        )
      : null;
    const renderer = new Renderer(records, catalogue, config.publicUrl);
    const engine = new EntityEngine({
      store: records,
      catalogue,
      renderer,
      targetPolicy,
      outbox: new WebhookOutbox(records, queue, catalogue, renderer),
      onDeliveriesEnqueued: () => worker?.wake(),
    });
    const app = await buildApp({
      engine, catalogue, spaces, db: database.db, logger: options.logger, bodyLimitBytes: config.bodyLimitBytes, version,
    });
    worker?.start();
    let closed = false;
    return {
      database,
      app,
      bootstrap,
      worker,
      close: async () => {
        if (closed) return;
        closed = true;
        await app.close();
        await worker?.stop();
        await sender?.close();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}
