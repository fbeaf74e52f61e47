import { describe, expect, it } from 'vitest';
import { isHalfOpen, recordFailure, type Health } from '../../src/domain/circuit-breaker.js';

const settings = { threshold: 3, cooldownMs: 1_000, maxCooldownMs: 8_000, warnAfterMs: 60_000, disableAfterMs: 120_000 };

describe('the circuit breaker', () => {
  it('opens after the threshold, with a cooldown that doubles up to its cap', () => {
    let health: Health | null = null;
    const cooldowns: (number | null)[] = [];
    for (let failure = 0; failure < 8; failure++) {
      const outcome = recordFailure(health, 10_000, settings);
      health = outcome.health;
      cooldowns.push(health.openUntil === null ? null : health.openUntil - 10_000);
    }
    expect(cooldowns).toEqual([null, null, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it('is half-open once the cooldown is over', () => {
    const health = { consecutiveFailures: 3, failingSince: 0, openUntil: 5_000, warned: false };
    expect(isHalfOpen(health, 4_999, 3)).toBe(false);
    expect(isHalfOpen(health, 5_000, 3)).toBe(true);
    expect(isHalfOpen(undefined, 5_000, 3)).toBe(false);
  });

  it('warns once after the warning period, and disables after the disabling one', () => {
    const first = recordFailure(null, 0, settings);
    expect(first).toMatchObject({ warn: false, disable: false, state: 'failing' });
    const warned = recordFailure(first.health, 60_000, settings);
    expect(warned).toMatchObject({ warn: true, disable: false });
    const again = recordFailure(warned.health, 90_000, settings);
    expect(again.warn).toBe(false);
    expect(recordFailure(again.health, 120_000, settings).disable).toBe(true);
  });
});
