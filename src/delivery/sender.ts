// One HTTP attempt of a delivery, with undici's `request` over long-lived keep-alive Agents: one that
// checks TLS certificates and one, for webhooks with `insecure_ssl`, that does not. Redirects are
// never followed (undici's `request` does not), and the whole attempt is bounded by the timeout.
// Both Agents connect through the SSRF guard: an IP literal is judged before any packet is sent, a
// name by the addresses it resolves to, and the socket's actual peer once more after connecting
// (which also defeats DNS rebinding).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { Socket } from 'node:net';
import { Agent, buildConnector, request } from 'undici';
import type { TargetPolicy } from '../domain/target-policy.js';

export interface Attempt {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly insecureSsl: boolean;
}

export interface AttemptResult {
  /** The HTTP status, or null when no response came (network error, timeout, refused target). */
  readonly status: number | null;
  readonly error: string | null;
  /** The SSRF guard refused the target: no request was sent, and retrying will not help. */
  readonly forbidden: boolean;
  /** The response's `Retry-After` header, if any. */
  readonly retryAfter?: string;
  readonly responseHeaders: Record<string, string | string[]> | null;
  /** At most RESPONSE_BODY_LIMIT bytes of the response body, as text. */
  readonly responseBody: string | null;
  readonly durationMs: number;
}

/** Raised by the connector for a target the SSRF guard refuses. */
export class ForbiddenTargetError extends Error {
  readonly code = 'ERR_FORBIDDEN_TARGET';
}

/** At most this much of a response body is read; the rest is discarded with the connection. */
const RESPONSE_BODY_LIMIT = 64 * 1024;

export class HttpSender {
  private readonly verifying: Agent;
  private readonly insecure: Agent;

  constructor(
    private readonly timeoutMs: number,
    policy: TargetPolicy,
  ) {
    const options = { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 30_000 };
    const connector = (rejectUnauthorized: boolean) =>
      guardedConnector(policy, (lookup) => buildConnector({ rejectUnauthorized, timeout: timeoutMs, lookup } as buildConnector.BuildOptions));
    this.verifying = new Agent({ ...options, connect: connector(true) });
    this.insecure = new Agent({ ...options, connect: connector(false) });
  }

  async send(attempt: Attempt): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const signal = AbortSignal.timeout(this.timeoutMs);
      const response = await request(attempt.url, {
        method: 'POST',
        headers: attempt.headers,
        body: attempt.body,
        dispatcher: attempt.insecureSsl ? this.insecure : this.verifying,
        signal,
      });
      // The status decides the outcome; a body that trickles is cut off with the attempt's deadline.
      const responseBody = await readPrefix(response.body, RESPONSE_BODY_LIMIT);
      const retryAfter = response.headers['retry-after'];
      return {
        status: response.statusCode,
        error: null,
        forbidden: false,
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
        responseHeaders: response.headers as Record<string, string | string[]>,
        responseBody,
        durationMs: elapsed(),
      };
    } catch (error) {
      const forbidden = findForbidden(error);
      const failure = { status: null, forbidden: !!forbidden, responseHeaders: null, responseBody: null, durationMs: elapsed() };
      return { ...failure, error: forbidden ? `refused by the SSRF guard: ${forbidden.message}` : describeNetworkError(error) };
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.verifying.close(), this.insecure.close()]);
  }
}

type Lookup = (hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => void;

/**
 * Wraps a connector (built with the guarded DNS lookup it is given) in the SSRF guard: IP literals and
 * localhost names are refused before connecting, names by what they resolve to, and the connected
 * socket's peer once more. `resolve` is the DNS lookup; tests pass their own.
 */
export function guardedConnector(
  policy: TargetPolicy,
  build: (lookup: Lookup) => buildConnector.connector,
  resolve: typeof dnsLookup = dnsLookup,
): buildConnector.connector {
  const lookup: Lookup = (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error);
      const permitted = addresses.filter((entry) => policy.refusal(entry.address) === null);
      if (permitted.length === 0) {
        return callback(new ForbiddenTargetError(`${hostname} resolves to ${addresses.map((entry) => entry.address).join(', ')}: ${policy.refusal(addresses[0].address)}`));
      }
      if (options.all) return callback(null, permitted);
      callback(null, permitted[0].address, permitted[0].family);
    });
  };
  const connect = build(lookup);
  return (options, callback) => {
    const refusal = policy.hostRefusal(options.hostname);
    if (refusal) return callback(new ForbiddenTargetError(refusal), null);
    connect(options, (error, socket) => {
      if (error) return callback(error, null);
      const peer = (socket as Socket).remoteAddress;
      const late = peer ? policy.refusal(peer) : 'the connection has no peer address';
      if (late) {
        socket!.destroy();
        return callback(new ForbiddenTargetError(late), null);
      }
      callback(null, socket!);
    });
  };
}

/** Reads up to `limit` bytes of a body, then lets the rest go; whatever arrived by the deadline counts. */
async function readPrefix(body: AsyncIterable<Buffer> & { destroy(): void }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) break;
    }
  } catch {
    // cut off by the attempt's deadline or a reset: keep what came
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

function findForbidden(error: unknown): ForbiddenTargetError | null {
  for (let current = error as { cause?: unknown } | undefined; current; current = current.cause as { cause?: unknown } | undefined) {
    if (current instanceof ForbiddenTargetError) return current;
  }
  return null;
}

function describeNetworkError(error: unknown): string {
  const { name, code, message, cause } = error as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout: no complete answer in time';
  const detail = cause?.code ?? code ?? name ?? 'error';
  return `${detail}: ${cause?.message ?? message ?? String(error)}`;
}
