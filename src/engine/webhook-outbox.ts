// The transactional outbox: inside the write's own transaction, derive the events of its changes,
// match them against the space's webhooks, shape each notification, chunk them per webhook and store
// the deliveries. A write that rolls back leaves no delivery; one that commits cannot lose one.
import type { Catalogue } from '../domain/catalogue.js';
import { DOCUMENT_LINK_FIELDS, deriveEvents, type EventOccurrence, type RecordRef } from '../domain/event-derivation.js';
import { jsonTemplate } from '../domain/body-template.js';
import { chunkItems, deliverySequence, describeChanges, embeddedWebhook, type NotificationItem } from '../domain/notification.js';
import { parseProjection, type StoredRecord } from '../domain/projection.js';
import { subscriptionNamesFor, WebhookMatcher, type MatchFacts, type WebhookDefinition } from '../domain/webhook-matching.js';
import { dueAtFor, type DeliveryQueue, type NewDelivery } from '../store/delivery-queue.js';
import type { RecordStore } from '../store/record-store.js';
import { newId } from '../domain/ids.js';
import type { Renderer } from './renderer.js';
import type { WriteContext } from './write-context.js';

/** Where a write came from, as far as webhooks care. */
export interface WriteOrigin {
  /** `Webhook-Skip-Key` values: webhooks listing one of them are not notified. */
  readonly skipKeys: readonly string[];
}

/**
 * The revisions a write's deliveries carry, as they are rendered: known (`last`, the write's last),
 * or still to be taken, each change's offset from the last by its provisional revision (PostgreSQL,
 * see RecordWriter.assignRevisions).
 */
export type DeliveryRevisions = { readonly last: number } | { readonly offsets: ReadonlyMap<number, number> };

/** A write's notifications, rendered and grouped by webhook, waiting for the write's revisions. */
export interface PreparedNotifications {
  readonly itemsByWebhook: readonly (readonly [WebhookMatcher, NotificationItem[]])[];
}

export class WebhookOutbox {
  constructor(
    private readonly records: RecordStore,
    private readonly queue: DeliveryQueue,
    private readonly catalogue: Catalogue,
    private readonly renderer: Renderer,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * The notifications of the write in `ctx`, rendered: every read the outbox needs, done before the
   * write takes its revisions (see RecordWriter.assignRevisions). Null when no webhook matches.
   */
  async prepare(ctx: WriteContext, origin: WriteOrigin): Promise<PreparedNotifications | null> {
    if (ctx.changes.length === 0) return null;
    const referenced = await this.loadReferencedRecords(ctx);
    const occurrences = deriveEvents(ctx.changes, (id) => referenced.get(id));
    if (occurrences.length === 0) return null;
    const matchers = await this.candidateWebhooks(ctx, occurrences);
    if (matchers.length === 0) return null;
    const customApiNames = await this.customEntityApiNames(ctx, occurrences);

    const itemsByWebhook: [WebhookMatcher, NotificationItem[]][] = [];
    for (const matcher of matchers) {
      const items: NotificationItem[] = [];
      for (const occurrence of occurrences) {
        const facts: MatchFacts = {
          skipKeys: origin.skipKeys,
          customEntityApiName: customApiNames.get(String(occurrence.record.type_id)),
        };
        if (!matcher.matches(occurrence, facts)) continue;
        items.push(await this.notification(ctx, matcher, occurrence, facts));
      }
      if (items.length > 0) itemsByWebhook.push([matcher, items]);
    }
    if (itemsByWebhook.length === 0) return null;
    return { itemsByWebhook };
  }

  /** Stores the prepared notifications as deliveries, with the write's revisions in them. */
  async enqueue(ctx: WriteContext, prepared: PreparedNotifications, revisions: { readonly last: number }): Promise<void> {
    await this.queue.enqueue(ctx.trx, this.deliveries(ctx, prepared, revisions));
  }

  /**
   * The prepared notifications as deliveries, with `revisions` in them; not yet stored. With offsets
   * for revisions, they await them (see DeliveryAwaitingRevisions).
   */
  deliveries(ctx: WriteContext, prepared: PreparedNotifications, revisions: DeliveryRevisions): NewDelivery[] {
    // Awaiting its revisions, a delivery's sequence counts from its write's last (see deliverySequence).
    const [last, offsets] = 'last' in revisions ? [revisions.last, new Map<number, number>()] : [0, revisions.offsets];
    // Chunk N is due N × chunk_delay after the commit, which follows this insert within moments;
    // the write's own start may lie much earlier (a batch of hundreds of records).
    const commitTime = this.clock();
    const operationId = newId(commitTime);
    const deliveries: NewDelivery[] = [];
    for (const [matcher, items] of prepared.itemsByWebhook) {
      const options = matcher.webhook.options ?? {};
      for (const chunk of chunkItems(items, options.chunk_size, options.chunk_delay)) {
        deliveries.push({
          id: newId(commitTime),
          space_id: ctx.spaceId,
          webhook_id: matcher.webhook.id,
          operation_id: operationId,
          chunk_index: chunk.index,
          events: JSON.stringify([...new Set(chunk.items.map((item) => item.event))]),
          item_count: chunk.items.length,
          body: jsonTemplate(chunk.items, offsets),
          due_at: dueAtFor(matcher.webhook, commitTime + chunk.delayMs),
          created_at: commitTime,
          recordIds: chunk.items.map((item) => String(item.entity.id)),
          // The write's last revision: writes in a space take revisions in turn until they commit,
          // so a later commit's are all higher.
          sequence: deliverySequence(last, chunk.index),
        });
      }
    }
    return deliveries;
  }

  /**
   * Webhooks the write enabled again have deliveries falling due at its commit: other processes'
   * workers are told then, as for new deliveries (this process's worker is woken by the caller).
   */
  async announceReleased(ctx: WriteContext): Promise<void> {
    if (ctx.released.length > 0) await this.queue.announceEnqueued(ctx.trx);
  }

  /** The webhooks the prepared notifications are for. */
  webhooksOf(prepared: PreparedNotifications): string[] {
    return prepared.itemsByWebhook.map(([matcher]) => matcher.webhook.id);
  }

  private async notification(
    ctx: WriteContext,
    matcher: WebhookMatcher,
    occurrence: EventOccurrence,
    facts: MatchFacts,
  ): Promise<NotificationItem> {
    const options = matcher.webhook.options ?? {};
    const entityOptions = options.entity?.[matcher.optionsKey(occurrence, facts)] ?? {};
    const entity = this.render(ctx, occurrence.entityName, occurrence.record, entityOptions);
    const related = occurrence.related
      ? this.render(ctx, occurrence.related.entityName, occurrence.related.record, options.related_entity ?? {})
      : null;
    return {
      id: newId(ctx.nowMs),
      webhook: embeddedWebhook(matcher.webhook),
      event: occurrence.event,
      event_time: ctx.now,
      team_space_id: ctx.spaceId,
      entity: await entity,
      related_entity: await related,
      ...(options.include_changes ? { changes: describeChanges(occurrence.before, occurrence.record, occurrence.changedFields) } : {}),
    };
  }

  // Shaped with the same projection code as the REST API, paths the entity lacks ignored; rendered
  // once per record and projection in the write, however many webhooks (and the response) share it.
  private render(
    ctx: WriteContext,
    entityName: string,
    record: StoredRecord,
    shape: { expand?: string[]; 'load-only'?: string[] },
  ): Promise<Record<string, unknown>> {
    const entity = this.catalogue.get(entityName);
    const projection = parseProjection(this.catalogue, entity, shape.expand ?? [], shape['load-only'] ?? [], false);
    return this.renderer.renderInWrite(ctx, entity, record, projection);
  }

  // Records the events refer to without having changed them: the record a document is linked to and
  // the document, the activity or memo a comment is added to.
  private async loadReferencedRecords(ctx: WriteContext): Promise<Map<string, RecordRef>> {
    const ids = new Set<string>();
    for (const { operation, entity, after } of ctx.changes) {
      if (operation !== 'create') continue;
      const fields =
        entity === 'CloudObjectRelation' ? ['cloud_object_id', ...DOCUMENT_LINK_FIELDS] :
        entity === 'ActivityComment' ? ['activity_id'] :
        entity === 'MemoComment' ? ['memo_id'] : [];
      for (const field of fields) if (typeof after[field] === 'string') ids.add(after[field] as string);
    }
    const rows = await this.records.findManyByIds(ctx.trx, ctx.spaceId, [...ids]);
    return new Map(rows.map((row) => [row.data.id, { entityName: row.entity, record: row.data }]));
  }

  // Only webhooks subscribed to one of the events (directly or by wildcard), found through the
  // indexed WebhookEvent rows: never a scan of every webhook of the space.
  private async candidateWebhooks(ctx: WriteContext, occurrences: readonly EventOccurrence[]): Promise<WebhookMatcher[]> {
    const names = [...new Set(occurrences.flatMap((occurrence) => subscriptionNamesFor(occurrence.event)))];
    const subscribed = await this.records.findReferencedBy(ctx.trx, ctx.spaceId, { entityName: 'WebhookEvent', field: 'event', values: names }, 'webhook_id');
    const webhooks = subscribed
      .filter((row) => row.entity === 'Webhook' && row.data.is_deleted !== true)
      .map((row) => row.data as WebhookDefinition)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const clientIds = webhooks.map((webhook) => webhook.client_id).filter((id): id is string => typeof id === 'string');
    const clients = new Map((await this.records.findManyByIds(ctx.trx, ctx.spaceId, clientIds)).map((row) => [row.data.id, row.data]));
    return webhooks.map((webhook) => new WebhookMatcher(this.catalogue, webhook, webhook.client_id ? (clients.get(webhook.client_id) ?? null) : null));
  }

  /** Custom entity type id → its api name, for the custom entity records among the events. */
  private async customEntityApiNames(ctx: WriteContext, occurrences: readonly EventOccurrence[]): Promise<Map<string, string>> {
    const typeIds = occurrences
      .filter((occurrence) => occurrence.entityName === 'CustomEntity' && typeof occurrence.record.type_id === 'string')
      .map((occurrence) => occurrence.record.type_id as string);
    const types = await this.records.findManyByIds(ctx.trx, ctx.spaceId, typeIds);
    return new Map(types.map((row) => [row.data.id, String(row.data.entity_api_name)]));
  }
}
