// Runs in a worker thread beside a process that writes a SQLite database (see store/database.ts):
// copies the WAL back into the database file every interval, so the writer never pays for that copy
// and its fsync on its own thread. Plain JavaScript: a worker thread does not get the TypeScript
// loader in every way the sources run (tsx, vitest).
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const database = new Database(workerData.path);
const timer = setInterval(() => {
  // PASSIVE: copies what no reader still needs and never waits for, or blocks, the writer.
  const [{ log }] = database.pragma('wal_checkpoint(PASSIVE)');
  // The writer starts the log over only when a checkpoint has copied all of it, which this one
  // never manages while commits keep coming (one always lands while it runs): the log would grow
  // without end, and every read get slower. Past a bound, the writer is asked to copy the little
  // that is left itself, between its own transactions, where nothing can be in its way.
  if (log > workerData.restartAfterFrames) parentPort.postMessage('finish-checkpoint');
}, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  database.close();
  parentPort.close();
});
