// SQLite's one connection is taken in turns (store/database.ts): in order of arrival, the delivery
// worker's statements before the API's waiting ones, so a claim never waits behind a queue of writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

describe('turns at the SQLite connection', () => {
  let testDatabase: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDatabase = await createTestDatabase('sqlite');
    database = openDatabase(testDatabase.url);
    await migrateToLatest(database);
  });
  afterAll(async () => {
    await database.close();
    await testDatabase.drop();
  });

  it("serves the delivery worker's statements before the API's waiting ones, and the API's in order", async () => {
    const done: string[] = [];
    const read = (db: Database['db'], name: string) => db.selectFrom('spaces').select('id').execute().then(() => done.push(name));
    // An API write holds the connection from BEGIN to COMMIT; meanwhile others arrive.
    const trx = await database.db.startTransaction().execute();
    const waiting = [read(database.db, 'api 1'), read(database.db, 'api 2'), read(database.forDeliveries.db, 'claim'), read(database.db, 'api 3')];
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(done).toEqual([]);
    await trx.commit().execute();
    await Promise.all(waiting);
    expect(done).toEqual(['claim', 'api 1', 'api 2', 'api 3']);
  });

  it('is the same database for both', async () => {
    await database.forDeliveries.db.insertInto('spaces').values({ id: 'turns', api_token: 't', password_salt: 's', password_hash: 'h', revision: 0, created: 'now' }).execute();
    expect(await database.db.selectFrom('spaces').select('id').where('id', '=', 'turns').executeTakeFirst()).toEqual({ id: 'turns' });
  });
});
