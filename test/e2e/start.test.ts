// The first five minutes: `tidings serve` on a fresh SQLite file prints credentials once, serves the
// API over a real socket, survives a restart with the same data, and refuses a bad configuration.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../support/cli.js';

const directory = mkdtempSync(join(tmpdir(), 'tidings-e2e-'));
const env = { TIDINGS_DATABASE_URL: `sqlite:${join(directory, 'tidings.db')}`, TIDINGS_PORT: '0', TIDINGS_SPACE: 'e2e_space' };

interface Running {
  child: ChildProcess;
  output: string;
  baseUrl: string;
}

/** Starts `tidings serve` and waits until it listens (bounded by 30 s). */
function serve(): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(['serve'], env);
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`not listening after 30 s:\n${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, output, baseUrl: match[1] });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
  });
}

const stop = (running: Running) =>
  new Promise<number | null>((resolve) => {
    running.child.removeAllListeners('exit');
    running.child.on('exit', (code) => resolve(code));
    running.child.kill('SIGTERM');
  });

describe('tidings serve on a fresh machine', () => {
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('prints credentials once, serves the API, and keeps them across a restart', async () => {
    const first = await serve();
    const token = /API token:\s+(\S+)/.exec(first.output)?.[1];
    const password = /API password:\s+(\S+)/.exec(first.output)?.[1];
    expect(token && password, first.output).toBeTruthy();
    const authorization = `Basic ${Buffer.from(`${token}:${password}`).toString('base64')}`;
    const clients = await fetch(`${first.baseUrl}/api/v100/rest/spaces/e2e_space/entities/Clients`, { headers: { authorization } });
    expect(clients.status).toBe(200);
    const ownerId = ((await clients.json()) as any).data[0].id;
    const created = await fetch(`${first.baseUrl}/api/v100/rest/spaces/e2e_space/entities/Accounts`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Survives restarts', owner_id: ownerId }),
    });
    expect(created.status).toBe(201);
    expect(first.output).not.toMatch(new RegExp(`"msg":"[^"]*${password}`));
    expect(await stop(first)).toBe(0);

    const second = await serve();
    expect(second.output).not.toContain('API password');
    const listed = await fetch(`${second.baseUrl}/api/v100/rest/spaces/e2e_space/entities/Accounts`, { headers: { authorization } });
    expect(((await listed.json()) as any).data.map((row: any) => row.name)).toEqual(['Survives restarts']);
    expect(await stop(second)).toBe(0);
  });

  it('refuses to start on a bad setting, naming the variable', async () => {
    const result = await runCli(['serve'], { ...env, TIDINGS_PORT: 'eighty' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('TIDINGS_PORT');
  });
});
