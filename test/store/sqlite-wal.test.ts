// SQLite's write-ahead log is copied back into the database file by a background thread, not inside
// the writer's commits: the WAL must still stay bounded while a process keeps writing, and every
// committed write must be in the file once the process closes its database.
import { statSync } from 'node:fs';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/store/database.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the SQLite write-ahead log', () => {
  let testDatabase: TestDatabase;
  let database: Database | undefined;

  afterEach(async () => {
    await database?.close();
    await testDatabase.drop();
  });

  it('stays bounded while a process keeps writing, and is all in the database file after close', async () => {
    testDatabase = await createTestDatabase('sqlite');
    const path = testDatabase.url.replace(/^sqlite:/, '');
    database = openDatabase(testDatabase.url);
    await sql`CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`.execute(database.db);
    const body = 'x'.repeat(4_000);
    // About 48 MB in commits of 80 KB, one every 3 ms: a commit lands while every checkpoint runs, as
    // under steady load, so the log is never copied back whole by a checkpoint alone. Paced by the
    // clock, not by a fixed pause after each commit: how far the log grows between the thread's
    // checkpoints (every 250 ms) follows the write rate, and a fast machine with 1 ms pauses wrote
    // so fast that the log passed 24 MB in 4 of 5 runs here, and in 1 of 3 at commit 1d15286
    // (paced, it peaked at 15.6 MB in three runs).
    let largestWal = 0;
    const started = performance.now();
    for (let commit = 0; commit < 600; commit += 1) {
      await database.db.transaction().execute(async (trx) => {
        for (let row = 0; row < 20; row += 1) await sql`INSERT INTO filler (body) VALUES (${body})`.execute(trx);
      });
      largestWal = Math.max(largestWal, statSync(`${path}-wal`).size);
      await sleep(Math.max(1, started + (commit + 1) * 3 - performance.now()));
    }
    // Unchecked, the log would hold it all; checkpointed and started over, it stays near 8 MB.
    expect(largestWal).toBeLessThan(24_000_000);
    await database.close();
    database = openDatabase(`sqlite:${path}`);
    const { rows } = await sql<{ count: number }>`SELECT count(*) AS count FROM filler`.execute(database.db);
    expect(rows[0].count).toBe(12_000);
  });
});
