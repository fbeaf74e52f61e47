// Pipeliner's two documented webhook examples, end to end: registered through the API, triggered by
// API writes, received by a real HTTP server on 127.0.0.1.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SPACE, TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';
import { Receiver } from '../support/receiver.js';

const SECRET = '01234567-abcd-dcba-ffff-000000000000';

describe.each(databaseKinds)('the documented webhook examples (%s)', (kind) => {
  let api: TestApi;
  let receiver: Receiver;
  let ownerId: string;

  beforeAll(async () => {
    // A one-minute polling backstop: deliveries that arrive at once were woken by the commit.
    api = await TestApi.start(kind, { workers: true, workerPollIntervalMs: 60_000 });
    receiver = await Receiver.start();
    ownerId = (await api.first('Clients')).id;
  });
  afterAll(async () => {
    await api.close();
    await receiver.close();
  });
  beforeEach(() => receiver.reset());

  it('Account.Create: one signed POST with a one-item array holding the new account', async () => {
    const webhook = await api.create('Webhooks', {
      url: `${receiver.url}/hooks/pipeliner`, events: ['Account.Create'], insecure_ssl: false, signature: SECRET,
    });
    const account = await api.create('Accounts', { name: 'Created Co', owner_id: ownerId });
    const [request] = await receiver.waitForRequests(1, 5_000);

    expect(request.path).toBe('/hooks/pipeliner');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toMatch(/^Tidings\/\d+\.\d+\.\d+$/);
    expect(request.headers['webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(request.headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -2);
    const expected = createHmac('sha256', Buffer.from(SECRET, 'utf8')).update(request.rawBody).digest('hex');
    expect(request.headers['webhook-signature']).toBe(expected);

    expect(request.json).toHaveLength(1);
    const [item] = request.json;
    expect(Object.keys(item).sort()).toEqual(['entity', 'event', 'event_time', 'id', 'related_entity', 'team_space_id', 'webhook']);
    expect(item).toMatchObject({ event: 'Account.Create', team_space_id: SPACE, related_entity: null });
    expect(item.event_time).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/);
    expect(item.entity).toEqual((await api.get(`entities/Accounts/${account.id}`)).body.data);
    expect(Object.keys(item.webhook).sort()).toEqual(
      ['application_id', 'client_id', 'created', 'events', 'id', 'insecure_ssl', 'is_deleted', 'modified', 'options', 'url'],
    );
    expect(item.webhook.id).toBe(webhook.id);
    expect(request.rawBody).not.toContain(SECRET);

    await api.delete(`entities/Webhooks/${webhook.id}`);
  });

  it('Contact email1 on-field-change with expand, load-only and a skip key', async () => {
    const webhook = await api.create('Webhooks', {
      url: `${receiver.url}/contacts`,
      events: ['Contact.Update'],
      insecure_ssl: false,
      options: {
        entity: { Contact: { 'on-field-change': ['email1'], expand: ['primary_account'], 'load-only': ['id', 'email1', 'primary_account'] } },
        skip_keys: ['my_integration'],
      },
    });
    const account = await api.create('Accounts', { name: 'Employer', owner_id: ownerId });
    const contact = await api.create('Contacts', {
      first_name: 'Ada', last_name: 'Lovelace', owner_id: ownerId, email1: 'ada@old.test',
      account_relations: [{ account_id: account.id, is_primary: true }],
    });

    await api.patch(`entities/Contacts/${contact.id}`, { last_name: 'King' });
    await api.patch(`entities/Contacts/${contact.id}`, { email1: 'ada@skip.test' }, { headers: { 'webhook-skip-key': 'my_integration' } });
    await api.patch(`entities/Contacts/${contact.id}`, { email1: 'ada@new.test' });

    const [request] = await receiver.waitForRequests(1, 5_000);
    await receiver.expectQuiet(300);
    expect(receiver.requests).toHaveLength(1);
    expect(request.json).toHaveLength(1);
    expect(request.json[0].event).toBe('Contact.Update');
    expect(request.json[0].entity).toEqual({
      id: contact.id,
      email1: 'ada@new.test',
      primary_account: expect.objectContaining({ id: account.id, name: 'Employer' }),
    });
    expect(request.headers['webhook-signature']).toBeUndefined();

    await api.delete(`entities/Webhooks/${webhook.id}`);
  });
});
