// Versioned migrations, run at start. On PostgreSQL Kysely's migrator holds an advisory lock, so
// processes starting together take turns. On SQLite a second process can meet a locked file; its
// attempt rolls back whole and is retried, and then finds the work done.
import { Migrator, type Migration } from 'kysely';
import type { Database } from './database.js';
import * as initial from './migrations/0001_initial.js';
import * as deliveries from './migrations/0002_deliveries.js';
import * as attemptLog from './migrations/0003_attempt_log.js';
import * as claimIndexes from './migrations/0004_claim_indexes.js';
import * as webhookHealth from './migrations/0005_webhook_health.js';
import * as holdDisabledWebhooks from './migrations/0006_hold_disabled_webhooks.js';
import * as partialFieldIndexes from './migrations/0007_partial_field_indexes.js';
import * as claimsByWebhook from './migrations/0008_claims_by_webhook.js';
import * as leasesRewriteNoIndex from './migrations/0009_leases_rewrite_no_index.js';

const MIGRATION_ATTEMPTS = 20;
const RETRY_DELAY_MS = 100;

function migrationsFor(database: Database): Record<string, Migration> {
  return {
    '0001_initial': { up: (db) => initial.up(db, database.dialect) },
    '0002_deliveries': { up: (db) => deliveries.up(db, database.dialect) },
    '0003_attempt_log': { up: (db) => attemptLog.up(db) },
    '0004_claim_indexes': { up: (db) => claimIndexes.up(db) },
    '0005_webhook_health': { up: (db) => webhookHealth.up(db) },
    '0006_hold_disabled_webhooks': { up: (db) => holdDisabledWebhooks.up(db, database.dialect) },
    '0007_partial_field_indexes': { up: (db) => partialFieldIndexes.up(db, database.dialect) },
    '0008_claims_by_webhook': { up: (db) => claimsByWebhook.up(db) },
    '0009_leases_rewrite_no_index': { up: (db) => leasesRewriteNoIndex.up(db, database.dialect) },
  };
}

export async function migrateToLatest(database: Database): Promise<void> {
  const migrator = new Migrator({
    db: database.db,
    provider: { getMigrations: async () => migrationsFor(database) },
  });
  for (let attempt = 1; ; attempt++) {
    const { error } = await migrator.migrateToLatest();
    if (!error) return;
    if (attempt >= MIGRATION_ATTEMPTS || !isTransientLockError(error)) {
      throw new Error(`database migration failed: ${(error as Error).message ?? String(error)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * attempt));
  }
}

// SQLITE_BUSY when another process holds the file; on PostgreSQL a concurrent first start can race
// on creating Kysely's own bookkeeping tables (duplicate key / already exists).
function isTransientLockError(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? '';
  return code.startsWith('SQLITE_BUSY') || code === '23505' || code === '42P07';
}
