// Which webhooks fire: every filter-op on webhook filters, skip keys, custom entity types, the client
// visibility rule, on-field-change, deleted webhooks, and the include_changes option.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterOperators } from '../../src/domain/filter.js';
import { TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';
import { Receiver } from '../support/receiver.js';

// One webhook per operator, each on its own path; the same accounts as the REST filter test.
const OPERATOR_CASES: Record<string, [unknown, string[]]> = {
  eq: [['Oslo'], ['Alpha Corp', 'Delta']],
  ieq: [['oslo'], ['Alpha Corp', 'Delta']],
  'not-eq': [['Oslo'], ['Epsilon Corp', 'Gamma Corp', 'beta ltd']],
  'not-ieq': [['OSLO', 'berlin'], ['Epsilon Corp', 'Gamma Corp']],
  contains: ['sl', ['Alpha Corp', 'Delta']],
  starts: ['Be', ['beta ltd']],
  ends: ['lin', ['beta ltd']],
  icontains: ['SL', ['Alpha Corp', 'Delta']],
  istarts: ['be', ['beta ltd']],
  iends: ['LIN', ['beta ltd']],
  null: [null, ['Gamma Corp']],
  'not-null': [null, ['Alpha Corp', 'Delta', 'Epsilon Corp', 'beta ltd']],
  empty: [null, ['Epsilon Corp', 'Gamma Corp']],
  'not-empty': [null, ['Alpha Corp', 'Delta', 'beta ltd']],
  gt: ['Delta', ['Epsilon Corp', 'Gamma Corp', 'beta ltd']],
  gte: ['Delta', ['Delta', 'Epsilon Corp', 'Gamma Corp', 'beta ltd']],
  lt: ['Beta', ['Alpha Corp']],
  lte: ['Alpha Corp', ['Alpha Corp']],
  between: [['B', 'Z'], ['Delta', 'Epsilon Corp', 'Gamma Corp']],
};
// gt / lt / between compare the account name; every other operator filters the city.
const fieldFor = (operator: string) => (['gt', 'gte', 'lt', 'lte', 'between'].includes(operator) ? 'name' : 'city');

const ACCOUNTS = [
  { name: 'Alpha Corp', city: 'Oslo' },
  { name: 'beta ltd', city: 'Berlin' },
  { name: 'Gamma Corp', city: null },
  { name: 'Delta', city: 'Oslo' },
  { name: 'Epsilon Corp', city: '' },
];

describe.each(databaseKinds)('webhook matching (%s)', (kind) => {
  let api: TestApi;
  let receiver: Receiver;
  let ownerId: string;

  beforeAll(async () => {
    api = await TestApi.start(kind, { workers: true });
    receiver = await Receiver.start();
    ownerId = (await api.first('Clients')).id;
  });
  afterAll(async () => {
    await api.close();
    await receiver.close();
  });

  /** Runs `write` and returns what arrived, per receiver path, once every delivery is sent. */
  async function received(write: () => Promise<unknown>): Promise<Map<string, any[]>> {
    await api.deliveriesSettled();
    receiver.reset();
    await write();
    await api.deliveriesSettled();
    const byPath = new Map<string, any[]>();
    for (const request of receiver.requests) byPath.set(request.path, [...(byPath.get(request.path) ?? []), ...request.json]);
    return byPath;
  }

  it('applies every filter-op on webhook filters, with the REST API semantics', async () => {
    expect(Object.keys(OPERATOR_CASES).sort()).toEqual([...filterOperators].sort());
    const webhooks = [];
    for (const [operator, [value]] of Object.entries(OPERATOR_CASES)) {
      const field = fieldFor(operator);
      webhooks.push(await api.create('Webhooks', {
        url: `${receiver.url}/${operator}`,
        events: ['Account.Create'],
        options: { entity: { Account: { ...(value === null ? {} : { filter: { [field]: value } }), 'filter-op': { [field]: operator } } } },
      }));
    }
    const byPath = await received(async () => {
      for (const account of ACCOUNTS) await api.create('Accounts', { ...account, owner_id: ownerId });
    });
    for (const [operator, [, expected]] of Object.entries(OPERATOR_CASES)) {
      const names = (byPath.get(`/${operator}`) ?? []).map((item) => item.entity.name).sort();
      expect(names, operator).toEqual([...expected].sort());
    }
    for (const webhook of webhooks) await api.delete(`entities/Webhooks/${webhook.id}`);
  });

  it('filters against the state after the change, and the last state for a delete', async () => {
    const webhook = await api.create('Webhooks', {
      url: `${receiver.url}/archived`,
      events: ['Account.Update', 'Account.Delete'],
      options: { entity: { Account: { filter: { is_archived: true } } } },
    });
    const account = await api.create('Accounts', { name: 'Archivable', owner_id: ownerId });
    const byPath = await received(async () => {
      await api.patch(`entities/Accounts/${account.id}`, { city: 'Rome' });
      await api.patch(`entities/Accounts/${account.id}`, { is_archived: true });
      await api.delete(`entities/Accounts/${account.id}`);
    });
    expect((byPath.get('/archived') ?? []).map((item) => item.event)).toEqual(['Account.Update', 'Account.Delete']);
    await api.delete(`entities/Webhooks/${webhook.id}`);
  });

  it('skip keys: exact match, one of a comma-separated list, other webhooks still fire', async () => {
    const skipping = await api.create('Webhooks', { url: `${receiver.url}/skipping`, events: ['Product.Create'], options: { skip_keys: ['sync-a'] } });
    const other = await api.create('Webhooks', { url: `${receiver.url}/other`, events: ['Product.Create'] });
    const byPath = await received(async () => {
      await api.post('entities/Products', { name: 'skipped' }, { headers: { 'webhook-skip-key': 'sync-b, sync-a' } });
      await api.post('entities/Products', { name: 'case differs' }, { headers: { 'webhook-skip-key': 'SYNC-A' } });
    });
    expect((byPath.get('/skipping') ?? []).map((item) => item.entity.name)).toEqual(['case differs']);
    expect((byPath.get('/other') ?? []).map((item) => item.entity.name)).toEqual(['skipped', 'case differs']);
    for (const webhook of [skipping, other]) await api.delete(`entities/Webhooks/${webhook.id}`);
  });

  it('custom_entity_api_name restricts custom entity events to the listed types, whose options apply', async () => {
    const vehicle = await api.create('CustomEntityTypes', { name: 'Vehicle', entity_api_name: 'CE_Vehicle' });
    const building = await api.create('CustomEntityTypes', { name: 'Building', entity_api_name: 'CE_Building' });
    const webhook = await api.create('Webhooks', {
      url: `${receiver.url}/vehicles`,
      events: ['CustomEntity.*'],
      options: { custom_entity_api_name: ['CE_Vehicle'], entity: { CE_Vehicle: { 'load-only': ['name'] } } },
    });
    const byPath = await received(async () => {
      await api.create('CustomEntities', { name: 'Van', owner_id: ownerId, type_id: vehicle.id });
      await api.create('CustomEntities', { name: 'Tower', owner_id: ownerId, type_id: building.id });
    });
    expect((byPath.get('/vehicles') ?? []).map((item) => item.entity)).toEqual([{ id: expect.any(String), name: 'Van' }]);
    await api.delete(`entities/Webhooks/${webhook.id}`);
  });

  it("a webhook with a client_id only hears of records that client may see", async () => {
    const unit = await api.create('SalesUnits', { name: 'Nordics' });
    const viewer = await api.create('Clients', { email: 'viewer@example.com', default_unit_id: unit.id });
    const webhook = await api.create('Webhooks', { url: `${receiver.url}/viewer`, events: ['Account.Create'], client_id: viewer.id });
    const byPath = await received(async () => {
      await api.create('Accounts', { name: 'Shared', owner_id: ownerId, share_mode: 0 });
      await api.create('Accounts', { name: 'Private, not theirs', owner_id: ownerId, share_mode: 1 });
      await api.create('Accounts', { name: 'Private, theirs', owner_id: viewer.id, share_mode: 1 });
      await api.create('Accounts', { name: 'Private, their unit', owner_id: ownerId, unit_id: unit.id, share_mode: 1 });
    });
    expect((byPath.get('/viewer') ?? []).map((item) => item.entity.name)).toEqual(['Shared', 'Private, theirs', 'Private, their unit']);
    await api.delete(`entities/Webhooks/${webhook.id}`);
  });

  it('on-field-change gates update-type events only', async () => {
    const webhook = await api.create('Webhooks', {
      url: `${receiver.url}/owner-watch`,
      events: ['Account.*'],
      options: { entity: { Account: { 'on-field-change': ['owner_id'] } } },
    });
    const other = await api.create('Clients', { email: 'new-owner@example.com' });
    let account: any;
    const byPath = await received(async () => {
      account = await api.create('Accounts', { name: 'Watched', owner_id: ownerId });
      await api.patch(`entities/Accounts/${account.id}`, { city: 'Paris' });
      await api.patch(`entities/Accounts/${account.id}`, { owner_id: other.id });
      await api.delete(`entities/Accounts/${account.id}`);
    });
    expect((byPath.get('/owner-watch') ?? []).map((item) => item.event)).toEqual(
      ['Account.Create', 'Account.Update', 'Account.OwnerChanged', 'Account.Delete'],
    );
    await api.delete(`entities/Webhooks/${webhook.id}`);
  });

  it('include_changes adds {field: {from, to}} to each item', async () => {
    const webhook = await api.create('Webhooks', {
      url: `${receiver.url}/changes`, events: ['Account.Update'], options: { include_changes: true },
    });
    const account = await api.create('Accounts', { name: 'Changing', owner_id: ownerId, city: 'Oslo' });
    const byPath = await received(() => api.patch(`entities/Accounts/${account.id}`, { city: 'Bergen', name: 'Changed' }));
    expect(byPath.get('/changes')![0].changes).toEqual({ name: { from: 'Changing', to: 'Changed' }, city: { from: 'Oslo', to: 'Bergen' } });
    await api.delete(`entities/Webhooks/${webhook.id}`);
  });

  it('a deleted webhook never fires; a restored one does again', async () => {
    const webhook = await api.create('Webhooks', { url: `${receiver.url}/deleted`, events: ['Product.Create'] });
    await api.delete(`entities/Webhooks/${webhook.id}`);
    const whileDeleted = await received(() => api.create('Products', { name: 'unheard' }));
    expect(whileDeleted.get('/deleted')).toBeUndefined();
    await api.post('entities/Webhooks/batch-restore', [webhook.id]);
    const restored = await received(() => api.create('Products', { name: 'heard' }));
    expect(restored.get('/deleted')!.map((item) => item.entity.name)).toEqual(['heard']);
    await api.delete(`entities/Webhooks/${webhook.id}`);
  });

  it('ignores expand and load-only paths the entity does not have', async () => {
    const webhook = await api.create('Webhooks', {
      url: `${receiver.url}/unknown-paths`,
      events: ['Contact.Create'],
      options: { entity: { Contact: { expand: ['task_relations.task', 'owner'], 'load-only': ['id', 'first_name', 'task_relations', 'owner.email'] } } },
    });
    const byPath = await received(() => api.create('Contacts', { first_name: 'Docs', owner_id: ownerId }));
    expect(byPath.get('/unknown-paths')![0].entity).toEqual({
      id: expect.any(String), first_name: 'Docs', owner: { id: ownerId, email: expect.stringContaining('@') },
    });
    await api.delete(`entities/Webhooks/${webhook.id}`);
  });
});
