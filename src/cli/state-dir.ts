import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from './parse';

/**
 * Where `npm start` keeps its state (the Temporal database, the ops token): `AGENT_STATE_DIR`, else
 * `.data` in the checkout. The same resolution as scripts/start.ts, so the CLI finds what it wrote.
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.AGENT_STATE_DIR ?? join(__dirname, '..', '..', '.data'));
}

/**
 * The ops server's token: `OPS_TOKEN`, else the one `npm start` keeps in the state directory. A file
 * that does not hold a token (empty, binary, several lines) is an error that names it, not a header
 * that fetch refuses later.
 */
export function opsToken(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (configured) return configured;
  const file = join(stateDir(env), 'ops-token');
  if (!existsSync(file))
    throw new UsageError(`watch needs OPS_TOKEN (npm start keeps it in ${file}, which does not exist)`);
  if (statSync(file).size > 4096) throw new UsageError(`${file} is too large to hold an ops token`);
  const token = readFileSync(file, 'utf8').trim();
  if (!/^[\x21-\x7e]{16,4096}$/.test(token))
    throw new UsageError(`${file} does not hold an ops token (16 or more printable characters)`);
  return token;
}
