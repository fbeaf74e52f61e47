// The delivery engine's own changes to webhooks: their health (the run of failures and the circuit
// breaker, in `webhook_health`) and what of it shows on the webhook record (`health_state`,
// `failing_since`, `health_warning`, and `is_disabled` with its reason). Record writes bypass the
// entity engine (a Webhook has no events to emit) but keep revision and modified honest; they happen
// only when the state changes, not on every attempt.
import { formatDateTime } from '../domain/dates.js';
import type { StoredRecord } from '../domain/projection.js';
import { recordFailure, type BreakerSettings, type Health } from '../domain/circuit-breaker.js';
import type { Selectable } from 'kysely';
import type { Database, Executor, WebhookHealthTable } from './database.js';
import { holdDeliveries } from './delivery-queue.js';
import type { RecordStore } from './record-store.js';

/** Forgets a webhook's failures (it was re-enabled, or it answered). */
export async function resetHealth(executor: Executor, webhookId: string): Promise<void> {
  await executor.deleteFrom('webhook_health').where('webhook_id', '=', webhookId).execute();
}

export async function healthOf(executor: Executor, webhookIds: readonly string[]): Promise<Map<string, Health>> {
  if (webhookIds.length === 0) return new Map();
  return healthMap(await executor.selectFrom('webhook_health').selectAll().where('webhook_id', 'in', [...webhookIds]).execute());
}

/** The health of every webhook whose breaker has tripped (open, or half-open): few rows. */
export async function trippedBreakers(executor: Executor, threshold: number): Promise<Map<string, Health>> {
  return healthMap(await executor.selectFrom('webhook_health').selectAll().where('consecutive_failures', '>=', threshold).execute());
}

function healthMap(rows: readonly Selectable<WebhookHealthTable>[]): Map<string, Health> {
  return new Map(rows.map((row) => [row.webhook_id, {
    consecutiveFailures: row.consecutive_failures,
    failingSince: row.failing_since,
    openUntil: row.open_until,
    warned: row.warned === 1,
  }]));
}

export class WebhookStatusStore {
  constructor(
    private readonly database: Database,
    private readonly records: RecordStore,
  ) {}

  /** Holds the webhook's deliveries until someone sets `is_disabled` back to false. */
  async disable(spaceId: string, webhookId: string, reason: string, nowMs: number): Promise<void> {
    await this.underWebhookLock(spaceId, webhookId, async (trx, webhook) => {
      if (webhook) await this.updateWebhook(trx, spaceId, webhook, nowMs, { is_disabled: true, disabled_reason: reason });
    });
  }

  async recordSuccess(spaceId: string, webhookId: string, nowMs: number): Promise<void> {
    await this.underWebhookLock(spaceId, webhookId, async (trx, webhook) => {
      const known = await healthOf(trx, [webhookId]);
      if (!known.has(webhookId)) return;
      await resetHealth(trx, webhookId);
      if (webhook) await this.updateWebhook(trx, spaceId, webhook, nowMs, { health_state: 'healthy', failing_since: null, health_warning: null });
    });
  }

  /** Counts a failure; returns whether it disabled the webhook, and until when its breaker is open. */
  async recordFailure(
    spaceId: string,
    webhookId: string,
    nowMs: number,
    settings: BreakerSettings,
  ): Promise<{ disabled: boolean; warned: boolean; openUntil: number | null }> {
    return this.underWebhookLock(spaceId, webhookId, async (trx, webhook) => {
      const previous = (await healthOf(trx, [webhookId])).get(webhookId) ?? null;
      const outcome = recordFailure(previous, nowMs, settings);
      const { health } = outcome;
      const row = {
        webhook_id: webhookId,
        space_id: spaceId,
        consecutive_failures: health.consecutiveFailures,
        failing_since: health.failingSince,
        open_until: health.openUntil,
        warned: health.warned ? 1 : 0,
      };
      await trx
        .insertInto('webhook_health')
        .values(row)
        .onConflict((conflict) => conflict.column('webhook_id').doUpdateSet(row))
        .execute();
      const stateChanged = previous === null || (previous.openUntil === null) !== (health.openUntil === null);
      if (webhook && (stateChanged || outcome.warn || outcome.disable)) {
        const since = formatDateTime(new Date(health.failingSince));
        await this.updateWebhook(trx, spaceId, webhook, nowMs, {
          health_state: outcome.state,
          failing_since: since,
          ...(outcome.warn ? { health_warning: `failing since ${since}; it will be disabled if this goes on` } : {}),
          ...(outcome.disable && webhook.is_disabled !== true ? { is_disabled: true, disabled_reason: `failing since ${since}` } : {}),
        });
      }
      return { disabled: outcome.disable, warned: outcome.warn, openUntil: health.openUntil };
    });
  }

  /**
   * Runs `change` in a transaction holding the webhook's record locked (PostgreSQL: FOR UPDATE;
   * SQLite: its one writer at a time), so that health changes of one webhook from several worker
   * processes happen one after another: each reads the count the previous one wrote, and no failure
   * is lost. `webhook` is the record's data, undefined when the webhook is gone.
   */
  private async underWebhookLock<T>(
    spaceId: string,
    webhookId: string,
    change: (trx: Executor, webhook: StoredRecord | undefined) => Promise<T>,
  ): Promise<T> {
    return this.database.db.transaction().execute(async (trx) => {
      const row = await this.records.findById(trx, spaceId, webhookId, { forUpdate: true });
      return change(trx, row?.entity === 'Webhook' ? row.data : undefined);
    });
  }

  /** Writes `changes` to the webhook's record; disabling it holds its waiting deliveries, as the API does. */
  private async updateWebhook(trx: Executor, spaceId: string, webhook: StoredRecord, nowMs: number, changes: Record<string, unknown>): Promise<void> {
    const revision = await this.records.takeRevisions(trx, spaceId);
    await this.records.replace(trx, spaceId, 'Webhook', { ...webhook, ...changes, modified: formatDateTime(new Date(nowMs)), revision });
    if (changes.is_disabled === true && webhook.is_disabled !== true) await holdDeliveries(trx, webhook.id, nowMs);
  }
}
