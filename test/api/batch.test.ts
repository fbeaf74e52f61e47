import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';

describe.each(databaseKinds)('batch-modify, batch-delete and batch-restore (%s)', (kind) => {
  let api: TestApi;
  let ownerId: string;

  beforeAll(async () => {
    api = await TestApi.start(kind);
    ownerId = (await api.first('Clients')).id;
  });
  afterAll(() => api.close());

  const count = async (name: string) =>
    (await api.get(`entities/Accounts?filter[name]=${encodeURIComponent(name)}&include-deleted=true`)).body.total;

  it('creates items without an id and updates items with one, answering ids in order', async () => {
    const existing = await api.create('Accounts', { name: 'Batch existing', owner_id: ownerId });
    const response = await api.post('entities/Accounts/batch-modify', [
      { name: 'Batch new 1', owner_id: ownerId },
      { id: existing.id, city: 'Lisbon' },
      { name: 'Batch new 2', owner_id: ownerId },
    ]);
    expect(response.status).toBe(200);
    expect(response.body.success).toBe(true);
    expect(response.body.data).toHaveLength(3);
    expect(response.body.data[1]).toBe(existing.id);
    const updated = await api.get(`entities/Accounts/${existing.id}`);
    expect(updated.body.data.city).toBe('Lisbon');
    expect((await api.get(`entities/Accounts/${response.body.data[2]}`)).body.data.name).toBe('Batch new 2');
  });

  it('rollback-method 0 saves nothing when one item is invalid, and says which', async () => {
    const response = await api.post('entities/Accounts/batch-modify', [
      { name: 'All or nothing 1', owner_id: ownerId },
      { name: 'All or nothing 2' },
      { name: 'All or nothing 3', owner_id: ownerId },
    ]);
    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ name: 'ERROR_ENTITY_VALIDATION', entity_index: 1 });
    expect(await count('All or nothing 1')).toBe(0);
    expect(await count('All or nothing 3')).toBe(0);
  });

  it('rollback-method 1 saves the valid items and reports errors in place', async () => {
    const response = await api.post('entities/Accounts/batch-modify?rollback-method=1', [
      { name: 'Skip 1', owner_id: ownerId },
      { name: 'Skip 2', owner_id: '00000000-0000-4000-8000-000000000000' },
      { id: '00000000-0000-4000-8000-000000000001', name: 'Skip missing' },
      { name: 'Skip 3', owner_id: ownerId },
    ]);
    expect(response.status).toBe(200);
    const [first, invalid, missing, last] = response.body.data;
    expect(typeof first).toBe('string');
    expect(invalid).toMatchObject({ success: false, name: 'ERROR_ENTITY_VALIDATION', entity_index: 1 });
    expect(missing).toMatchObject({ success: false, http_status: 404, entity_index: 2 });
    expect(typeof last).toBe('string');
    expect(await count('Skip 1')).toBe(1);
    expect(await count('Skip 2')).toBe(0);
    expect(await count('Skip 3')).toBe(1);
  });

  it('rollback-method 1 leaves no trace of a failed item with inline relations', async () => {
    const account = await api.create('Accounts', { name: 'Inline target', owner_id: ownerId });
    const response = await api.post('entities/Contacts/batch-modify?rollback-method=1', [
      {
        first_name: 'Half',
        owner_id: ownerId,
        account_relations: [{ account_id: account.id }, { account_id: '00000000-0000-4000-8000-000000000000' }],
      },
    ]);
    expect(response.body.data[0].success).toBe(false);
    const relations = await api.get(`entities/ContactAccountRelations?filter[account_id]=${account.id}&include-deleted=true`);
    expect(relations.body.total).toBe(0);
    expect((await api.get('entities/Contacts?filter[first_name]=Half&include-deleted=true')).body.total).toBe(0);
  });

  it('batch-delete and batch-restore soft-delete and bring back', async () => {
    const a = await api.create('Accounts', { name: 'Restore me A', owner_id: ownerId });
    const b = await api.create('Accounts', { name: 'Restore me B', owner_id: ownerId });
    const deleted = await api.post('entities/Accounts/batch-delete', [a.id, b.id]);
    expect(deleted.body).toEqual({ success: true, data: [a.id, b.id] });
    expect((await api.get(`entities/Accounts/${a.id}`)).body.data.is_deleted).toBe(true);

    const restored = await api.post('entities/Accounts/batch-restore', [a.id, b.id]);
    expect(restored.body).toEqual({ success: true, data: [a.id, b.id] });
    const after = await api.get(`entities/Accounts/${b.id}`);
    expect(after.body.data.is_deleted).toBe(false);
    expect(after.body.data.revision).toBeGreaterThan(b.revision);
  });

  it('batch-delete with rollback-method 0 deletes nothing when an id is unknown', async () => {
    const a = await api.create('Accounts', { name: 'Keep me', owner_id: ownerId });
    const response = await api.post('entities/Accounts/batch-delete', [a.id, '00000000-0000-4000-8000-000000000000']);
    expect(response.status).toBe(404);
    expect(response.body.entity_index).toBe(1);
    expect((await api.get(`entities/Accounts/${a.id}`)).body.data.is_deleted).toBe(false);
  });

  it('rejects a body that is not an array', async () => {
    for (const path of ['batch-modify', 'batch-delete', 'batch-restore']) {
      const response = await api.post(`entities/Accounts/${path}`, { id: 'x' });
      expect(response.status, path).toBe(400);
      expect(response.body.message).toContain('array');
    }
  });
});
