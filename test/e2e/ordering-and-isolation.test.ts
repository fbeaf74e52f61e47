// Per-record ordering (a record's deliveries leave in commit order; a failing record holds back only
// its own), and the per-webhook concurrency cap (a slow receiver cannot take every worker).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';
import { Receiver } from '../support/receiver.js';

describe.each(databaseKinds)('ordering and isolation (%s)', (kind) => {
  let api: TestApi;
  let receiver: Receiver;
  let ownerId: string;

  beforeAll(async () => {
    api = await TestApi.start(kind, { workers: true, retrySchedule: '1,1' });
    receiver = await Receiver.start();
    ownerId = (await api.first('Clients')).id;
  });
  afterAll(async () => {
    await api.close();
    await receiver.close();
  });

  it("holds a record's later deliveries behind its failing one, and only those", async () => {
    const webhook = await api.create('Webhooks', { url: `${receiver.url}/ordered`, events: ['Account.*'] });
    let failedOnce = false;
    receiver.respond = (request) => {
      const [item] = request.json;
      if (!failedOnce && item.entity.name === 'Slow') {
        failedOnce = true;
        return 503;
      }
      return 204;
    };
    const slow = await api.create('Accounts', { name: 'Slow', owner_id: ownerId });
    await api.patch(`entities/Accounts/${slow.id}`, { city: 'Later' });
    const fast = await api.create('Accounts', { name: 'Fast', owner_id: ownerId });
    await api.deliveriesSettled(10_000);

    const arrivals = receiver.requests.map((request) => `${request.json[0].event} ${request.json[0].entity.name}`);
    expect(arrivals).toEqual(['Account.Create Slow', 'Account.Create Fast', 'Account.Create Slow', 'Account.Update Slow']);
    expect(fast.id).toBeDefined();
    await api.delete(`entities/Webhooks/${webhook.id}`);
    receiver.reset();
  });

  it("frees a hanging receiver's pool slots after a second, for the others to use", async () => {
    let open = 0;
    let mostOpen = 0;
    let hung = 0;
    receiver.respond = (request) => {
      // The first 32 hang for 8 s (longer than the healthy ones take); after that it answers at once.
      if (request.path === '/hanging') return (hung += 1) <= 32 ? { status: 204, delayMs: 8_000 } : 204;
      open += 1;
      mostOpen = Math.max(mostOpen, open);
      setTimeout(() => (open -= 1), 1_500);
      return { status: 204, delayMs: 1_500 };
    };
    const hanging = await api.create('Webhooks', { url: `${receiver.url}/hanging`, events: ['Product.Create'], options: { chunk_size: 1 } });
    await api.post('entities/Products/batch-modify', Array.from({ length: 40 }, (_, index) => ({ name: `H${index}` })));
    // The hanging receiver now holds 32 attempts (its cap) of the worker's 64.
    await receiver.waitFor((r) => r.requests.filter((request) => request.path === '/hanging').length >= 32, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const others = await Promise.all(['/a', '/b'].map((path) => api.create('Webhooks', { url: `${receiver.url}${path}`, events: ['Product.Create'], options: { chunk_size: 1 } })));
    await api.post('entities/Products/batch-modify', Array.from({ length: 40 }, (_, index) => ({ name: `P${index}` })));
    await receiver.waitFor((r) => r.requests.filter((request) => request.path !== '/hanging').length >= 80, 15_000);
    // The two healthy webhooks had more than the 32 slots the hanging one left them.
    expect(mostOpen).toBeGreaterThan(32);
    await api.deliveriesSettled(20_000);
    for (const webhook of [hanging, ...others]) await api.delete(`entities/Webhooks/${webhook.id}`);
    receiver.reset();
  });

  it('caps one webhook\'s deliveries in flight, and keeps the others flowing meanwhile', async () => {
    const slow = await api.create('Webhooks', { url: `${receiver.url}/slow`, events: ['Product.Create'], options: { chunk_size: 1 } });
    const healthy = await api.create('Webhooks', { url: `${receiver.url}/healthy`, events: ['Product.Create'], options: { chunk_size: 1 } });
    receiver.respond = (request) => (request.path === '/slow' ? { status: 204, delayMs: 400 } : 204);
    await api.post('entities/Products/batch-modify', Array.from({ length: 80 }, (_, index) => ({ name: `P${index}` })));
    await receiver.waitFor((r) => r.requests.filter((request) => request.path === '/healthy').length >= 80, 10_000);
    const slowDoneWhenHealthyDone = receiver.requests.filter((request) => request.path === '/slow').length;
    await api.deliveriesSettled(20_000);
    expect(receiver.maxConcurrent.get('/slow')).toBeLessThanOrEqual(32);
    expect(slowDoneWhenHealthyDone).toBeLessThan(80);
    for (const webhook of [slow, healthy]) await api.delete(`entities/Webhooks/${webhook.id}`);
  });
});
