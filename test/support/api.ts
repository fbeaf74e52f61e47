// A Tidings app on a fresh database, driven through inject(): the same stack a client meets, minus
// the socket. Each suite opens its own and closes it.
import type { FastifyInstance, InjectOptions } from 'fastify';
import { openTidings, type Tidings } from '../../src/cli/composition.js';
import { loadConfig } from '../../src/config/config.js';
import { catalogue } from '../../src/domain/entities.js';
import { bootstrapSpace } from '../../src/engine/space-bootstrap.js';
import { hashPassword } from '../../src/engine/credentials.js';
import { RecordStore } from '../../src/store/record-store.js';
import { SpaceStore } from '../../src/store/space-store.js';
import { createTestDatabase, type DatabaseKind, type TestDatabase } from './databases.js';

export const SPACE = 'test_space';
export const TOKEN = 'test-token-1';
export const PASSWORD = 'test-password-1';
export const PUBLIC_URL = 'http://tidings.test';

export interface ApiResponse {
  status: number;
  headers: Record<string, unknown>;
  body: any;
}

type StartOptions = {
  workers?: boolean;
  retrySchedule?: string;
  deliveryTimeoutMs?: number;
  workerPollIntervalMs?: number;
  /** TIDINGS_ALLOW_PRIVATE_TARGETS; the tests' receivers listen on 127.0.0.1, allowed by default. */
  allowPrivateTargets?: string;
  /** Any other TIDINGS_* settings. */
  env?: Record<string, string>;
};

export class TestApi {
  private constructor(
    public tidings: Tidings,
    private readonly database: TestDatabase,
  ) {}

  private static async open(database: TestDatabase, options: StartOptions): Promise<Tidings> {
    const config = loadConfig({
      TIDINGS_DATABASE_URL: database.url,
      TIDINGS_SPACE: SPACE,
      TIDINGS_API_TOKEN: TOKEN,
      TIDINGS_API_PASSWORD: PASSWORD,
      TIDINGS_PUBLIC_URL: PUBLIC_URL,
      TIDINGS_RETRY_SCHEDULE: options.retrySchedule,
      TIDINGS_DELIVERY_TIMEOUT_MS: options.deliveryTimeoutMs?.toString(),
      TIDINGS_ALLOW_PRIVATE_TARGETS: options.allowPrivateTargets ?? '127.0.0.0/8',
      ...options.env,
    });
    return openTidings(config, { workers: options.workers, workerPollIntervalMs: options.workerPollIntervalMs });
  }

  /**
   * Opens Tidings on a fresh database. With `workers`, a delivery worker runs too, on a retry
   * schedule given in seconds (short, so tests see retries).
   */
  static async start(kind: DatabaseKind = 'sqlite', options: StartOptions = {}): Promise<TestApi> {
    const database = await createTestDatabase(kind);
    return new TestApi(await TestApi.open(database, options), database);
  }

  /** Stops this Tidings as a crash would leave its data, and starts a new one on the same database. */
  async restart(options: StartOptions = {}): Promise<void> {
    await this.tidings.close();
    this.tidings = await TestApi.open(this.database, options);
  }

  /** Another Tidings on the same database, as a second process would be; closing it leaves the database. */
  async alongside(options: StartOptions = {}): Promise<TestApi> {
    return new TestApi(await TestApi.open(this.database, options), { ...this.database, drop: async () => {} });
  }

  get app(): FastifyInstance {
    return this.tidings.app;
  }

  /** Creates another space; returns Basic credentials for it. */
  async createSpace(spaceId: string): Promise<{ token: string; password: string }> {
    const { database } = this.tidings;
    const result = await bootstrapSpace(
      { database, records: new RecordStore(database), spaces: new SpaceStore(), catalogue },
      spaceId,
    );
    return { token: result.token, password: result.generatedPassword! };
  }

  /** Gives a space new credentials in the database, as another process starting with them would. */
  async changeCredentials(spaceId: string, credentials: { token: string; password: string }): Promise<void> {
    await new SpaceStore().updateCredentials(this.tidings.database.db, spaceId, { api_token: credentials.token, ...hashPassword(credentials.password) });
  }

  async request(
    method: InjectOptions['method'],
    path: string,
    options: { body?: unknown; space?: string; auth?: { token: string; password: string } | null; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse> {
    const auth = options.auth === undefined ? { token: TOKEN, password: PASSWORD } : options.auth;
    const headers: Record<string, string> = { ...options.headers };
    if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.token}:${auth.password}`).toString('base64')}`;
    const url = path.startsWith('/') ? path : `/api/v100/rest/spaces/${options.space ?? SPACE}/${path}`;
    const response = await this.app.inject({
      method,
      url,
      headers,
      ...(options.body === undefined ? {} : { payload: options.body as string }),
    });
    const text = response.body;
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON (e.g. the HTML of /docs)
    }
    return { status: response.statusCode, headers: response.headers, body };
  }

  get = (path: string, options?: Parameters<TestApi['request']>[2]) => this.request('GET', path, options);
  post = (path: string, body: unknown, options?: Parameters<TestApi['request']>[2]) => this.request('POST', path, { ...options, body });
  patch = (path: string, body: unknown, options?: Parameters<TestApi['request']>[2]) => this.request('PATCH', path, { ...options, body });
  delete = (path: string, options?: Parameters<TestApi['request']>[2]) => this.request('DELETE', path, options);

  /** Creates a record and returns it; fails the test with the error body otherwise. */
  async create(plural: string, fields: Record<string, unknown>, space?: string): Promise<any> {
    const response = await this.post(`entities/${plural}`, fields, { space });
    if (response.status !== 201) throw new Error(`create ${plural} failed: ${JSON.stringify(response.body)}`);
    return response.body.data;
  }

  /** The first record of a collection (the seeded reference data). */
  async first(plural: string, query = ''): Promise<any> {
    const response = await this.get(`entities/${plural}${query}`);
    return response.body.data[0];
  }

  /** Waits (at most `timeoutMs`) until no delivery is pending: every write so far has been sent. */
  async deliveriesSettled(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await this.tidings.database.db
        .selectFrom('deliveries')
        .select((eb) => eb.fn.countAll().as('pending'))
        .where('status', '=', 'pending')
        .executeTakeFirstOrThrow();
      if (Number(row.pending) === 0) return;
      if (Date.now() > deadline) throw new Error(`${row.pending} deliveries still pending after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async close(): Promise<void> {
    await this.tidings.close();
    await this.database.drop();
  }
}
