// The attempt log and its API: list a webhook's deliveries by status, event, record and time; inspect
// one with every attempt; redeliver; replay by query with a dry run; ping. Secrets stay out of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';
import { Receiver } from '../support/receiver.js';

const SECRET = '3f2b8c1d-9e4a-4b7c-8d6e-1a2b3c4d5e6f';

describe.each(databaseKinds)('the attempt log (%s)', (kind) => {
  let api: TestApi;
  let receiver: Receiver;
  let webhook: any;
  let ownerId: string;
  const deliveries = () => `entities/Webhooks/${webhook.id}/deliveries`;

  beforeAll(async () => {
    api = await TestApi.start(kind, { workers: true, retrySchedule: '1' });
    receiver = await Receiver.start();
    ownerId = (await api.first('Clients')).id;
    webhook = await api.create('Webhooks', { url: `${receiver.url}/log`, events: ['Account.*'], signature: SECRET });
  });
  afterAll(async () => {
    await api.close();
    await receiver.close();
  });

  it('keeps every attempt: headers without the signature, status, response headers and body, duration, error', async () => {
    receiver.respond = (_request, index) => (index === 0 ? 500 : 204);
    const account = await api.create('Accounts', { name: 'Logged', owner_id: ownerId });
    await receiver.waitForRequests(2, 10_000);
    await api.deliveriesSettled();

    const listed = await api.get(`${deliveries()}?status=delivered`);
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ success: true, total: 1 });
    const [summary] = listed.body.data;
    expect(summary).toMatchObject({ status: 'delivered', events: ['Account.Create'], item_count: 1, attempts: 2, last_status: 204 });

    const detail = await api.get(`${deliveries()}/${summary.id}`);
    expect(detail.body.data.body[0].entity.id).toBe(account.id);
    const attempts = detail.body.data.attempts;
    expect(attempts.map((attempt: any) => [attempt.attempt, attempt.status, attempt.error])).toEqual([[1, 500, 'HTTP 500'], [2, 204, null]]);
    expect(attempts[0].request_headers).toMatchObject({ 'webhook-id': summary.id, 'content-type': 'application/json' });
    expect(JSON.stringify(attempts)).not.toMatch(/signature/i);
    expect(JSON.stringify(detail.body)).not.toContain(SECRET);
    expect(attempts[1].duration_ms).toBeGreaterThanOrEqual(0);
    expect(attempts[1].response_headers).toHaveProperty('date');
  });

  it('filters by event, record and time, and pages with cursors', async () => {
    receiver.respond = 204;
    const first = await api.create('Accounts', { name: 'Filter A', owner_id: ownerId });
    const second = await api.create('Accounts', { name: 'Filter B', owner_id: ownerId });
    await api.patch(`entities/Accounts/${first.id}`, { city: 'Oslo' });
    await api.deliveriesSettled();

    const updates = await api.get(`${deliveries()}?event=Account.Update`);
    expect(updates.body.data.map((row: any) => row.events)).toEqual([['Account.Update']]);
    const aboutFirst = await api.get(`${deliveries()}?record_id=${first.id}`);
    expect(aboutFirst.body.total).toBe(2);
    const aboutSecond = await api.get(`${deliveries()}?record_id=${second.id}`);
    expect(aboutSecond.body.total).toBe(1);
    const future = await api.get(`${deliveries()}?since=2999-01-01T00:00:00Z`);
    expect(future.body.total).toBe(0);

    const page1 = await api.get(`${deliveries()}?first=2`);
    expect(page1.body.page_info.has_next_page).toBe(true);
    const page2 = await api.get(`${deliveries()}?first=2&after=${page1.body.page_info.end_cursor}`);
    const ids = [...page1.body.data, ...page2.body.data].map((row: any) => row.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort().reverse());
  });

  it('redelivers one delivery with its own webhook-id and bytes', async () => {
    receiver.reset();
    const [latest] = (await api.get(`${deliveries()}?first=1`)).body.data;
    const response = await api.post(`${deliveries()}/${latest.id}/redeliver`, {});
    expect(response.body.data).toEqual({ queued: 1 });
    const [request] = await receiver.waitForRequests(1);
    expect(request.headers['webhook-id']).toBe(latest.id);
    await api.deliveriesSettled();
    expect((await api.get(`${deliveries()}/${latest.id}`)).body.data.attempts.length).toBe(latest.attempts + 1);
  });

  it('replays by query, with a dry run that only counts', async () => {
    receiver.respond = 400;
    await api.create('Accounts', { name: 'Rejected 1', owner_id: ownerId });
    await api.create('Accounts', { name: 'Rejected 2', owner_id: ownerId });
    await api.deliveriesSettled();
    receiver.reset();

    const dryRun = await api.post(`entities/Webhooks/${webhook.id}/replay`, { status: 'failed', dry_run: true });
    expect(dryRun.body.data).toEqual({ matched: 2, queued: 0, dry_run: true });
    await receiver.expectQuiet(300);

    const replay = await api.post(`entities/Webhooks/${webhook.id}/replay`, { status: 'failed' });
    expect(replay.body.data).toEqual({ matched: 2, queued: 2, dry_run: false });
    await receiver.waitForRequests(2);
    await api.deliveriesSettled();
    expect((await api.get(`${deliveries()}?status=failed`)).body.total).toBe(0);
  });

  it('sends a signed test ping', async () => {
    receiver.reset();
    const response = await api.post(`entities/Webhooks/${webhook.id}/ping`, {});
    const [request] = await receiver.waitForRequests(1);
    expect(request.headers['webhook-id']).toBe(response.body.data.delivery_id);
    expect(request.json[0]).toMatchObject({ event: 'Webhook.Ping', entity: { id: webhook.id }, related_entity: null });
    expect(request.headers['webhook-signature']).toMatch(/^[0-9a-f]{64}$/);
  });

  it("holds a disabled webhook's ping until it is enabled", async () => {
    receiver.reset();
    const paused = await api.create('Webhooks', { url: `${receiver.url}/paused`, events: ['Account.Create'], is_disabled: true });
    const ping = await api.post(`entities/Webhooks/${paused.id}/ping`, {});
    expect(ping.status).toBe(200);
    const held = await api.get(`entities/Webhooks/${paused.id}/deliveries/${ping.body.data.delivery_id}`);
    expect(held.body.data).toMatchObject({ status: 'pending', due: null });
    await receiver.expectQuiet(300);

    await api.patch(`entities/Webhooks/${paused.id}`, { is_disabled: false });
    const [request] = await receiver.waitForRequests(1);
    expect(request.headers['webhook-id']).toBe(ping.body.data.delivery_id);
    await api.delete(`entities/Webhooks/${paused.id}`);
  });

  it('answers bad filters with 400, and unknown or foreign webhooks and deliveries with 404', async () => {
    for (const query of ['status=lost', 'event=Account.*', 'event=Nope', 'record_id=x', 'since=yesterday', 'first=0']) {
      const response = await api.get(`${deliveries()}?${query}`);
      expect(response.status, query).toBe(400);
    }
    expect((await api.post(`entities/Webhooks/${webhook.id}/replay`, { surprise: true })).status).toBe(400);
    expect((await api.get('entities/Webhooks/00000000-0000-4000-8000-000000000000/deliveries')).status).toBe(404);
    expect((await api.get(`${deliveries()}/no-such-delivery`)).status).toBe(404);
    const other = await api.createSpace('other_log_space');
    const foreign = await api.get(`entities/Webhooks/${webhook.id}/deliveries`, { space: 'other_log_space', auth: other });
    expect(foreign.status).toBe(404);
    expect((await api.get(deliveries(), { auth: null })).status).toBe(401);
  });
});
