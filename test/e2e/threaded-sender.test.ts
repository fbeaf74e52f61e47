// The HTTP sender on its own thread (delivery/threaded-sender.ts): every attempt comes back with its
// own result, the SSRF guard holds in the thread, and a thread that dies fails only what it held.
// Its lanes, in the thread as in this one (delivery/lanes.ts): at most a lane's width in flight, the
// rest started as attempts end, and handed back unsent once one is not delivered or when their turn
// comes too late.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lanes, type LanedSender, type LaneOutcome } from '../../src/delivery/lanes.js';
import { HttpSender } from '../../src/delivery/sender.js';
import { ThreadedSender } from '../../src/delivery/threaded-sender.js';
import { TargetPolicy } from '../../src/domain/target-policy.js';
import { Receiver } from '../support/receiver.js';

const attempt = (url: string, body: string) => ({ url, headers: { 'content-type': 'application/json' }, body, insecureSsl: false });
const wide = { id: 'wide', width: 1_000 };
/** The result of an attempt that was sent. */
const resultOf = (outcome: LaneOutcome) => {
  if (!outcome.sent) throw new Error('the attempt was handed back unsent');
  return outcome.result;
};

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
      const results = (await Promise.all(Array.from({ length: 200 }, (_, n) => sender.send(attempt(`${receiver.url}/many`, JSON.stringify({ n, text: 'é"\\\n' })), wide)))).map(resultOf);
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
      const result = resultOf(await sender.send(attempt(`${receiver.url}/private`, '{}'), wide));
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
      const held = sender.send(attempt(`${receiver.url}/held`, '{"n": 1}'), wide).then(resultOf);
      await receiver.waitFor((received) => received.requests.some((request) => request.path === '/held'));
      // The thread dies, as an uncaught error in it would end it.
      await (sender as unknown as { thread: { terminate(): Promise<number> } }).thread.terminate();
      expect(await held).toMatchObject({ status: null, forbidden: false, error: expect.stringMatching(/sender thread stopped/) });
      receiver.respond = respond;
      expect(resultOf(await sender.send(attempt(`${receiver.url}/after`, '{"n": 3}'), wide))).toMatchObject({ status: 203, error: null });
    } finally {
      await sender.close();
    }
  });
});

describe.each([
  ['in the sender thread', () => new ThreadedSender({ timeoutMs: 5_000, allowPrivateTargets: ['127.0.0.0/8'] })],
  ['in this thread', () => new Lanes(new HttpSender(5_000, new TargetPolicy(['127.0.0.0/8'])))],
] as [string, () => LanedSender][])('a webhook\'s lane %s', (_name, senderFor) => {
  let receiver: Receiver;
  let sender: LanedSender;

  beforeAll(async () => {
    receiver = await Receiver.start();
    sender = senderFor();
  });
  afterAll(async () => {
    await sender.close();
    await receiver.close();
  });

  it('keeps at most its width in flight and starts the waiting ones in order as attempts end', async () => {
    let open = 0;
    let most = 0;
    receiver.respond = () => {
      open += 1;
      most = Math.max(most, open);
      setTimeout(() => (open -= 1), 20);
      return { status: 200, delayMs: 20 };
    };
    const lane = { id: 'narrow', width: 3 };
    const outcomes = await Promise.all(Array.from({ length: 12 }, (_, n) => sender.send(attempt(`${receiver.url}/narrow`, JSON.stringify({ n })), lane)));
    expect(outcomes.map((outcome) => resultOf(outcome).status)).toEqual(Array(12).fill(200));
    expect(most).toBe(3);
    // The first three started at once, the last waited for three rounds before it.
    expect(outcomes.slice(0, 3).every((outcome) => outcome.sent && outcome.waitedMs < 20)).toBe(true);
    expect(outcomes[11]!.sent && outcomes[11]!.waitedMs).toBeGreaterThanOrEqual(55);
    // Started in the order handed over (all handed over at once): each waited no less than the one
    // before it. The receiver may see two started together in either order.
    const waited = outcomes.map((outcome) => (outcome.sent ? outcome.waitedMs : Number.NaN));
    waited.slice(1).forEach((ms, n) => expect(ms).toBeGreaterThanOrEqual(waited[n]! - 1));
    expect(receiver.requests.map((request) => request.json?.n).sort((a, b) => a - b)).toEqual([...Array(12).keys()]);
  });

  it('hands back unsent what waits behind an attempt that was not delivered; other lanes go on', async () => {
    receiver.reset();
    receiver.respond = (request) => (request.path === '/failing' && request.json?.n === 0 ? { status: 503 } : { status: 200, delayMs: request.path === '/failing' ? 50 : 0 });
    const failing = { id: 'failing', width: 2 };
    const other = { id: 'other', width: 1 };
    const outcomes = await Promise.all([
      ...Array.from({ length: 6 }, (_, n) => sender.send(attempt(`${receiver.url}/failing`, JSON.stringify({ n })), failing)),
      ...Array.from({ length: 3 }, (_, n) => sender.send(attempt(`${receiver.url}/other`, JSON.stringify({ n })), other)),
    ]);
    // The two in flight were sent (one failed); the four behind them were not.
    expect(outcomes.slice(0, 6).map((outcome) => (outcome.sent ? outcome.result.status : 'unsent'))).toEqual([503, 200, 'unsent', 'unsent', 'unsent', 'unsent']);
    expect(receiver.requests.filter((request) => request.path === '/failing')).toHaveLength(2);
    expect(outcomes.slice(6).map((outcome) => resultOf(outcome).status)).toEqual([200, 200, 200]);
  });

  it('hands back unsent what could not start in the time it was given, and sends what still can', async () => {
    receiver.reset();
    receiver.respond = { status: 200, delayMs: 150 };
    const lane = { id: 'late', width: 1 };
    const late = (n: number, startWithinMs: number) => sender.send(attempt(`${receiver.url}/late`, JSON.stringify({ n })), lane, startWithinMs);
    // The first goes at once; the others' turn comes some 150 ms later: too late for the second.
    const outcomes = await Promise.all([late(0, 100), late(1, 100), late(2, 1_000), sender.send(attempt(`${receiver.url}/late`, '{}'), wide, -1)]);
    expect(outcomes.map((outcome) => (outcome.sent ? outcome.result.status : 'unsent'))).toEqual([200, 'unsent', 200, 'unsent']);
    expect(receiver.requests.map((request) => request.json?.n)).toEqual([0, 2]);
  });
});
