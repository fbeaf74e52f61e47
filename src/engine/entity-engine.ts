// The generic entity engine: every entity's list, get, create, update, delete, batch operations and the
// lead ↔ opportunity conversions, each write in one transaction. The HTTP routes are thin over this.
import type { Catalogue, EntityDef } from '../domain/catalogue.js';
import { ApiError, invalidParameter, notFound } from '../domain/errors.js';
import type { PageInfo } from '../domain/pagination.js';
import type { ProjectionNode, StoredRecord } from '../domain/projection.js';
import type { TargetPolicy } from '../domain/target-policy.js';
import { isUuid } from '../domain/validation.js';
import type { ControlledTransaction } from 'kysely';
import type { Executor, Schema } from '../store/database.js';
import type { ListQuery, RecordStore } from '../store/record-store.js';
import { RecordWriter } from './record-writer.js';
import type { Renderer } from './renderer.js';
import type { DeliveryRevisions, WebhookOutbox } from './webhook-outbox.js';
import { Turns } from './turns.js';
import { newWriteContext, type WriteContext } from './write-context.js';

export type ListRequest = Omit<ListQuery, 'spaceId' | 'entity'> & { readonly projection: ProjectionNode };

export interface ListResponse {
  readonly data: Record<string, unknown>[];
  readonly total: number;
  readonly pageInfo: PageInfo;
}

export interface WriteRequest {
  readonly validationLevel: number;
  /** `Webhook-Skip-Key` values sent with the write. */
  readonly skipKeys?: readonly string[];
}

export interface BatchRequest extends WriteRequest {
  /** 0: any invalid item fails the whole batch; 1: invalid items are skipped (reference §1.6). */
  readonly rollbackMethod: 0 | 1;
}

/** One position of a batch response: the id written, or the item's error envelope. */
export type BatchResult = string | Record<string, unknown>;

export interface EngineDependencies {
  readonly store: RecordStore;
  readonly catalogue: Catalogue;
  readonly renderer: Renderer;
  readonly clock?: () => Date;
  /** Which webhook targets are allowed (the SSRF guard), for webhook URL validation. */
  readonly targetPolicy?: TargetPolicy;
  /** Stores a write's webhook deliveries inside its transaction. */
  readonly outbox?: WebhookOutbox;
  /** Called after a commit that enqueued deliveries, with their webhooks: wakes the delivery workers. */
  readonly onDeliveriesEnqueued?: (webhookIds: readonly string[]) => void;
}

/** A process's writes in one space at their revisions at once (see EntityEngine.write). */
const TURNS_AT_ONCE = 2;

export class EntityEngine {
  private readonly writer: RecordWriter;
  private readonly turns = new Turns(TURNS_AT_ONCE);

  constructor(private readonly deps: EngineDependencies) {
    this.writer = new RecordWriter(deps.store, deps.catalogue, deps.targetPolicy);
  }

  async list(spaceId: string, entity: EntityDef, request: ListRequest): Promise<ListResponse> {
    const { store, renderer } = this.deps;
    const result = await store.list(store.db, { spaceId, entity, ...request });
    const data = await renderer.render(store.db, spaceId, entity, result.rows, request.projection);
    return { data, total: result.total, pageInfo: result.pageInfo };
  }

  async get(spaceId: string, entity: EntityDef, id: string, projection: ProjectionNode): Promise<Record<string, unknown>> {
    const { store } = this.deps;
    const row = isUuid(id) ? await store.findById(store.db, spaceId, id) : undefined;
    if (!row || row.entity !== entity.name) throw notFound(entity.name, id);
    return this.renderOne(store.db, spaceId, entity, row.data, projection);
  }

  async create(spaceId: string, entity: EntityDef, input: unknown, request: WriteRequest, projection: ProjectionNode) {
    return this.write(spaceId, request, async (ctx) => {
      const record = await this.writer.create(ctx, entity, input, null);
      return this.deps.renderer.renderInWrite(ctx, entity, record, projection);
    });
  }

  async update(spaceId: string, entity: EntityDef, id: string, input: unknown, request: WriteRequest, projection: ProjectionNode) {
    return this.write(spaceId, request, async (ctx) => {
      const record = await this.writer.update(ctx, entity, id, input, null);
      return this.deps.renderer.renderInWrite(ctx, entity, record, projection);
    });
  }

  async delete(spaceId: string, entity: EntityDef, id: string, request: WriteRequest): Promise<string> {
    return this.write(spaceId, request, async (ctx) => (await this.writer.remove(ctx, entity, id)).id);
  }

  /** Items with an `id` update that record, items without one create a record. */
  async batchModify(spaceId: string, entity: EntityDef, items: unknown, request: BatchRequest): Promise<BatchResult[]> {
    return this.batch(spaceId, requireArray(items, 'objects'), request, (ctx, item, index) => {
      const id = (item as { id?: unknown } | null)?.id;
      return typeof id === 'string'
        ? this.writer.update(ctx, entity, id, withoutId(item), index)
        : this.writer.create(ctx, entity, item, index);
    });
  }

  async batchDelete(spaceId: string, entity: EntityDef, ids: unknown, request: BatchRequest): Promise<BatchResult[]> {
    return this.batch(spaceId, requireArray(ids, 'ids'), request, (ctx, id) =>
      this.writer.remove(ctx, entity, requireId(id)),
    );
  }

  async batchRestore(spaceId: string, entity: EntityDef, ids: unknown, request: BatchRequest): Promise<BatchResult[]> {
    return this.batch(spaceId, requireArray(ids, 'ids'), request, (ctx, id) =>
      this.writer.restore(ctx, entity, requireId(id)),
    );
  }

  /** Lead → Opportunity (Opportunity.Qualify), keeping the id. */
  async qualify(spaceId: string, leadId: string, input: unknown, request: WriteRequest, projection: ProjectionNode) {
    const { catalogue } = this.deps;
    const opportunity = catalogue.get('Opportunity');
    return this.write(spaceId, request, async (ctx) => {
      const fields = { ...(await this.qualificationDefaults(ctx)), ...optionalObject(input) };
      const record = await this.writer.convert(ctx, catalogue.get('Lead'), opportunity, leadId, fields, 'qualify');
      return this.deps.renderer.renderInWrite(ctx, opportunity, record, projection);
    });
  }

  /** Opportunity → Lead (Lead.BackToLead), keeping the id. */
  async backToLead(spaceId: string, opportunityId: string, input: unknown, request: WriteRequest, projection: ProjectionNode) {
    const { catalogue } = this.deps;
    const lead = catalogue.get('Lead');
    return this.write(spaceId, request, async (ctx) => {
      const fields = { step_id: null, ...optionalObject(input) };
      const record = await this.writer.convert(ctx, catalogue.get('Opportunity'), lead, opportunityId, fields, 'back-to-lead');
      return this.deps.renderer.renderInWrite(ctx, lead, record, projection);
    });
  }

  /**
   * Runs `work` in one transaction, with the webhook deliveries it causes stored before the commit,
   * and the revisions of its changes taken last.
   */
  private async write<T>(
    spaceId: string,
    request: WriteRequest,
    work: (ctx: WriteContext, trx: ControlledTransaction<Schema>) => Promise<T>,
  ): Promise<T> {
    const { store, clock, outbox, onDeliveriesEnqueued } = this.deps;
    const trx = await store.db.startTransaction().execute();
    let result: T;
    let enqueuedFor: readonly string[] = [];
    try {
      const ctx = newWriteContext(trx, spaceId, request.validationLevel, await store.revisionsFrom(trx, spaceId), clock);
      result = await work(ctx, trx);
      const notifications = outbox ? await outbox.prepare(ctx, { skipKeys: request.skipKeys ?? [] }) : null;
      await outbox?.announceReleased(ctx);
      // From taking revisions to the commit, writes in a space take turns: on PostgreSQL the
      // revision counter's row stays locked until the commit. Waiting here rather than on that lock
      // keeps few of this process's writes at it: with 16 writers all queued on the row, 90-107
      // writes/s went through; taking turns one at a time, 157-174. Two take their turns at once
      // (TURNS_AT_ONCE): the revisions and the commit go in one round trip (assignRevisions), and
      // while one write's commit waits for the disk, the next write's statement is at the lock,
      // rather than still waiting for this event loop to come round to the first's reply.
      await this.turns.take(spaceId, async () => {
        const deliveries = outbox && notifications ? (revisions: DeliveryRevisions) => outbox.deliveries(ctx, notifications, revisions) : undefined;
        const revisions = await this.writer.assignRevisions(ctx, deliveries);
        revisions.putInto(result);
        if (outbox && notifications) {
          if (!revisions.committed) await outbox.enqueue(ctx, notifications, { last: revisions.last! });
          enqueuedFor = outbox.webhooksOf(notifications);
        }
      });
      // After a commit with the revisions (PostgreSQL), answered without a round trip (see AND_COMMIT).
      await trx.commit().execute();
      enqueuedFor = [...enqueuedFor, ...ctx.released];
    } catch (error) {
      await trx.rollback().execute();
      throw error;
    }
    if (enqueuedFor.length > 0) onDeliveriesEnqueued?.(enqueuedFor);
    return result;
  }

  private async batch(
    spaceId: string,
    items: readonly unknown[],
    request: BatchRequest,
    writeOne: (ctx: WriteContext, item: unknown, index: number) => Promise<StoredRecord>,
  ): Promise<BatchResult[]> {
    return this.write(spaceId, request, async (ctx, trx) => {
      const results: BatchResult[] = [];
      for (const [index, item] of items.entries()) {
        if (request.rollbackMethod === 0) {
          try {
            results.push((await writeOne(ctx, item, index)).id);
          } catch (error) {
            // The whole batch fails with this item's error, which says which item it was.
            if (error instanceof ApiError) throw new ApiError(error.kind, error.message, { ...error.details, entity_index: index });
            throw error;
          }
          continue;
        }
        // rollback-method 1: a savepoint per item, so a failed item leaves no trace and the rest stand.
        const savepoint = await trx.savepoint('batch_item').execute();
        const changesBefore = ctx.changes.length;
        try {
          results.push((await writeOne(ctx, item, index)).id);
          await savepoint.releaseSavepoint('batch_item').execute();
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          await savepoint.rollbackToSavepoint('batch_item').execute();
          ctx.changes.length = changesBefore;
          results.push({ ...error.toEnvelope(), entity_index: index });
        }
      }
      return results;
    });
  }

  private async renderOne(executor: Executor, spaceId: string, entity: EntityDef, record: StoredRecord, projection: ProjectionNode) {
    const [rendered] = await this.deps.renderer.render(executor, spaceId, entity, [record], projection);
    return rendered;
  }

  // A new opportunity needs a step, a closing date and a value: the default pipeline's first step,
  // thirty days from now, and zero, unless the request says otherwise.
  private async qualificationDefaults(ctx: WriteContext): Promise<Record<string, unknown>> {
    const { store, catalogue } = this.deps;
    const [pipeline] = await store.findWhere(ctx.trx, ctx.spaceId, catalogue.get('Pipeline'), [
      { field: 'is_default', type: 'boolean', operator: 'eq', values: [true] },
    ], 1);
    const steps = pipeline ? await store.findChildren(ctx.trx, ctx.spaceId, 'Step', 'pipeline_id', [pipeline.id]) : [];
    const firstStep = [...steps].sort((a, b) => Number(a.sort_order) - Number(b.sort_order))[0];
    const closing = new Date(Date.parse(ctx.now.slice(0, 10)) + 30 * 86_400_000).toISOString().slice(0, 10);
    return { step_id: firstStep?.id ?? null, closing_date: closing, value: { base_value: 0, value_foreign: 0 } };
  }
}

function withoutId(item: unknown): Record<string, unknown> {
  const { id: _id, ...fields } = item as Record<string, unknown>;
  return fields;
}

function requireArray(value: unknown, of: 'objects' | 'ids'): unknown[] {
  if (!Array.isArray(value)) throw invalidParameter(`The request body must be a JSON array of ${of}.`);
  if (value.length === 0) throw invalidParameter(`The request body must hold at least one item.`);
  if (value.length > 1000) throw invalidParameter(`A batch holds at most 1000 items; this one has ${value.length}.`);
  return value;
}

function requireId(value: unknown): string {
  if (typeof value !== 'string') throw invalidParameter(`Batch items must be id strings; got ${JSON.stringify(value)}.`);
  return value;
}

function optionalObject(input: unknown): Record<string, unknown> {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw invalidParameter('The request body must be a JSON object.');
  return input as Record<string, unknown>;
}
