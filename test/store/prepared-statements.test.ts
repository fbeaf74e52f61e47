// On PostgreSQL, statements with parameters are sent as named (prepared) ones, a bounded number per
// process: a connection prepares each the first time it runs it, and statements past the bound run
// unnamed, with the same results.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/store/database.js';
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
});
