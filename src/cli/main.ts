// The `tidings` command: the only place that reads the environment, listens, or handles signals.
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { catalogue } from '../domain/entities.js';
import { bootstrapSpace } from '../engine/space-bootstrap.js';
import { createLogger } from '../observability/logger.js';
import { openDatabase } from '../store/database.js';
import { migrateToLatest } from '../store/migrate.js';
import { RecordStore } from '../store/record-store.js';
import { SpaceStore } from '../store/space-store.js';
import { version } from '../version.js';
import { openTidings, openWorkerProcess } from './composition.js';

function readConfig(): Config {
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`tidings: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

async function serve(options: { workers: boolean }) {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  const tidings = await openTidings(config, { logger, workers: options.workers });
  const { bootstrap } = tidings;
  if (bootstrap.generatedPassword) {
    // Shown once, on the terminal only: the password is stored as a hash and never logged.
    process.stdout.write(
      `\nSpace '${config.space}' created. Its API credentials (shown only this once):\n` +
        `  API token:    ${bootstrap.token}\n  API password: ${bootstrap.generatedPassword}\n` +
        `  Try: curl -u '${bootstrap.token}:${bootstrap.generatedPassword}' ${config.publicUrl}/api/v100/rest/spaces/${config.space}/entities/Clients\n\n`,
    );
  }
  stopOnSignals(logger, () => tidings.close());
  await tidings.app.listen({ host: config.host, port: config.port });
  logger.info(`Tidings ${version}: API on ${config.publicUrl}/api/v100/rest/spaces/${config.space}, docs at ${config.publicUrl}/docs`);
}

async function worker() {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  const running = await openWorkerProcess(config, { logger });
  stopOnSignals(logger, () => running.close());
  logger.info(`Tidings ${version}: delivery worker running`);
}

/** SIGTERM / SIGINT: stop claiming, let the attempts in flight finish, close, exit. */
function stopOnSignals(logger: ReturnType<typeof createLogger>, close: () => Promise<void>) {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    await close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

async function migrate() {
  const config = readConfig();
  const database = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(database);
    process.stdout.write('database is up to date\n');
  } finally {
    await database.close();
  }
}

async function createSpace(spaceId: string) {
  const config = readConfig();
  const database = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(database);
    const result = await bootstrapSpace(
      { database, records: new RecordStore(database), spaces: new SpaceStore(), catalogue },
      spaceId,
    );
    if (!result.created) {
      process.stderr.write(`tidings: space '${spaceId}' already exists\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`space: ${spaceId}\ntoken: ${result.token}\npassword: ${result.generatedPassword}\n`);
  } finally {
    await database.close();
  }
}

const program = new Command('tidings').version(version).description('Tidings: a Pipeliner-compatible CRM API with real-time webhooks');
program
  .command('serve')
  .description('serve the API and deliver webhooks (configured by TIDINGS_* environment variables)')
  .option('--no-workers', 'serve the API only, leaving deliveries to `tidings worker` processes (PostgreSQL)')
  .action((options: { workers: boolean }) => serve(options));
program.command('worker').description('deliver webhooks only, beside API processes on the same PostgreSQL database').action(worker);
program.command('migrate').description('bring the database schema up to date and exit').action(migrate);
program
  .command('create-space')
  .argument('<space-id>', 'letters, digits, _ or -')
  .description('create another space with its reference data, and print its credentials once')
  .action(createSpace);

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`tidings: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
