/** The `agent` CLI as a real process, for the hostile-input suite. */
import { buildSync } from 'esbuild';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'src', 'cli', 'agent.ts');

/**
 * Where a test run's build of the CLI is (set by the jest `globalSetup`, see `buildCli`): the CLI's
 * sources bundled into one CommonJS file with esbuild (what tsx does per file at each start), its
 * packages left to node. A CLI run then starts in about 0.4 s instead of 1.5 s of CPU.
 */
export const CLI_BUILD_ENV = 'AGENT_TEST_CLI';

/** The node arguments that run the `agent` CLI with `args`: the run's build, else the sources through tsx. */
export function cliArgv(args: string[]): string[] {
  const built = process.env[CLI_BUILD_ENV];
  return built ? [built, ...args] : ['--import', 'tsx', CLI, ...args];
}

/**
 * Bundles the CLI's sources for a test run into `test-artifacts/cli/` (two levels down, like src/cli,
 * so the paths the CLI finds from its own directory stay the same, and node finds the packages of the
 * checkout) and points {@link CLI_BUILD_ENV} at it. Returns the file, for the teardown to remove.
 */
export function buildCli(): string {
  const outfile = join(ROOT, 'test-artifacts', 'cli', `agent-${process.pid}.cjs`);
  buildSync({
    entryPoints: [CLI],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    packages: 'external',
    logLevel: 'warning',
  });
  process.env[CLI_BUILD_ENV] = outfile;
  return outfile;
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the `agent` CLI ({@link cliArgv}) from the checkout, with `env` over a copy of this
 * process's environment from which the variables that would point it at someone else's ops server or
 * state are removed. `stdin` is written then closed (closed at once without it).
 */
export function runCli(
  args: string[],
  options: { env: Record<string, string | undefined>; stdin?: string | Buffer; timeoutMs?: number },
): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [
    'OPS_TOKEN',
    'OPS_URL',
    'OPS_OPERATOR_TOKEN',
    'AGENT_STATE_DIR',
    'TEMPORAL_PROFILE',
    'TEMPORAL_CONFIG_FILE',
  ])
    delete env[name];
  for (const [name, value] of Object.entries(options.env)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgv(args), { cwd: ROOT, env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // The CLI stops reading an oversized stdin and exits: our end of the pipe then breaks.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 45_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** Runs `tasks` with at most `concurrency` at a time (the machine has 2 cores); results in order. */
export async function inPool<T>(tasks: Array<() => Promise<T>>, concurrency = 3): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, lane));
  return results;
}

/**
 * A character a terminal would act on: C0 controls but tab and newline, DEL, C1 controls, bidi
 * embeddings, overrides and isolates. None may reach the operator's terminal raw.
 */
export const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
