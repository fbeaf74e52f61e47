// The composition root: builds every component from the Config and wires them together.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { catalogue } from '../domain/entities.js';
import { EntityEngine } from '../engine/entity-engine.js';
import { Renderer } from '../engine/renderer.js';
import { bootstrapSpace, type BootstrapResult } from '../engine/space-bootstrap.js';
import { buildApp } from '../http/app.js';
import { openDatabase, type Database } from '../store/database.js';
import { migrateToLatest } from '../store/migrate.js';
import { RecordStore } from '../store/record-store.js';
import { SpaceStore } from '../store/space-store.js';
import { version } from '../version.js';

export interface Tidings {
  readonly database: Database;
  readonly app: FastifyInstance;
  readonly bootstrap: BootstrapResult;
  close(): Promise<void>;
}

/** Opens the database, migrates it, bootstraps the configured space and builds the (unstarted) app. */
export async function openTidings(config: Config, logger?: FastifyBaseLogger): Promise<Tidings> {
  const database = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(database);
    const records = new RecordStore(database);
    const spaces = new SpaceStore();
    const bootstrap = await bootstrapSpace({ database, records, spaces, catalogue }, config.space, {
      token: config.apiToken,
      password: config.apiPassword,
    });
    const renderer = new Renderer(records, catalogue, config.publicUrl);
    const engine = new EntityEngine({ store: records, catalogue, renderer });
    const app = await buildApp({ engine, catalogue, spaces, db: database.db, logger, bodyLimitBytes: config.bodyLimitBytes, version });
    let closed = false;
    return {
      database,
      app,
      bootstrap,
      close: async () => {
        if (closed) return;
        closed = true;
        await app.close();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}
