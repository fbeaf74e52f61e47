// The delivery worker: claim due deliveries → sign and send each → record the attempt → done, or
// rescheduled on the retry schedule, or given up. It sleeps until the next delivery is due, and is
// woken at once when a write enqueues new ones, so an idle system sends within milliseconds of the
// commit. Nothing here throws into the loop: a failed iteration is logged and retried.
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { BreakerSettings } from '../domain/circuit-breaker.js';
import { judgeAttempt } from '../domain/failure-policy.js';
import { retryDelayMs } from '../domain/retry-schedule.js';
import { epochMs } from '../domain/dates.js';
import { signatureHeader, type SignatureFormat } from '../domain/signatures.js';
import type { WebhookDefinition } from '../domain/webhook-matching.js';
import type { ClaimedDelivery, DeliveryQueue, FinishedAttempt } from '../store/delivery-queue.js';
import type { RecordStore } from '../store/record-store.js';
import type { WebhookStatusStore } from '../store/webhook-status.js';
import { planClaim, type ClaimPlan } from './claim-plan.js';
import type { Lane, LanedSender } from './lanes.js';

export interface WorkerSettings {
  readonly retryScheduleSeconds: readonly number[];
  readonly deliveryTimeoutMs: number;
  readonly userAgent: string;
  /** Attempts in flight at once. */
  readonly concurrency?: number;
  /** The longest sleep without a wake-up: a backstop against a missed one. */
  readonly pollIntervalMs?: number;
  /** How long a previous secret keeps signing after a rotation (default 24). */
  readonly signatureGraceHours?: number;
  readonly breaker: BreakerSettings;
  /** At most this many deliveries of one webhook in flight at once. */
  readonly perWebhookConcurrency?: number;
  /** Claims under way at once, where the queue allows more than one (default 1). */
  readonly claimsAtOnce?: number;
}

export interface WorkerDependencies {
  readonly queue: DeliveryQueue;
  readonly webhookStatus: WebhookStatusStore;
  readonly records: RecordStore;
  readonly sender: LanedSender;
  readonly logger?: FastifyBaseLogger;
  readonly clock?: () => number;
  readonly random?: () => number;
}

/** What an attempt came to: finished (to be recorded), handed back unsent by its lane, or nothing to record. */
type AttemptEnd = { readonly sent: true; readonly finished: FinishedAttempt } | { readonly sent: false; readonly id: string } | null;

/** How the loop's sleep ended: a wake-up (work), its time, or a claim ending. */
type Awakening = 'woken' | 'timed-out' | 'interrupted';

const DEFAULT_CONCURRENCY = 64;
const DEFAULT_POLL_INTERVAL_MS = 1_000;
const ERROR_BACKOFF_MS = 1_000;
/** The longest an ended attempt waits to be recorded while others are still in flight. */
const RECORD_DELAY_MS = 20;
// Half the pool: one webhook can never hold more than half of a worker's attempts, and one webhook's
// backlog alone still keeps 32 attempts in flight (the raw-POST baseline's concurrency).
const DEFAULT_PER_WEBHOOK_CONCURRENCY = 32;
/**
 * A webhook's deliveries handed to the sender at most, as a multiple of its cap: three times as many
 * as may be in flight wait in its lane (see lanes.ts) and start as attempts end, while the next
 * claims run. Without them a webhook's attempts in flight fell to 16 of 32 at every claim; with as
 * many again as its cap, the lane ran dry during the claim that refills it (SQLite drain,
 * alternating: 7,215-12,820/s with twice, against 6,299-10,470/s). On PostgreSQL, whose claims take
 * longer (6-9 ms in a worker process's drain), three times the cap left the lane with nothing
 * waiting most of the time: 8,072-8,271/s, against 9,154-9,356/s with four times. Six times drained
 * 10,366-10,638/s, but two worker processes then drained less than one (0.94-0.97 ×; 1.01-1.03 × with
 * four): with two processes the two cores ran 163-202 % busy (135-171 % with one), so the second
 * one's claims find little CPU left. (Not the rows held ahead of a claim: a claim of 40 took
 * 1.7-2.5 ms with 0 to 280 of its webhook's rows leased ahead, in the queue's own loop.)
 */
const HANDED_OVER_PER_CAP = 4;
/**
 * A claim's lease is two timeouts and this: an attempt starts within a timeout of its claim or is
 * handed back unsent (see lanes.ts), then ends within a timeout, so it always ends before its lease
 * does, with this to spare: another worker never takes a row that is still being sent.
 */
const LEASE_MARGIN_MS = 5_000;
/**
 * New work wakes the worker at most this long after its last claim began: under a stream of API
 * writes it claims the deliveries of several writes at once, not one claim (a transaction beside the
 * write's own) per write.
 */
const NEW_WORK_SPACING_MS = 5;
/**
 * An attempt running longer than this is slow: it still counts against its webhook's cap, but no
 * longer holds one of the pool's slots, so a receiver that hangs does not halve everyone else's
 * concurrency for the whole timeout (the benchmark's isolation scenario on PostgreSQL: the nine
 * healthy webhooks kept 71 % of their rate without this rule, 92 % with it).
 */
const SLOW_ATTEMPT_MS = 1_000;

export class DeliveryWorker {
  readonly id = `worker-${randomBytes(6).toString('hex')}`;
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: ((awakening: Awakening) => void) | null = null;
  private wakeRequested = false;
  /** When the last claim began (monotonic ms), and a wake-up put off until the spacing allows it. */
  private lastClaimAt = Number.NEGATIVE_INFINITY;
  private spacedWake: NodeJS.Timeout | null = null;
  /**
   * This worker's deliveries handed to the sender per webhook, in flight or waiting in its lane: the
   * cap is per worker process, counted here.
   */
  private readonly sending = new Map<string, number>();
  /** The queue's vacuum under way (see DeliveryQueue.vacuumIfDue): one at a time, beside the claims. */
  private vacuum: Promise<void> | null = null;

  constructor(
    private readonly deps: WorkerDependencies,
    private readonly settings: WorkerSettings,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops claiming and waits for the attempts in flight. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.spacedWake) clearTimeout(this.spacedWake);
    this.spacedWake = null;
    this.wakeNow();
    await this.loop;
    this.loop = null;
  }

  /**
   * New deliveries are waiting (for `webhookIds`, when known): claim them now or, within
   * NEW_WORK_SPACING_MS of the last claim, that long after it, together with whatever else is
   * enqueued meanwhile. Work only for webhooks at their cap here waits for one of their attempts to
   * end, which claims anyway: a claim now would take nothing. (At 500 writes/s to one webhook on
   * SQLite, 150-175 of some 190 claims a second took nothing, each a transaction on the API's thread.)
   */
  wake(webhookIds?: readonly string[]): void {
    if (webhookIds && webhookIds.length > 0 && webhookIds.every((webhookId) => (this.sending.get(webhookId) ?? 0) >= this.handedOverPerWebhook)) return;
    const wait = this.lastClaimAt + NEW_WORK_SPACING_MS - performance.now();
    if (wait <= 0 || !this.running) this.wakeNow();
    else this.spacedWake ??= setTimeout(() => {
      this.spacedWake = null;
      this.wakeNow();
    }, wait);
  }

  /** Stop sleeping: claim now. */
  private wakeNow(): void {
    this.wakeRequested = true;
    this.wakeUp?.('woken');
  }

  private now = () => (this.deps.clock ?? Date.now)();
  private get perWebhook() {
    return this.settings.perWebhookConcurrency ?? DEFAULT_PER_WEBHOOK_CONCURRENCY;
  }
  private get handedOverPerWebhook() {
    return HANDED_OVER_PER_CAP * this.perWebhook;
  }

  // A webhook's health changes run one after another per webhook in this process. The store already
  // serialises them across processes (under the webhook's row lock), but attempts ending together (a
  // receiver failing all 32 at once) would otherwise each hold a pooled connection waiting on that lock.
  private readonly healthQueues = new Map<string, Promise<unknown>>();
  private oneAtATime<T>(webhookId: string, change: () => Promise<T>): Promise<T> {
    const next = (this.healthQueues.get(webhookId) ?? Promise.resolve()).catch(() => undefined).then(change);
    this.healthQueues.set(webhookId, next);
    const forget = () => {
      if (this.healthQueues.get(webhookId) === next) this.healthQueues.delete(webhookId);
    };
    next.then(forget, forget);
    return next;
  }

  // A pool of `concurrency` attempts, refilled as they end: a slow receiver holds only the slots of
  // its own deliveries (at most its per-webhook cap), never the whole worker, and only for a second
  // (SLOW_ATTEMPT_MS). Ended attempts are recorded by the next claim, in its transaction: one commit
  // per batch, not one per delivery.
  private async run(): Promise<void> {
    const concurrency = this.settings.concurrency ?? DEFAULT_CONCURRENCY;
    const { perWebhook, handedOverPerWebhook, sending } = this;
    // Refill in batches: one claim per half a pool of ended attempts, not one per attempt, as long as
    // their lanes have deliveries waiting to take their place (SQLite drain, alternating: 89-92 µs of
    // CPU a delivery against 105-108 with a quarter). Slots that empty with nothing waiting behind
    // them are refilled after a quarter: beside a silent receiver, whose attempts hold half the pool
    // for their first second, the healthy ones would otherwise all end before each claim (the
    // benchmark's --quick isolation: 59.5-61.4 % of their rate, against 90.3-114.8 % with this rule).
    const refillBatch = Math.max(1, Math.floor(concurrency / 2));
    const emptiedBatch = Math.max(1, Math.floor(concurrency / 4));
    const timeoutMs = this.settings.deliveryTimeoutMs;
    const leaseMs = 2 * timeoutMs + LEASE_MARGIN_MS;
    // Each attempt in flight, with when it started (monotonic ms).
    const inFlight = new Map<Promise<void>, { readonly webhookId: string; readonly startedAt: number }>();
    const count = (webhookId: string, change: 1 | -1) => {
      const flying = (sending.get(webhookId) ?? 0) + change;
      if (flying === 0) sending.delete(webhookId);
      else sending.set(webhookId, flying);
    };
    let ended: FinishedAttempt[] = [];
    // Leases of deliveries handed back unsent by their lane, to be given back with the next claim.
    let givenBack: string[] = [];
    // Attempts ended since the last claim whose lane had nothing waiting to take their place.
    let emptied = 0;
    let recordTimer: NodeJS.Timeout | null = null;
    const attemptEnded = (end: AttemptEnd, webhookId: string) => {
      if (end?.sent) ended.push(end.finished);
      else if (end) givenBack.push(end.id);
      if ((sending.get(webhookId) ?? 0) < perWebhook) emptied += 1;
      // The last attempt in flight, or a batch of them, is recorded (and refilled) at once; a lone
      // attempt beside slow ones within RECORD_DELAY_MS.
      if (inFlight.size === 0 || ended.length + givenBack.length >= refillBatch || emptied >= emptiedBatch) this.wakeNow();
      else recordTimer ??= setTimeout(() => this.wakeNow(), RECORD_DELAY_MS);
    };
    // `startBy`: the latest an attempt may start (epoch ms) and still end before its lease does.
    const startAttempts = async (claimed: readonly ClaimedDelivery[], startBy: number) => {
      const webhooks = claimed.length > 0 ? await this.loadWebhooks(claimed) : new Map();
      for (const delivery of claimed) {
        count(delivery.webhook_id, 1);
        const attempt = this.deliver(delivery, webhooks.get(delivery.webhook_id), { id: delivery.webhook_id, width: perWebhook }, startBy)
          .catch((error) => {
            this.deps.logger?.error({ err: error, delivery: delivery.id }, 'delivery attempt failed; its lease will run out and it will be tried again');
            return null;
          })
          .then((result) => {
            inFlight.delete(attempt);
            count(delivery.webhook_id, -1);
            attemptEnded(result, delivery.webhook_id);
          });
        inFlight.set(attempt, { webhookId: delivery.webhook_id, startedAt: performance.now() });
      }
    };
    // Claims under way, each with its plan: a claim beside them leaves free what they may still lease.
    const claims = new Map<Promise<void>, ClaimPlan>();
    // The last claim left due work behind (its webhook capped, or paused).
    let waiting = false;
    const claimAndSend = (plan: ClaimPlan) => {
      const finished = ended;
      const unsent = givenBack;
      ended = [];
      givenBack = [];
      emptied = 0;
      const fairness = { perWebhook: plan.perWebhook, rooms: plan.rooms, breakerThreshold: this.settings.breaker.threshold };
      const backOff = () => new Promise((resolve) => setTimeout(resolve, ERROR_BACKOFF_MS));
      const claimedAt = this.now();
      const claim = this.deps.queue
        .claimDue(this.id, claimedAt, plan.limit, leaseMs, fairness, { finished, givenBack: unsent })
        .then(async (result) => {
          this.vacuumIfDue();
          waiting = result.waiting;
          await startAttempts(result.rows, claimedAt + leaseMs - timeoutMs - LEASE_MARGIN_MS).catch(async (error: unknown) => {
            this.deps.logger?.error({ err: error }, 'delivery worker could not start what it claimed; the leases will run out and it will be tried again');
            await backOff();
          });
        }, async (error: unknown) => {
          // Not recorded: kept for the next claim (their leases hold meanwhile).
          ended = [...finished, ...ended];
          givenBack = [...unsent, ...givenBack];
          this.deps.logger?.error({ err: error }, 'delivery worker claim failed; retrying');
          await backOff();
        })
        .finally(() => {
          claims.delete(claim);
          // A claim that leaves nothing to do lets the loop go to sleep until the next is due.
          this.interruptSleep();
        });
      claims.set(claim, plan);
    };
    const poll = this.settings.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    const claimsAtOnce = this.deps.queue.claimsRunSideBySide ? (this.settings.claimsAtOnce ?? 1) : 1;
    let claimNow = true;
    while (this.running) {
      if (claimNow) {
        this.wakeRequested = false;
        if (recordTimer) clearTimeout(recordTimer);
        recordTimer = null;
        const now = performance.now();
        this.lastClaimAt = now;
        const recent = new Map<string, number>();
        for (const { webhookId, startedAt } of inFlight.values()) if (now - startedAt < SLOW_ATTEMPT_MS) recent.set(webhookId, (recent.get(webhookId) ?? 0) + 1);
        claimAndSend(planClaim({ concurrency, perWebhook, handedOverPerWebhook }, { recent, sending, inFlight: inFlight.size }, [...claims.values()]));
      }
      if (claims.size >= claimsAtOnce) await Promise.race(claims.keys());
      // Claims or attempts under way, or due work left behind: ending attempts (or new work) wake the
      // loop. Otherwise sleep until the next delivery falls due.
      const idle = claims.size === 0 && inFlight.size === 0 && !waiting;
      // Woken by a claim ending, not by work: nothing new to claim.
      claimNow = (idle ? await this.sleepUntilDue() : await this.sleep(poll)) !== 'interrupted';
    }
    await Promise.all(claims.keys());
    await Promise.all(inFlight.keys());
    if (recordTimer) clearTimeout(recordTimer);
    await this.deps.queue.finishAttempts(this.id, ended, givenBack);
    await this.vacuum;
  }

  private vacuumIfDue(): void {
    this.vacuum ??= this.deps.queue
      .vacuumIfDue()
      .catch((error: unknown) => this.deps.logger?.error({ err: error }, 'delivery worker could not vacuum the deliveries; it tries again after as many more attempts'))
      .finally(() => {
        this.vacuum = null;
      });
  }

  // Nothing due: sleep until the next delivery falls due, at most the polling interval.
  private async sleepUntilDue(): Promise<Awakening> {
    const poll = this.settings.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    const next = await this.deps.queue.nextDueAt().catch((error: unknown) => {
      this.deps.logger?.error({ err: error }, 'delivery worker could not read when the next delivery is due; polling');
      return null;
    });
    const untilDue = next === null ? poll : next - this.now();
    return this.sleep(untilDue > 0 ? Math.min(poll, untilDue) : poll);
  }

  private sleep(ms: number): Promise<Awakening> {
    if (this.wakeRequested || !this.running) return Promise.resolve('woken');
    return new Promise((resolve) => {
      const timer = setTimeout(() => done('timed-out'), ms);
      const done = (awakening: Awakening) => {
        clearTimeout(timer);
        this.wakeUp = null;
        resolve(awakening);
      };
      this.wakeUp = done;
    });
  }

  /** Ends the loop's sleep without a wake-up: it goes back to sleep unless there is nothing left to do. */
  private interruptSleep(): void {
    this.wakeUp?.('interrupted');
  }

  // During a rotation (Standard Webhooks form only: Pipeliner's header holds one value) the previous
  // secret signs beside the new one until the grace period ends.
  private secretsOf(webhook: WebhookDefinition, format: SignatureFormat, now: number): string[] {
    if (!webhook.signature) return [];
    const previous = webhook.previous_signature;
    const rotated = webhook.signature_rotated ? epochMs(webhook.signature_rotated) : 0;
    const inGrace = now - rotated < (this.settings.signatureGraceHours ?? 24) * 3_600_000;
    return format === 'standard-webhooks' && previous && inGrace ? [webhook.signature, previous] : [webhook.signature];
  }

  private async loadWebhooks(claimed: readonly ClaimedDelivery[]): Promise<Map<string, WebhookDefinition>> {
    const bySpace = new Map<string, Set<string>>();
    for (const delivery of claimed) {
      bySpace.set(delivery.space_id, (bySpace.get(delivery.space_id) ?? new Set()).add(delivery.webhook_id));
    }
    const webhooks = new Map<string, WebhookDefinition>();
    for (const [spaceId, ids] of bySpace) {
      for (const row of await this.deps.records.findManyByIds(this.deps.records.db, spaceId, [...ids])) {
        if (row.entity === 'Webhook') webhooks.set(row.data.id, row.data as WebhookDefinition);
      }
    }
    return webhooks;
  }

  /**
   * Attempts one delivery through its lane, if its turn comes by `startBy` (epoch ms); resolves with
   * what the attempt came to, to be recorded.
   */
  private async deliver(delivery: ClaimedDelivery, webhook: WebhookDefinition | undefined, lane: Lane, startBy: number): Promise<AttemptEnd> {
    const { queue, sender, logger } = this.deps;
    const signedAt = this.now();
    if (!webhook || webhook.is_deleted) {
      await queue.abandon(delivery.id, this.id, 'the webhook was deleted', signedAt);
      return null;
    }
    const timestamp = Math.floor(signedAt / 1000);
    const format = webhook.options?.signature_format ?? 'pipeliner';
    const headers = {
      'content-type': 'application/json',
      'user-agent': this.settings.userAgent,
      'webhook-id': delivery.id,
      'webhook-timestamp': String(timestamp),
    };
    const signature = signatureHeader(format, this.secretsOf(webhook, format, signedAt), delivery.id, timestamp, delivery.body);
    const sent = await sender.send({ url: webhook.url, headers: { ...headers, ...signature }, body: delivery.body, insecureSsl: webhook.insecure_ssl }, lane, startBy - signedAt);
    if (!sent.sent) return { sent: false, id: delivery.id };
    const { result } = sent;
    // Its signature's timestamp is when it was signed, before it waited for its turn in the lane.
    const attemptedAt = signedAt + Math.round(sent.waitedMs);
    const verdict = judgeAttempt(result.status, result.forbidden, result.retryAfter, attemptedAt);
    const outcome = {
      attemptedAt,
      status: result.status,
      error: result.error ?? (verdict.outcome === 'delivered' ? null : `HTTP ${result.status}`),
      durationMs: result.durationMs,
      // The attempt log keeps the headers sent, but never the signature.
      requestHeaders: headers,
      responseHeaders: result.responseHeaders,
      responseBody: result.responseBody,
    };
    if (verdict.outcome === 'delivered') {
      // A healthy webhook has nothing to reset (its record says so; failures set it at once).
      if ((webhook.health_state ?? 'healthy') !== 'healthy') {
        await this.oneAtATime(webhook.id, () => this.deps.webhookStatus.recordSuccess(delivery.space_id, webhook.id, attemptedAt));
      }
    } else if (!result.forbidden) {
      const health = await this.oneAtATime(webhook.id, async () => {
        const counted = await this.deps.webhookStatus.recordFailure(delivery.space_id, webhook.id, attemptedAt, this.settings.breaker);
        if (counted.openUntil !== null) await queue.postpone(delivery.space_id, webhook.id, counted.openUntil, attemptedAt);
        return counted;
      });
      if (health.warned) logger?.warn({ webhook: webhook.id }, 'webhook failing for long: it will be disabled if this goes on');
      if (health.disabled) logger?.warn({ webhook: webhook.id }, 'webhook disabled after failing for too long');
    }
    const finish = (next: FinishedAttempt['next']): AttemptEnd => ({ sent: true, finished: { id: delivery.id, outcome, next } });
    switch (verdict.outcome) {
      case 'delivered':
        return finish({ status: 'delivered' });
      case 'disable':
        // Disabled first: once the delivery shows as finished, the webhook already says why.
        await this.oneAtATime(webhook.id, () => this.deps.webhookStatus.disable(delivery.space_id, webhook.id, 'the receiver answered 410 Gone', attemptedAt));
        logger?.warn({ webhook: webhook.id }, 'webhook disabled: the receiver answered 410 Gone');
        return finish({ status: 'failed' });
      case 'give-up':
        return finish({ status: 'failed' });
      case 'retry': {
        const scheduled = retryDelayMs(this.settings.retryScheduleSeconds, delivery.attempts + 1, this.deps.random);
        if (scheduled === null) {
          logger?.warn({ delivery: delivery.id, webhook: webhook.id, attempts: delivery.attempts + 1, error: outcome.error }, 'delivery given up');
          return finish({ status: 'failed' });
        }
        return finish({ status: 'pending', dueAt: attemptedAt + (verdict.retryAfterMs ?? scheduled) });
      }
    }
  }
}
