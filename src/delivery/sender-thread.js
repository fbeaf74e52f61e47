// The entry of ThreadedSender's worker thread (see delivery/threaded-sender.ts): it loads the module
// that started it, the same file its parent runs. That is JavaScript when Tidings runs from dist/
// (`npm start`), TypeScript when it runs from the sources (the tests): then this entry, plain
// JavaScript, registers the TypeScript loader itself, as a worker thread does not get it in every
// way the sources run (tsx, vitest).
import { parentPort, workerData } from 'node:worker_threads';

const { module, settings } = workerData;
if (module.endsWith('.ts')) (await import('tsx/esm/api')).register();
const { serveAttempts } = await import(module);
serveAttempts(parentPort, settings);
