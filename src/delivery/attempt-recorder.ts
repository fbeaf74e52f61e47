// Records finished attempts by group commit: while one batch is being written, the attempts that end
// queue up, and the next write takes them all. An idle worker writes each attempt at once; a busy one
// writes tens per transaction (one commit, two statements), which is what lets it keep up.
import type { DeliveryQueue, FinishedAttempt } from '../store/delivery-queue.js';

interface Pending {
  readonly attempt: FinishedAttempt;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class AttemptRecorder {
  private queued: Pending[] = [];
  private writing = false;

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly workerId: string,
  ) {}

  /** Resolves once the attempt is committed; rejects if its batch could not be written. */
  record(attempt: FinishedAttempt): Promise<void> {
    const recorded = new Promise<void>((resolve, reject) => this.queued.push({ attempt, resolve, reject }));
    if (!this.writing) void this.writeQueued();
    return recorded;
  }

  private async writeQueued(): Promise<void> {
    this.writing = true;
    while (this.queued.length > 0) {
      const batch = this.queued;
      this.queued = [];
      try {
        await this.queue.finishAttempts(this.workerId, batch.map((pending) => pending.attempt));
        for (const pending of batch) pending.resolve();
      } catch (error) {
        // The leases stay: these deliveries are attempted again once they run out (at least once).
        for (const pending of batch) pending.reject(error);
      }
    }
    this.writing = false;
  }
}
