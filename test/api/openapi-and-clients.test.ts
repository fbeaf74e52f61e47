import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogue } from '../../src/domain/entities.js';
import { TestApi } from '../support/api.js';

describe('the OpenAPI document and the API page', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await TestApi.start('sqlite');
  });
  afterAll(() => api.close());

  it('serves /openapi.json covering every entity route, with the entity schemas', async () => {
    const response = await api.get('/openapi.json', { auth: null });
    expect(response.status).toBe(200);
    const document = response.body;
    expect(document.openapi).toMatch(/^3\./);
    const paths = Object.keys(document.paths);
    for (const entity of catalogue.entities) {
      const base = `/api/v100/rest/spaces/{spaceId}/entities/${entity.plural}`;
      expect(Object.keys(document.paths[base] ?? {}).sort(), base).toEqual(['get', 'post']);
      expect(Object.keys(document.paths[`${base}/{id}`] ?? {}).sort()).toEqual(['delete', 'get', 'patch']);
      for (const batch of ['batch-modify', 'batch-delete', 'batch-restore']) expect(paths).toContain(`${base}/${batch}`);
      expect(document.components.schemas[entity.name].properties).toHaveProperty('id');
    }
    expect(paths).toContain('/api/v100/rest/spaces/{spaceId}/entities/Leads/{id}/qualify');
    expect(paths).toContain('/api/v100/rest/spaces/{spaceId}/entities/Opportunities/{id}/back-to-lead');
    for (const path of ['deliveries', 'deliveries/{deliveryId}', 'deliveries/{deliveryId}/redeliver', 'replay', 'ping']) {
      expect(paths).toContain(`/api/v100/rest/spaces/{spaceId}/entities/Webhooks/{id}/${path}`);
    }
    expect(document.components.schemas.AccountCreateInput.required).toEqual(['name', 'owner_id']);
  });

  it('serves the interactive API page at /docs', async () => {
    const response = await api.get('/docs/', { auth: null });
    expect(response.status).toBe(200);
    expect(String(response.headers['content-type'])).toContain('text/html');
  });

  it('answers an unknown path with a Pipeliner-style 404', async () => {
    const response = await api.get('/nowhere', { auth: null });
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ success: false, http_status: 404 });
  });
});

describe('clients (users) administered through the API', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await TestApi.start('sqlite');
  });
  afterAll(() => api.close());

  it('adds a colleague who can then own records', async () => {
    const unit = await api.first('SalesUnits');
    const colleague = await api.create('Clients', {
      email: 'grace@example.com', first_name: 'Grace', last_name: 'Hopper', default_unit_id: unit.id,
    });
    const account = await api.create('Accounts', { name: "Grace's account", owner_id: colleague.id });
    expect(account.owner_id).toBe(colleague.id);
    const updated = await api.patch(`entities/Clients/${colleague.id}`, { last_name: 'Murray Hopper' });
    expect(updated.body.data.last_name).toBe('Murray Hopper');
  });

  it('keeps e-mail addresses unique, case-insensitively, and well-formed', async () => {
    await api.create('Clients', { email: 'linus@example.com' });
    const duplicate = await api.post('entities/Clients', { email: 'Linus@Example.com' });
    expect(duplicate.status).toBe(422);
    expect(duplicate.body.field_errors[0].errors[0].message).toContain('already exists');
    const malformed = await api.post('entities/Clients', { email: 'not-an-email' });
    expect(malformed.status).toBe(422);
  });
});
