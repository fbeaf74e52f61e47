// When to try a failed delivery again: the configured schedule (seconds between attempts; the
// Standard Webhooks schedule by default, about three days), each delay with ±20 % jitter so that a
// receiver coming back is not hit by every retry at once.

export const JITTER = 0.2;

/**
 * The delay before the next attempt after `failedAttempts` failures, or null when the schedule is
 * used up and the delivery is given up. `random` is in [0, 1).
 */
export function retryDelayMs(schedule: readonly number[], failedAttempts: number, random: () => number = Math.random): number | null {
  if (failedAttempts < 1 || failedAttempts > schedule.length) return null;
  const base = schedule[failedAttempts - 1] * 1000;
  return Math.round(base * (1 - JITTER + 2 * JITTER * random()));
}
