// A webhook receiver on 127.0.0.1 (plain HTTP, or HTTPS with a throwaway self-signed certificate):
// records every request with its raw body, answers with a status the test chooses.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ReceivedRequest {
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly rawBody: string;
  readonly json: any;
  readonly receivedAt: number;
}

/** How to answer: a status, or a misbehaviour. */
export type Answer =
  | number
  | { status: number; headers?: Record<string, string>; delayMs?: number }
  /** Never answer. */
  | 'hang'
  /** Answer 200, then send a body byte every 100 ms, forever. */
  | 'trickle'
  /** Answer 200 with an endless fast body. */
  | 'flood';

export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  /** The answer; a function can vary it per request. */
  respond: Answer | ((request: ReceivedRequest, index: number) => Answer) = 204;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Requests being answered right now, per path, and the most there were at once. */
  private readonly open = new Map<string, number>();
  readonly maxConcurrent = new Map<string, number>();
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(options: { https?: boolean } = {}): Promise<Receiver> {
    let receiver: Receiver | undefined;
    const handler = (request: IncomingMessage, response: ServerResponse) => receiver!.handle(request, response);
    const server = options.https ? createHttpsServer(selfSignedCertificate(), handler) : createHttpServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    receiver = new Receiver(server, `${options.https ? 'https' : 'http'}://127.0.0.1:${port}`);
    return receiver;
  }

  private handle(request: IncomingMessage, response: ServerResponse) {
    const path = request.url ?? '/';
    const open = (this.open.get(path) ?? 0) + 1;
    this.open.set(path, open);
    this.maxConcurrent.set(path, Math.max(open, this.maxConcurrent.get(path) ?? 0));
    response.on('close', () => this.open.set(path, (this.open.get(path) ?? 1) - 1));
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let json: unknown = null;
      try {
        json = JSON.parse(rawBody);
      } catch {
        // not JSON; the test will say so
      }
      const received = { path: request.url ?? '/', headers: request.headers, rawBody, json, receivedAt: Date.now() };
      this.requests.push(received);
      const answer = typeof this.respond === 'function' ? this.respond(received, this.requests.length - 1) : this.respond;
      this.answer(answer, response);
      for (const waiter of this.waiters.splice(0)) waiter();
    });
  }

  private answer(answer: Answer, response: ServerResponse) {
    if (typeof answer === 'number') return response.writeHead(answer).end();
    if (typeof answer === 'object') {
      const send = () => response.writeHead(answer.status, answer.headers).end();
      if (!answer.delayMs) return send();
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        send();
      }, answer.delayMs);
      this.timers.add(timer);
      return;
    }
    if (answer === 'hang') return;
    response.writeHead(200, { 'content-type': 'text/plain' });
    const chunk = answer === 'flood' ? 'x'.repeat(64 * 1024) : 'x';
    const timer = setInterval(() => {
      if (response.destroyed) {
        clearTimeout(timer);
        this.timers.delete(timer);
      } else {
        response.write(chunk);
      }
    }, answer === 'flood' ? 1 : 100);
    this.timers.add(timer);
  }

  /** All notification items received so far, in arrival order. */
  get items(): any[] {
    return this.requests.flatMap((request) => (Array.isArray(request.json) ? request.json : []));
  }

  /** Waits until `predicate` holds (bounded by `timeoutMs`), then returns the requests. */
  async waitFor(predicate: (receiver: Receiver) => boolean, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`receiver: condition not met within ${timeoutMs} ms; got ${this.requests.length} requests`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.requests;
  }

  waitForRequests = (count: number, timeoutMs?: number) => this.waitFor((receiver) => receiver.requests.length >= count, timeoutMs);

  /** Resolves after `ms` unless a request arrives (used to show that nothing was sent). */
  async expectQuiet(ms: number): Promise<void> {
    const before = this.requests.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (this.requests.length !== before) {
      const extra = this.requests.slice(before).map((request) => `${request.path} ${request.rawBody.slice(0, 200)}`);
      throw new Error(`receiver: expected no request, got ${extra.length}: ${extra.slice(0, 3).join(' | ')}`);
    }
  }

  reset(): void {
    this.requests.length = 0;
    this.respond = 204;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  const directory = mkdtempSync(join(tmpdir(), 'tidings-cert-'));
  try {
    const key = join(directory, 'key.pem');
    const cert = join(directory, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    return { key: readFileSync(key), cert: readFileSync(cert) };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
