// The HTTP sender on its own thread (delivery/threaded-sender.ts): every attempt comes back with its
// own result, the SSRF guard holds in the thread, and a thread that dies fails only what it held.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ThreadedSender } from '../../src/delivery/threaded-sender.js';
import { Receiver } from '../support/receiver.js';

const attempt = (url: string, body: string) => ({ url, headers: { 'content-type': 'application/json' }, body, insecureSsl: false });

describe('the threaded sender', () => {
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await Receiver.start();
    // Each answer says which request it answers.
    receiver.respond = (request) => ({ status: 200 + (Number(request.json?.n) % 7), headers: { 'x-echo': String(request.json?.n) } });
  });
  afterAll(() => receiver.close());

  it('answers each of many concurrent attempts with its own result, bodies and headers intact', async () => {
    const sender = new ThreadedSender({ timeoutMs: 5_000, allowPrivateTargets: ['127.0.0.0/8'] });
    try {
      const results = await Promise.all(Array.from({ length: 200 }, (_, n) => sender.send(attempt(`${receiver.url}/many`, JSON.stringify({ n, text: 'é"\\\n' })))));
      results.forEach((result, n) => {
        expect(result).toMatchObject({ status: 200 + (n % 7), error: null, forbidden: false });
        expect(result.responseHeaders?.['x-echo']).toBe(String(n));
      });
      const bodies = receiver.requests.filter((request) => request.path === '/many').map((request) => request.json);
      expect(bodies).toHaveLength(200);
      expect(bodies.every((body) => body.text === 'é"\\\n')).toBe(true);
    } finally {
      await sender.close();
    }
  });

  it('refuses a private target in the thread unless it is allowed, sending nothing', async () => {
    const sender = new ThreadedSender({ timeoutMs: 5_000, allowPrivateTargets: [] });
    try {
      const before = receiver.requests.length;
      const result = await sender.send(attempt(`${receiver.url}/private`, '{}'));
      expect(result).toMatchObject({ status: null, forbidden: true });
      expect(result.error).toMatch(/SSRF guard/);
      expect(receiver.requests.length).toBe(before);
    } finally {
      await sender.close();
    }
  });

  it('fails the attempts a dying thread held, and sends later ones through a new thread', async () => {
    const sender = new ThreadedSender({ timeoutMs: 5_000, allowPrivateTargets: ['127.0.0.0/8'] });
    try {
      const respond = receiver.respond;
      receiver.respond = (request, index) => (request.path === '/held' ? 'hang' : typeof respond === 'function' ? respond(request, index) : respond);
      const held = sender.send(attempt(`${receiver.url}/held`, '{"n": 1}'));
      await receiver.waitFor((received) => received.requests.some((request) => request.path === '/held'));
      // The thread dies, as an uncaught error in it would end it.
      await (sender as unknown as { thread: { terminate(): Promise<number> } }).thread.terminate();
      expect(await held).toMatchObject({ status: null, forbidden: false, error: expect.stringMatching(/sender thread stopped/) });
      receiver.respond = respond;
      expect(await sender.send(attempt(`${receiver.url}/after`, '{"n": 3}'))).toMatchObject({ status: 203, error: null });
    } finally {
      await sender.close();
    }
  });
});
