// The benchmark harness starts, measures and writes its results file (`npm run bench -- --quick`);
// the figures themselves are for docs/performance.md, not for assertions.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresCpuSeconds } from '../../bench/harness.js';
import { POSTGRES_ADMIN_URL } from '../support/databases.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

describe('npm run bench -- --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'tidings-bench-results-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs every scenario against its receiver and writes each figure, next to the baseline and the targets', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--db', 'sqlite', '--out', out], {
      cwd: ROOT,
      timeout: 170_000,
    });
    expect(stdout).toMatch(/sqlite: baseline .*: [\d,]+\/s/);
    expect(stdout).toMatch(/sqlite: drain of 5,000 queued deliveries: [\d,]+\/s = [\d.]+ % of the baseline around it \([\d,]+\/s/);
    expect(stdout).toMatch(/sqlite: steady, [\d,]+ writes\/s of 500 scheduled, for 5 s: write → receipt: p50 [\d.,]+ ms, p95 [\d.,]+ ms, p99 [\d.,]+ ms/);
    expect(stdout).toMatch(/sqlite: fan-out, one write to 1,000 webhooks: first received after [\d,]+ ms, all after [\d,]+ ms/);
    expect(stdout).toMatch(/sqlite: isolation, nine healthy webhooks beside a silent one: /);
    const [file] = readdirSync(out);
    expect(file).toMatch(/^\d{4}-\d{2}-\d{2}-sqlite-quick\.json$/);
    const results = JSON.parse(readFileSync(join(out, file), 'utf8'));
    expect(results).toMatchObject({ database: 'sqlite', quick: true, versions: { node: process.version }, sqlite: { synchronous: 'normal' } });
    const { figures } = results;
    expect(figures.baseline.perSecond).toBeGreaterThan(0);
    expect(figures.drain).toMatchObject({ deliveries: 5_000, perSecond: expect.any(Number), ratioToBaseline: expect.any(Number) });
    // The ratio is to the baseline's rounds on both sides of the drain.
    expect(figures.drain.baselineAfter.rounds).toHaveLength(figures.baseline.rounds.length);
    expect(figures.drain.ratioToBaseline).toBeCloseTo(figures.drain.perSecond / figures.drain.baselineAround, 6);
    expect(figures.steady.writeToReceipt.count).toBe(figures.steady.writes);
    expect(figures.fanOut.allReceivedMs).toBeGreaterThanOrEqual(figures.fanOut.firstReceivedMs);
    expect(figures.matching.map((size: { webhooks: number }) => size.webhooks)).toEqual([10, 100, 1_000]);
    expect(figures.backlog.peakRssMb).toBeGreaterThan(0);
    expect(figures.isolation.ratio).toBeGreaterThan(0);
    // One line per target, met or not.
    expect(results.targets.map((target: { figure: string }) => target.figure)).toHaveLength(6);
  }, 180_000);
});

describe("the benchmark's reading of PostgreSQL's CPU", () => {
  it('counts the work of a connection that has since closed', async () => {
    const before = postgresCpuSeconds();
    expect(before).toBeGreaterThan(0);
    const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    const started = performance.now();
    await client.connect();
    // A few hundred milliseconds of one backend's CPU.
    await client.query('SELECT count(*) FROM generate_series(1, 5000000)');
    await client.end();
    const seconds = (performance.now() - started) / 1_000;
    // The backend has exited; its time now counts among the server's ended children.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const used = postgresCpuSeconds()! - before!;
    expect(used).toBeGreaterThan(0.1);
    // No more than the query's time (one backend), with a margin for the server's own processes.
    expect(used).toBeLessThan(seconds + 0.5);
  });
});
