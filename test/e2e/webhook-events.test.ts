// Every kind of event reaches a webhook subscribed to it, with the right entity and related entity,
// in the order SPEC §3 gives, once per event however the subscriptions overlap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';
import { Receiver } from '../support/receiver.js';

describe.each(databaseKinds)('webhook events (%s)', (kind) => {
  let api: TestApi;
  let receiver: Receiver;
  let ownerId: string;
  let otherOwnerId: string;
  let steps: any[];

  beforeAll(async () => {
    api = await TestApi.start(kind, { workers: true });
    receiver = await Receiver.start();
    ownerId = (await api.first('Clients')).id;
    otherOwnerId = (await api.create('Clients', { email: 'second@example.com', first_name: 'Second' })).id;
    steps = (await api.get('entities/Steps?order-by=sort_order')).body.data;
    await api.create('Webhooks', { url: `${receiver.url}/all`, events: ['*'] });
  });
  afterAll(async () => {
    await api.close();
    await receiver.close();
  });

  /** The events received after `write` (and none of the setup before it), once `count` have come. */
  async function eventsAfter(write: () => Promise<unknown>, count: number): Promise<any[]> {
    await api.deliveriesSettled();
    receiver.reset();
    await write();
    await receiver.waitFor((r) => r.items.length >= count, 5_000);
    await receiver.expectQuiet(150);
    return receiver.items;
  }
  const names = (items: any[]) => items.map((item) => item.event);

  it('Create, Update and Delete of a record, Delete carrying its last state', async () => {
    let account: any;
    expect(names(await eventsAfter(async () => (account = await api.create('Accounts', { name: 'Events Co', owner_id: ownerId })), 1))).toEqual(['Account.Create']);
    expect(names(await eventsAfter(() => api.patch(`entities/Accounts/${account.id}`, { city: 'Oslo' }), 1))).toEqual(['Account.Update']);
    const [deleted] = await eventsAfter(() => api.delete(`entities/Accounts/${account.id}`), 1);
    expect(deleted.event).toBe('Account.Delete');
    expect(deleted.entity).toMatchObject({ id: account.id, city: 'Oslo', is_deleted: true });
  });

  it('Update first, then OwnerChanged, Move and Won, from one PATCH', async () => {
    const opportunity = await api.create('Opportunities', {
      name: 'Big deal', owner_id: ownerId, closing_date: '2027-01-01', step_id: steps[0].id, value: { base_value: 5 },
    });
    const items = await eventsAfter(
      () => api.patch(`entities/Opportunities/${opportunity.id}`, { owner_id: otherOwnerId, step_id: steps[4].id }),
      4,
    );
    expect(names(items)).toEqual(['Opportunity.Update', 'Opportunity.OwnerChanged', 'Opportunity.Move', 'Opportunity.Won']);
    expect(items.every((item) => item.entity.status === 3 && item.entity.owner_id === otherOwnerId)).toBe(true);
    expect(new Set(items.map((item) => item.id)).size).toBe(4);
  });

  it('Lost when an opportunity or a lead is archived', async () => {
    const opportunity = await api.create('Opportunities', {
      name: 'Lost deal', owner_id: ownerId, closing_date: '2027-01-01', step_id: steps[1].id, value: { base_value: 5 },
    });
    const lead = await api.create('Leads', { name: 'Lost lead' });
    expect(names(await eventsAfter(() => api.patch(`entities/Opportunities/${opportunity.id}`, { is_archived: true }), 2)))
      .toEqual(['Opportunity.Update', 'Opportunity.Lost']);
    expect(names(await eventsAfter(() => api.patch(`entities/Leads/${lead.id}`, { is_archived: true }), 2)))
      .toEqual(['Lead.Update', 'Lead.Lost']);
  });

  it('Qualify and BackToLead, keeping the id', async () => {
    const lead = await api.create('Leads', { name: 'Convert me', owner_id: ownerId });
    const qualified = await eventsAfter(() => api.post(`entities/Leads/${lead.id}/qualify`, {}), 2);
    expect(names(qualified)).toEqual(['Opportunity.Create', 'Opportunity.Qualify']);
    expect(qualified[1].entity).toMatchObject({ id: lead.id, was_qualified: true });
    const back = await eventsAfter(() => api.post(`entities/Opportunities/${lead.id}/back-to-lead`, {}), 2);
    expect(names(back)).toEqual(['Lead.Create', 'Lead.BackToLead']);
    expect(back[1].entity.id).toBe(lead.id);
  });

  it('DocumentLinked on the record, with the document as related entity', async () => {
    const account = await api.create('Accounts', { name: 'Documented', owner_id: ownerId });
    const document = await api.create('CloudObjects', { filename: 'contract.pdf', mime_type: 'application/pdf' });
    const items = await eventsAfter(() => api.create('CloudObjectRelations', { cloud_object_id: document.id, account_id: account.id }), 1);
    expect(names(items)).toEqual(['Account.DocumentLinked']);
    expect(items[0].entity.id).toBe(account.id);
    expect(items[0].related_entity).toMatchObject({ id: document.id, filename: 'contract.pdf' });
  });

  it('Comment on a task and on a memo, with the comment as related entity', async () => {
    const task = await api.create('Tasks', { subject: 'Call back', owner_id: ownerId });
    const taskItems = await eventsAfter(() => api.create('ActivityComments', { activity_id: task.id, comment: 'Done?' }), 1);
    expect(names(taskItems)).toEqual(['Task.Comment']);
    expect(taskItems[0]).toMatchObject({ entity: { id: task.id }, related_entity: { comment: 'Done?' } });

    const account = await api.create('Accounts', { name: 'Memo target', owner_id: ownerId });
    const memo = await api.create('Memos', { content: 'Remember', account_id: account.id });
    const memoItems = await eventsAfter(() => api.create('MemoComments', { memo_id: memo.id, comment: 'Noted' }), 1);
    expect(names(memoItems)).toEqual(['Memo.Comment']);
    expect(memoItems[0].related_entity.comment).toBe('Noted');
  });

  it('relation entities have their own events, in processing order', async () => {
    const account = await api.create('Accounts', { name: 'Related', owner_id: ownerId });
    const items = await eventsAfter(
      () => api.create('Contacts', { first_name: 'Rel', owner_id: ownerId, account_relations: [{ account_id: account.id }] }),
      2,
    );
    expect(names(items)).toEqual(['Contact.Create', 'ContactAccountRelation.Create']);
    expect(items[1].entity).toMatchObject({ account_id: account.id });
  });

  it('Quote Move, Won and Lost, and custom entity events', async () => {
    const quote = await api.create('Quotes', { name: 'Quote', owner_id: ownerId, step_id: steps[0].id });
    expect(names(await eventsAfter(() => api.patch(`entities/Quotes/${quote.id}`, { step_id: steps[4].id }), 3)))
      .toEqual(['Quote.Update', 'Quote.Move', 'Quote.Won']);
    const type = await api.create('CustomEntityTypes', { name: 'Vehicle', entity_api_name: 'CE_Vehicle' });
    expect(names(await eventsAfter(() => api.create('CustomEntities', { name: 'Van', owner_id: ownerId, type_id: type.id }), 1)))
      .toEqual(['CustomEntity.Create']);
  });

  it('one notification per event when subscriptions overlap', async () => {
    const overlap = await Receiver.start();
    try {
      await api.create('Webhooks', { url: overlap.url, events: ['Product.Create', 'Product.*', '*'] });
      await api.create('Products', { name: 'Widget' });
      await overlap.waitForRequests(1, 5_000);
      await overlap.expectQuiet(300);
      expect(overlap.items.map((item) => item.event)).toEqual(['Product.Create']);
    } finally {
      await overlap.close();
    }
  });

  it('records without events (users, steps, webhooks themselves) notify nobody', async () => {
    await api.deliveriesSettled();
    receiver.reset();
    await api.create('Clients', { email: 'silent@example.com' });
    await api.create('Webhooks', { url: 'https://example.com/never', events: ['Account.Create'] });
    await receiver.expectQuiet(400);
  });
});
