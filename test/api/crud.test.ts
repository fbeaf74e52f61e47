import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi, PUBLIC_URL, SPACE } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';

describe.each(databaseKinds)('CRUD on one entity (%s)', (kind) => {
  let api: TestApi;
  let ownerId: string;

  beforeAll(async () => {
    api = await TestApi.start(kind);
    ownerId = (await api.first('Clients')).id;
  });
  afterAll(() => api.close());

  it('creates an account with 201 and returns it in the success envelope', async () => {
    const response = await api.post('entities/Accounts', { name: 'Acme', owner_id: ownerId, email1: 'info@acme.test' });
    expect(response.status).toBe(201);
    expect(response.body.success).toBe(true);
    const account = response.body.data;
    expect(account).toMatchObject({ name: 'Acme', owner_id: ownerId, email1: 'info@acme.test', is_deleted: false });
    expect(account.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(account.created).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/);
    expect(account.owner).toBe(`${PUBLIC_URL}/api/v100/rest/spaces/${SPACE}/entities/Clients/${ownerId}`);
    // unit_id defaults to the owner's default sales unit
    expect(account.unit_id).toBe((await api.first('SalesUnits')).id);
  });

  it('renders a new record with the relation rows its own write created, as reading it back does', async () => {
    const [first, second] = await Promise.all(['Umbrella', 'Wayne'].map((name) => api.create('Accounts', { name, owner_id: ownerId })));
    const created = await api.post('entities/Contacts?expand=account_relations,primary_account', {
      first_name: 'Inline', owner_id: ownerId, account_relations: [{ account_id: first.id }, { account_id: second.id, is_primary: true }],
    });
    expect(created.status).toBe(201);
    const read = await api.get(`entities/Contacts/${created.body.data.id}?expand=account_relations,primary_account`);
    expect(created.body.data.account_relations.map((relation: { account_id: string }) => relation.account_id).sort()).toEqual([first.id, second.id].sort());
    expect(created.body.data.primary_account.id).toBe(second.id);
    expect(created.body.data).toEqual(read.body.data);
  });

  it('gets a record by id, and 404s an unknown id with the Error envelope', async () => {
    const account = await api.create('Accounts', { name: 'Globex', owner_id: ownerId });
    const found = await api.get(`entities/Accounts/${account.id}`);
    expect(found.status).toBe(200);
    expect(found.body.data.name).toBe('Globex');

    const missing = await api.get('entities/Accounts/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ success: false, http_status: 404, name: 'ERROR_ENTITY_NOT_FOUND' });
  });

  it('does not serve a record under another entity type', async () => {
    const account = await api.create('Accounts', { name: 'Initech', owner_id: ownerId });
    const response = await api.get(`entities/Contacts/${account.id}`);
    expect(response.status).toBe(404);
  });

  it('PATCH changes only the given fields and advances revision and modified', async () => {
    const account = await api.create('Accounts', { name: 'Umbrella', owner_id: ownerId, city: 'Raccoon' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const response = await api.patch(`entities/Accounts/${account.id}`, { city: 'Paris' });
    expect(response.status).toBe(200);
    expect(response.body.data).toMatchObject({ name: 'Umbrella', city: 'Paris' });
    expect(response.body.data.revision).toBeGreaterThan(account.revision);
    expect(response.body.data.modified > account.modified).toBe(true);
    expect(response.body.data.created).toBe(account.created);
  });

  it('accepts a record read with GET sent back unchanged', async () => {
    const account = await api.create('Accounts', { name: 'Roundtrip', owner_id: ownerId });
    const response = await api.patch(`entities/Accounts/${account.id}`, account);
    expect(response.status).toBe(200);
  });

  it('DELETE is soft: the record is gone from lists but listed with include-deleted', async () => {
    const account = await api.create('Accounts', { name: 'Soon Gone', owner_id: ownerId });
    const deleted = await api.delete(`entities/Accounts/${account.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ success: true, data: account.id });

    const live = await api.get('entities/Accounts?filter[name]=Soon Gone');
    expect(live.body.data).toHaveLength(0);
    const all = await api.get('entities/Accounts?filter[name]=Soon Gone&include-deleted=true');
    expect(all.body.data.map((row: any) => [row.id, row.is_deleted])).toEqual([[account.id, true]]);

    expect((await api.delete(`entities/Accounts/${account.id}`)).status).toBe(404);
    expect((await api.patch(`entities/Accounts/${account.id}`, { name: 'x' })).status).toBe(404);
  });

  it('refuses to delete a delete-protected record', async () => {
    const company = await api.first('SalesUnits');
    const response = await api.delete(`entities/SalesUnits/${company.id}`);
    expect(response.status).toBe(422);
    expect(response.body.name).toBe('ERROR_ENTITY_DELETE_PROTECTED');
  });

  describe('validation', () => {
    it('reports every invalid field in field_errors with a 422', async () => {
      const response = await api.post('entities/Accounts', { name: 42, account_class: 9, bogus: 1 });
      expect(response.status).toBe(422);
      expect(response.body).toMatchObject({
        success: false,
        http_status: 422,
        code: 40000,
        name: 'ERROR_ENTITY_VALIDATION',
        entity_name: 'Account',
      });
      const fields = response.body.field_errors.map((error: any) => error.field_name).sort();
      expect(fields).toEqual(['account_class', 'bogus', 'name', 'owner_id']);
      const ownerError = response.body.field_errors.find((error: any) => error.field_name === 'owner_id');
      expect(ownerError.errors[0]).toMatchObject({ name: 'ERROR_PARAMETER_MISSING', code: 119 });
    });

    it('rejects a relation to a record that does not exist', async () => {
      const response = await api.post('entities/Accounts', { name: 'Ghost', owner_id: '00000000-0000-4000-8000-000000000001' });
      expect(response.status).toBe(422);
      expect(response.body.field_errors[0].errors[0]).toMatchObject({
        name: 'ERROR_RELATIONS_DOESNT_EXIST',
        code: 120,
        field_name: 'owner_id',
      });
    });

    it('rejects a relation to a record of the wrong type', async () => {
      const unit = await api.first('SalesUnits');
      const response = await api.post('entities/Accounts', { name: 'Wrong', owner_id: unit.id });
      expect(response.status).toBe(422);
      expect(response.body.field_errors[0].errors[0].name).toBe('ERROR_RELATIONS_DOESNT_EXIST');
    });

    it('rejects a relation to a deleted record unless validation-level 16 allows it', async () => {
      const parent = await api.create('Accounts', { name: 'Deleted parent', owner_id: ownerId });
      await api.delete(`entities/Accounts/${parent.id}`);
      const body = { name: 'Child', owner_id: ownerId, parent_account_id: parent.id };
      expect((await api.post('entities/Accounts', body)).status).toBe(422);
      const allowed = await api.post('entities/Accounts?validation-level=16', body);
      expect(allowed.status).toBe(201);
      expect(allowed.body.data.parent_account_id).toBe(parent.id);
    });

    it('rejects a change to a read-only field unless validation-level 8 allows it', async () => {
      const step = await api.first('Steps', '?order-by=sort_order');
      const opportunity = await api.create('Opportunities', {
        name: 'Deal', owner_id: ownerId, closing_date: '2027-01-31', step_id: step.id, value: { base_value: 10 },
      });
      const refused = await api.patch(`entities/Opportunities/${opportunity.id}`, { status: 3 });
      expect(refused.status).toBe(422);
      expect(refused.body.field_errors[0].errors[0].message).toContain('read-only');
      const allowed = await api.patch(`entities/Opportunities/${opportunity.id}?validation-level=8`, { status: 3 });
      expect(allowed.status).toBe(200);
    });

    it('never lets a client set system fields such as revision, even with level 8', async () => {
      const account = await api.create('Accounts', { name: 'Sys', owner_id: ownerId });
      const response = await api.patch(`entities/Accounts/${account.id}?validation-level=8`, { revision: 1 });
      expect(response.status).toBe(422);
    });

    it('validation-level 2 checks only the fields the request changes', async () => {
      // A record stored under level 4 (system fields only) may miss required fields...
      const loose = await api.post('entities/Accounts?validation-level=4', { owner_id: ownerId });
      expect(loose.status).toBe(201);
      // ...a full validation of an unrelated change then reports them, level 2 does not.
      expect((await api.patch(`entities/Accounts/${loose.body.data.id}`, { city: 'Oslo' })).status).toBe(422);
      const changedOnly = await api.patch(`entities/Accounts/${loose.body.data.id}?validation-level=2`, { city: 'Oslo' });
      expect(changedOnly.status).toBe(200);
      expect(changedOnly.body.data.city).toBe('Oslo');
    });

    it('normalises dates to Pipeliner format and rejects impossible ones', async () => {
      const step = await api.first('Steps');
      const base = { name: 'Dates', owner_id: ownerId, step_id: step.id, value: { base_value: 1 } };
      const bad = await api.post('entities/Opportunities', { ...base, closing_date: '2027-02-30' });
      expect(bad.status).toBe(422);
      const appointment = await api.post('entities/Appointments', {
        subject: 'Call', owner_id: ownerId, end_date: '2027-03-01T10:30:00+02:00',
      });
      expect(appointment.status).toBe(201);
      expect(appointment.body.data.end_date).toBe('2027-03-01 08:30:00.000000+00:00');
    });

    it('rejects text containing NUL characters instead of failing in the database', async () => {
      const response = await api.post('entities/Accounts', { name: 'a\u0000b', owner_id: ownerId });
      expect(response.status).toBe(422);
    });
  });

  describe('malformed requests', () => {
    it('answers malformed JSON with 400 ERROR_PARAMETER_INVALID', async () => {
      const response = await api.request('POST', 'entities/Accounts', {
        body: '{"name": ',
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ success: false, code: 117, name: 'ERROR_PARAMETER_INVALID' });
    });

    it('answers a non-object body with 400', async () => {
      const response = await api.post('entities/Accounts', [1, 2]);
      expect(response.status).toBe(400);
      expect(response.body.name).toBe('ERROR_PARAMETER_INVALID');
    });

    it('answers an oversized body with 413', async () => {
      const response = await api.post('entities/Accounts', { name: 'x'.repeat(5 * 1024 * 1024) });
      expect(response.status).toBe(413);
      expect(response.body.success).toBe(false);
    });

    it('answers an unknown entity type with 404 ERROR_UNKNOWN_TYPE', async () => {
      const response = await api.get('entities/Widgets');
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ code: 2006, name: 'ERROR_UNKNOWN_TYPE' });
    });

    it('answers bad query parameters with 400 that names them', async () => {
      for (const query of ['validation-level=abc', 'validation-level=64', 'bogus=1']) {
        const response = await api.post(`entities/Accounts?${query}`, { name: 'q', owner_id: ownerId });
        expect(response.status, query).toBe(400);
        expect(response.body.message).toMatch(/validation-level|bogus/);
      }
      const batch = await api.post('entities/Accounts/batch-modify?rollback-method=2', []);
      expect(batch.status).toBe(400);
      expect(batch.body.message).toContain('rollback-method');
    });
  });
});
