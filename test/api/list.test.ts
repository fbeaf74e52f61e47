import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';

const decodeCursor = (cursor: string) => JSON.parse(Buffer.from(cursor, 'base64').toString('utf8'));

describe.each(databaseKinds)('listing, filtering, paging and shaping (%s)', (kind) => {
  let api: TestApi;
  let ownerId: string;
  const accounts: any[] = [];

  beforeAll(async () => {
    api = await TestApi.start(kind);
    ownerId = (await api.first('Clients')).id;
    const rows = [
      { name: 'Alpha Corp', city: 'Oslo', account_class: 2 },
      { name: 'beta ltd', city: 'Berlin', account_class: 3 },
      { name: 'Gamma Corp', city: null, account_class: 3 },
      { name: 'Delta', city: 'Oslo', account_class: 5 },
      { name: 'Epsilon Corp', city: '', account_class: 1 },
    ];
    for (const row of rows) accounts.push(await api.create('Accounts', { ...row, owner_id: ownerId }));
  });
  afterAll(() => api.close());

  const names = async (query: string) => {
    const response = await api.get(`entities/Accounts?${query}`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body.data.map((row: any) => row.name).sort();
  };

  it('lists in the list envelope with total and page_info', async () => {
    const response = await api.get('entities/Accounts');
    expect(response.body).toMatchObject({ success: true, total: 5 });
    expect(response.body.page_info).toMatchObject({ has_previous_page: false, has_next_page: false });
    // the default order is creation order (ids are time-ordered)
    expect(response.body.data.map((row: any) => row.id)).toEqual(accounts.map((account) => account.id));
  });

  it('filters with every operator', async () => {
    const cases: [string, string[]][] = [
      ['filter[city]=Oslo', ['Alpha Corp', 'Delta']],
      ['filter[city]=Oslo,Berlin', ['Alpha Corp', 'Delta', 'beta ltd']],
      ['filter[name]=BETA LTD&filter-op[name]=ieq', ['beta ltd']],
      ['filter[city]=Oslo&filter-op[city]=not-eq', ['Epsilon Corp', 'Gamma Corp', 'beta ltd']],
      ['filter[name]=beta ltd&filter-op[name]=not-ieq', ['Alpha Corp', 'Delta', 'Epsilon Corp', 'Gamma Corp']],
      ['filter[name]=Corp&filter-op[name]=contains', ['Alpha Corp', 'Epsilon Corp', 'Gamma Corp']],
      ['filter[name]=corp&filter-op[name]=contains', []],
      ['filter[name]=corp&filter-op[name]=icontains', ['Alpha Corp', 'Epsilon Corp', 'Gamma Corp']],
      ['filter[name]=Al&filter-op[name]=starts', ['Alpha Corp']],
      ['filter[name]=BE&filter-op[name]=istarts', ['beta ltd']],
      ['filter[name]=ta&filter-op[name]=ends', ['Delta']],
      ['filter[name]=LTD&filter-op[name]=iends', ['beta ltd']],
      ['filter-op[city]=null', ['Gamma Corp']],
      ['filter-op[city]=not-null', ['Alpha Corp', 'Delta', 'Epsilon Corp', 'beta ltd']],
      ['filter-op[city]=empty', ['Epsilon Corp', 'Gamma Corp']],
      ['filter-op[city]=not-empty', ['Alpha Corp', 'Delta', 'beta ltd']],
      ['filter[account_class]=3&filter-op[account_class]=gt', ['Delta']],
      ['filter[account_class]=3&filter-op[account_class]=gte', ['Delta', 'Gamma Corp', 'beta ltd']],
      ['filter[account_class]=2&filter-op[account_class]=lt', ['Epsilon Corp']],
      ['filter[account_class]=2&filter-op[account_class]=lte', ['Alpha Corp', 'Epsilon Corp']],
      ['filter[account_class]=2,3&filter-op[account_class]=between', ['Alpha Corp', 'Gamma Corp', 'beta ltd']],
      ['filter[city]=Oslo&filter[account_class]=5', ['Delta']],
    ];
    for (const [query, expected] of cases) expect(await names(query), query).toEqual(expected);
  });

  it('filters on dates chronologically whatever the input form', async () => {
    const created = accounts[2].created as string;
    const iso = created.replace(' ', 'T').replace('+00:00', 'Z');
    const expected = accounts.filter((account) => account.created >= created).map((account) => account.name).sort();
    expect(expected).toContain('Gamma Corp');
    expect(await names(`filter[created]=${encodeURIComponent(iso)}&filter-op[created]=gte`)).toEqual(expected);
  });

  it('rejects bad filters with a 400 that says what to fix', async () => {
    const cases: [string, RegExp][] = [
      ['filter[nope]=1', /no field 'nope'/],
      ['filter[name]=x&filter-op[name]=like', /not a filter operator/],
      ['filter[account_class]=x', /not a valid integer/],
      ['filter[account_class]=1&filter-op[account_class]=contains', /applies to text fields/],
      ['filter[account_class]=1&filter-op[account_class]=between', /needs two values/],
    ];
    for (const [query, message] of cases) {
      const response = await api.get(`entities/Accounts?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body.message, query).toMatch(message);
    }
  });

  it('pages forward with first/after and backward with last/before, in Pipeliner cursor form', async () => {
    const page1 = await api.get('entities/Accounts?first=2');
    expect(page1.body.data.map((row: any) => row.name)).toEqual(['Alpha Corp', 'beta ltd']);
    expect(page1.body.page_info).toMatchObject({ has_next_page: true, has_previous_page: false });
    expect(page1.body.total).toBe(5);
    expect(decodeCursor(page1.body.page_info.end_cursor)).toEqual([accounts[1].id]);

    const page2 = await api.get(`entities/Accounts?first=2&after=${page1.body.page_info.end_cursor}`);
    expect(page2.body.data.map((row: any) => row.name)).toEqual(['Gamma Corp', 'Delta']);
    const page3 = await api.get(`entities/Accounts?first=2&after=${page2.body.page_info.end_cursor}`);
    expect(page3.body.data.map((row: any) => row.name)).toEqual(['Epsilon Corp']);
    expect(page3.body.page_info.has_next_page).toBe(false);

    const back = await api.get(`entities/Accounts?last=2&before=${page3.body.page_info.start_cursor}`);
    expect(back.body.data.map((row: any) => row.name)).toEqual(['Gamma Corp', 'Delta']);
    expect(back.body.page_info).toMatchObject({ has_previous_page: true, has_next_page: true });
  });

  it('orders by several keys, descending with -, nulls first ascending, and pages through that order', async () => {
    const ordered = await api.get('entities/Accounts?order-by=-account_class,city&first=100');
    expect(ordered.body.data.map((row: any) => row.name)).toEqual(['Delta', 'Gamma Corp', 'beta ltd', 'Alpha Corp', 'Epsilon Corp']);

    const seen: string[] = [];
    let after = '';
    for (let pages = 0; pages < 5; pages++) {
      const page = await api.get(`entities/Accounts?order-by=city,-name&first=2${after}`);
      seen.push(...page.body.data.map((row: any) => row.name));
      if (!page.body.page_info.has_next_page) break;
      expect(decodeCursor(page.body.page_info.end_cursor)).toHaveLength(3);
      after = `&after=${page.body.page_info.end_cursor}`;
    }
    expect(seen).toEqual(['Gamma Corp', 'Epsilon Corp', 'beta ltd', 'Delta', 'Alpha Corp']);
  });

  it('rejects an out-of-range page size and a foreign cursor', async () => {
    expect((await api.get('entities/Accounts?first=101')).status).toBe(400);
    expect((await api.get('entities/Accounts?first=0')).status).toBe(400);
    expect((await api.get('entities/Accounts?after=not-a-cursor')).status).toBe(400);
    const page = await api.get('entities/Accounts?first=1');
    const response = await api.get(`entities/Accounts?order-by=name&after=${page.body.page_info.end_cursor}`);
    expect(response.status).toBe(400);
    expect(response.body.message).toContain('order-by');
  });

  it('renders relations as URIs, expands them with expand, and trims with load-only', async () => {
    const contact = await api.create('Contacts', {
      first_name: 'Ada', owner_id: ownerId, account_relations: [{ account_id: accounts[0].id, is_primary: true }],
    });
    expect(contact.primary_account).toMatch(new RegExp(`/entities/Accounts/${accounts[0].id}$`));
    expect(contact.account_relations).toHaveLength(1);
    expect(contact.account_relations[0]).toMatch(/\/entities\/ContactAccountRelations\//);

    const expanded = await api.get(`entities/Contacts/${contact.id}?expand=primary_account,owner.default_unit`);
    expect(expanded.body.data.primary_account).toMatchObject({ id: accounts[0].id, name: 'Alpha Corp' });
    expect(expanded.body.data.owner.default_unit).toMatchObject({ name: 'Company' });

    const trimmed = await api.get(`entities/Contacts/${contact.id}?load-only=first_name,account_relations.account.name`);
    expect(trimmed.body.data).toEqual({
      id: contact.id,
      first_name: 'Ada',
      account_relations: [{ id: expect.any(String), account: { id: accounts[0].id, name: 'Alpha Corp' } }],
    });

    const listed = await api.get(`entities/Accounts?filter[id]=${accounts[0].id}&expand=contact_relations.contact&load-only=name,contact_relations.contact.first_name`);
    expect(listed.body.data[0].contact_relations[0].contact.first_name).toBe('Ada');
  });

  it('rejects unknown expand and load-only paths in the REST API', async () => {
    expect((await api.get('entities/Accounts?expand=nothing')).status).toBe(400);
    expect((await api.get('entities/Accounts?load-only=owner.nothing')).status).toBe(400);
  });
});
