// The entry of ThreadedSender's worker thread (see delivery/threaded-sender.ts). Plain JavaScript that
// registers the TypeScript loader itself: a worker thread does not get it in every way Tidings runs
// (tsx, the bin script, vitest).
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { serveAttempts } = await import('./threaded-sender.ts');
serveAttempts(parentPort, workerData);
