// `npm run build` (scripts/build.js, also run by `npm install` and before `npm start`): every source
// file has its JavaScript in dist/, and a build over an unchanged tree rewrites nothing, so a process
// running from dist/ never reads a file half-written.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDist as build } from '../support/build-dist.js';

const ROOT = join(import.meta.dirname, '..', '..');
const filesUnder = (directory: string): string[] =>
  readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .filter((file) => statSync(join(directory, file)).isFile())
    .map((file) => relative(directory, join(directory, file)));

describe('npm run build', () => {
  it('compiles every source file into dist/ and rewrites none that did not change', () => {
    build();
    const sources = filesUnder(join(ROOT, 'src')).filter((file) => /\.(ts|js)$/.test(file));
    const built = new Set(filesUnder(join(ROOT, 'dist')));
    expect(sources.length).toBeGreaterThan(50);
    for (const source of sources) expect(built, source).toContain(source.replace(/\.ts$/, '.js'));

    const modified = () => sources.map((source) => statSync(join(ROOT, 'dist', source.replace(/\.ts$/, '.js'))).mtimeMs);
    const before = modified();
    build();
    expect(modified()).toEqual(before);
  });
});
