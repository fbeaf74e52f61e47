import { describe, expect, it } from 'vitest';
import { catalogue } from '../../src/domain/entities.js';
import type { EventOccurrence } from '../../src/domain/event-derivation.js';
import { clientCanSee, subscribes, WebhookMatcher, type WebhookDefinition } from '../../src/domain/webhook-matching.js';

const webhook = (fields: Partial<WebhookDefinition>): WebhookDefinition => ({
  id: 'w1', url: 'https://example.com', events: ['*'], options: {}, insecure_ssl: false, signature: null,
  client_id: null, application_id: null, is_deleted: false, created: 'c', modified: 'm', ...fields,
});
const occurrence = (event: string, record: Record<string, unknown>, changedFields: string[] = []): EventOccurrence => ({
  event, entityName: event.split('.')[0], record: { id: 'r1', ...record }, before: null, related: null, changedFields,
});
const facts = { skipKeys: [] as string[] };

describe('webhook matching', () => {
  it('subscribes through exact names and wildcards', () => {
    expect(subscribes(['Account.Create'], 'Account.Create')).toBe(true);
    expect(subscribes(['Account.*'], 'Account.OwnerChanged')).toBe(true);
    expect(subscribes(['*'], 'Quote.Won')).toBe(true);
    expect(subscribes(['Account.*'], 'AccountType.Create')).toBe(false);
    expect(subscribes(['Contact.Update'], 'Contact.Create')).toBe(false);
  });

  it('applies the visibility rule of a webhook client', () => {
    const client = { id: 'c1', default_unit_id: 'u1' };
    expect(clientCanSee(null, { id: 'r', share_mode: 1 })).toBe(true);
    expect(clientCanSee(client, { id: 'r', share_mode: 1, owner_id: 'c1' })).toBe(true);
    expect(clientCanSee(client, { id: 'r', share_mode: 1, unit_id: 'u1' })).toBe(true);
    expect(clientCanSee(client, { id: 'r', share_mode: 1, owner_id: 'other' })).toBe(false);
    expect(clientCanSee(client, { id: 'r', share_mode: 0 })).toBe(true);
  });

  it('treats a stored filter that no longer parses as matching nothing', () => {
    const matcher = new WebhookMatcher(catalogue, webhook({ options: { entity: { Account: { filter: { gone: 1 } } } } }), null);
    expect(matcher.matches(occurrence('Account.Create', { name: 'x' }), facts)).toBe(false);
  });

  it('gates only update-type events with on-field-change', () => {
    const matcher = new WebhookMatcher(catalogue, webhook({ options: { entity: { Opportunity: { 'on-field-change': ['name'] } } } }), null);
    expect(matcher.matches(occurrence('Opportunity.Won', {}, ['status']), facts)).toBe(false);
    expect(matcher.matches(occurrence('Opportunity.Won', {}, ['name', 'status']), facts)).toBe(true);
    expect(matcher.matches(occurrence('Opportunity.Qualify', {}), facts)).toBe(true);
    expect(matcher.matches(occurrence('Opportunity.DocumentLinked', {}), facts)).toBe(true);
  });

  it('lets a custom entity type api name key the options and restrict the types', () => {
    const matcher = new WebhookMatcher(catalogue, webhook({
      options: { custom_entity_api_name: ['CE_A'], entity: { CustomEntity: { filter: { name: 'never' } }, CE_A: { filter: { name: 'x' } } } },
    }), null);
    expect(matcher.matches(occurrence('CustomEntity.Create', { name: 'x' }), { skipKeys: [], customEntityApiName: 'CE_A' })).toBe(true);
    expect(matcher.matches(occurrence('CustomEntity.Create', { name: 'x' }), { skipKeys: [], customEntityApiName: 'CE_B' })).toBe(false);
  });
});
