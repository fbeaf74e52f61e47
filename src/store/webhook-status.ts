// The delivery engine's own changes to a webhook record: disabling it (a 410 from the receiver).
// They bypass the entity engine (a Webhook has no events to emit) but keep revision and modified honest.
import { formatDateTime } from '../domain/dates.js';
import type { Database } from './database.js';
import type { RecordStore } from './record-store.js';

export class WebhookStatusStore {
  constructor(
    private readonly database: Database,
    private readonly records: RecordStore,
  ) {}

  /** Holds the webhook's deliveries until someone sets `is_disabled` back to false. */
  async disable(spaceId: string, webhookId: string, reason: string, nowMs: number): Promise<void> {
    const { database, records } = this;
    const trx = await database.db.startTransaction().execute();
    try {
      const row = await records.findById(trx, spaceId, webhookId, { forUpdate: true });
      if (row && row.entity === 'Webhook' && row.data.is_disabled !== true) {
        const revision = await records.nextRevision(trx, spaceId);
        await records.replace(trx, spaceId, 'Webhook', {
          ...row.data,
          is_disabled: true,
          disabled_reason: reason,
          modified: formatDateTime(new Date(nowMs)),
          revision,
        });
      }
      await trx.commit().execute();
    } catch (error) {
      await trx.rollback().execute();
      throw error;
    }
  }
}
