// A webhook's health: a run of failures opens its breaker (deliveries pause), half-open probes find
// the receiver back and everything resumes by itself; a long outage records a warning, then disables
// the webhook, and enabling it again sends what it missed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';
import { Receiver } from '../support/receiver.js';

describe.each(databaseKinds)('the circuit breaker (%s)', (kind) => {
  let api: TestApi;
  let receiver: Receiver;

  beforeAll(async () => {
    api = await TestApi.start(kind, {
      workers: true,
      retrySchedule: '1,1,1,1,1,1,1,1,1,1',
      env: {
        TIDINGS_BREAKER_THRESHOLD: '3',
        TIDINGS_BREAKER_COOLDOWN_MS: '1500',
        TIDINGS_UNHEALTHY_WARN_AFTER_SECONDS: '2',
        TIDINGS_UNHEALTHY_DISABLE_AFTER_SECONDS: '4',
      },
    });
    receiver = await Receiver.start();
  });
  afterAll(async () => {
    await api.close();
    await receiver.close();
  });

  it('pauses a failing webhook, probes it, and resumes by itself when it recovers', async () => {
    const webhook = await api.create('Webhooks', { url: `${receiver.url}/flaky`, events: ['Product.Create'], options: { chunk_size: 1 } });
    receiver.respond = 503;
    await api.post('entities/Products/batch-modify', Array.from({ length: 6 }, (_, index) => ({ name: `Breaker ${index}` })));
    await receiver.waitForRequests(3, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const opened = (await api.get(`entities/Webhooks/${webhook.id}`)).body.data;
    expect(opened).toMatchObject({ health_state: 'open', failing_since: expect.any(String) });
    const whenOpened = receiver.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(receiver.requests.length).toBe(whenOpened);

    receiver.respond = 204;
    await api.deliveriesSettled(15_000);
    const delivered = receiver.requests.slice(whenOpened);
    expect(new Set(delivered.map((request) => request.json[0].entity.name)).size).toBe(6);
    expect((await api.get(`entities/Webhooks/${webhook.id}`)).body.data).toMatchObject({ health_state: 'healthy', failing_since: null });
    await api.delete(`entities/Webhooks/${webhook.id}`);
    receiver.reset();
  });

  it('warns, then disables a webhook that keeps failing; enabling it sends what it missed', async () => {
    const webhook = await api.create('Webhooks', { url: `${receiver.url}/down`, events: ['Product.Create'] });
    receiver.respond = 503;
    await api.create('Products', { name: 'During the outage' });
    const deadline = Date.now() + 15_000;
    let state: any;
    do {
      await new Promise((resolve) => setTimeout(resolve, 250));
      state = (await api.get(`entities/Webhooks/${webhook.id}`)).body.data;
    } while (!state.is_disabled && Date.now() < deadline);
    expect(state).toMatchObject({ is_disabled: true, disabled_reason: expect.stringContaining('failing since') });
    expect(state.health_warning).toMatch(/disabled if this goes on/);

    receiver.respond = 204;
    await api.create('Products', { name: 'While disabled' });
    await api.patch(`entities/Webhooks/${webhook.id}`, { is_disabled: false });
    await api.deliveriesSettled(15_000);
    const names = receiver.requests.filter((request) => request.headers['webhook-id'] && request.json).map((request) => request.json[0].entity.name);
    expect(names).toContain('While disabled');
    expect((await api.get(`entities/Webhooks/${webhook.id}`)).body.data).toMatchObject({ is_disabled: false, health_state: 'healthy' });
  });
});
