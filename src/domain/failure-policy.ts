// What an attempt's outcome means (SPEC §3): a 2xx is delivered; 410 Gone disables the webhook;
// 408 and 429 are retried, other 4xx are final (the receiver refuses this request as it is); 3xx
// (redirects are not followed), 5xx, timeouts and network errors are retried; a target the SSRF
// guard refuses is final. `Retry-After` (seconds or an HTTP date) sets the next delay, within bounds.

export type Verdict =
  | { readonly outcome: 'delivered' }
  | { readonly outcome: 'retry'; readonly retryAfterMs: number | null }
  | { readonly outcome: 'give-up' }
  | { readonly outcome: 'disable' };

export const MIN_RETRY_AFTER_MS = 1_000;
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/** A 2xx: the receiver took the delivery. */
export const isDeliveredStatus = (status: number | null): boolean => status !== null && status >= 200 && status < 300;

export function judgeAttempt(status: number | null, forbidden: boolean, retryAfter: string | undefined, nowMs: number): Verdict {
  if (forbidden) return { outcome: 'give-up' };
  if (status === null) return { outcome: 'retry', retryAfterMs: null };
  if (isDeliveredStatus(status)) return { outcome: 'delivered' };
  if (status === 410) return { outcome: 'disable' };
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { outcome: 'give-up' };
  return { outcome: 'retry', retryAfterMs: parseRetryAfter(retryAfter, nowMs) };
}

/** Milliseconds to wait per a `Retry-After` value, clamped to 1 s – 24 h; null when absent or malformed. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined || value.trim() === '') return null;
  const text = value.trim();
  const delay = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - nowMs;
  if (Number.isNaN(delay)) return null;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, delay));
}
