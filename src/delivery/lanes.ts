// Per-webhook lanes in front of a sender. A worker hands over more of a webhook's deliveries than may
// be in flight at once (the lane's width); the others wait in the lane and start the moment one of
// its attempts ends, without a turn of the worker's own loop, which on SQLite is busy with the next
// claim meanwhile. Once an attempt in a lane is not delivered, the attempts still waiting in it are
// handed back unsent: a failing receiver gets no more at once than its width, and the worker's
// failure policy and breaker decide about the rest, as they do for any delivery not yet claimed. So
// is an attempt whose turn comes too late to end before its lease does (`startWithinMs`): its lease
// then need not cover the wait of every attempt ahead of it in the lane.
import { isDeliveredStatus } from '../domain/failure-policy.js';
import type { Attempt, AttemptResult, AttemptSender } from './sender.js';

/** A webhook's lane: at most `width` of its attempts in flight at once. */
export interface Lane {
  readonly id: string;
  readonly width: number;
}

/**
 * What became of an attempt handed to a lane: sent, after waiting `waitedMs` for its turn, or handed
 * back unsent (one before it was not delivered, or its turn did not come in time).
 */
export type LaneOutcome = { readonly sent: true; readonly result: AttemptResult; readonly waitedMs: number } | { readonly sent: false };

/** Sends attempts through lanes: Lanes in this thread, ThreadedSender in a thread of its own. */
export interface LanedSender {
  /** Never rejects: a failure is a result without a status. Unsent unless it can start within `startWithinMs`. */
  send(attempt: Attempt, lane: Lane, startWithinMs?: number): Promise<LaneOutcome>;
  close(): Promise<void>;
}

interface Waiting {
  readonly attempt: Attempt;
  readonly handedAt: number;
  readonly startWithinMs: number;
  readonly resolve: (outcome: LaneOutcome) => void;
}

interface LaneState {
  running: number;
  readonly waiting: Waiting[];
}

export class Lanes implements LanedSender {
  private readonly lanes = new Map<string, LaneState>();

  constructor(private readonly sender: AttemptSender) {}

  send(attempt: Attempt, lane: Lane, startWithinMs = Number.POSITIVE_INFINITY): Promise<LaneOutcome> {
    return new Promise((resolve) => {
      if (startWithinMs < 0) return resolve({ sent: false });
      let state = this.lanes.get(lane.id);
      if (!state) this.lanes.set(lane.id, (state = { running: 0, waiting: [] }));
      const waiting = { attempt, handedAt: performance.now(), startWithinMs, resolve };
      if (state.running < lane.width) this.start(lane, state, waiting);
      else state.waiting.push(waiting);
    });
  }

  close(): Promise<void> {
    return this.sender.close();
  }

  private start(lane: Lane, state: LaneState, { attempt, handedAt, resolve }: Waiting): void {
    state.running += 1;
    const waitedMs = performance.now() - handedAt;
    void this.sender.send(attempt).then((result) => {
      state.running -= 1;
      if (!isDeliveredStatus(result.status)) for (const unsent of state.waiting.splice(0)) unsent.resolve({ sent: false });
      const next = this.nextInTime(state);
      if (next) this.start(lane, state, next);
      else if (state.running === 0) this.lanes.delete(lane.id);
      resolve({ sent: true, result, waitedMs });
    });
  }

  /** The next waiting attempt that may still start; those whose time ran out are handed back unsent. */
  private nextInTime(state: LaneState): Waiting | undefined {
    const now = performance.now();
    for (let next = state.waiting.shift(); next; next = state.waiting.shift()) {
      if (now - next.handedAt <= next.startWithinMs) return next;
      next.resolve({ sent: false });
    }
    return undefined;
  }
}
