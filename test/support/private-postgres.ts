// A PostgreSQL server of the test's own (initdb into a temporary folder, on a free port), so a test
// can restart it without disturbing the shared server other suites use. Run as the postgres user,
// which initdb requires when the tests run as root.
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';

const BIN = join('/usr/lib/postgresql', readdirSync('/usr/lib/postgresql')[0], 'bin');

function asPostgres(command: string, args: string[]) {
  const root = userInfo().uid === 0;
  execFileSync(root ? 'runuser' : join(BIN, command), root ? ['-u', 'postgres', '--', join(BIN, command), ...args] : args, { stdio: 'ignore' });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export class PrivatePostgres {
  private constructor(
    private readonly directory: string,
    readonly port: number,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const directory = mkdtempSync(join(tmpdir(), 'tidings-pg-'));
    if (userInfo().uid === 0) chownSync(directory, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), -1);
    asPostgres('initdb', ['-D', join(directory, 'data'), '-A', 'trust', '-U', 'postgres']);
    const server = new PrivatePostgres(directory, await freePort());
    server.control('start');
    return server;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private control(action: 'start' | 'restart' | 'stop') {
    const options = ['-o', `-p ${this.port} -k ${this.directory} -c listen_addresses=127.0.0.1`];
    asPostgres('pg_ctl', ['-D', join(this.directory, 'data'), '-l', join(this.directory, 'log'), '-m', 'fast', '-w', action, ...(action === 'stop' ? [] : options)]);
  }

  /** Restarts the server: every open connection is cut. */
  restart(): void {
    this.control('restart');
  }

  stop(): void {
    try {
      this.control('stop');
    } finally {
      rmSync(this.directory, { recursive: true, force: true });
    }
  }
}
