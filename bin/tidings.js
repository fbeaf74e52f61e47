#!/usr/bin/env -S node --max-old-space-size=1024
// Runs the TypeScript CLI through tsx, so `npx tidings …` works without a build step. The heap cap
// keeps V8 from letting garbage pile up on a large machine (docs/operations.md, "Memory").
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
