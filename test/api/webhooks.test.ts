import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';

const SECRET = '01234567-abcd-dcba-ffff-000000000000';

describe.each(databaseKinds)('Webhooks and WebhookEvents (%s)', (kind) => {
  let api: TestApi;

  beforeAll(async () => {
    api = await TestApi.start(kind);
  });
  afterAll(() => api.close());

  const eventsOf = async (webhookId: string) =>
    (await api.get(`entities/WebhookEvents?filter[webhook_id]=${webhookId}`)).body.data.map((row: any) => row.event).sort();

  it('registers the documented Account.Create example', async () => {
    const response = await api.post('entities/Webhooks', {
      url: 'https://example.com/hooks/pipeliner',
      events: ['Account.Create'],
      insecure_ssl: false,
      signature: SECRET,
    });
    expect(response.status).toBe(201);
    expect(response.body.data).toMatchObject({
      url: 'https://example.com/hooks/pipeliner',
      events: ['Account.Create'],
      insecure_ssl: false,
      signature: SECRET,
      options: {},
      is_deleted: false,
    });
    expect(await eventsOf(response.body.data.id)).toEqual(['Account.Create']);
  });

  it('registers the documented on-field-change example, with insecure_ssl defaulting to false', async () => {
    const response = await api.post('entities/Webhooks', {
      url: 'https://example.com/hooks/pipeliner',
      events: ['Contact.Update'],
      options: {
        entity: { Contact: { 'on-field-change': ['email1'], expand: ['primary_account'], 'load-only': ['id', 'email1', 'primary_account'] } },
        skip_keys: ['my_integration'],
      },
    });
    expect(response.status).toBe(201);
    expect(response.body.data.insecure_ssl).toBe(false);
  });

  it('rejects invalid webhooks with a 422 that names the field and says why', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ url: 'ftp://example.com', events: ['*'] }, 'url', /http or https/],
      [{ url: 'not a url', events: ['*'] }, 'url', /absolute/],
      [{ url: 'https://user:pw@example.com/', events: ['*'] }, 'url', /credentials/],
      [{ url: 'https://example.com', events: [] }, 'events', /required/],
      [{ url: 'https://example.com', events: ['Account.Created'] }, 'events', /Unknown event 'Account.Created'/],
      [{ url: 'https://example.com', events: ['*'], signature: 'secret' }, 'signature', /UUID/],
      [{ url: 'https://example.com', events: ['*'], options: { chunk_size: 101 } }, 'options', /chunk_size/],
      [{ url: 'https://example.com', events: ['*'], options: { chunk_size: 1.5 } }, 'options', /chunk_size/],
      [{ url: 'https://example.com', events: ['*'], options: { chunk_delay: -1 } }, 'options', /chunk_delay/],
      [{ url: 'https://example.com', events: ['*'], options: { skip_keys: 'one' } }, 'options', /skip_keys/],
      [{ url: 'https://example.com', events: ['*'], options: { entity: { Widget: {} } } }, 'options', /not an entity/],
      [{ url: 'https://example.com', events: ['*'], options: { entity: { Account: { expand: 'owner' } } } }, 'options', /expand/],
      [{ url: 'https://example.com', events: ['*'], options: { entity: { Account: { 'filter-op': { name: 'like' } } } } }, 'options', /filter-op/],
      [{ url: 'https://example.com', events: ['*'], options: { entity: { Account: { filter: { nope: 1 } } } } }, 'options', /no field 'nope'/],
      [{ url: 'https://example.com', events: ['*'], options: { surprise: true } }, 'options', /surprise|Unrecognized/],
    ];
    for (const [body, field, message] of cases) {
      const response = await api.post('entities/Webhooks', body);
      expect(response.status, JSON.stringify(body)).toBe(422);
      const error = response.body.field_errors.find((entry: any) => entry.field_name === field);
      expect(error, JSON.stringify(response.body)).toBeDefined();
      expect(error.errors.map((entry: any) => entry.message).join(' ')).toMatch(message);
    }
  });

  it('accepts wildcards, filters with every documented operator and custom entity api names', async () => {
    await api.create('CustomEntityTypes', { name: 'Vehicle', entity_api_name: 'CE_Vehicle' });
    const response = await api.post('entities/Webhooks', {
      url: 'http://127.0.0.1:9/hook',
      events: ['*', 'Account.*', 'CustomEntity.Create'],
      options: {
        entity: {
          Account: { filter: { name: ['a', 'b'], account_class: 3 }, 'filter-op': { name: 'istarts', account_class: 'gte' } },
          CE_Vehicle: { expand: ['owner'] },
        },
        custom_entity_api_name: ['CE_Vehicle'],
        chunk_size: 100,
        chunk_delay: 0,
        signature_format: 'standard-webhooks',
      },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
  });

  it('keeps WebhookEvents in step with webhook.events, both ways', async () => {
    const webhook = await api.create('Webhooks', { url: 'https://example.com/a', events: ['Account.Create', 'Contact.*'] });
    expect(await eventsOf(webhook.id)).toEqual(['Account.Create', 'Contact.*']);

    await api.patch(`entities/Webhooks/${webhook.id}`, { events: ['Contact.*', 'Lead.Lost'] });
    expect(await eventsOf(webhook.id)).toEqual(['Contact.*', 'Lead.Lost']);

    const added = await api.post('entities/WebhookEvents', { webhook_id: webhook.id, event: 'Opportunity.Won' });
    expect(added.status).toBe(201);
    expect((await api.get(`entities/Webhooks/${webhook.id}`)).body.data.events).toEqual(['Contact.*', 'Lead.Lost', 'Opportunity.Won']);

    const lostRow = (await api.get(`entities/WebhookEvents?filter[webhook_id]=${webhook.id}&filter[event]=Lead.Lost`)).body.data[0];
    await api.delete(`entities/WebhookEvents/${lostRow.id}`);
    expect((await api.get(`entities/Webhooks/${webhook.id}`)).body.data.events).toEqual(['Contact.*', 'Opportunity.Won']);

    const badEvent = await api.post('entities/WebhookEvents', { webhook_id: webhook.id, event: 'Nope.Create' });
    expect(badEvent.status).toBe(422);

    await api.delete(`entities/Webhooks/${webhook.id}`);
    expect(await eventsOf(webhook.id)).toEqual([]);
    await api.post('entities/Webhooks/batch-restore', [webhook.id]);
    expect(await eventsOf(webhook.id)).toEqual(['Contact.*', 'Opportunity.Won']);
  });

  it('refuses to delete the last event of a webhook through WebhookEvents', async () => {
    const webhook = await api.create('Webhooks', { url: 'https://example.com/b', events: ['Account.Create'] });
    const row = (await api.get(`entities/WebhookEvents?filter[webhook_id]=${webhook.id}`)).body.data[0];
    const response = await api.delete(`entities/WebhookEvents/${row.id}`);
    expect(response.status).toBe(422);
    expect(await eventsOf(webhook.id)).toEqual(['Account.Create']);
  });

  it('supports batch-modify on webhooks', async () => {
    const response = await api.post('entities/Webhooks/batch-modify', [
      { url: 'https://example.com/c', events: ['Task.Comment'] },
      { url: 'https://example.com/d', events: ['Nope'] },
    ]);
    expect(response.status).toBe(422);
    expect(response.body.entity_index).toBe(1);
  });
});
