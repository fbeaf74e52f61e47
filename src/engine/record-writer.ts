// The generic write path, inside one transaction: validate (types, required, read-only, relations,
// entity rules), derive stored fields, store, write inline to-many relations, and record each change
// with its before and after states.
import type { Catalogue, EntityDef, FieldDef } from '../domain/catalogue.js';
import {
  ApiError,
  ErrorKinds,
  entityValidationError,
  fieldError,
  notFound,
  type FieldError,
} from '../domain/errors.js';
import type { StoredRecord } from '../domain/projection.js';
import { hasLevel, isUuid, ValidationLevel, validateWrite, type RelationCheck } from '../domain/validation.js';
import { TargetPolicy } from '../domain/target-policy.js';
import type { NewDelivery } from '../store/delivery-queue.js';
import type { RecordRow, RecordStore } from '../store/record-store.js';
import { EntityRules, RuleViolation, type RowWriter } from './entity-rules.js';
import { newId } from '../domain/ids.js';
import type { DeliveryRevisions } from './webhook-outbox.js';
import { changeRevision, type WriteContext, type WriteOperation } from './write-context.js';

const defaultValue = (definition: FieldDef) =>
  definition.default === undefined ? null : structuredClone(definition.default);

/** The revisions a write took, and what puts them into values rendered before (responses). */
export interface AssignedRevisions {
  /** Null when the write changed nothing. */
  readonly last: number | null;
  readonly putInto: (rendered: unknown) => void;
  /** The transaction committed with the revisions, the deliveries stored with them (PostgreSQL). */
  readonly committed: boolean;
}

/** A write's changes' real revisions, `last` the last of them, by their provisional ones. */
const realRevisions = (changes: WriteContext['changes'], last: number) =>
  new Map(changes.map((change, index) => [change.after.revision as number, last - changes.length + 1 + index]));

export class RecordWriter {
  private readonly rules: EntityRules;

  constructor(
    private readonly store: RecordStore,
    private readonly catalogue: Catalogue,
    targetPolicy: TargetPolicy = new TargetPolicy(),
  ) {
    this.rules = new EntityRules(store, catalogue, targetPolicy);
  }

  /** Creates a record; `index` is its position in a batch (for `entity_index`), null otherwise. */
  async create(ctx: WriteContext, entity: EntityDef, input: unknown, index: number | null): Promise<StoredRecord> {
    const body = requireObject(entity, input, index);
    const { own, inline } = this.splitInlineRelations(entity, body, index);
    const { changes, errors, relationChecks } = validateWrite(entity, own, null, ctx.level);
    const record: Record<string, unknown> = {};
    for (const [field, definition] of Object.entries(entity.fields)) record[field] = defaultValue(definition);
    Object.assign(record, changes);
    record.id = typeof changes.id === 'string' ? changes.id : newId();
    record.created = record.modified = ctx.now;
    record.is_deleted = false;
    const stored = record as StoredRecord;
    await this.checkAndDerive(ctx, entity, null, stored, new Set(Object.keys(entity.fields)), errors, relationChecks, index);
    // Only an id the client chose (validation-level 8) can collide; generated ones are fresh.
    const chosenId = typeof changes.id === 'string';
    if (chosenId && (await this.store.findById(ctx.trx, ctx.spaceId, stored.id))) {
      throw entityValidationError(entity.name, stored.id, [
        fieldError('id', ErrorKinds.fieldValidation, `A record with id '${stored.id}' already exists.`),
      ], index);
    }
    record.revision = changeRevision(ctx);
    await this.store.insert(ctx.trx, ctx.spaceId, entity.name, stored);
    ctx.changes.push({ operation: 'create', entity: entity.name, before: null, after: stored });
    await this.afterWrite(ctx, entity, null, stored, index);
    await this.writeInlineRelations(ctx, entity, stored.id, inline, index);
    return stored;
  }

  /** A partial update (PATCH semantics). */
  async update(ctx: WriteContext, entity: EntityDef, id: string, input: unknown, index: number | null): Promise<StoredRecord> {
    const body = requireObject(entity, input, index);
    const before = await this.loadLive(ctx, entity, id);
    const { own, inline } = this.splitInlineRelations(entity, body, index);
    const { changes, errors, relationChecks } = validateWrite(entity, own, before, ctx.level);
    const after: Record<string, unknown> = { ...before, ...changes, modified: ctx.now };
    const changed = hasLevel(ctx.level, ValidationLevel.changedFieldsOnly)
      ? new Set(Object.keys(changes))
      : new Set(Object.keys(entity.fields));
    await this.checkAndDerive(ctx, entity, before, after as StoredRecord, changed, errors, relationChecks, index);
    const saved = await this.save(ctx, entity.name, before, after as StoredRecord, 'update');
    await this.afterWrite(ctx, entity, before, saved, index);
    await this.writeInlineRelations(ctx, entity, id, inline, index);
    return saved;
  }

  /** Soft delete: the record stays, with `is_deleted: true`, until restored. */
  async remove(ctx: WriteContext, entity: EntityDef, id: string): Promise<StoredRecord> {
    const before = await this.loadLive(ctx, entity, id);
    if (before.is_delete_protected === true) {
      throw new ApiError(ErrorKinds.deleteProtected, `${entity.name} '${id}' is delete-protected and cannot be deleted.`);
    }
    const saved = await this.save(ctx, entity.name, before, { ...before, is_deleted: true, modified: ctx.now }, 'delete');
    await this.afterWrite(ctx, entity, before, saved, null);
    return saved;
  }

  async restore(ctx: WriteContext, entity: EntityDef, id: string): Promise<StoredRecord> {
    const row = isUuid(id) ? await this.store.findById(ctx.trx, ctx.spaceId, id, { forUpdate: true }) : undefined;
    if (!row || row.entity !== entity.name) throw notFound(entity.name, id);
    if (row.data.is_deleted !== true) return row.data;
    const saved = await this.save(ctx, entity.name, row.data, { ...row.data, is_deleted: false, modified: ctx.now }, 'restore');
    await this.afterWrite(ctx, entity, row.data, saved, null);
    return saved;
  }

  /**
   * Lead ↔ Opportunity conversion keeping the record's id (they share the LeadOppty base):
   * fields both entities have are carried over, `input` sets or overrides the target's fields.
   */
  async convert(
    ctx: WriteContext,
    from: EntityDef,
    to: EntityDef,
    id: string,
    input: Record<string, unknown>,
    operation: 'qualify' | 'back-to-lead',
  ): Promise<StoredRecord> {
    const before = await this.loadLive(ctx, from, id);
    const carried: Record<string, unknown> = {};
    for (const [field, definition] of Object.entries(to.fields)) {
      if (!definition.readOnly && field in from.fields && before[field] !== null && before[field] !== undefined) {
        carried[field] = before[field];
      }
    }
    const { changes, errors, relationChecks } = validateWrite(to, { ...carried, ...input }, null, ctx.level);
    const after: Record<string, unknown> = {};
    for (const [field, definition] of Object.entries(to.fields)) after[field] = defaultValue(definition);
    Object.assign(after, changes, {
      id,
      created: before.created,
      modified: ctx.now,
      is_deleted: false,
      is_delete_protected: before.is_delete_protected,
      was_qualified: operation === 'qualify' ? true : before.was_qualified,
      qualify_date: operation === 'qualify' ? ctx.now : before.qualify_date,
    });
    await this.checkAndDerive(ctx, to, null, after as StoredRecord, new Set(Object.keys(to.fields)), errors, relationChecks, null);
    after.revision = changeRevision(ctx);
    await this.store.replace(ctx.trx, ctx.spaceId, to.name, after as StoredRecord);
    ctx.changes.push({ operation, entity: to.name, before, after: after as StoredRecord });
    return after as StoredRecord;
  }

  /**
   * Takes the write's revisions from the space's counter. Called last: on PostgreSQL taking them locks
   * the counter until the commit, so writes in a space wait for each other only from here on (see
   * EntityEngine.write). Where the changes carry provisional revisions (PostgreSQL), gives them their
   * real ones, in order, stores them and the write's `deliveries` (rendered for the revisions to come)
   * and commits, all in one round trip (see RecordStore.takeRevisionsAndCommit); returns what puts the
   * real revisions into values rendered meanwhile (the response). Where the changes carry their real
   * revisions from the start (SQLite, see RecordStore.revisionsFrom), only the counter moves, and the
   * caller stores the deliveries and commits.
   */
  async assignRevisions(ctx: WriteContext, deliveries?: (revisions: DeliveryRevisions) => NewDelivery[]): Promise<AssignedRevisions> {
    const { changes, spaceId } = ctx;
    if (changes.length === 0) return { last: null, putInto: () => {}, committed: false };
    if (ctx.firstRevision !== null) {
      // The changes carry these already: a second write of every changed record (120 µs of a
      // single account's creation, of some 2,300) and a walk through what was rendered saved.
      const last = await this.store.takeRevisions(ctx.trx, spaceId, changes.length);
      if (last !== ctx.firstRevision + changes.length - 1) throw new Error(`space ${spaceId}: revisions ${ctx.firstRevision}… were taken by another write`);
      return { last, putInto: () => {}, committed: false };
    }
    // Each change's offset from the write's last revision, by its provisional one.
    const offsets = new Map(changes.map((change, index) => [change.after.revision as number, index + 1 - changes.length]));
    const last = await this.store.takeRevisionsAndCommit(ctx.trx, spaceId, changes.map((change) => change.after.id), deliveries?.({ offsets }) ?? []);
    const real = realRevisions(changes, last);
    return { last, putInto: (rendered) => replaceProvisionalRevisions(rendered, real), committed: true };
  }

  private async loadLive(ctx: WriteContext, entity: EntityDef, id: string): Promise<StoredRecord> {
    if (!isUuid(id)) throw notFound(entity.name, id);
    const row = await this.store.findById(ctx.trx, ctx.spaceId, id, { forUpdate: true });
    if (!row || row.entity !== entity.name || row.data.is_deleted === true) throw notFound(entity.name, id);
    return row.data;
  }

  private async save(
    ctx: WriteContext,
    entityName: string,
    before: StoredRecord,
    after: StoredRecord,
    operation: WriteOperation,
  ): Promise<StoredRecord> {
    const saved = { ...after, revision: changeRevision(ctx) };
    await this.store.replace(ctx.trx, ctx.spaceId, entityName, saved);
    ctx.changes.push({ operation, entity: entityName, before, after: saved });
    return saved;
  }

  private async afterWrite(ctx: WriteContext, entity: EntityDef, before: StoredRecord | null, saved: StoredRecord, index: number | null) {
    try {
      await this.rules.afterWrite(ctx, entity, before, saved, this.rowWriter(ctx));
    } catch (error) {
      if (!(error instanceof RuleViolation)) throw error;
      throw entityValidationError(entity.name, saved.id, [fieldError(error.field, ErrorKinds.fieldValidation, error.message)], index);
    }
  }

  private rowWriter(ctx: WriteContext): RowWriter {
    return {
      insert: async (entityName, fields) => {
        const entity = this.catalogue.get(entityName);
        const record: Record<string, unknown> = {};
        for (const [field, definition] of Object.entries(entity.fields)) record[field] = defaultValue(definition);
        Object.assign(record, fields, {
          id: newId(),
          created: ctx.now,
          modified: ctx.now,
          revision: changeRevision(ctx),
        });
        await this.store.insert(ctx.trx, ctx.spaceId, entityName, record as StoredRecord);
        ctx.changes.push({ operation: 'create', entity: entityName, before: null, after: record as StoredRecord });
        return record as StoredRecord;
      },
      save: (entityName, before, after, operation) =>
        this.save(ctx, entityName, before, { ...after, modified: ctx.now }, operation),
    };
  }

  private async checkAndDerive(
    ctx: WriteContext,
    entity: EntityDef,
    before: StoredRecord | null,
    record: StoredRecord,
    changed: ReadonlySet<string>,
    errors: FieldError[],
    relationChecks: readonly RelationCheck[],
    index: number | null,
  ): Promise<void> {
    const { errors: relationErrors, related } = await this.checkRelations(ctx, relationChecks);
    errors.push(...relationErrors);
    if (errors.length === 0) {
      try {
        errors.push(...(await this.rules.validate(ctx, entity, record, changed)));
      } catch (error) {
        if (!(error instanceof RuleViolation)) throw error;
        errors.push(fieldError(error.field, ErrorKinds.fieldValidation, error.message));
      }
    }
    if (errors.length > 0) throw entityValidationError(entity.name, before?.id ?? null, errors, index);
    Object.assign(record, await this.rules.derive(ctx, entity, before, record, related));
  }

  /** What is wrong with the record's relations, and the records they point at (by id), as just read. */
  private async checkRelations(ctx: WriteContext, checks: readonly RelationCheck[]): Promise<{ errors: FieldError[]; related: ReadonlyMap<string, RecordRow> }> {
    const rows = await this.store.findManyByIds(ctx.trx, ctx.spaceId, checks.map((check) => check.id));
    const byId = new Map(rows.map((row) => [row.data.id, row]));
    const errors: FieldError[] = [];
    for (const check of checks) {
      const row = byId.get(check.id);
      const kinds = check.targets.join(' or ');
      if (!row || !check.targets.includes(row.entity)) {
        errors.push(fieldError(check.field, ErrorKinds.relationsDoesntExist,
          `Field '${check.field}' points at ${kinds} '${check.id}', which does not exist.`));
      } else if (row.data.is_deleted === true && !hasLevel(ctx.level, ValidationLevel.allowDeletedRelations)) {
        errors.push(fieldError(check.field, ErrorKinds.relationsDoesntExist,
          `Field '${check.field}' points at ${row.entity} '${check.id}', which is deleted; validation-level 16 allows it.`));
      }
    }
    return { errors, related: byId };
  }

  /** Separates inline to-many relation arrays (e.g. Contact `account_relations`) from own fields. */
  private splitInlineRelations(entity: EntityDef, body: Record<string, unknown>, index: number | null) {
    const own: Record<string, unknown> = {};
    const inline = new Map<string, Record<string, unknown>[]>();
    for (const [key, value] of Object.entries(body)) {
      const relation = entity.toMany[key];
      const isInlineWrite = relation?.writable && Array.isArray(value) && value.some((item) => typeof item === 'object');
      if (!isInlineWrite) {
        own[key] = value;
        continue;
      }
      if (!(value as unknown[]).every((item) => typeof item === 'object' && item !== null && !Array.isArray(item))) {
        throw entityValidationError(entity.name, null, [
          fieldError(key, ErrorKinds.fieldValidation, `Field '${key}' must be an array of ${relation.entity} objects.`),
        ], index);
      }
      inline.set(key, value as Record<string, unknown>[]);
    }
    return { own, inline };
  }

  /**
   * An inline array replaces the relation's rows: items with an `id` update that row, items without
   * one create a row, and live rows left out are deleted.
   */
  private async writeInlineRelations(
    ctx: WriteContext,
    entity: EntityDef,
    parentId: string,
    inline: ReadonlyMap<string, Record<string, unknown>[]>,
    index: number | null,
  ): Promise<void> {
    for (const [key, items] of inline) {
      const relation = entity.toMany[key];
      const childEntity = this.catalogue.get(relation.entity);
      const existing = await this.store.findChildren(ctx.trx, ctx.spaceId, relation.entity, relation.foreignKey, [parentId]);
      const kept = new Set<string>();
      for (const item of items) {
        const fields = { ...item, [relation.foreignKey]: parentId };
        if (typeof item.id === 'string' && existing.some((row) => row.id === item.id)) {
          const { id, ...rest } = fields;
          kept.add(id as string);
          await this.update(ctx, childEntity, id as string, rest, index);
        } else {
          await this.create(ctx, childEntity, fields, index);
        }
      }
      for (const row of existing) {
        if (!kept.has(row.id)) await this.remove(ctx, childEntity, row.id);
      }
    }
  }
}

/** Walks rendered records (nested in expansions, arrays, notification items) and sets their real revisions. */
function replaceProvisionalRevisions(value: unknown, final: ReadonlyMap<number, number>): void {
  if (Array.isArray(value)) {
    for (const item of value) replaceProvisionalRevisions(item, final);
  } else if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    for (const [key, field] of Object.entries(record)) {
      if (key === 'revision' && typeof field === 'number' && final.has(field)) record.revision = final.get(field);
      else replaceProvisionalRevisions(field, final);
    }
  }
}

function requireObject(entity: EntityDef, input: unknown, index: number | null): Record<string, unknown> {
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) return input as Record<string, unknown>;
  const where = index === null ? 'The request body' : `Item ${index} of the batch`;
  throw new ApiError(ErrorKinds.parameterInvalid, `${where} must be a JSON object with the fields of ${entity.name}.`, {
    entity_index: index,
  });
}
