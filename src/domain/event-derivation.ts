// From the record changes of one write to the events it produces (SPEC §3, reference §2.4), in order:
// per change, X.Create / X.Update / X.Delete first, then the special events that apply, in the order
// OwnerChanged, Move, Won, Lost, Qualify, BackToLead. DocumentLinked comes from a CloudObjectRelation
// being created, Comment from an activity or memo comment being added.
import { eventsByEntity } from './events.js';
import { OpportunityStatus } from './lifecycle.js';
import type { StoredRecord } from './projection.js';

export type WriteOperation = 'create' | 'update' | 'delete' | 'restore' | 'qualify' | 'back-to-lead';

/** One record written by a write operation, with its state before (null for a create) and after. */
export interface RecordChange {
  readonly operation: WriteOperation;
  readonly entity: string;
  readonly before: StoredRecord | null;
  readonly after: StoredRecord;
}

export interface RecordRef {
  readonly entityName: string;
  readonly record: StoredRecord;
}

export interface EventOccurrence {
  /** The concrete event name, e.g. `Opportunity.Won`. */
  readonly event: string;
  /** The event's entity prefix (`Opportunity`); the main entity is of this type. */
  readonly entityName: string;
  /** The main entity: its state after the change (its last state for a delete). */
  readonly record: StoredRecord;
  /** The state before the change, null when there was none. */
  readonly before: StoredRecord | null;
  /** The secondary entity (the document of DocumentLinked, the comment of Comment), or null. */
  readonly related: RecordRef | null;
  /** Fields whose value differs between before and after (not `modified` / `revision`). */
  readonly changedFields: readonly string[];
}

/** Update-type events: the ones `on-field-change` gates (reference §3.3 step 6). */
export const updateTypeEvents = new Set(['Update', 'OwnerChanged', 'Move', 'Won', 'Lost']);

/** The record a CloudObjectRelation links a document to, by field. */
export const DOCUMENT_LINK_FIELDS = [
  'account_id', 'contact_id', 'lead_oppty_id', 'activity_id', 'custom_entity_id', 'memo_id', 'message_id', 'project_id', 'quote_id',
] as const;

const BOOKKEEPING_FIELDS = new Set(['modified', 'revision']);

export function changedFields(before: StoredRecord | null, after: StoredRecord): string[] {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after)]);
  return [...keys].filter(
    (key) => !BOOKKEEPING_FIELDS.has(key) && JSON.stringify(before?.[key] ?? null) !== JSON.stringify(after[key] ?? null),
  );
}

const hasEvent = (entityName: string, event: string) => eventsByEntity[entityName]?.includes(event) ?? false;

/**
 * Derives the events of one write's changes. `lookup` gives records the write references but did not
 * change (the record a document is linked to, the activity a comment is added to).
 */
export function deriveEvents(changes: readonly RecordChange[], lookup: (id: string) => RecordRef | undefined): EventOccurrence[] {
  const occurrences: EventOccurrence[] = [];
  for (const change of changes) {
    const { entity, before, after } = change;
    const changed = changedFields(before, after);
    const emit = (event: string, extra: Partial<EventOccurrence> = {}) => {
      if (hasEvent(entity, event)) {
        occurrences.push({ event: `${entity}.${event}`, entityName: entity, record: after, before, related: null, changedFields: changed, ...extra });
      }
    };
    switch (change.operation) {
      case 'create':
        emit('Create');
        break;
      case 'update':
      case 'restore':
        emit('Update');
        emitSpecialEvents(before, after, emit);
        break;
      case 'delete':
        emit('Delete');
        break;
      case 'qualify':
        emit('Create');
        emit('Qualify');
        break;
      case 'back-to-lead':
        emit('Create');
        emit('BackToLead');
        break;
    }
    if (change.operation === 'create') occurrences.push(...linkedEvents(entity, after, lookup));
  }
  return occurrences;
}

function emitSpecialEvents(
  before: StoredRecord | null,
  after: StoredRecord,
  emit: (event: string) => void,
) {
  if (!before) return;
  if (before.owner_id !== after.owner_id) emit('OwnerChanged');
  if (before.step_id !== after.step_id) emit('Move');
  // Lead, Opportunity and Quote share the status numbers: 2 is lost, 3 is won.
  if (after.status !== before.status) {
    if (after.status === OpportunityStatus.won) emit('Won');
    if (after.status === OpportunityStatus.lost) emit('Lost');
  }
}

// A CloudObjectRelation links a document: `<Record>.DocumentLinked`, the document as related entity.
// An ActivityComment / MemoComment: `<Activity>.Comment`, the comment as related entity.
function linkedEvents(entity: string, created: StoredRecord, lookup: (id: string) => RecordRef | undefined): EventOccurrence[] {
  const occurrence = (target: RecordRef | undefined, event: string, related: RecordRef | null): EventOccurrence[] =>
    target && hasEvent(target.entityName, event)
      ? [{ event: `${target.entityName}.${event}`, entityName: target.entityName, record: target.record, before: null, related, changedFields: [] }]
      : [];
  if (entity === 'CloudObjectRelation') {
    const document = lookup(String(created.cloud_object_id));
    return DOCUMENT_LINK_FIELDS.flatMap((field) =>
      typeof created[field] === 'string' ? occurrence(lookup(created[field] as string), 'DocumentLinked', document ?? null) : [],
    );
  }
  if (entity === 'ActivityComment' || entity === 'MemoComment') {
    const parentId = entity === 'ActivityComment' ? created.activity_id : created.memo_id;
    return occurrence(lookup(String(parentId)), 'Comment', { entityName: entity, record: created });
  }
  return [];
}
