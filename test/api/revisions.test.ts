// `revision` (reference §4.8): one counter per space, advanced for every record written. A write takes
// its revisions just before it commits; what a client sees of them must not show it: the response,
// the stored record and the webhook notification agree, a batch numbers its records in order, and a
// client syncing by revision (everything above the highest it has seen) never misses a record, however
// many writers there are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverySequence } from '../../src/domain/notification.js';
import { TestApi } from '../support/api.js';
import { databaseKinds } from '../support/databases.js';
import { Receiver } from '../support/receiver.js';

describe.each(databaseKinds)('revisions (%s)', (kind) => {
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

  const revisionOf = async (id: string) => (await api.get(`entities/Accounts/${id}`)).body.data.revision as number;

  it('shows a write the same revision in its response, its stored record and its notification', async () => {
    const webhook = await api.create('Webhooks', { url: `${receiver.url}/revisions`, events: ['Account.*'] });
    const earlier = await api.create('Accounts', { name: 'Earlier', owner_id: ownerId });
    const created = await api.create('Accounts', { name: 'Numbered', owner_id: ownerId });
    const updated = (await api.patch(`entities/Accounts/${created.id}`, { name: 'Renumbered' })).body.data;

    expect(created.revision).toBeGreaterThan(earlier.revision);
    expect(updated.revision).toBeGreaterThan(created.revision);
    expect(await revisionOf(created.id)).toBe(updated.revision);
    const requests = await receiver.waitForRequests(3);
    const notified = requests.flatMap((request) => request.json).filter((item: any) => item.entity.id === created.id);
    expect(notified.map((item: any) => [item.event, item.entity.revision])).toEqual([
      ['Account.Create', created.revision],
      ['Account.Update', updated.revision],
    ]);
    await api.delete(`entities/Webhooks/${webhook.id}`);
  });

  it("shows each write its own revision in its notification while another process writes in the space between", async () => {
    // Each process renders a write's notifications for the revisions it expects, the ones after the
    // last it took; whenever the other process wrote in between, that guess is wrong.
    const other = await api.alongside();
    try {
      const webhook = await api.create('Webhooks', { url: `${receiver.url}/interleaved`, events: ['Account.Create'] });
      const writers = [api, api, other, api, other, other, api, api];
      const created: { id: string; revision: number }[] = [];
      for (const [index, writer] of writers.entries()) created.push(await writer.create('Accounts', { name: `Interleaved ${index}`, owner_id: ownerId }));
      const interleaved = () => receiver.requests.filter((request) => request.path === '/interleaved');
      await receiver.waitFor(() => interleaved().length >= writers.length);
      const notified = new Map(interleaved().flatMap((request) => request.json).map((item: any) => [item.entity.id, item.entity.revision]));
      for (const { id, revision } of created) {
        expect(notified.get(id)).toBe(revision);
        expect(await revisionOf(id)).toBe(revision);
      }
      // Deliveries are ordered per record by their write's last revision.
      const links = await api.tidings.database.db.selectFrom('delivery_records').select(['record_id', 'sequence']).where('record_id', 'in', created.map(({ id }) => id)).execute();
      expect(new Map(links.map((link) => [link.record_id, Number(link.sequence)]))).toEqual(new Map(created.map(({ id, revision }) => [id, deliverySequence(revision, 0)])));
      await api.delete(`entities/Webhooks/${webhook.id}`);
    } finally {
      await other.close();
    }
  });

  it('numbers the records of a batch in order; a record written twice keeps the later revision, a failed item takes none', async () => {
    const [a, b] = (await api.post('entities/Accounts/batch-modify', [
      { name: 'Batch A', owner_id: ownerId },
      { name: 'Batch B', owner_id: ownerId },
    ])).body.data as string[];
    expect(await revisionOf(b)).toBe((await revisionOf(a)) + 1);

    const before = await revisionOf(b);
    const twice = await api.post('entities/Accounts/batch-modify', [
      { id: a, name: 'Batch A once' },
      { id: b, name: 'Batch B once' },
      { id: a, name: 'Batch A twice' },
    ]);
    expect(twice.status).toBe(200);
    expect(await revisionOf(b)).toBe(before + 2);
    expect(await revisionOf(a)).toBe(before + 3);

    // An item that fails (rollback-method 1) takes no revision: the items around it are consecutive.
    const skipping = await api.post('entities/Accounts/batch-modify?rollback-method=1', [
      { name: 'Kept 1', owner_id: ownerId },
      { name: 'Skipped', owner_id: '00000000-0000-4000-8000-000000000000' },
      { name: 'Kept 2', owner_id: ownerId },
    ]);
    const [kept1, skipped, kept2] = skipping.body.data;
    expect(skipped).toMatchObject({ success: false, entity_index: 1 });
    expect(await revisionOf(kept1)).toBe(before + 4);
    expect(await revisionOf(kept2)).toBe(before + 5);
  });

  it('numbers a batch larger than one statement stores at once (500 records) in order, and the next write after it', async () => {
    const names = Array.from({ length: 1_000 }, (_, index) => ({ name: `Large batch ${index}`, owner_id: ownerId }));
    const response = await api.post('entities/Accounts/batch-modify', names);
    expect(response.status).toBe(200);
    const ids = response.body.data as string[];
    const first = await revisionOf(ids[0]);
    for (const index of [1, 499, 500, 501, 999]) expect(await revisionOf(ids[index])).toBe(first + index);
    const next = await api.create('Accounts', { name: 'After the large batch', owner_id: ownerId });
    expect(next.revision).toBe(first + 1_000);
  });

  it('lets a client syncing by revision see every record while many writers write', async () => {
    const seen = new Set<string>();
    let highest = (await api.create('Accounts', { name: 'Sync start', owner_id: ownerId })).revision as number;
    const sync = async () => {
      const page = await api.get(`entities/Accounts?filter[revision]=${highest}&filter-op[revision]=gt&order-by=revision&first=100`);
      expect(page.status).toBe(200);
      for (const record of page.body.data) {
        seen.add(record.id);
        highest = Math.max(highest, record.revision);
      }
    };
    const written: string[] = [];
    let writing = true;
    const syncing = (async () => {
      while (writing) {
        await sync();
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    await Promise.all(Array.from({ length: 8 }, async (_, writer) => {
      for (let index = 0; index < 25; index += 1) {
        written.push((await api.create('Accounts', { name: `Sync ${writer}-${index}`, owner_id: ownerId })).id);
      }
    }));
    writing = false;
    await syncing;
    await sync();
    expect(written.filter((id) => !seen.has(id))).toEqual([]);
  });
});
