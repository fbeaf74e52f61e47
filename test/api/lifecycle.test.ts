import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';

describe.each(databaseKinds)('leads, opportunities and their lifecycle (%s)', (kind) => {
  let api: TestApi;
  let ownerId: string;
  let steps: any[];

  beforeAll(async () => {
    api = await TestApi.start(kind);
    ownerId = (await api.first('Clients')).id;
    steps = (await api.get('entities/Steps?order-by=sort_order')).body.data;
  });
  afterAll(() => api.close());

  const newOpportunity = (fields: Record<string, unknown> = {}) =>
    api.create('Opportunities', {
      name: 'Deal', owner_id: ownerId, closing_date: '2027-06-30', step_id: steps[0].id, value: { base_value: 1000 }, ...fields,
    });

  it('seeds a default pipeline whose last step wins', () => {
    expect(steps.map((step) => step.name)).toEqual(['Qualification', 'Needs Analysis', 'Proposal', 'Negotiation', 'Closed Won']);
  });

  it('moving an opportunity into the last step makes it won, with a won date', async () => {
    const opportunity = await newOpportunity();
    expect(opportunity.status).toBe(1);
    const moved = await api.patch(`entities/Opportunities/${opportunity.id}`, { step_id: steps[2].id });
    expect(moved.body.data.status).toBe(1);
    const won = await api.patch(`entities/Opportunities/${opportunity.id}`, { step_id: steps[4].id });
    expect(won.body.data).toMatchObject({ status: 3, won_date: expect.stringMatching(/\+00:00$/) });
  });

  it('archiving an opportunity makes it lost; archiving a lead makes it lost', async () => {
    const opportunity = await newOpportunity();
    const lost = await api.patch(`entities/Opportunities/${opportunity.id}`, { is_archived: true });
    expect(lost.body.data).toMatchObject({ status: 2, lost_date: expect.any(String) });

    const lead = await api.create('Leads', { name: 'Maybe' });
    expect(lead.status).toBe(1);
    const lostLead = await api.patch(`entities/Leads/${lead.id}`, { is_archived: true });
    expect(lostLead.body.data).toMatchObject({ status: 2, lost_date: expect.any(String) });
  });

  it('qualifies a lead into an opportunity with the same id, keeping its relations', async () => {
    const account = await api.create('Accounts', { name: 'Prospect', owner_id: ownerId });
    const lead = await api.create('Leads', {
      name: 'Hot lead', owner_id: ownerId, account_relations: [{ account_id: account.id, is_primary: true }],
    });
    const response = await api.post(`entities/Leads/${lead.id}/qualify`, { closing_date: '2027-09-01' });
    expect(response.status).toBe(200);
    const opportunity = response.body.data;
    expect(opportunity).toMatchObject({
      id: lead.id, name: 'Hot lead', owner_id: ownerId, closing_date: '2027-09-01', step_id: steps[0].id,
      was_qualified: true, status: 1, table_name: 'opportunity', created: lead.created,
    });
    expect(opportunity.primary_account).toMatch(new RegExp(`/Accounts/${account.id}$`));
    expect((await api.get(`entities/Leads/${lead.id}`)).status).toBe(404);
    expect((await api.get(`entities/Opportunities/${lead.id}`)).status).toBe(200);
  });

  it('turns an opportunity back into a lead, keeping the id', async () => {
    const opportunity = await newOpportunity({ name: 'Cooling down' });
    const response = await api.post(`entities/Opportunities/${opportunity.id}/back-to-lead`, undefined);
    expect(response.status).toBe(200);
    expect(response.body.data).toMatchObject({ id: opportunity.id, name: 'Cooling down', status: 1, table_name: 'lead' });
    expect((await api.get(`entities/Opportunities/${opportunity.id}`)).status).toBe(404);
  });

  it('refuses to qualify something that is not a live lead', async () => {
    const opportunity = await newOpportunity();
    expect((await api.post(`entities/Leads/${opportunity.id}/qualify`, {})).status).toBe(404);
    const lead = await api.create('Leads', { name: 'Bad qualify' });
    const invalid = await api.post(`entities/Leads/${lead.id}/qualify`, { step_id: 'nope' });
    expect(invalid.status).toBe(422);
  });

  it('derives primary_account and primary_contact from the relation rows', async () => {
    const account = await api.create('Accounts', { name: 'Primary Inc', owner_id: ownerId });
    const other = await api.create('Accounts', { name: 'Secondary Inc', owner_id: ownerId });
    const contact = await api.create('Contacts', { last_name: 'Lovelace', owner_id: ownerId });
    const opportunity = await newOpportunity({
      account_relations: [{ account_id: other.id }, { account_id: account.id, is_primary: true }],
      contact_relations: [{ contact_id: contact.id, is_primary: true }],
    });
    const expanded = await api.get(`entities/Opportunities/${opportunity.id}?expand=primary_account,primary_contact&load-only=primary_account.name,primary_contact.last_name`);
    expect(expanded.body.data).toEqual({
      id: opportunity.id,
      primary_account: { id: account.id, name: 'Primary Inc' },
      primary_contact: { id: contact.id, last_name: 'Lovelace' },
    });
    // an inline array replaces the rows: left-out ones are deleted
    await api.patch(`entities/Opportunities/${opportunity.id}`, { account_relations: [{ account_id: other.id, is_primary: true }] });
    const after = await api.get(`entities/Opportunities/${opportunity.id}?expand=primary_account`);
    expect(after.body.data.primary_account.id).toBe(other.id);
    expect(after.body.data.account_relations).toHaveLength(1);
  });
});
