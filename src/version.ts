import { readFileSync } from 'node:fs';

/** The package version, for the OpenAPI document and (later) the delivery User-Agent. */
export const version: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
