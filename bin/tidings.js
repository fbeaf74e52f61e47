#!/usr/bin/env -S node --max-old-space-size=1024
// Runs the CLI from dist/, which `npm install` builds (scripts/build.js). The heap cap keeps V8 from
// letting garbage pile up on a large machine (docs/operations.md, "Memory").
await import('../dist/cli/main.js');
