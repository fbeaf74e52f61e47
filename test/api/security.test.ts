import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, SPACE, TestApi, TOKEN } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';

describe.each(databaseKinds)('authentication and space isolation (%s)', (kind) => {
  let api: TestApi;
  let other: { token: string; password: string };
  let account: any;
  let webhook: any;

  beforeAll(async () => {
    api = await TestApi.start(kind);
    other = await api.createSpace('other_space');
    const ownerId = (await api.first('Clients')).id;
    account = await api.create('Accounts', { name: 'Secret Account', owner_id: ownerId });
    webhook = await api.create('Webhooks', { url: 'https://example.com/hook', events: ['*'] });
  });
  afterAll(() => api.close());

  // Every route group, as a request any client could send.
  const routes = () => [
    ['GET', 'entities/Accounts', undefined],
    ['GET', `entities/Accounts/${account.id}`, undefined],
    ['POST', 'entities/Accounts', { name: 'x' }],
    ['PATCH', `entities/Accounts/${account.id}`, { name: 'Hijacked' }],
    ['DELETE', `entities/Accounts/${account.id}`, undefined],
    ['POST', 'entities/Accounts/batch-modify', [{ id: account.id, name: 'Hijacked' }]],
    ['POST', 'entities/Accounts/batch-delete', [account.id]],
    ['POST', 'entities/Accounts/batch-restore', [account.id]],
    ['GET', `entities/Webhooks/${webhook.id}`, undefined],
    ['POST', `entities/Leads/${account.id}/qualify`, {}],
    ['POST', `entities/Opportunities/${account.id}/back-to-lead`, {}],
    ['GET', 'entities/NoSuchThing', undefined],
  ] as const;

  it('answers every route without credentials with 401 and a Basic challenge', async () => {
    for (const [method, path, body] of routes()) {
      const response = await api.request(method, path, { body, auth: null });
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Basic realm="restapi"');
      expect(response.body).toMatchObject({ success: false, http_status: 401 });
    }
  });

  it('answers a wrong password, a wrong token or a malformed header with the same 401', async () => {
    const attempts = [
      { authorization: `Basic ${Buffer.from(`${TOKEN}:wrong-password`).toString('base64')}` },
      { authorization: `Basic ${Buffer.from(`wrong-token:${PASSWORD}`).toString('base64')}` },
      { authorization: 'Basic !!!' },
      { authorization: `Bearer ${TOKEN}` },
    ];
    for (const headers of attempts) {
      const response = await api.request('GET', 'entities/Accounts', { auth: null, headers });
      expect(response.status).toBe(401);
    }
  });

  it("refuses one space's credentials on another space's URL, on every route", async () => {
    for (const [method, path, body] of routes()) {
      const response = await api.request(method, path, { body, auth: other });
      expect(response.status, `${method} ${path}`).toBe(401);
    }
  });

  it("never shows or changes one space's records through another space", async () => {
    for (const [method, path, body] of routes()) {
      const response = await api.request(method, path, { body, space: 'other_space', auth: other });
      expect(response.status, `${method} ${path}`).not.toBe(500);
      if (method === 'GET' && path === 'entities/Accounts') {
        expect(response.body.data.map((row: any) => row.name)).not.toContain('Secret Account');
      } else if (path.includes(account.id) || path.includes(webhook.id) || Array.isArray(body)) {
        const failed = response.status === 404 || response.body.data?.every?.((item: any) => typeof item === 'object');
        expect(failed, `${method} ${path}: ${JSON.stringify(response.body)}`).toBeTruthy();
      }
    }
    const untouched = await api.get(`entities/Accounts/${account.id}`);
    expect(untouched.body.data).toMatchObject({ name: 'Secret Account', is_deleted: false });
  });

  it('refuses relations that point into another space', async () => {
    const foreignOwner = (await api.get('entities/Clients', { space: 'other_space', auth: other })).body.data[0];
    const response = await api.post('entities/Accounts', { name: 'Cross', owner_id: foreignOwner.id });
    expect(response.status).toBe(422);
    expect(response.body.field_errors[0].errors[0].name).toBe('ERROR_RELATIONS_DOESNT_EXIST');
  });

  it('never returns credentials, and each space has its own seeded reference data', async () => {
    const clients = await api.get('entities/Clients');
    expect(JSON.stringify(clients.body)).not.toContain(PASSWORD);
    const otherSteps = await api.get('entities/Steps', { space: 'other_space', auth: other });
    const ownSteps = await api.get('entities/Steps');
    expect(otherSteps.body.total).toBe(ownSteps.body.total);
    const otherIds = new Set(otherSteps.body.data.map((step: any) => step.id));
    expect(ownSteps.body.data.some((step: any) => otherIds.has(step.id))).toBe(false);
  });

  it('serves the URL of an unknown space with 401, revealing nothing', async () => {
    const response = await api.get('entities/Accounts', { space: 'no_such_space' });
    expect(response.status).toBe(401);
    expect(SPACE).not.toBe('no_such_space');
  });

  it('honours credentials another process gave the space within a second, and refuses the old ones from then on', async () => {
    const third = await api.createSpace('rotated_space');
    expect((await api.get('entities/Accounts', { space: 'rotated_space', auth: third })).status).toBe(200);
    const rotated = { token: 'rotated-token-0001', password: 'rotated-password-0001' };
    await api.changeCredentials('rotated_space', rotated);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await api.get('entities/Accounts', { space: 'rotated_space', auth: rotated })).status).toBe(200);
    expect((await api.get('entities/Accounts', { space: 'rotated_space', auth: third })).status).toBe(401);
  });
});
