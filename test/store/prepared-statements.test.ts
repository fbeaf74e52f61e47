// On PostgreSQL, statements with parameters are sent as named (prepared) ones, a bounded number per
// process: a connection prepares each the first time it runs it, and statements past the bound run
// unnamed, with the same results. A statement may take its transaction's COMMIT along in the same
// round trip (AND_COMMIT), and what it did is then committed, or, should it fail, nothing is.
import { CompiledQuery, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AND_COMMIT, openDatabase, type Database } from '../../src/store/database.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

describe('prepared statements (postgres)', () => {
  let testDatabase: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDatabase = await createTestDatabase('postgres');
    database = openDatabase(testDatabase.url);
  });
  afterAll(async () => {
    await database.close();
    await testDatabase.drop();
  });

  it('prepares at most 200 distinct statements on a connection, and runs the rest unnamed', async () => {
    await database.db.connection().execute(async (connection) => {
      // 250 distinct statements, each run twice: the second run of a prepared one reuses it.
      for (let run = 0; run < 2; run++) {
        for (let n = 0; n < 250; n++) {
          const { rows } = await sql<{ total: number }>`SELECT CAST(${n} AS INTEGER) + ${sql.raw(String(n))} AS total`.execute(connection);
          expect(rows[0].total).toBe(2 * n);
        }
      }
      const { rows } = await sql<{ name: string; statement: string }>`SELECT name, statement FROM pg_prepared_statements ORDER BY name`.execute(connection);
      expect(rows).toHaveLength(200);
      expect(rows.every((row) => row.name.startsWith('tidings_'))).toBe(true);
      expect(rows.map((row) => row.statement)).toContain('SELECT CAST($1 AS INTEGER) + 199 AS total');
      expect(rows.map((row) => row.statement)).not.toContain('SELECT CAST($1 AS INTEGER) + 200 AS total');
    });
  });

  it('commits a transaction with a statement that takes its COMMIT along, and leaves one whose statement fails to its rollback', async () => {
    await sql`CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)`.execute(database.db);
    const insert = (id: number, text: string | null) => CompiledQuery.raw('INSERT INTO notes (id, text) VALUES ($1, $2) RETURNING id', [id, text, AND_COMMIT]);
    const notes = async () => (await sql<{ id: number }>`SELECT id FROM notes ORDER BY id`.execute(database.db)).rows.map((row) => row.id);

    const committed = await database.db.startTransaction().execute();
    await sql`INSERT INTO notes (id, text) VALUES (1, 'before')`.execute(committed);
    const { rows } = await committed.executeQuery(insert(2, 'with the commit'));
    expect(rows).toEqual([{ id: 2 }]);
    // Committed already: seen from another connection before Kysely's own COMMIT.
    expect(await notes()).toEqual([1, 2]);
    await committed.commit().execute();

    const failed = await database.db.startTransaction().execute();
    await sql`INSERT INTO notes (id, text) VALUES (3, 'before')`.execute(failed);
    await expect(failed.executeQuery(insert(4, null))).rejects.toThrow(/null value in column "text"/);
    await failed.rollback().execute();
    expect(await notes()).toEqual([1, 2]);

    // The connections are as good as new: each of the pool's serves a transaction of its own.
    await Promise.all(Array.from({ length: 25 }, (_, index) => database.db.transaction().execute(async (trx) => {
      await sql`INSERT INTO notes (id, text) VALUES (${10 + index}, 'after')`.execute(trx);
    })));
    expect(await notes()).toHaveLength(27);
  });
});
