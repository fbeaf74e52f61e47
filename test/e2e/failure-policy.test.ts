// The failure policy against a misbehaving receiver on 127.0.0.1: what is retried, what is final,
// 410 disabling the webhook (and re-enabling sending what waited), Retry-After, timeouts, trickled
// and endless bodies, redirects. And the SSRF guard refusing loopback when it is not allowed.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DeliveryQueue } from '../../src/store/delivery-queue.js';
import { TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';
import { Receiver, type Answer } from '../support/receiver.js';

describe.each(databaseKinds)('the failure policy (%s)', (kind) => {
  let api: TestApi;
  let receiver: Receiver;
  const webhookIds: string[] = [];

  beforeAll(async () => {
    api = await TestApi.start(kind, { workers: true, retrySchedule: '1,1', deliveryTimeoutMs: 800 });
    receiver = await Receiver.start();
  });
  afterAll(async () => {
    await api.close();
    await receiver.close();
  });
  afterEach(async () => {
    for (const id of webhookIds.splice(0)) await api.delete(`entities/Webhooks/${id}`);
    await api.deliveriesSettled(15_000);
    receiver.reset();
  });

  /** Registers a webhook on `path`, makes one product, and returns the delivery row once settled. */
  async function deliverOnce(path: string, answer: Answer | ((request: unknown, index: number) => Answer)) {
    const webhook = await api.create('Webhooks', { url: `${receiver.url}${path}`, events: ['Product.Create'] });
    webhookIds.push(webhook.id);
    receiver.respond = answer;
    await api.create('Products', { name: `via ${path}` });
    await api.deliveriesSettled(15_000);
    const [row] = await api.tidings.database.db.selectFrom('deliveries').selectAll().where('webhook_id', '=', webhook.id).execute();
    return { row, webhook, hits: receiver.requests.filter((request) => request.path === path).length };
  }

  it.each([
    [400, 1],
    [401, 1],
    [404, 1],
    [422, 1],
  ])('a %s is final: one attempt, marked failed', async (status, attempts) => {
    const { row, hits } = await deliverOnce(`/final-${status}`, status);
    expect(hits).toBe(attempts);
    expect(row).toMatchObject({ status: 'failed', attempts, last_status: status });
  });

  it.each([408, 429, 500, 503, 301])('a %s is retried on the schedule, then given up', async (status) => {
    const answer = status === 301 ? { status, headers: { location: `${receiver.url}/redirected` } } : status;
    const { row, hits } = await deliverOnce(`/retried-${status}`, answer);
    expect(hits).toBe(3);
    expect(row).toMatchObject({ status: 'failed', attempts: 3, last_status: status });
    expect(receiver.requests.some((request) => request.path === '/redirected')).toBe(false);
  });

  it('honours Retry-After', async () => {
    const { row } = await deliverOnce('/retry-after', (_request, index) => (index === 0 ? { status: 429, headers: { 'retry-after': '2' } } : 204));
    const [first, second] = receiver.requests;
    expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(1_900);
    expect(row).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('a 410 disables the webhook; what happens meanwhile waits, and is sent once it is enabled again', async () => {
    const { row, webhook } = await deliverOnce('/gone', 410);
    expect(row).toMatchObject({ status: 'failed', last_status: 410 });
    const disabled = (await api.get(`entities/Webhooks/${webhook.id}`)).body.data;
    expect(disabled).toMatchObject({ is_disabled: true, disabled_reason: expect.stringContaining('410') });

    receiver.respond = 204;
    await api.create('Products', { name: 'while disabled' });
    await receiver.expectQuiet(1_500);
    expect(receiver.requests.filter((request) => request.path === '/gone')).toHaveLength(1);
    // Held: pending, and due only once the webhook is enabled.
    const waiting = (await api.get(`entities/Webhooks/${webhook.id}/deliveries?status=pending`)).body.data;
    expect(waiting).toEqual([expect.objectContaining({ status: 'pending', due: null })]);

    const enabled = await api.patch(`entities/Webhooks/${webhook.id}`, { is_disabled: false });
    expect(enabled.body.data).toMatchObject({ is_disabled: false, disabled_reason: null });
    await api.deliveriesSettled(15_000);
    expect(receiver.requests.filter((request) => request.path === '/gone').at(-1)!.json[0].entity.name).toBe('while disabled');
  });

  it('deleting a disabled webhook gives up the deliveries it held', async () => {
    const webhook = await api.create('Webhooks', { url: `${receiver.url}/deleted`, events: ['Product.Create'], is_disabled: true });
    await api.create('Products', { name: 'held, then nowhere to go' });
    const held = (await api.get(`entities/Webhooks/${webhook.id}/deliveries?status=pending`)).body.data;
    expect(held).toEqual([expect.objectContaining({ due: null })]);

    expect((await api.delete(`entities/Webhooks/${webhook.id}`)).status).toBe(200);
    await api.deliveriesSettled(5_000);
    expect(receiver.requests.filter((request) => request.path === '/deleted')).toHaveLength(0);
  });

  it('a receiver that never answers is cut off at the timeout and retried', async () => {
    const started = Date.now();
    const { row, hits } = await deliverOnce('/hang', 'hang');
    expect(hits).toBe(3);
    expect(row).toMatchObject({ status: 'failed', attempts: 3 });
    expect(row.last_error).toMatch(/timeout/i);
    // three attempts of at most 0.8 s each, and two waits of about a second
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('a receiver that answers 200 and then trickles its body is delivered, and let go at the timeout', async () => {
    const started = Date.now();
    const { row } = await deliverOnce('/trickle', 'trickle');
    expect(row).toMatchObject({ status: 'delivered', attempts: 1, last_status: 200 });
    expect(Date.now() - started).toBeLessThan(4_000);
    // The attempt log keeps what trickled in by the deadline: a byte every 100 ms for 0.8 s.
    const [attempt] = await attemptsOf(row.id);
    expect(attempt.response_body).toMatch(/^x{1,10}$/);
  });

  it('reads at most a bounded prefix of an endless response body', async () => {
    const { row } = await deliverOnce('/flood', 'flood');
    expect(row).toMatchObject({ status: 'delivered', attempts: 1, last_status: 200 });
    const [attempt] = await attemptsOf(row.id);
    expect(attempt.response_body).toBe('x'.repeat(64 * 1024));
  });

  const attemptsOf = (deliveryId: string) =>
    api.tidings.database.db.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', deliveryId).execute();

  it('sends what waited in the webhook\'s lane behind a failed attempt later, each delivery delivered once', async () => {
    // Disabled while the products are created, so that their 48 deliveries fall due together.
    const webhook = await api.create('Webhooks', { url: `${receiver.url}/lane`, events: ['Product.Create'], is_disabled: true });
    webhookIds.push(webhook.id);
    const names = Array.from({ length: 48 }, (_, n) => `lane ${n}`);
    for (const name of names) await api.create('Products', { name });
    // The first 32 (one webhook's attempts in flight at most) are held for 300 ms, the very first of
    // them failed: the 16 waiting behind them in the lane are handed back, claimed again and sent.
    // The hold stays well within the 800 ms timeout, with room for a loaded machine: should five of
    // them time out, the breaker opens and the rest wait out its 30 s cooldown.
    receiver.respond = (_request, index) => (index === 0 ? { status: 503, delayMs: 300 } : index < 32 ? { status: 204, delayMs: 300 } : 204);
    const claims = vi.spyOn(DeliveryQueue.prototype, 'claimDue');
    await api.patch(`entities/Webhooks/${webhook.id}`, { is_disabled: false });
    // Well before the leases of what was handed back would run out (7.4 s): they were given back.
    await api.deliveriesSettled(5_000);
    const givenBack = claims.mock.calls.flatMap((call) => call[5]?.givenBack ?? []);
    claims.mockRestore();
    expect(givenBack.length).toBeGreaterThan(0);
    const rows = await api.tidings.database.db.selectFrom('deliveries').select(['status', 'attempts']).where('webhook_id', '=', webhook.id).execute();
    expect(rows).toHaveLength(48);
    expect(rows.every((row) => row.status === 'delivered')).toBe(true);
    // One attempt each, and a second for the one that failed: as many as the receiver saw.
    const hits = receiver.requests.filter((request) => request.path === '/lane');
    expect(rows.reduce((sum, row) => sum + Number(row.attempts), 0)).toBe(49);
    expect(hits).toHaveLength(49);
    const delivered = hits.filter((_request, index) => index !== 0).map((request) => (request.json as { entity: { name: string } }[])[0]!.entity.name);
    expect(delivered.sort()).toEqual([...names].sort());
  });
});

describe.each(databaseKinds)('the SSRF guard (%s)', (kind) => {
  let api: TestApi;
  let receiver: Receiver;

  beforeAll(async () => {
    api = await TestApi.start(kind, { workers: true, allowPrivateTargets: '' });
    receiver = await Receiver.start();
  });
  afterAll(async () => {
    await api.close();
    await receiver.close();
  });

  it('refuses loopback URLs in every form when a webhook is registered, saying why', async () => {
    const port = new URL(receiver.url).port;
    for (const host of ['127.0.0.1', 'localhost', '2130706433', '0x7f000001', '127.1', '[::1]', '[::ffff:127.0.0.1]', '0.0.0.0', '169.254.169.254']) {
      const response = await api.post('entities/Webhooks', { url: `http://${host}:${port}/hook`, events: ['*'] });
      expect(response.status, host).toBe(422);
      expect(response.body.field_errors[0].errors[0].message, host).toMatch(/not a public address.*TIDINGS_ALLOW_PRIVATE_TARGETS/);
    }
  });

  it('refuses at connect time a webhook registered while loopback was allowed', async () => {
    await api.restart({ workers: false, allowPrivateTargets: '127.0.0.0/8' });
    const webhook = await api.create('Webhooks', { url: `${receiver.url}/hook`, events: ['Product.Create'] });
    await api.restart({ workers: true, allowPrivateTargets: '' });
    await api.create('Products', { name: 'must not leave' });
    await api.deliveriesSettled();
    await receiver.expectQuiet(300);
    expect(receiver.requests).toHaveLength(0);
    const [row] = await api.tidings.database.db.selectFrom('deliveries').selectAll().where('webhook_id', '=', webhook.id).execute();
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row.last_error).toMatch(/SSRF guard.*127\.0\.0\.1.*not a public address/);
  });
});
