// Vitest's global set-up: builds dist/ (scripts/build.js), which the tests that start the `tidings`
// command run, as an operator does.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function buildDist(): void {
  execFileSync(process.execPath, [join(import.meta.dirname, '..', '..', 'scripts', 'build.js')], { stdio: 'inherit' });
}
