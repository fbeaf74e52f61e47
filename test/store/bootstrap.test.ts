// Start-up on a shared database: migrations and the space bootstrap are safe when several processes
// start at once, and idempotent across restarts.
import { afterEach, describe, expect, it } from 'vitest';
import { catalogue } from '../../src/domain/entities.js';
import { CredentialVerifier } from '../../src/engine/credentials.js';
import { bootstrapSpace } from '../../src/engine/space-bootstrap.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { RecordStore } from '../../src/store/record-store.js';
import { SpaceStore } from '../../src/store/space-store.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../support/databases.js';

describe.each(databaseKinds)('migrations and space bootstrap (%s)', (kind) => {
  const opened: Database[] = [];
  let testDatabase: TestDatabase | undefined;

  afterEach(async () => {
    for (const database of opened.splice(0)) await database.close();
    await testDatabase?.drop();
    testDatabase = undefined;
  });

  const open = async () => {
    testDatabase ??= await createTestDatabase(kind);
    const database = openDatabase(testDatabase.url);
    opened.push(database);
    return database;
  };
  const depsFor = (database: Database) => ({ database, records: new RecordStore(database), spaces: new SpaceStore(), catalogue });
  const countOf = async (database: Database, entity: string) =>
    Number((await database.db.selectFrom('records').select((eb) => eb.fn.countAll().as('n')).where('entity', '=', entity).executeTakeFirstOrThrow()).n);

  it('migrates and seeds a space exactly once when several processes start together', async () => {
    testDatabase = await createTestDatabase(kind);
    const env = { TIDINGS_DATABASE_URL: testDatabase.url };
    const results = await Promise.all([1, 2, 3].map(() => runCli(['create-space', 'shared'], env)));
    const created = results.filter((result) => result.code === 0);
    expect(created, JSON.stringify(results)).toHaveLength(1);
    expect(created[0].stdout).toMatch(/password: \S+/);
    for (const result of results.filter((result) => result.code !== 0)) expect(result.stderr).toContain('already exists');

    const database = await open();
    expect(await countOf(database, 'Step')).toBe(5);
    for (const entity of ['Client', 'SalesUnit', 'Pipeline', 'Currency', 'AccountType', 'ContactType', 'OpportunityType', 'LeadType', 'TaskType', 'AppointmentType']) {
      expect(await countOf(database, entity), entity).toBe(1);
    }
  });

  it('is idempotent across restarts, shows a generated password once, and applies changed credentials', async () => {
    const database = await open();
    await migrateToLatest(database);
    const first = await bootstrapSpace(depsFor(database), 'space_a');
    expect(first.created).toBe(true);
    expect(first.generatedPassword).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    const stored = await new SpaceStore().find(database.db, 'space_a');
    expect(JSON.stringify(stored)).not.toContain(first.generatedPassword);
    expect(new CredentialVerifier().verify(stored!, first.token, first.generatedPassword!)).toBe(true);

    const again = await bootstrapSpace(depsFor(database), 'space_a');
    expect(again).toEqual({ created: false, token: first.token });
    expect(await countOf(database, 'Step')).toBe(5);

    await bootstrapSpace(depsFor(database), 'space_a', { token: 'new-token-1', password: 'new-password-1' });
    const updated = await new SpaceStore().find(database.db, 'space_a');
    const verifier = new CredentialVerifier();
    expect(verifier.verify(updated!, 'new-token-1', 'new-password-1')).toBe(true);
    expect(verifier.verify(updated!, first.token, first.generatedPassword!)).toBe(false);
  });

  it('rejects a malformed space id', async () => {
    const database = await open();
    await migrateToLatest(database);
    await expect(bootstrapSpace(depsFor(database), 'bad space!')).rejects.toThrow(/space id/);
  });
});
