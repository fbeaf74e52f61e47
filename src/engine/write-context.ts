// What every write inside one transaction shares: the transaction, the space, the validation level,
// one clock reading, the record changes made so far (the diff the webhook engine derives from), and
// what it has rendered.
import { formatDateTime } from '../domain/dates.js';
import type { RecordChange } from '../domain/event-derivation.js';
import type { Executor } from '../store/database.js';

export type { RecordChange, WriteOperation } from '../domain/event-derivation.js';

export interface WriteContext {
  readonly trx: Executor;
  readonly spaceId: string;
  readonly level: number;
  /** The write's one clock reading, in Pipeliner's date-time form and in epoch milliseconds. */
  readonly now: string;
  readonly nowMs: number;
  readonly changes: RecordChange[];
  /** Webhooks enabled again by the write, whose held deliveries fall due at its commit. */
  readonly released: string[];
  /**
   * Records rendered during the write, by record, revision and projection (see Renderer.renderInWrite):
   * the response and the webhook payloads of the default shape are one render, not two.
   */
  readonly renders: Map<string, Promise<Record<string, unknown>>>;
  /** The revision of the write's first change, where it is known from the start (see RecordStore.revisionsFrom); else null. */
  readonly firstRevision: number | null;
}

/** `firstRevision`: what RecordStore.revisionsFrom says for the write's transaction. */
export function newWriteContext(
  trx: Executor,
  spaceId: string,
  level: number,
  firstRevision: number | null,
  clock: () => Date = () => new Date(),
): WriteContext {
  const date = clock();
  return { trx, spaceId, level, now: formatDateTime(date), nowMs: date.getTime(), changes: [], released: [], renders: new Map(), firstRevision };
}

/**
 * The revision of the change the write is about to make: its real one where the write knows them
 * from the start. Otherwise a provisional one until the write takes real ones, just before it commits
 * (see RecordWriter.assignRevisions): negative, one per change, so each change's record stays distinct.
 */
export const changeRevision = (ctx: WriteContext) =>
  ctx.firstRevision === null ? -(ctx.changes.length + 1) : ctx.firstRevision + ctx.changes.length;
