// Property: for random records and random filters, the SQL filter and the in-memory evaluator (which
// the webhook engine uses) select exactly the same records, on SQLite and on PostgreSQL.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalogue, baseFields, type EntityDef } from '../../src/domain/catalogue.js';
import { buildFilter, filterOperators, matchesFilter, type FilterOperator } from '../../src/domain/filter.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { RecordStore } from '../../src/store/record-store.js';
import { SpaceStore } from '../../src/store/space-store.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../support/databases.js';

// A test entity with one field of each filterable type.
const probe: EntityDef = {
  name: 'Probe',
  plural: 'Probes',
  description: 'filter property test',
  fields: {
    ...baseFields,
    label: { type: 'string' },
    count: { type: 'integer' },
    ratio: { type: 'float' },
    flag: { type: 'boolean' },
    day: { type: 'date' },
    moment: { type: 'datetime' },
    ref: { type: 'uuid' },
  },
  toMany: {},
  derived: {},
  requireOneOf: [],
};
const probeCatalogue = new Catalogue([probe]);

// Small alphabets make collisions (equal values, shared prefixes) likely, which is where bugs hide.
const text = fc.string({ unit: fc.constantFrom('a', 'B', 'b', 'Ab', 'é', 'É', ' ', '%', '_', '😀', ','), maxLength: 4 });
const day = fc.constantFrom('2024-01-01', '2024-01-02', '2024-12-31', '2025-06-15');
const moment = fc.constantFrom(
  '2024-01-01 00:00:00.000000+00:00', '2024-01-01 12:30:00.500000+00:00', '2025-02-03 04:05:06.000007+00:00',
);
const ref = fc.constantFrom('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-00000000000a', 'ffffffff-0000-4000-8000-000000000000');
const nullable = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: null, freq: 4 });

const valuesByField = {
  label: text,
  count: fc.integer({ min: -3, max: 3 }),
  ratio: fc.constantFrom(-1.5, 0, 0.25, 2, 1e6),
  flag: fc.boolean(),
  day,
  moment,
  ref,
} as const;
type ProbeField = keyof typeof valuesByField;
const fieldNames = Object.keys(valuesByField) as ProbeField[];

const recordArbitrary = fc.record(
  Object.fromEntries(fieldNames.map((field) => [field, nullable(valuesByField[field] as fc.Arbitrary<unknown>)])) as Record<ProbeField, fc.Arbitrary<unknown>>,
);

const conditionArbitrary = fc
  .tuple(fc.constantFrom(...fieldNames), fc.constantFrom(...filterOperators))
  .chain(([field, operator]) =>
    fc.record({
      field: fc.constant(field),
      operator: fc.constant(operator as FilterOperator),
      values: fc.array(valuesByField[field] as fc.Arbitrary<unknown>, { minLength: 1, maxLength: 3 }),
    }),
  );

/** Builds a filter the parser accepts from a random condition list, or null when it (rightly) refuses. */
function toFilter(conditions: { field: ProbeField; operator: FilterOperator; values: unknown[] }[]) {
  const filter: Record<string, unknown> = {};
  const operators: Record<string, unknown> = {};
  for (const condition of conditions) {
    filter[condition.field] = condition.operator === 'between' ? condition.values.slice(0, 2) :
      ['gt', 'gte', 'lt', 'lte'].includes(condition.operator) ? condition.values[0] : condition.values;
    operators[condition.field] = condition.operator;
  }
  try {
    return buildFilter(probe, filter, operators);
  } catch {
    return null;
  }
}

describe.each(databaseKinds)('SQL filters agree with the in-memory evaluator (%s)', (kind) => {
  let testDatabase: TestDatabase;
  let database: Database;
  let store: RecordStore;
  let run = 0;

  beforeAll(async () => {
    testDatabase = await createTestDatabase(kind);
    database = openDatabase(testDatabase.url);
    await migrateToLatest(database);
    store = new RecordStore(database);
  });
  afterAll(async () => {
    await database.close();
    await testDatabase.drop();
  });

  it('on random records and random filters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordArbitrary, { minLength: 1, maxLength: 12 }),
        fc.array(conditionArbitrary, { minLength: 1, maxLength: 3 }),
        async (records, rawConditions) => {
          const conditions = toFilter(rawConditions);
          fc.pre(conditions !== null);
          const spaceId = `probe_${run++}`;
          await new SpaceStore().insertIfAbsent(database.db, {
            id: spaceId, api_token: 't', password_salt: 's', password_hash: 'h', revision: 0, created: 'now',
          });
          const stored = records.map((fields, index) => ({
            id: `00000000-0000-7000-8000-${String(index).padStart(12, '0')}`,
            is_deleted: false,
            ...fields,
          }));
          for (const record of stored) await store.insert(database.db, spaceId, 'Probe', record);

          const result = await store.list(database.db, {
            spaceId, entity: probeCatalogue.get('Probe'), conditions: conditions!, sortKeys: [], includeDeleted: false, first: 100,
          });
          const fromSql = result.rows.map((row) => row.id);
          const inMemory = stored.filter((record) => matchesFilter(record, conditions!)).map((record) => record.id);
          expect(fromSql, JSON.stringify({ stored, conditions })).toEqual(inMemory);
          expect(result.total).toBe(inMemory.length);
        },
      ),
      { numRuns: 150 },
    );
  });
});
