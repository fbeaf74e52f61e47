// How much a delivery worker's next claim may lease (see DeliveryWorker): the pool's free slots, room
// in the lanes of webhooks at their width, and each webhook's cap of deliveries held, with what the
// claims already under way may still lease counted as leased.
/** Attempts in flight at most, slow ones included, as a multiple of the pool: bounds the sockets. */
const MOST_IN_FLIGHT_PER_SLOT = 4;

/**
 * What a claim may lease: in all (`limit`, of which `slots` are the pool's free slots), of a webhook
 * listed in `rooms` its room there, of any other `perWebhook`.
 */
export interface ClaimPlan {
  readonly slots: number;
  readonly limit: number;
  readonly perWebhook: number;
  readonly rooms: ReadonlyMap<string, number>;
}

/** The most of `webhookId`'s deliveries (any other webhook's, without one) a claim under way may still lease. */
const mayLease = (claim: ClaimPlan, webhookId?: string) => Math.min(claim.limit, (webhookId === undefined ? undefined : claim.rooms.get(webhookId)) ?? claim.perWebhook);
const sumOf = <T>(items: readonly T[], value: (item: T) => number) => items.reduce((sum, item) => sum + value(item), 0);

/**
 * The next claim's plan, beside the claims `underWay`, from what the worker holds: `recent` counts
 * each webhook's deliveries handed over lately (in its lane or in flight; see the worker's
 * SLOW_ATTEMPT_MS), `sending` all of them, `inFlight` the worker's attempts of every webhook. What the
 * claims under way may still lease is counted as leased:
 * - the pool: a webhook's attempts hold its slots up to its lane's width; those beyond wait in the
 *   lane. (Counted whole, a silent receiver's waiting ones took the pool from the healthy nine
 *   beside it: they kept 73.7 % of their rate, against 97.3 % before the lanes.)
 * - a lane at its width may also take what can wait behind its attempts, beyond the free slots:
 *   claims of the free slots only, after half a pool of ended attempts, found the lane empty and
 *   left it so until they were done (one webhook's drain on SQLite: its lane had nothing waiting
 *   78.5 % of the time, 40.4 % with this rule; on PostgreSQL 6,605-6,980/s against 8,408-8,418/s,
 *   alternating).
 * - each webhook: at most `handedOverPerWebhook` held, counting what the claims under way may lease
 *   of it (not their whole limit, which had kept a second claim from one webhook's lane).
 */
export function planClaim(
  pool: { readonly concurrency: number; readonly perWebhook: number; readonly handedOverPerWebhook: number },
  held: { readonly recent: ReadonlyMap<string, number>; readonly sending: ReadonlyMap<string, number>; readonly inFlight: number },
  underWay: readonly ClaimPlan[],
): ClaimPlan {
  const known = new Set([...held.sending.keys(), ...underWay.flatMap((claim) => [...claim.rooms.keys()])]);
  const roomOf = (webhookId: string) => pool.handedOverPerWebhook - (held.sending.get(webhookId) ?? 0) - sumOf(underWay, (claim) => mayLease(claim, webhookId));
  const rooms = new Map([...known].map((webhookId) => [webhookId, Math.max(0, roomOf(webhookId))]));
  const busy = sumOf([...held.recent.values()], (attempts) => Math.min(attempts, pool.perWebhook));
  const slots = Math.max(0, pool.concurrency - busy - sumOf(underWay, (claim) => claim.slots));
  const laneRoom = sumOf([...held.recent].filter(([, attempts]) => attempts >= pool.perWebhook), ([webhookId]) => rooms.get(webhookId) ?? 0);
  const sockets = pool.concurrency * MOST_IN_FLIGHT_PER_SLOT - held.inFlight - sumOf(underWay, (claim) => claim.limit);
  const limit = Math.max(0, Math.min(slots + laneRoom, sockets));
  return { slots: Math.min(slots, limit), limit, perWebhook: Math.max(0, pool.handedOverPerWebhook - sumOf(underWay, (claim) => mayLease(claim))), rooms };
}
