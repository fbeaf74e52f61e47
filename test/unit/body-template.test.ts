// A delivery rendered before its write's revisions are taken (PostgreSQL): its body is a template the
// revisions statement fills in (domain/body-template.ts). Filled as that statement does, it is the
// JSON with the real revisions.
import { describe, expect, it } from 'vitest';
import { jsonTemplate, SEPARATOR } from '../../src/domain/body-template.js';

/** What the statement does: every second part of the template split at the separator is an offset from the last revision. */
const filled = (template: string, last: number) =>
  template.split(SEPARATOR).map((part, index) => (index % 2 === 1 ? String(last + Number(part)) : part)).join('');

describe('body templates', () => {
  it('put each change its own revision, wherever a record is rendered, and leave other numbers be', () => {
    // Provisional revisions -1 and -2 are the write's first and second change: offsets -1 and 0.
    const offsets = new Map([[-1, -1], [-2, 0]]);
    const items = [
      { event: 'Account.Create', entity: { id: 'a', revision: -1, name: 'Acme', employees: -1 }, related_entity: null },
      { event: 'Contact.Create', entity: { id: 'c', revision: -2, account: { id: 'a', revision: -1 } }, related_entity: { revision: -1 } },
    ];
    const template = jsonTemplate(items, offsets);
    expect(JSON.parse(filled(template, 41))).toEqual([
      { event: 'Account.Create', entity: { id: 'a', revision: 40, name: 'Acme', employees: -1 }, related_entity: null },
      { event: 'Contact.Create', entity: { id: 'c', revision: 41, account: { id: 'a', revision: 40 } }, related_entity: { revision: 40 } },
    ]);
  });

  it('stays exact when the record holds the digits the renderer stands in for a revision, or the separator', () => {
    const offsets = new Map([[-1, 0]]);
    const standIn = String(Number.MAX_SAFE_INTEGER);
    const entity = { id: 'a', revision: -1, code: standIn, amount: Number.MAX_SAFE_INTEGER, note: `a${SEPARATOR}b` };
    const template = jsonTemplate([{ entity }], offsets);
    expect(JSON.parse(filled(template, 7))).toEqual([{ entity: { ...entity, revision: 7 } }]);
  });

  it('is the plain JSON where the revisions are known', () => {
    const items = [{ entity: { id: 'a', revision: 12 } }];
    expect(jsonTemplate(items, new Map())).toBe(JSON.stringify(items));
  });
});
