// One HTTP attempt of a delivery, dispatched through long-lived keep-alive undici Agents: one that
// checks TLS certificates and one, for webhooks with `insecure_ssl`, that does not. Redirects are
// never followed (a bare dispatch does not), and the whole attempt is bounded by the timeout.
// Both Agents connect through the SSRF guard: an IP literal is judged before any packet is sent, a
// name by the addresses it resolves to, and the socket's actual peer once more after connecting
// (which also defeats DNS rebinding).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { Socket } from 'node:net';
import { Agent, buildConnector } from 'undici';
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

/** Sends attempts: HttpSender on the calling thread, ThreadedSender through a thread of its own. */
export interface AttemptSender {
  /** Never rejects: a failure is a result without a status. */
  send(attempt: Attempt): Promise<AttemptResult>;
  close(): Promise<void>;
}

/** Raised by the connector for a target the SSRF guard refuses. */
export class ForbiddenTargetError extends Error {
  readonly code = 'ERR_FORBIDDEN_TARGET';
}

/** At most this much of a response body is read; the rest is discarded with the connection. */
const RESPONSE_BODY_LIMIT = 64 * 1024;

export class HttpSender implements AttemptSender {
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

  /**
   * Sends through undici's dispatcher directly, with a handler that keeps the status, the headers and
   * a bounded prefix of the body: `request` wraps every response in a stream, and an AbortSignal for
   * the deadline on top cost more CPU than the POST itself (on loopback: 163 µs a POST through them,
   * 57-75 µs like this).
   */
  send(attempt: Attempt): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    return new Promise((resolve) => {
      let settled = false;
      let response: { status: number; headers: Record<string, string | string[]> } | null = null;
      const chunks: Buffer[] = [];
      let size = 0;
      let controller: DispatchController | null = null;
      // A response counts once its headers came: a body cut off (by the limit or the deadline) keeps
      // what arrived. Whatever undici reports after the attempt has ended is of no interest.
      const settle = (failure: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve(response ? answered(response.status, response.headers, chunks, elapsed()) : failed(failure, elapsed()));
      };
      const deadline = setTimeout(() => {
        settle(new TimeoutError());
        controller?.abort(new TimeoutError());
      }, this.timeoutMs);
      let url: URL;
      try {
        url = new URL(attempt.url);
      } catch (error) {
        return settle(error);
      }
      const dispatcher = attempt.insecureSsl ? this.insecure : this.verifying;
      dispatcher.dispatch(
        { origin: url.origin, path: url.pathname + url.search, method: 'POST', headers: attempt.headers, body: attempt.body },
        {
          onRequestStart(requestController: DispatchController) {
            controller = requestController;
            // The deadline passed while the request waited for a connection.
            if (settled) requestController.abort(new TimeoutError());
          },
          onResponseStart(_controller: DispatchController, status: number, headers: Record<string, string | string[]>) {
            response = { status, headers };
          },
          onResponseData(current: DispatchController, chunk: Buffer) {
            chunks.push(chunk);
            size += chunk.length;
            // The rest is discarded with the connection.
            if (size >= RESPONSE_BODY_LIMIT) {
              settle(null);
              current.abort(new Error('response body limit reached'));
            }
          },
          onResponseEnd: () => settle(null),
          onResponseError: (_controller: DispatchController, error: Error) => settle(error),
        },
      );
    });
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

function findForbidden(error: unknown): ForbiddenTargetError | null {
  for (let current = error as { cause?: unknown } | undefined; current; current = current.cause as { cause?: unknown } | undefined) {
    if (current instanceof ForbiddenTargetError) return current;
  }
  return null;
}

/** The attempt's deadline passed before its response was complete. */
class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** What undici's dispatch hands a handler to stop a request. */
interface DispatchController {
  abort(reason: Error): void;
}

/** The attempt got a response: its status, headers and the prefix of its body that arrived. */
function answered(status: number, headers: Record<string, string | string[]>, chunks: Buffer[], durationMs: number): AttemptResult {
  const retryAfter = headers['retry-after'];
  return {
    status,
    error: null,
    forbidden: false,
    retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
    responseHeaders: headers,
    responseBody: Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT).toString('utf8'),
    durationMs,
  };
}

/** The attempt got no response: why, and whether the SSRF guard refused it. */
function failed(error: unknown, durationMs: number): AttemptResult {
  const forbidden = findForbidden(error);
  const failure = { status: null, forbidden: !!forbidden, responseHeaders: null, responseBody: null, durationMs };
  return { ...failure, error: forbidden ? `refused by the SSRF guard: ${forbidden.message}` : describeNetworkError(error) };
}

function describeNetworkError(error: unknown): string {
  const { name, code, message, cause } = error as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout: no complete answer in time';
  const detail = cause?.code ?? code ?? name ?? 'error';
  return `${detail}: ${cause?.message ?? message ?? String(error)}`;
}
