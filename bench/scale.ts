// Lists, filters and id look-ups with 100,000 records of one entity in a space, on SQLite and on
// PostgreSQL, each next to the same request on a space of 1,000 records measured in the same run.
// Usage: npm run bench:scale [-- --records 100000 --db sqlite|postgres]
// Loopback only: requests go through Fastify's inject(), the databases are local.
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { parseArgs } from 'node:util';
import { openTidings, type Tidings } from '../src/cli/composition.js';
import { loadConfig } from '../src/config/config.js';
import { formatDateTime } from '../src/domain/dates.js';
import { catalogue } from '../src/domain/entities.js';
import { newId } from '../src/domain/ids.js';
import type { StoredRecord } from '../src/domain/projection.js';
import { bootstrapSpace } from '../src/engine/space-bootstrap.js';
import { RecordStore } from '../src/store/record-store.js';
import { SpaceStore } from '../src/store/space-store.js';
import { createTestDatabase, type DatabaseKind } from '../test/support/databases.js';

const { values: options } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    baseline: { type: 'string', default: '1000' },
    db: { type: 'string' },
    samples: { type: 'string', default: '200' },
  },
});
const RECORDS = Number(options.records);
const BASELINE = Number(options.baseline);
const SAMPLES = Number(options.samples);
const CITIES = Array.from({ length: 50 }, (_, index) => `City ${index}`);
const OWNERS = 10;

interface SpaceUnderTest {
  spaceId: string;
  authorization: string;
  ids: string[];
  ownerIds: string[];
}

async function seedSpace(tidings: Tidings, spaceId: string, count: number): Promise<SpaceUnderTest> {
  const { database } = tidings;
  const records = new RecordStore(database);
  const created = await bootstrapSpace({ database, records, spaces: new SpaceStore(), catalogue }, spaceId);
  const authorization = `Basic ${Buffer.from(`${created.token}:${created.generatedPassword}`).toString('base64')}`;
  const ownerIds: string[] = [];
  for (let index = 0; index < OWNERS; index++) {
    const response = await tidings.app.inject({
      method: 'POST',
      url: `/api/v100/rest/spaces/${spaceId}/entities/Clients`,
      headers: { authorization },
      payload: { email: `owner${index}@bench.test`, first_name: `Owner ${index}` },
    });
    ownerIds.push(response.json().data.id);
  }
  const account = catalogue.get('Account');
  const now = formatDateTime(new Date());
  const ids: string[] = [];
  // Bulk-loaded straight into the table: the subject is reading at this size, not writing.
  for (let start = 0; start < count; start += 1000) {
    const rows = [];
    for (let index = start; index < Math.min(count, start + 1000); index++) {
      const data: Record<string, unknown> = Object.fromEntries(Object.entries(account.fields).map(([field, def]) => [field, def.default ?? null]));
      Object.assign(data, {
        id: newId(Date.now() - count + index),
        name: `Account ${String(index).padStart(6, '0')}`,
        owner_id: ownerIds[index % OWNERS],
        city: CITIES[index % CITIES.length],
        account_class: (index % 5) + 1,
        created: now,
        modified: now,
        revision: index + 1,
        is_deleted: false,
      });
      ids.push(data.id as string);
      rows.push(data as StoredRecord);
    }
    await records.insertMany(database.db, spaceId, 'Account', rows);
  }
  // What autovacuum does in a running system: statistics, and the visibility map for index-only counts.
  if (database.dialect === 'postgres') await sql`VACUUM ANALYZE records`.execute(database.db);
  return { spaceId, authorization, ids, ownerIds };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function measure(tidings: Tidings, space: SpaceUnderTest, path: (index: number) => string) {
  const timings: number[] = [];
  for (let index = 0; index < SAMPLES; index++) {
    const url = `/api/v100/rest/spaces/${space.spaceId}/entities/${path(index)}`;
    const started = performance.now();
    const response = await tidings.app.inject({ method: 'GET', url, headers: { authorization: space.authorization } });
    timings.push(performance.now() - started);
    if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode} ${response.body}`);
  }
  timings.sort((a, b) => a - b);
  return { p50: percentile(timings, 50), p95: percentile(timings, 95) };
}

const scenarios: [string, (space: SpaceUnderTest, index: number) => string][] = [
  ['get by id', (space, index) => `Accounts/${space.ids[(index * 7919) % space.ids.length]}`],
  ['first page, default order', () => 'Accounts'],
  ['filter owner_id (indexed)', (space, index) => `Accounts?filter[owner_id]=${space.ownerIds[index % OWNERS]}`],
  ['filter city eq (scan)', (_space, index) => `Accounts?filter[city]=${encodeURIComponent(CITIES[index % CITIES.length])}`],
  ['filter name icontains (scan)', (_space, index) => `Accounts?filter[name]=${String(index % 1000).padStart(3, '0')}&filter-op[name]=icontains`],
  ['order-by -name, first page', () => 'Accounts?order-by=-name'],
  ['page 2 via cursor', (space) => `Accounts?after=${Buffer.from(JSON.stringify([space.ids[29]])).toString('base64')}`],
];

async function runOn(kind: DatabaseKind) {
  const testDatabase = await createTestDatabase(kind);
  const tidings = await openTidings(loadConfig({ TIDINGS_DATABASE_URL: testDatabase.url, TIDINGS_SPACE: 'bench_setup', TIDINGS_LOG_LEVEL: 'silent' }));
  try {
    const seedStarted = performance.now();
    const small = await seedSpace(tidings, 'bench_small', BASELINE);
    const large = await seedSpace(tidings, 'bench_large', RECORDS);
    console.log(`\n${kind}: seeded ${BASELINE} + ${RECORDS} accounts in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
    console.log(`${'request'.padEnd(30)} ${`${BASELINE} p50`.padStart(10)} ${`${RECORDS} p50`.padStart(12)} ${`${RECORDS} p95`.padStart(12)} ${'ratio p50'.padStart(10)}`);
    const results = [];
    for (const [name, path] of scenarios) {
      const baseline = await measure(tidings, small, (index) => path(small, index));
      const atScale = await measure(tidings, large, (index) => path(large, index));
      const ratio = atScale.p50 / baseline.p50;
      results.push({ name, baseline, atScale, ratio });
      console.log(
        `${name.padEnd(30)} ${baseline.p50.toFixed(2).padStart(8)}ms ${atScale.p50.toFixed(2).padStart(10)}ms ${atScale.p95.toFixed(2).padStart(10)}ms ${ratio.toFixed(2).padStart(9)}x`,
      );
    }
    return results;
  } finally {
    await tidings.close();
    await testDatabase.drop();
  }
}

const kinds: DatabaseKind[] = options.db ? [options.db as DatabaseKind] : ['sqlite', 'postgres'];
for (const kind of kinds) await runOn(kind);
