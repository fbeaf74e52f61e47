import { describe, expect, it } from 'vitest';
import { catalogue } from '../../src/domain/entities.js';
import { buildFilter, FilterError, matchesFilter } from '../../src/domain/filter.js';

const account = catalogue.get('Account');
const record = { name: 'Acme Corp', city: null, account_class: 3, is_archived: false, created: '2024-05-01 10:00:00.000000+00:00' };
const matches = (filter: Record<string, unknown>, operators: Record<string, unknown> = {}) =>
  matchesFilter(record, buildFilter(account, filter, operators));

describe('the in-memory filter evaluator (webhook filters)', () => {
  it('treats an array as any-of, and several fields as AND', () => {
    expect(matches({ name: ['Globex', 'Acme Corp'] })).toBe(true);
    expect(matches({ name: 'Acme Corp', account_class: 4 })).toBe(false);
  });

  it('matches not-eq and not-ieq on a null field', () => {
    expect(matches({ city: 'Oslo' }, { city: 'not-eq' })).toBe(true);
    expect(matches({ city: 'Oslo' }, { city: 'not-ieq' })).toBe(true);
    expect(matches({ city: 'Oslo' })).toBe(false);
  });

  it('folds case for the i-operators', () => {
    expect(matches({ name: 'ACME' }, { name: 'istarts' })).toBe(true);
    expect(matches({ name: 'ACME' }, { name: 'starts' })).toBe(false);
    expect(matches({ name: 'corp' }, { name: 'iends' })).toBe(true);
  });

  it('compares dates chronologically whatever the input form', () => {
    expect(matches({ created: '2024-05-01T09:00:00Z' }, { created: 'gt' })).toBe(true);
    expect(matches({ created: '2024-05-01T12:00:00+02:00' }, { created: 'gte' })).toBe(true);
    expect(matches({ created: ['2024-01-01', '2024-12-31'] }, { created: 'between' })).toBe(true);
  });

  it('accepts booleans and numbers given as JSON or as text', () => {
    expect(matches({ is_archived: false })).toBe(true);
    expect(matches({ is_archived: 'false' })).toBe(true);
    expect(matches({ account_class: '3' })).toBe(true);
  });

  it('allows a valueless operator without a filter value', () => {
    expect(matches({}, { city: 'null' })).toBe(true);
  });

  it.each([
    [{ nope: 1 }, {}, /no field 'nope'/],
    [{ name: 'x' }, { name: 'like' }, /not a filter operator/],
    [{ account_class: 'three' }, {}, /not a valid integer/],
    [{ is_archived: 1 }, { is_archived: 'gt' }, /boolean/],
    [{}, { name: 'eq' }, /filter\[name\] is not/],
    [{ name: [] }, {}, /at least one value/],
  ])('refuses %j %j', (filter, operators, message) => {
    expect(() => buildFilter(account, filter, operators)).toThrow(FilterError);
    expect(() => buildFilter(account, filter, operators)).toThrow(message);
  });
});
