import { describe, expect, it } from 'vitest';
import { judgeAttempt, parseRetryAfter } from '../../src/domain/failure-policy.js';

const now = Date.UTC(2026, 10, 27, 12, 0, 0);

describe('the failure policy', () => {
  it.each([
    [200, 'delivered'], [204, 'delivered'], [299, 'delivered'],
    [301, 'retry'], [302, 'retry'], [307, 'retry'],
    [400, 'give-up'], [401, 'give-up'], [404, 'give-up'], [422, 'give-up'],
    [408, 'retry'], [429, 'retry'],
    [410, 'disable'],
    [500, 'retry'], [502, 'retry'], [503, 'retry'],
    [null, 'retry'],
  ])('%s → %s', (status, outcome) => {
    expect(judgeAttempt(status, false, undefined, now).outcome).toBe(outcome);
  });

  it('gives up on a target the SSRF guard refused', () => {
    expect(judgeAttempt(null, true, undefined, now).outcome).toBe('give-up');
  });

  it('honours Retry-After in seconds or as an HTTP date, within 1 s to 24 h', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(new Date(now + 90_000).toUTCString(), now)).toBe(90_000);
    expect(parseRetryAfter('0', now)).toBe(1_000);
    expect(parseRetryAfter('999999999', now)).toBe(24 * 3_600_000);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(judgeAttempt(429, false, '30', now)).toEqual({ outcome: 'retry', retryAfterMs: 30_000 });
  });
});
