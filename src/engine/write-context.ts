// What every write inside one transaction shares: the transaction, the space, the validation level,
// one clock reading, and the record changes made so far (the diff the webhook engine derives from).
import type { StoredRecord } from '../domain/projection.js';
import type { Executor } from '../store/database.js';

export type WriteOperation = 'create' | 'update' | 'delete' | 'restore' | 'qualify' | 'back-to-lead';

export interface RecordChange {
  readonly operation: WriteOperation;
  readonly entity: string;
  /** The state before the write; null for a create. */
  readonly before: StoredRecord | null;
  readonly after: StoredRecord;
}

export interface WriteContext {
  readonly trx: Executor;
  readonly spaceId: string;
  readonly level: number;
  readonly now: string;
  readonly changes: RecordChange[];
}
