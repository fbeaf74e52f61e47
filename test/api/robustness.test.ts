// "No input produces a 500": random bodies, query strings and ids against every kind of route, on
// both databases. Every answer must be a Pipeliner error envelope or a success, never a crash.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';

const nasty = fc.oneof(
  fc.string(),
  fc.constantFrom('\u0000', '\ud800', 'a\udc00b', '😀', "'; DROP TABLE records; --", '%', '_', '\\', '"', '1e309', '-0', 'null', '[]', '{}'),
);
const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(fc.constantFrom('name', 'owner_id', 'email1', 'account_class', 'is_archived', 'value', 'events', 'url', 'options', 'id', 'account_relations', 'closing_date', 'step_id'), fc.oneof(nasty, fc.jsonValue({ maxDepth: 2 }))),
);
const queryKey = fc.oneof(
  fc.constantFrom('first', 'last', 'after', 'before', 'order-by', 'include-deleted', 'expand', 'load-only', 'validation-level', 'rollback-method'),
  nasty.map((field) => `filter[${field}]`),
  fc.constantFrom('filter[name]', 'filter[account_class]', 'filter[created]', 'filter[is_archived]', 'filter[owner_id]'),
  fc.constantFrom('filter-op[name]', 'filter-op[account_class]', 'filter-op[created]'),
);
// What can reach the server: URL-encoded UTF-8 (an unpaired surrogate cannot be sent as such), plus
// raw escapes that are not UTF-8 at all.
const encode = (text: string) => encodeURIComponent((text as unknown as { toWellFormed(): string }).toWellFormed());
const urlPart = fc.oneof(nasty.map(encode), fc.constantFrom('%FF', '%00', '%C0%80', '%E2%82', '%25%32'));
const query = fc
  .array(fc.tuple(queryKey.map(encode), urlPart), { maxLength: 4 })
  .map((pairs) => pairs.map(([key, value]) => `${key}=${value}`).join('&'));
const collection = fc.constantFrom('Accounts', 'Contacts', 'Opportunities', 'Webhooks', 'WebhookEvents', 'Clients', 'Leads');

describe.each(databaseKinds)('robustness against bad input (%s)', (kind) => {
  let api: TestApi;
  let accountId: string;

  beforeAll(async () => {
    api = await TestApi.start(kind);
    const ownerId = (await api.first('Clients')).id;
    accountId = (await api.create('Accounts', { name: 'Target', owner_id: ownerId })).id;
  });
  afterAll(() => api.close());

  const expectNoCrash = (response: { status: number; body: any }, what: string) => {
    expect(response.status, `${what} → ${JSON.stringify(response.body).slice(0, 300)}`).toBeLessThan(500);
    if (response.status >= 400) expect(response.body.success, what).toBe(false);
  };

  it('survives random queries on lists', async () => {
    await fc.assert(
      fc.asyncProperty(collection, query, async (plural, queryString) => {
        expectNoCrash(await api.get(`entities/${plural}?${queryString}`), `GET ${plural}?${queryString}`);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses unstorable text in filters, cursors and bodies with a 4xx', async () => {
    const cursorWithNul = Buffer.from(JSON.stringify(['a\u0000'])).toString('base64');
    for (const query of ['filter[name]=a%00b', 'filter[name]=a%00b&filter-op[name]=contains', 'filter[owner_id]=%00', `after=${cursorWithNul}`]) {
      const response = await api.get(`entities/Accounts?${query}`);
      expect(response.status, query).toBe(400);
    }
    const response = await api.post('entities/Accounts', { name: 'a\ud800', owner_id: accountId });
    expect(response.status).toBe(422);
  });

  it('survives random bodies on create, update and batches', async () => {
    await fc.assert(
      fc.asyncProperty(collection, jsonish, fc.constantFrom('create', 'update', 'batch-modify', 'batch-delete', 'qualify'), async (plural, body, action) => {
        const path = {
          create: `entities/${plural}`,
          update: `entities/${plural}/${accountId}`,
          'batch-modify': `entities/${plural}/batch-modify?rollback-method=1`,
          'batch-delete': `entities/${plural}/batch-delete`,
          qualify: `entities/Leads/${accountId}/qualify`,
        }[action];
        const method = action === 'update' ? 'PATCH' : 'POST';
        const payload = action.startsWith('batch') ? [body] : body;
        expectNoCrash(await api.request(method, path, { body: JSON.stringify(payload), headers: { 'content-type': 'application/json' } }), `${method} ${path} ${JSON.stringify(payload)}`);
      }),
      { numRuns: 200 },
    );
  });

  it('survives random ids and space names in paths', async () => {
    await fc.assert(
      fc.asyncProperty(urlPart, urlPart, async (id, space) => {
        expectNoCrash(await api.get(`entities/Accounts/${id}`), `GET id ${id}`);
        expectNoCrash(await api.delete(`entities/Accounts/${id}`), `DELETE id ${id}`);
        expectNoCrash(await api.get(`/api/v100/rest/spaces/${space}/entities/Accounts`), `space ${space}`);
      }),
      { numRuns: 100 },
    );
  });
});
