// One HTTP attempt of a delivery, with undici's `request` over long-lived keep-alive Agents: one that
// checks TLS certificates and one, for webhooks with `insecure_ssl`, that does not. Redirects are
// never followed (undici's `request` does not), and the whole attempt is bounded by the timeout.
import { Agent, request } from 'undici';

export interface Attempt {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly insecureSsl: boolean;
}

export interface AttemptResult {
  /** The HTTP status, or null when no response came (network error, timeout). */
  readonly status: number | null;
  readonly error: string | null;
  readonly durationMs: number;
}

/** At most this much of a response body is read; the rest is discarded with the connection. */
const RESPONSE_BODY_LIMIT = 64 * 1024;

export class HttpSender {
  private readonly verifying: Agent;
  private readonly insecure: Agent;

  constructor(private readonly timeoutMs: number) {
    const options = { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: timeoutMs, keepAliveTimeout: 30_000 };
    this.verifying = new Agent(options);
    this.insecure = new Agent({ ...options, connect: { rejectUnauthorized: false } });
  }

  async send(attempt: Attempt): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const response = await request(attempt.url, {
        method: 'POST',
        headers: attempt.headers,
        body: attempt.body,
        dispatcher: attempt.insecureSsl ? this.insecure : this.verifying,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await response.body.dump({ limit: RESPONSE_BODY_LIMIT });
      return { status: response.statusCode, error: null, durationMs: elapsed() };
    } catch (error) {
      return { status: null, error: describeNetworkError(error), durationMs: elapsed() };
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.verifying.close(), this.insecure.close()]);
  }
}

function describeNetworkError(error: unknown): string {
  const { name, code, message, cause } = error as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout: no complete answer in time';
  const detail = cause?.code ?? code ?? name ?? 'error';
  return `${detail}: ${cause?.message ?? message ?? String(error)}`;
}
