// A webhook's health (SPEC §4): after a run of failures its deliveries pause (the breaker opens) for
// a cooldown that doubles, up to a cap, instead of hammering a receiver that is down; then one probe
// at a time is let through (half-open) until one succeeds. A webhook failing for long is warned about,
// and later disabled: its deliveries wait until someone enables it again.

export interface Health {
  readonly consecutiveFailures: number;
  /** Epoch ms of the first failure of the current run. */
  readonly failingSince: number;
  /** Until when the breaker is open (epoch ms), or null. */
  readonly openUntil: number | null;
  readonly warned: boolean;
}

export interface BreakerSettings {
  /** Consecutive failures that open the breaker. */
  readonly threshold: number;
  readonly cooldownMs: number;
  readonly maxCooldownMs: number;
  /** Failing this long records a warning on the webhook... */
  readonly warnAfterMs: number;
  /** ...and this long disables it. */
  readonly disableAfterMs: number;
}

export type HealthState = 'healthy' | 'failing' | 'open';

export interface FailureOutcome {
  readonly health: Health;
  readonly state: HealthState;
  /** Crossed the warning threshold with this failure. */
  readonly warn: boolean;
  /** Crossed the disabling threshold with this failure. */
  readonly disable: boolean;
}

export function recordFailure(previous: Health | null, now: number, settings: BreakerSettings): FailureOutcome {
  const consecutiveFailures = (previous?.consecutiveFailures ?? 0) + 1;
  const failingSince = previous?.failingSince ?? now;
  const tripped = consecutiveFailures >= settings.threshold;
  const doublings = Math.min(20, consecutiveFailures - settings.threshold);
  const openUntil = tripped ? now + Math.min(settings.maxCooldownMs, settings.cooldownMs * 2 ** doublings) : null;
  const failingFor = now - failingSince;
  const warn = !previous?.warned && failingFor >= settings.warnAfterMs;
  return {
    health: { consecutiveFailures, failingSince, openUntil, warned: (previous?.warned ?? false) || warn },
    state: tripped ? 'open' : 'failing',
    warn,
    disable: failingFor >= settings.disableAfterMs,
  };
}

/** Half-open: the cooldown is over but the last attempts failed; one probe at a time. */
export const isHalfOpen = (health: Pick<Health, 'consecutiveFailures' | 'openUntil'> | undefined, now: number, threshold: number) =>
  health !== undefined && health.consecutiveFailures >= threshold && (health.openUntil === null || health.openUntil <= now);
