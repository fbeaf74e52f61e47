// Delivery: chunking with chunk_delay, the transactional outbox (rolled-back writes send nothing, a
// stop after commit loses nothing), both signature forms, retries with the same bytes and webhook-id,
// giving up, insecure_ssl against a self-signed HTTPS receiver, and space isolation.
import { createHmac } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { standardWebhooksSecret } from '../../src/domain/signatures.js';
import { SPACE, TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';
import { Receiver } from '../support/receiver.js';

const SECRET = '7d4c1f0e-5b1a-4e0b-9d0c-2f6a8e3b9c11';

describe.each(databaseKinds)('webhook delivery (%s)', (kind) => {
  let api: TestApi;
  let receiver: Receiver;
  let ownerId: string;
  const webhookIds: string[] = [];

  beforeAll(async () => {
    api = await TestApi.start(kind, { workers: true, retrySchedule: '1,1' });
    receiver = await Receiver.start();
    ownerId = (await api.first('Clients')).id;
  });
  afterAll(async () => {
    await api.close();
    await receiver.close();
  });
  afterEach(async () => {
    for (const id of webhookIds.splice(0)) await api.delete(`entities/Webhooks/${id}`);
    await api.deliveriesSettled();
    receiver.reset();
  });

  const webhook = async (fields: Record<string, unknown>) => {
    const created = await api.create('Webhooks', fields);
    webhookIds.push(created.id);
    return created;
  };

  it('splits a 250-record batch into chunks of 100, 100 and 50, chunk N sent N × chunk_delay later', async () => {
    await webhook({ url: `${receiver.url}/chunks`, events: ['Product.Create'], options: { chunk_size: 100, chunk_delay: 1 } });
    const items = Array.from({ length: 250 }, (_, index) => ({ name: `Product ${index}` }));
    // The write happens after this instant, so chunk N is due at least N seconds after it (measured
    // from here, not from chunk 0's arrival, which a busy machine can delay).
    const sentAt = Date.now();
    const response = await api.post('entities/Products/batch-modify', items);
    expect(response.status).toBe(200);
    const requests = await receiver.waitForRequests(3, 10_000);
    expect(requests.map((request) => request.json.length)).toEqual([100, 100, 50]);
    expect(requests.flatMap((request) => request.json.map((item: any) => item.entity.name))).toEqual(items.map((item) => item.name));
    expect(requests[1].receivedAt - sentAt).toBeGreaterThanOrEqual(1_000);
    expect(requests[2].receivedAt - sentAt).toBeGreaterThanOrEqual(2_000);
    expect(new Set(requests.map((request) => request.headers['webhook-id'])).size).toBe(3);
  });

  it('sends nothing for a batch that rolled back', async () => {
    await webhook({ url: `${receiver.url}/rollback`, events: ['Product.Create'] });
    const response = await api.post('entities/Products/batch-modify', [{ name: 'ok' }, { name: 42 }]);
    expect(response.status).toBe(422);
    const skipped = await api.post('entities/Products/batch-modify?rollback-method=1', [{ name: 'kept' }, { name: 42 }]);
    expect(skipped.status).toBe(200);
    const [request] = await receiver.waitForRequests(1);
    await receiver.expectQuiet(300);
    expect(receiver.requests).toHaveLength(1);
    expect(request.json.map((item: any) => item.entity.name)).toEqual(['kept']);
  });

  it('signs the Pipeliner way: lowercase hex HMAC-SHA256 of the body, keyed with the signature', async () => {
    await webhook({ url: `${receiver.url}/pipeliner-signed`, events: ['Product.Create'], signature: SECRET });
    await api.create('Products', { name: 'Signed' });
    const [request] = await receiver.waitForRequests(1);
    const independent = createHmac('sha256', Buffer.from(SECRET, 'utf8')).update(Buffer.from(request.rawBody, 'utf8')).digest('hex');
    expect(request.headers['webhook-signature']).toBe(independent);
  });

  it('signs the Standard Webhooks way when asked, verifiable with the standardwebhooks library', async () => {
    await webhook({
      url: `${receiver.url}/standard-signed`, events: ['Product.Create'], signature: SECRET, options: { signature_format: 'standard-webhooks' },
    });
    await api.create('Products', { name: 'Standard' });
    const [request] = await receiver.waitForRequests(1);
    const id = String(request.headers['webhook-id']);
    const timestamp = String(request.headers['webhook-timestamp']);
    const signature = String(request.headers['webhook-signature']);
    const independent = createHmac('sha256', Buffer.from(SECRET, 'utf8')).update(`${id}.${timestamp}.${request.rawBody}`).digest('base64');
    expect(signature).toBe(`v1,${independent}`);

    const verifier = new StandardWebhook(standardWebhooksSecret(SECRET));
    const headers = { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
    expect(verifier.verify(request.rawBody, headers)).toEqual(request.json);
    expect(() => verifier.verify(request.rawBody.replace('Standard', 'Tampered'), headers)).toThrow();
  });

  it('keeps signing with the previous secret beside the new one after a rotation (Standard Webhooks)', async () => {
    const NEW_SECRET = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
    const rotating = await webhook({
      url: `${receiver.url}/rotating`, events: ['Product.Create'], signature: SECRET, options: { signature_format: 'standard-webhooks' },
    });
    const patched = await api.patch(`entities/Webhooks/${rotating.id}`, { signature: NEW_SECRET });
    expect(patched.body.data.signature_rotated).toMatch(/\+00:00$/);
    expect(JSON.stringify(patched.body)).not.toContain(SECRET);
    await api.create('Products', { name: 'Rotated' });
    const [request] = await receiver.waitForRequests(1);
    const signatures = String(request.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    const headers = { 'webhook-id': String(request.headers['webhook-id']), 'webhook-timestamp': String(request.headers['webhook-timestamp']) };
    for (const secret of [SECRET, NEW_SECRET]) {
      const verifier = new StandardWebhook(standardWebhooksSecret(secret));
      expect(verifier.verify(request.rawBody, { ...headers, 'webhook-signature': String(request.headers['webhook-signature']) })).toEqual(request.json);
    }
  });

  it('retries a failed attempt with the same webhook-id and the same bytes', async () => {
    await webhook({ url: `${receiver.url}/flaky`, events: ['Product.Create'], signature: SECRET });
    receiver.respond = (_request, index) => (index === 0 ? 500 : 204);
    await api.create('Products', { name: 'Retried' });
    const [first, second] = await receiver.waitForRequests(2, 10_000);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.rawBody).toBe(first.rawBody);
    expect(second.headers['webhook-signature']).toBe(first.headers['webhook-signature']);
    expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(700);
    await api.deliveriesSettled();
    const [row] = await api.tidings.database.db.selectFrom('deliveries').selectAll().where('id', '=', String(first.headers['webhook-id'])).execute();
    expect(row).toMatchObject({ status: 'delivered', attempts: 2, last_status: 204 });
  });

  it('gives up after the retry schedule and marks the delivery failed', async () => {
    await webhook({ url: `${receiver.url}/down`, events: ['Product.Create'] });
    receiver.respond = 503;
    await api.create('Products', { name: 'Never delivered' });
    const requests = await receiver.waitForRequests(3, 10_000);
    await api.deliveriesSettled();
    await receiver.expectQuiet(1_500);
    expect(requests).toHaveLength(3);
    const [row] = await api.tidings.database.db.selectFrom('deliveries').selectAll().where('id', '=', String(requests[0].headers['webhook-id'])).execute();
    expect(row).toMatchObject({ status: 'failed', attempts: 3, last_status: 503, last_error: 'HTTP 503' });
  });

  it('checks TLS certificates unless the webhook sets insecure_ssl', async () => {
    const secure = await Receiver.start({ https: true });
    try {
      const strict = await webhook({ url: `${secure.url}/strict`, events: ['Product.Create'] });
      await webhook({ url: `${secure.url}/insecure`, events: ['Product.Create'], insecure_ssl: true });
      await api.create('Products', { name: 'Over TLS' });
      await secure.waitForRequests(1);
      await secure.expectQuiet(300);
      expect(secure.requests.map((request) => request.path)).toEqual(['/insecure']);
      const [row] = await api.tidings.database.db.selectFrom('deliveries').selectAll().where('webhook_id', '=', strict.id).execute();
      expect(row.last_error).toMatch(/certificate|self.signed|SELF_SIGNED/i);
    } finally {
      await secure.close();
    }
  });

  it("never delivers one space's writes to another space's webhooks", async () => {
    const otherCredentials = await api.createSpace('other_space_delivery');
    const other = await api.post('entities/Webhooks', { url: `${receiver.url}/other-space`, events: ['*'] }, { space: 'other_space_delivery', auth: otherCredentials });
    expect(other.status).toBe(201);
    await webhook({ url: `${receiver.url}/own-space`, events: ['*'] });
    await api.create('Accounts', { name: 'Mine', owner_id: ownerId });
    await api.deliveriesSettled();
    expect(receiver.requests.map((request) => request.path)).toEqual(['/own-space']);
    expect(receiver.items.every((item) => item.team_space_id === SPACE)).toBe(true);
  });

  it('keeps what was committed when the process stops before sending, and sends it after a restart', async () => {
    await webhook({ url: `${receiver.url}/after-restart`, events: ['Product.Create'] });
    await api.restart({ workers: false });
    await api.create('Products', { name: 'Committed before the stop' });
    await api.restart({ workers: true, retrySchedule: '1,1' });
    const [request] = await receiver.waitForRequests(1, 5_000);
    expect(request.json[0].entity.name).toBe('Committed before the stop');
  });
});
