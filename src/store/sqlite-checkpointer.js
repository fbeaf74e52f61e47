// Runs in a worker thread beside a process that writes a SQLite database (see store/database.ts):
// copies the WAL back into the database file every interval, so the writer never pays for that copy
// and its fsync on its own thread. Plain JavaScript: a worker thread does not get the TypeScript
// loader in every way Tidings runs (tsx, the bin script, vitest).
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const database = new Database(workerData.path);
database.pragma('busy_timeout = 5000');
// PASSIVE: copies what no reader still needs and never blocks the writer.
const timer = setInterval(() => database.pragma('wal_checkpoint(PASSIVE)'), workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  database.close();
  parentPort.close();
});
