/**
 * A throwaway PostgreSQL server for tests: Debian's PostgreSQL (the `postgresql` package), started by the
 * test itself on a free port in a temporary directory, and removed when stopped. Nothing is skipped: a
 * machine without PostgreSQL fails with what to install.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { freePort } from './ports';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const run = promisify(execFile);

/** A running server and the database made for the caller. */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/<database>` (trust authentication, local only). */
  url: string;
  port: number;
  /** Stops the server (`pg_ctl -m fast stop`) and removes its files. */
  stop(): Promise<void>;
}

/**
 * The directory of `initdb` and `pg_ctl`: `POSTGRES_BIN_DIR`, else Debian's newest
 * `/usr/lib/postgresql/<version>/bin`. Throws, saying what to install, when there is none.
 */
export function postgresBinDir(): string {
  const configured = process.env.POSTGRES_BIN_DIR;
  if (configured) {
    if (!existsSync(join(configured, 'initdb')))
      throw new Error(`POSTGRES_BIN_DIR=${configured} holds no initdb`);
    return configured;
  }
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      "PostgreSQL is not installed (no /usr/lib/postgresql/<version>/bin/initdb): the memory tests need it. Install Debian's server (`apt-get install postgresql`, or `node scripts/ensure-debian-packages.mjs` as root) or set POSTGRES_BIN_DIR.",
    );
  }
  return join(base, versions[0], 'bin');
}

/** Starts a server and creates database `database` (default `agent_memory`) on it. */
export async function startPostgres(options: { database?: string } = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'agent-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  // initdb and pg_ctl refuse to run as root: as root (CI, containers), run them as Debian's `postgres`
  // user, on a directory it owns.
  const asRoot = process.getuid?.() === 0;
  let as: string[] = [];
  if (asRoot) {
    const ids = await idsOf('postgres');
    chownSync(dir, ids.uid, ids.gid);
    as = ['runuser', '-u', 'postgres', '--'];
  }
  const exec = async (file: string, args: string[]) => {
    const [command, ...rest] = [...as, join(bin, file), ...args];
    try {
      await run(command, rest, { timeout: 60_000 });
    } catch (err) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      const { stderr } = err as { stderr?: string };
      throw new Error(`${file} failed: ${stderr?.trim() || (err as Error).message}${log ? `\n${log}` : ''}`);
    }
  };
  try {
    await exec('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-sync']);
    const port = await freePort();
    // Local only, its socket in its own directory (not /var/run/postgresql, which may not exist), and
    // no fsync: a test database need not survive a power cut.
    const settings = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off`;
    await exec('pg_ctl', ['-D', data, '-l', logFile, '-o', settings, '-w', '-t', '60', 'start']);
    const database = options.database ?? 'agent_memory';
    const admin = new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${database}`);
    } finally {
      await admin.end();
    }
    let stopped = false;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/${database}`,
      port,
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    await exec('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function idsOf(user: string): Promise<{ uid: number; gid: number }> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', user]), run('id', ['-g', user])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new Error(
      `running as root, PostgreSQL must run as the ${user} user, and there is none (Debian's postgresql package creates it)`,
    );
  }
}
