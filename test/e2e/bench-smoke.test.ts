// The benchmark harness starts, measures and writes its results file (`npm run bench -- --quick`);
// the figures themselves are for docs/performance.md, not for assertions.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

describe('npm run bench -- --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'tidings-bench-results-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('drains its queue to a receiver process and writes the figures next to the baseline', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--db', 'sqlite', '--out', out], {
      cwd: ROOT,
      timeout: 120_000,
    });
    expect(stdout).toMatch(/baseline .*\/s/);
    expect(stdout).toMatch(/sqlite: drain of 2000 queued deliveries: \d+\/s = [\d.]+ % of the baseline/);
    const [file] = readdirSync(out);
    expect(file).toMatch(/^\d{4}-\d{2}-\d{2}-sqlite-quick\.json$/);
    const results = JSON.parse(readFileSync(join(out, file), 'utf8'));
    expect(results).toMatchObject({ database: 'sqlite', quick: true, versions: { node: process.version } });
    expect(results.figures.baselinePerSecond).toBeGreaterThan(0);
    expect(results.figures.drain).toMatchObject({ deliveries: 2000, perSecond: expect.any(Number), ratioToBaseline: expect.any(Number) });
  }, 150_000);
});
