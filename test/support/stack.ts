/**
 * Real processes for crash tests: the Temporal CLI dev server on a SQLite file and the worker as a
 * child process (both killable), with the fake Messages API and the driver in this process, so the
 * driver can watch what reached the model and what the tools wrote.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { AgentClient } from '../../src/client';
import { FakeClaude, type FakeClaudeOptions } from '../../src/testing/fake-claude';
import {
  DEV_SERVER_TUNING,
  devServerTuningFlags,
  quietBundlerLogger,
  searchAttributeFlags,
  SHARED_BUNDLE_ENV,
  temporalBinaries,
} from '../../src/testing';
import { CONVERSATION_BUNDLE_OPTIONS } from '../../src/worker';
import { listArticles, type SavedArticle } from '../../src/tools/save-article';
import { freePort } from '../../src/testing/ports';

const ROOT = resolve(__dirname, '..', '..');
const TASK_QUEUE = 'crash-test';

/** The crash tests' agents and tools (test/support/crash-agents.ts), for {@link StackOptions.agentModule}. */
export const CRASH_AGENT_MODULE = join(__dirname, 'crash-agents.ts');

export interface WorkerOptions {
  /** Hold tool completion after the side effect (ms): the window of kill point 2. */
  holdAfterToolMs?: number;
}

/**
 * How the dev server runs. The default (what the crash tests use) is a SQLite file, so state survives
 * {@link CrashStack.restartServer}; the benchmarks may choose otherwise.
 */
export interface ServerOptions {
  /** No `--db-filename`: state lives in memory and is lost when the server stops (restartServer loses it). */
  inMemory?: boolean;
  /** `--dynamic-config-value KEY=JSON` flags, e.g. `{ 'matching.numTaskqueueReadPartitions': 1 }`. */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** `--sqlite-pragma NAME=VALUE` flags, e.g. `{ journal_mode: 'WAL', synchronous: 'NORMAL' }`. */
  sqlitePragmas?: Record<string, string>;
}

/** The dev server tuned for speed (see DEV_SERVER_TUNING in src/testing/temporal-env.ts); the benchmarks use it. */
export const FAST_DEV_SERVER: ServerOptions = DEV_SERVER_TUNING;

export interface StackOptions {
  server?: ServerOptions;
  /** The worker's entry file (default src/worker.ts); the benchmarks run an instrumented one. */
  workerEntry?: string;
  /** Extra node flags for the worker process (e.g. `--cpu-prof`). */
  workerNodeArgs?: string[];
  /** The workers' `AGENT_MODULE` (default: none, the demo agents and the built-in tools). */
  agentModule?: string;
  /** Options of the fake Messages API (e.g. its `contextWindow`). */
  fake?: FakeClaudeOptions;
}

/** The `temporal server start-dev` flags for `options`, after the port and log flags. */
export function serverFlags(options: ServerOptions, dbFile: string): string[] {
  return [...(options.inMemory ? [] : ['--db-filename', dbFile]), ...devServerTuningFlags(options)];
}

export class CrashStack {
  readonly fake: FakeClaude;
  agent!: AgentClient;
  private server?: ChildProcess;
  private worker?: ChildProcess;
  private workerExit?: Promise<void>;
  /** Worker processes started so far, and kills. */
  readonly counts = { workerStarts: 0, kills: 0, serverRestarts: 0, unexpectedExits: 0 };
  private expectingExit = false;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bundlePath: string,
    fake: FakeClaude,
    private readonly options: StackOptions = {},
  ) {
    this.fake = fake;
  }

  static async start(options: StackOptions = {}): Promise<CrashStack> {
    const dir = mkdtempSync(join(tmpdir(), 'crash-'));
    mkdirSync(join(dir, 'data'), { recursive: true });
    // The test run's shared bundle when there is one (npm test), else built here (npm run crash-test).
    const bundlePath = process.env[SHARED_BUNDLE_ENV] ?? join(dir, 'workflow-bundle.js');
    if (!process.env[SHARED_BUNDLE_ENV])
      writeFileSync(
        bundlePath,
        (await bundleWorkflowCode({ ...CONVERSATION_BUNDLE_OPTIONS, logger: quietBundlerLogger })).code,
      );
    const fake = await FakeClaude.start(options.fake);
    const stack = new CrashStack(dir, await freePort(), bundlePath, fake, options);
    await stack.startServer();
    return stack;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The dev server's and the current worker's process ids (for CPU and memory sampling). */
  get serverPid(): number | undefined {
    return this.server?.pid;
  }

  get workerPid(): number | undefined {
    return this.worker?.pid;
  }

  /** Starts the dev server on the same SQLite file and port (state survives restarts). */
  async startServer(): Promise<void> {
    const args = [
      'server',
      'start-dev',
      '--headless',
      '--ip',
      '127.0.0.1',
      '--port',
      String(this.port),
      '--log-level',
      'error',
    ];
    args.push(...serverFlags(this.options.server ?? {}, join(this.dir, 'temporal.db')));
    args.push(...searchAttributeFlags());
    this.server = spawn(temporalBinaries().cli, args, { stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const probe = await Connection.connect({ address: this.address, connectTimeout: '1 second' });
        await probe.workflowService.getSystemInfo({});
        await probe.close();
        // One client for the whole run: its channel reconnects by itself after a server restart.
        if (!this.agent) {
          const connection = await Connection.connect({ address: this.address });
          this.agent = new AgentClient({
            client: new Client({ connection }),
            taskQueue: TASK_QUEUE,
            queryTimeoutMs: 15_000,
          });
        }
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`the dev server did not come up: ${String(err)}`);
        await sleep(200);
      }
    }
  }

  /** Stops the dev server (SIGTERM, then SIGKILL), keeping its SQLite file. */
  async stopServer(): Promise<void> {
    const server = this.server;
    if (!server || server.exitCode !== null) return;
    const exited = new Promise<void>((r) => server.once('exit', () => r()));
    server.kill('SIGTERM');
    const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async restartServer(): Promise<void> {
    await this.stopServer();
    this.counts.serverRestarts++;
    await this.startServer();
  }

  /** Starts a worker process and resolves once it polls. */
  async startWorker(options: WorkerOptions = {}): Promise<void> {
    const env: NodeJS.ProcessEnv = {
      ...this.workerEnv(),
      ...(options.holdAfterToolMs !== undefined && {
        CRASH_TEST_HOLD_AFTER_TOOL_MS: String(options.holdAfterToolMs),
      }),
    };
    // The hold is a test-only interceptor, in a worker entry of the tests' own.
    const entry = options.holdAfterToolMs ? join(__dirname, 'held-worker.ts') : this.options.workerEntry;
    const worker = await spawnWorkerProcess(
      env,
      join(this.dir, `worker-${this.counts.workerStarts + 1}.log`),
      entry,
      this.options.workerNodeArgs,
    );
    this.worker = worker;
    this.counts.workerStarts++;
    this.workerExit = new Promise((r) => (worker.exitCode !== null ? r() : worker.once('exit', () => r())));
    // Like a supervisor: a worker that exits on its own is counted and replaced.
    worker.once('exit', (code) => {
      if (this.expectingExit || this.worker !== worker || this.closing) return;
      this.counts.unexpectedExits++;
      console.log(
        `crash-test: the worker exited on its own (code ${code}); starting a new one (see ${this.dir}/worker-*.log)`,
      );
      void this.startWorker(options).catch((err: unknown) =>
        console.error(`crash-test: could not restart the worker: ${String(err)}`),
      );
    });
  }

  /** The environment of this stack's workers (also for extra workers a test starts itself). */
  workerEnv(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      TEMPORAL_ADDRESS: this.address,
      AGENT_TASK_QUEUE: TASK_QUEUE,
      ANTHROPIC_BASE_URL: this.fake.url,
      ANTHROPIC_API_KEY: 'crash-test-key',
      AGENT_DATA_DIR: this.dataDir,
      AGENT_WORKFLOW_BUNDLE: this.bundlePath,
      ...(this.options.agentModule && { AGENT_MODULE: this.options.agentModule }),
      ...this.extraEnv,
    };
  }

  /** Extra environment for every worker this stack starts (e.g. the live stream's URL). */
  extraEnv: NodeJS.ProcessEnv = {};

  /** Kills the worker: SIGKILL by default (a crash), SIGTERM for a graceful shutdown. */
  async killWorker(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.worker || this.worker.exitCode !== null) return;
    if (signal === 'SIGKILL') this.counts.kills++;
    this.expectingExit = true;
    this.worker.kill(signal);
    await this.workerExit;
    this.expectingExit = false;
  }

  /** Kills the worker and starts a new one. */
  async crashWorker(options: WorkerOptions = {}): Promise<void> {
    await this.killWorker('SIGKILL');
    await this.startWorker(options);
  }

  /** The articles save_article wrote for a conversation (the side effects to count). */
  async articles(workflowId: string): Promise<SavedArticle[]> {
    return (await listArticles(this.dataDir)).filter((a) => a.workflowId === workflowId);
  }

  private closing = false;

  async close(): Promise<void> {
    this.closing = true;
    await this.killWorker('SIGKILL');
    await this.agent?.client.connection.close().catch(() => undefined);
    await this.stopServer();
    await this.fake.close();
    if (process.env.KEEP_CRASH_DIR) console.log(`crash stack kept in ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `predicate` until it holds (default 60 s). */
export async function until(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Starts `src/worker.ts` as its own process — node itself with tsx as a loader, so a signal reaches
 * the worker and not a wrapper (the tsx CLI runs programs in a child that would survive SIGKILL) —
 * logs its output to `logFile`, and resolves once it polls.
 */
export async function spawnWorkerProcess(
  env: NodeJS.ProcessEnv,
  logFile: string,
  entry = join(ROOT, 'src', 'worker.ts'),
  nodeArgs: string[] = [],
): Promise<ChildProcess> {
  const worker = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  let output = '';
  await new Promise<void>((resolveReady, reject) => {
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      output += chunk.toString();
      if (output.includes('worker: task queue')) resolveReady();
    };
    worker.stdout!.on('data', onData);
    worker.stderr!.on('data', onData);
    worker.once('exit', (code) =>
      reject(new Error(`worker exited (${code}) before it was ready:\n${output}`)),
    );
    setTimeout(() => reject(new Error(`worker not ready in 30 s:\n${output}`)), 30_000).unref();
  });
  return worker;
}
