// Builds dist/ (scripts/build.js), which the tests that start the `tidings` command run, as an
// operator does, and the benchmark's Tidings processes. Vitest's global set-up.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export function buildDist(): void {
  execFileSync(process.execPath, [join(import.meta.dirname, '..', '..', 'scripts', 'build.js')], { stdio: 'inherit' });
}

export default buildDist;
