import { describe, expect, it } from 'vitest';
import { changedFields, deriveEvents, type RecordChange } from '../../src/domain/event-derivation.js';

const record = (fields: Record<string, unknown>) => ({ id: 'r1', revision: 1, modified: 'm1', ...fields });
const events = (changes: RecordChange[], lookup: Record<string, { entityName: string; record: any }> = {}) =>
  deriveEvents(changes, (id) => lookup[id]).map((occurrence) => occurrence.event);

describe('event derivation', () => {
  it('ignores bookkeeping fields in the diff', () => {
    expect(changedFields(record({ name: 'a' }), { ...record({ name: 'b' }), revision: 2, modified: 'm2' })).toEqual(['name']);
  });

  it('emits Update before the special events, in SPEC order', () => {
    const before = record({ owner_id: 'o1', step_id: 's1', status: 1 });
    const after = record({ owner_id: 'o2', step_id: 's9', status: 3 });
    expect(events([{ operation: 'update', entity: 'Opportunity', before, after }])).toEqual(
      ['Opportunity.Update', 'Opportunity.OwnerChanged', 'Opportunity.Move', 'Opportunity.Won'],
    );
  });

  it('emits only the events an entity has', () => {
    const before = record({ owner_id: 'o1' });
    const after = record({ owner_id: 'o2' });
    expect(events([{ operation: 'update', entity: 'Email', before, after }])).toEqual(['Email.Update']);
    expect(events([{ operation: 'update', entity: 'Client', before, after }])).toEqual([]);
  });

  it('emits Lost for an archived lead, and nothing special when the status goes back', () => {
    expect(events([{ operation: 'update', entity: 'Lead', before: record({ status: 1 }), after: record({ status: 2 }) }])).toEqual(['Lead.Update', 'Lead.Lost']);
    expect(events([{ operation: 'update', entity: 'Lead', before: record({ status: 2 }), after: record({ status: 1 }) }])).toEqual(['Lead.Update']);
  });

  it('emits Create then Qualify, and Create then BackToLead, for the conversions', () => {
    expect(events([{ operation: 'qualify', entity: 'Opportunity', before: record({}), after: record({}) }])).toEqual(['Opportunity.Create', 'Opportunity.Qualify']);
    expect(events([{ operation: 'back-to-lead', entity: 'Lead', before: record({}), after: record({}) }])).toEqual(['Lead.Create', 'Lead.BackToLead']);
  });

  it('derives DocumentLinked for every record a document link names, with the document as related', () => {
    const link = record({ id: 'link', cloud_object_id: 'doc', account_id: 'acc', contact_id: 'con' });
    const lookup = {
      doc: { entityName: 'CloudObject', record: record({ id: 'doc' }) },
      acc: { entityName: 'Account', record: record({ id: 'acc' }) },
      con: { entityName: 'Contact', record: record({ id: 'con' }) },
    };
    const occurrences = deriveEvents([{ operation: 'create', entity: 'CloudObjectRelation', before: null, after: link }], (id) => lookup[id as keyof typeof lookup]);
    expect(occurrences.map((occurrence) => [occurrence.event, occurrence.record.id, occurrence.related?.record.id])).toEqual([
      ['Account.DocumentLinked', 'acc', 'doc'],
      ['Contact.DocumentLinked', 'con', 'doc'],
    ]);
  });

  it('derives Comment on the activity, and nothing for a comment on a missing one', () => {
    const comment = record({ id: 'c1', activity_id: 't1', comment: 'hi' });
    const lookup = { t1: { entityName: 'Task', record: record({ id: 't1' }) } };
    expect(events([{ operation: 'create', entity: 'ActivityComment', before: null, after: comment }], lookup)).toEqual(['Task.Comment']);
    expect(events([{ operation: 'create', entity: 'ActivityComment', before: null, after: comment }])).toEqual([]);
  });
});
