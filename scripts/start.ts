/**
 * `npm start`: the whole product on one machine, from a fresh clone.
 *
 * - the Temporal CLI dev server, persisted in .data/temporal.db (state survives a restart), with our
 *   search attributes, and its web UI;
 * - without ANTHROPIC_API_KEY: the fake Messages API in demo mode (a banner says so);
 * - the worker (restarted if it exits on its own, as a supervisor would);
 * - the ops server (its URL and token are printed; the token is kept in .data/ops-token).
 *
 * Ctrl-C (or SIGTERM) stops them all, the worker gracefully.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { loadConfig } from '../src/config';
import { stateDir } from '../src/cli/state-dir';
import { FakeClaude } from '../src/testing/fake-claude';
import { temporalBinaries } from '../src/testing/temporal-binaries';
import { devServerTuningFlags, searchAttributeFlags } from '../src/testing/temporal-env';

const ROOT = resolve(__dirname, '..');
const children: Array<{ name: string; process: ChildProcess }> = [];
let stopping = false;

function log(message: string): void {
  console.log(`[start] ${message}`);
}

function run(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { restart?: boolean } = {},
): ChildProcess {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
  const entry = { name, process: child };
  children.push(entry);
  child.once('exit', (code, signal) => {
    if (stopping) return;
    if (options.restart) {
      log(`${name} exited (${signal ?? code}); starting it again`);
      children.splice(children.indexOf(entry), 1);
      setTimeout(() => run(name, command, args, env, options), 1000);
    } else {
      log(`${name} exited (${signal ?? code}); stopping everything`);
      void stop(1);
    }
  });
  return child;
}

async function waitForTemporal(address: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: '1 second' });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`the Temporal dev server did not start at ${address}: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function stop(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('stopping...');
  // The worker first (it drains its in-flight calls), then the rest.
  const order = ['ops', 'worker', 'temporal'];
  for (const name of order) {
    for (const { process: child } of children.filter(
      (c) => c.name === name && c.process.exitCode === null && c.process.signalCode === null,
    )) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
  }
  await fake?.close();
  log('stopped');
  process.exit(code);
}

let fake: FakeClaude | undefined;

async function main(): Promise<void> {
  const config = loadConfig();
  // Where npm start keeps its state (the Temporal database, the ops token); tools' data is AGENT_DATA_DIR.
  const dataDir = stateDir();
  mkdirSync(dataDir, { recursive: true });
  const [host, portText] = config.TEMPORAL_ADDRESS.split(':');
  const port = Number(portText ?? 7233);
  const uiPort = Number(process.env.TEMPORAL_UI_PORT ?? port + 1000);

  const args = [
    'server',
    'start-dev',
    '--db-filename',
    join(dataDir, 'temporal.db'),
    '--ip',
    host === 'localhost' ? '127.0.0.1' : host,
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--log-level',
    'error',
    '--namespace',
    config.TEMPORAL_NAMESPACE,
  ];
  // Tuned for speed (WAL journal, no 20-reads-a-second limiter on the one shard): see DEV_SERVER_TUNING.
  args.push(...searchAttributeFlags(), ...devServerTuningFlags());
  run('temporal', temporalBinaries().cli, args, process.env);
  await waitForTemporal(config.TEMPORAL_ADDRESS);

  const env: NodeJS.ProcessEnv = { ...process.env, AGENT_DATA_DIR: config.AGENT_DATA_DIR };
  if (!config.ANTHROPIC_API_KEY && !config.ANTHROPIC_BASE_URL) {
    fake = await FakeClaude.start({
      fallback: 'demo',
      port: Number(process.env.FAKE_CLAUDE_PORT ?? 0),
      latency: { betweenEventsMs: 15 },
    });
    env.ANTHROPIC_BASE_URL = fake.url;
    console.log(
      [
        '',
        '  ┌──────────────────────────────────────────────────────────────────────────┐',
        '  │ DEMO MODE: ANTHROPIC_API_KEY is not set. Claude is replaced by the fake  │',
        '  │ Messages API (it calls a tool, then answers). Set the key to use Claude.  │',
        '  └──────────────────────────────────────────────────────────────────────────┘',
        '',
      ].join('\n'),
    );
  }

  const tokenFile = join(dataDir, 'ops-token');
  const token =
    config.OPS_TOKEN ??
    (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : randomBytes(24).toString('base64url'));
  if (!config.OPS_TOKEN) writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  env.OPS_TOKEN = token;
  // The worker publishes live model streams to the ops server (watch them with `agent watch <id>`).
  env.AGENT_STREAM_URL = `http://${config.OPS_HOST}:${config.OPS_PORT}`;

  run('worker', process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'worker.ts')], env, {
    restart: true,
  });
  run('ops', process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'ops', 'main.ts')], env);

  console.log(
    [
      '',
      `  Temporal:   ${config.TEMPORAL_ADDRESS} (web UI http://127.0.0.1:${uiPort}), data in ${join(dataDir, 'temporal.db')}`,
      `  Ops UI:     http://${config.OPS_HOST}:${config.OPS_PORT}/   token: ${token}`,
      `  Model:      ${env.ANTHROPIC_BASE_URL ? `fake Messages API at ${env.ANTHROPIC_BASE_URL} (demo)` : 'the Anthropic API'}`,
      '',
      '  Try:  npm run agent -- start "Summarize durable execution and save it" --tools save_article',
      '        npm run agent -- pending        (then approve it here or in the ops UI)',
      '',
      '[start] ready (Ctrl-C stops everything)',
    ].join('\n'),
  );
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
main().catch((err: unknown) => {
  console.error(`[start] ${err instanceof Error ? err.message : String(err)}`);
  void stop(1);
});
