// Statement templates (store/statement-template.ts): built and compiled once per shape, each run binds
// its own values, on both databases.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { slots, StatementTemplate } from '../../src/store/statement-template.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../support/databases.js';

describe.each(databaseKinds)('statement templates (%s)', (kind) => {
  let testDatabase: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDatabase = await createTestDatabase(kind);
    database = openDatabase(testDatabase.url);
    await migrateToLatest(database);
    const spaces = ['one', 'two', 'three', 'four'].map((id, index) => ({ id, api_token: `t${index}`, password_salt: 's', password_hash: 'h', revision: index, created: 'now' }));
    await database.db.insertInto('spaces').values(spaces).execute();
  });
  afterAll(async () => {
    await database.close();
    await testDatabase.drop();
  });

  // The spaces whose id is one of a list, and whose revision is at least a bound.
  const template = () =>
    new StatementTemplate<number, { id: string }>((slot, count) =>
      database.db.selectFrom('spaces').select('id').where('revision', '>=', slot(0)).where('id', 'in', slots(slot, 1, count)).orderBy('id'));
  const ids = (rows: { id: string }[]) => rows.map((row) => row.id);

  it('binds each run its own values, for each shape', async () => {
    const spaces = template();
    expect(ids(await spaces.run(database.db, 2, [0, 'one', 'two']))).toEqual(['one', 'two']);
    // The same shape, other values: nothing of the first run sticks.
    expect(ids(await spaces.run(database.db, 2, [2, 'three', 'one']))).toEqual(['three']);
    expect(ids(await spaces.run(database.db, 3, [1, 'two', 'three', 'four']))).toEqual(['four', 'three', 'two']);
    expect(ids(await spaces.run(database.db, 1, [0, 'nobody']))).toEqual([]);
  });

  it('runs inside a transaction, and sees its writes', async () => {
    const spaces = template();
    await database.db.transaction().execute(async (trx) => {
      await trx.updateTable('spaces').set({ revision: 10 }).where('id', '=', 'one').execute();
      expect(ids(await spaces.run(trx, 2, [10, 'one', 'two']))).toEqual(['one']);
    });
  });

  it('places a value used twice in both places, and keeps constants', async () => {
    const both = new StatementTemplate<'one', { id: string }>((slot) =>
      sql<{ id: string }>`SELECT id FROM spaces WHERE id = ${slot(0)} OR api_token = ${slot(0)} OR id = ${'four'} ORDER BY id`);
    expect(ids(await both.run(database.db, 'one', ['t1']))).toEqual(['four', 'two']);
    expect(ids(await both.run(database.db, 'one', ['three']))).toEqual(['four', 'three']);
  });

  it('runs shapes past those it keeps, correctly', async () => {
    const spaces = template();
    for (let count = 1; count <= 80; count++) {
      const list = Array.from({ length: count }, (_, index) => (index === count - 1 ? 'two' : `absent-${index}`));
      expect(ids(await spaces.run(database.db, count, [0, ...list]))).toEqual(['two']);
    }
  });

  it('refuses a value changed while building, which would bind nothing', async () => {
    const encoded = new StatementTemplate<'one'>((slot) => database.db.selectFrom('spaces').select('id').where('id', '=', JSON.stringify(slot(0))));
    await expect(encoded.run(database.db, 'one', ['one'])).rejects.toThrow(/values 0 were not placed/);
  });
});
