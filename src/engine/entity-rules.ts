// The few rules that belong to one entity rather than to the generic engine: unique client e-mails,
// webhook validation, the opportunity lifecycle, the default sales unit, and keeping `WebhookEvents`
// in step with `Webhook.events`. Each rule sees the record as it will be stored.
import type { Catalogue, EntityDef } from '../domain/catalogue.js';
import { ErrorKinds, fieldError, type FieldError } from '../domain/errors.js';
import { hasLifecycle, lifecycleChanges } from '../domain/lifecycle.js';
import type { StoredRecord } from '../domain/projection.js';
import { validateWebhookEvents, validateWebhookOptions, validateWebhookUrl } from '../domain/webhook-options.js';
import type { TargetPolicy } from '../domain/target-policy.js';
import type { RecordRow, RecordStore } from '../store/record-store.js';
import { giveUpWaitingDeliveries, holdDeliveries, releaseDeliveries } from '../store/delivery-queue.js';
import { resetHealth } from '../store/webhook-status.js';
import type { WriteContext } from './write-context.js';

const emailPattern = /^[^\s@]+@[^\s@]+$/;

export class EntityRules {
  constructor(
    private readonly store: RecordStore,
    private readonly catalogue: Catalogue,
    private readonly targetPolicy: TargetPolicy,
  ) {}

  /** Entity-specific validation of the record about to be stored. */
  async validate(ctx: WriteContext, entity: EntityDef, record: StoredRecord, changed: ReadonlySet<string>): Promise<FieldError[]> {
    switch (entity.name) {
      case 'Client':
        return changed.has('email') ? this.validateClientEmail(ctx, record) : [];
      case 'Webhook':
        return this.validateWebhook(ctx, record, changed);
      case 'WebhookEvent':
        return changed.has('event') ? validateWebhookEvents('event', record.event) : [];
      default:
        return [];
    }
  }

  /**
   * Stored fields derived from others: the lifecycle status and the default sales unit. `related`
   * holds the records the write's relation checks just read, by id.
   */
  async derive(ctx: WriteContext, entity: EntityDef, before: StoredRecord | null, record: StoredRecord, related: ReadonlyMap<string, RecordRow>): Promise<Record<string, unknown>> {
    const derived: Record<string, unknown> = {};
    if (before === null && 'unit_id' in entity.fields && !record.unit_id && typeof record.owner_id === 'string') {
      const owner = related.get(record.owner_id) ?? (await this.store.findById(ctx.trx, ctx.spaceId, record.owner_id));
      if (owner?.data.default_unit_id) derived.unit_id = owner.data.default_unit_id;
    }
    if (entity.name === 'Webhook') Object.assign(derived, webhookDerivations(before, record, ctx.now));
    if (hasLifecycle(entity.name)) {
      const inLastStep = typeof record.step_id === 'string' ? await this.isLastStep(ctx, record.step_id) : null;
      Object.assign(derived, lifecycleChanges(entity.name, entity.fields, before, record, { inLastStep, now: ctx.now }));
    }
    return derived;
  }

  /** Work after a record is stored: keeping webhooks and their event rows consistent. */
  async afterWrite(ctx: WriteContext, entity: EntityDef, before: StoredRecord | null, record: StoredRecord, writer: RowWriter): Promise<void> {
    if (entity.name === 'Webhook') {
      await this.syncEventRows(ctx, record, writer);
      // Deleted: what it still holds or waits to send goes nowhere (the worker gives up any delivery
      // of a deleted webhook it claims; a disabled one's held deliveries it would never claim).
      if (before !== null && before.is_deleted !== true && record.is_deleted === true) {
        await giveUpWaitingDeliveries(ctx.trx, record.id, 'the webhook was deleted', ctx.nowMs);
      }
      if (before !== null && before.is_disabled !== true && record.is_disabled === true) await holdDeliveries(ctx.trx, record.id, ctx.nowMs);
      // Enabled again: its past failures no longer count against it, and what waited falls due.
      if (before?.is_disabled === true && record.is_disabled !== true) {
        await resetHealth(ctx.trx, record.id);
        await releaseDeliveries(ctx.trx, record.id, ctx.nowMs);
        ctx.released.push(record.id);
      }
    }
    if (entity.name === 'WebhookEvent') {
      const webhookIds = new Set([before?.webhook_id, record.webhook_id].filter((id): id is string => typeof id === 'string'));
      for (const webhookId of webhookIds) await this.syncWebhookEvents(ctx, webhookId, writer);
    }
  }

  private async validateClientEmail(ctx: WriteContext, record: StoredRecord): Promise<FieldError[]> {
    const email = record.email;
    if (typeof email !== 'string' || email === '') return [];
    if (!emailPattern.test(email)) {
      return [fieldError('email', ErrorKinds.fieldValidation, `Field 'email' must be an e-mail address; got '${email}'.`)];
    }
    const rows = await this.store.findWhere(ctx.trx, ctx.spaceId, this.catalogue.get('Client'), [
      { field: 'email', type: 'string', operator: 'ieq', values: [email] },
    ], 2);
    return rows.some((row) => row.id !== record.id)
      ? [fieldError('email', ErrorKinds.fieldValidation, `A client with e-mail '${email}' already exists in this space.`)]
      : [];
  }

  private async validateWebhook(ctx: WriteContext, record: StoredRecord, changed: ReadonlySet<string>): Promise<FieldError[]> {
    const errors: FieldError[] = [];
    if (changed.has('url')) errors.push(...validateWebhookUrl(record.url, this.targetPolicy));
    if (changed.has('events')) {
      const events = record.events as string[];
      errors.push(...validateWebhookEvents('events', events));
    }
    if (changed.has('options') && record.options !== null) {
      const types = await this.store.findWhere(ctx.trx, ctx.spaceId, this.catalogue.get('CustomEntityType'), [], 1000);
      const apiNames = new Set(types.map((type) => String(type.entity_api_name)));
      errors.push(...validateWebhookOptions(this.catalogue, record.options, apiNames));
    }
    return errors;
  }

  private async isLastStep(ctx: WriteContext, stepId: string): Promise<boolean | null> {
    const step = await this.store.findById(ctx.trx, ctx.spaceId, stepId);
    if (!step || typeof step.data.pipeline_id !== 'string') return null;
    const steps = await this.store.findChildren(ctx.trx, ctx.spaceId, 'Step', 'pipeline_id', [step.data.pipeline_id]);
    const last = steps.reduce((best, candidate) =>
      Number(candidate.sort_order ?? 0) > Number(best.sort_order ?? 0) ? candidate : best,
    );
    return last.id === stepId;
  }

  // Webhook written: one live WebhookEvent row per subscribed event, none when the webhook is deleted.
  private async syncEventRows(ctx: WriteContext, webhook: StoredRecord, writer: RowWriter): Promise<void> {
    const rows = await this.store.findChildren(ctx.trx, ctx.spaceId, 'WebhookEvent', 'webhook_id', [webhook.id]);
    const wanted = new Set(webhook.is_deleted ? [] : (webhook.events as string[]));
    for (const row of rows) {
      if (!wanted.delete(row.event as string)) await writer.save('WebhookEvent', row, { ...row, is_deleted: true }, 'delete');
    }
    for (const event of wanted) {
      await writer.insert('WebhookEvent', { webhook_id: webhook.id, event });
    }
  }

  // WebhookEvent written: the webhook's `events` become its live rows' events, in the webhook's order.
  private async syncWebhookEvents(ctx: WriteContext, webhookId: string, writer: RowWriter): Promise<void> {
    const webhook = await this.store.findById(ctx.trx, ctx.spaceId, webhookId, { forUpdate: true });
    if (!webhook || webhook.data.is_deleted) return;
    const rows = await this.store.findChildren(ctx.trx, ctx.spaceId, 'WebhookEvent', 'webhook_id', [webhookId]);
    const live = [...new Set(rows.map((row) => row.event as string))];
    const current = webhook.data.events as string[];
    const events = [...current.filter((event) => live.includes(event)), ...live.filter((event) => !current.includes(event))];
    if (events.length === 0) {
      throw new RuleViolation('event', `Webhook '${webhookId}' would be left without events; delete the webhook instead.`);
    }
    if (JSON.stringify(events) !== JSON.stringify(current)) {
      await writer.save('Webhook', webhook.data, { ...webhook.data, events }, 'update');
    }
  }
}

// Re-enabling clears the reason and the health record; a new secret keeps the old one for the
// rotation grace period.
function webhookDerivations(before: StoredRecord | null, record: StoredRecord, now: string): Record<string, unknown> {
  const derived: Record<string, unknown> = {};
  if (record.is_disabled !== true) derived.disabled_reason = null;
  if (before?.is_disabled === true && record.is_disabled !== true) {
    Object.assign(derived, { health_state: 'healthy', failing_since: null, health_warning: null });
  }
  if (before && before.signature !== record.signature) {
    derived.previous_signature = before.signature ?? null;
    derived.signature_rotated = now;
  }
  return derived;
}

/** Raised by a rule that finds the write invalid only once related rows are looked at. */
export class RuleViolation extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Low-level writes for rules: stored and recorded as changes, without running rules again. */
export interface RowWriter {
  insert(entityName: string, fields: Record<string, unknown>): Promise<StoredRecord>;
  save(entityName: string, before: StoredRecord, after: StoredRecord, operation: 'update' | 'delete'): Promise<StoredRecord>;
}
