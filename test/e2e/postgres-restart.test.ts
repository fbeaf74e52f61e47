// Workers survive a PostgreSQL restart: they lose their connections, retry, reconnect (the wake-up
// listener too), and deliver everything, with no help. Runs on a private server it can restart.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivatePostgres } from '../support/private-postgres.js';
import { startCli } from '../support/cli.js';
import { Receiver } from '../support/receiver.js';

const AUTH = `Basic ${Buffer.from('restart-token:restart-password').toString('base64')}`;

describe('a PostgreSQL restart', () => {
  let postgres: PrivatePostgres;
  let receiver: Receiver;
  const children: ChildProcess[] = [];
  let apiUrl: string;

  /** An API call, retried while the server comes back (bounded). */
  const post = async (path: string, body: unknown) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const response = await fetch(`${apiUrl}/api/v100/rest/spaces/restart_space/entities/${path}`, {
          method: 'POST',
          headers: { authorization: AUTH, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (response.status < 500) return (await response.json()) as any;
      } catch {
        // the API process itself is fine; its database connection is what comes back
      }
      if (Date.now() > deadline) throw new Error(`POST ${path} kept failing`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  beforeAll(async () => {
    postgres = await PrivatePostgres.start();
    receiver = await Receiver.start();
    const env = {
      TIDINGS_DATABASE_URL: postgres.url,
      TIDINGS_SPACE: 'restart_space',
      TIDINGS_API_TOKEN: 'restart-token',
      TIDINGS_API_PASSWORD: 'restart-password',
      TIDINGS_PORT: '0',
      TIDINGS_ALLOW_PRIVATE_TARGETS: '127.0.0.0/8',
      TIDINGS_RETRY_SCHEDULE: '1,1,1',
    };
    const server = await startCli(['serve', '--no-workers'], env, children);
    apiUrl = /Server listening at (http:\/\/[\d.:]+)/.exec(server.output())![1];
    await startCli(['worker'], env, children);
  }, 60_000);
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await receiver.close();
    postgres?.stop();
  });

  it('leaves the workers delivering afterwards, without help', async () => {
    await post('Webhooks', { url: `${receiver.url}/after-restart`, events: ['Product.Create'], options: { chunk_size: 1 } });
    await post('Products/batch-modify', Array.from({ length: 50 }, (_, index) => ({ name: `before ${index}` })));
    await receiver.waitFor((r) => r.requests.length >= 50, 20_000);

    postgres.restart();
    await post('Products/batch-modify', Array.from({ length: 50 }, (_, index) => ({ name: `after ${index}` })));
    await receiver.waitFor((r) => new Set(r.items.map((item) => item.entity.name)).size >= 100, 30_000);
    const names = new Set(receiver.items.map((item) => item.entity.name));
    expect([...names].filter((name) => name.startsWith('after'))).toHaveLength(50);
  }, 90_000);
});
