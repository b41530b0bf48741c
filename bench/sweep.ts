/**
 * `node --import tsx bench/sweep.ts [--mode throughput|overhead] [--n 200] [--latency 200] [--turns 30]
 *   [--wait poll1|poll10|history] [--env NAME=VALUE]... [--repeat 2] [--only a,b] [--quiet] [--out FILE] [--list]`, or
 *   `--one NAME [--n 200] [--latency 200] [--cpu-prof DIR]` for one throughput run.
 *
 * Runs named settings (dev server flags + worker environment, see SETTINGS) one after the other, each
 * in a fresh stack (its own child process: fresh server, fresh worker), `--repeat` times, interleaved
 * (a, b, c, a, b, c) so that a burst of load from other processes on the machine hits every setting
 * alike; prints one row per run and the median per setting.
 *
 * - throughput: bench/run.ts's scenario (`--n` conversations x 3 model calls at 200 ms) with CPU seconds
 *   of the dev server, the worker and this driver, and the worker's peak RSS;
 * - overhead: bench/timeline.ts (`--turns`, default 30) per setting: the turn's p50 / p95.
 *
 * `--quiet` waits (up to 2 min) before each run until other processes use < 0.3 cores. Every row also
 * says how many cores other processes used during the run: the machine is shared, and a row with
 * `others` well above 0 is noisy.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAST_DEV_SERVER, type ServerOptions } from '../test/support/stack';
import {
  argValue,
  percentile,
  round,
  settingFromArgs,
  startStack,
  throughput,
  waitForQuiet,
  type Setting,
  type ThroughputResult,
} from './common';

/** Dev server flags that lower dispatch latency (see the report in the PR / bench/README). */
const FAST_QUEUES: ServerOptions['dynamicConfig'] = {
  // History reads its transfer queue (tasks for matching: workflow and activity tasks) at most 20 times
  // a second per shard by default, and the dev server has one shard: up to 50 ms per dispatch.
  'history.transferProcessorMaxPollRPS': 10_000,
  'history.timerProcessorMaxPollRPS': 10_000,
  'history.visibilityProcessorMaxPollRPS': 10_000,
};
const ONE_PARTITION: ServerOptions['dynamicConfig'] = {
  // One worker per task queue here: 4 partitions only make polls and tasks meet through forwarding.
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};
const WAL = { journal_mode: 'WAL', synchronous: 'NORMAL' };
/** All three: FAST_DEV_SERVER of test/support/stack.ts (spelled out above so each part can be tried alone). */
const TUNED_SERVER: ServerOptions = FAST_DEV_SERVER;

const worker = (env: Record<string, number>) =>
  Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));

export const SETTINGS: Setting[] = [
  { name: 'default', server: {}, workerEnv: {} },
  { name: 'memory', server: { inMemory: true }, workerEnv: {} },
  { name: 'wal', server: { sqlitePragmas: WAL }, workerEnv: {} },
  { name: 'fastq', server: { dynamicConfig: FAST_QUEUES }, workerEnv: {} },
  { name: 'part1', server: { dynamicConfig: ONE_PARTITION }, workerEnv: {} },
  { name: 'fastq+part1', server: { dynamicConfig: { ...FAST_QUEUES, ...ONE_PARTITION } }, workerEnv: {} },
  {
    name: 'memory+fastq+part1',
    server: { inMemory: true, dynamicConfig: { ...FAST_QUEUES, ...ONE_PARTITION } },
    workerEnv: {},
  },
  { name: 'wal+fastq', server: { sqlitePragmas: WAL, dynamicConfig: FAST_QUEUES }, workerEnv: {} },
  { name: 'tuned', server: TUNED_SERVER, workerEnv: {} },
  // Worker knobs: on the default server (plain name) and on WAL + fast queues + one partition (`tuned+`).
  ...(
    [
      { name: 'acts500', env: { AGENT_MAX_CONCURRENT_ACTIVITIES: 500 } },
      { name: 'acts1000', env: { AGENT_MAX_CONCURRENT_ACTIVITIES: 1000 } },
      { name: 'apoll4', env: { AGENT_ACTIVITY_TASK_POLLERS: 4 } },
      { name: 'apoll20', env: { AGENT_ACTIVITY_TASK_POLLERS: 20 } },
      { name: 'wft10', env: { AGENT_MAX_CONCURRENT_WORKFLOW_TASKS: 10 } },
      {
        name: 'wft100+wpoll20',
        env: { AGENT_MAX_CONCURRENT_WORKFLOW_TASKS: 100, AGENT_WORKFLOW_TASK_POLLERS: 20 },
      },
      { name: 'wpoll4', env: { AGENT_WORKFLOW_TASK_POLLERS: 4 } },
      { name: 'ratio0.5', env: { AGENT_NON_STICKY_POLL_RATIO: 0.5 } },
      {
        name: 'acts1000+wft100+wpoll20',
        env: {
          AGENT_MAX_CONCURRENT_ACTIVITIES: 1000,
          AGENT_MAX_CONCURRENT_WORKFLOW_TASKS: 100,
          AGENT_WORKFLOW_TASK_POLLERS: 20,
        },
      },
      { name: 'cache100', env: { AGENT_MAX_CACHED_WORKFLOWS: 100 } },
      { name: 'noeager', env: { AGENT_MAX_EAGER_ACTIVITIES: 0 } },
      { name: 'eager10', env: { AGENT_MAX_EAGER_ACTIVITIES: 10 } },
    ] as Array<{ name: string; env: Record<string, number> }>
  ).flatMap(({ name, env }) => [
    { name, server: {}, workerEnv: worker(env) },
    { name: `tuned+${name}`, server: TUNED_SERVER, workerEnv: worker(env) },
  ]),
  // Temporal WorkerOptions the product does not expose (through bench/timed-worker.ts).
  ...[
    { name: 'threads2', options: { workflowThreadPoolSize: 2 } },
    { name: 'noreuse', options: { reuseV8Context: false } },
  ].flatMap(({ name, options }) => [
    { name, server: {}, workerEnv: { BENCH_WORKER_OPTIONS: JSON.stringify(options) } },
    {
      name: `tuned+${name}`,
      server: TUNED_SERVER,
      workerEnv: { BENCH_WORKER_OPTIONS: JSON.stringify(options) },
    },
  ]),
];

const argv = process.argv.slice(2);
/** `--env NAME=VALUE` (repeatable): added to every setting's worker environment. */
const EXTRA_ENV = settingFromArgs(argv).workerEnv;
const extraEnvFlags = Object.entries(EXTRA_ENV).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
const MODE = argValue(argv, '--mode', 'throughput') as 'throughput' | 'overhead';
const N = Number(argValue(argv, '--n', '200'));
const LATENCY = Number(argValue(argv, '--latency', '200'));
const TURNS = argValue(argv, '--turns', '30');
const REPEAT = Number(argValue(argv, '--repeat', '2'));
const OUT = argValue(argv, '--out', '');

/** Child mode: one throughput run of one setting, its result as the last line of stdout. */
async function one(name: string): Promise<void> {
  const found = SETTINGS.find((s) => s.name === name);
  if (!found) throw new Error(`unknown setting ${name}`);
  const setting = { ...found, workerEnv: { ...found.workerEnv, ...EXTRA_ENV } };
  const profileDir = argValue(argv, '--cpu-prof', '');
  const stack = await startStack(setting, {
    // Temporal WorkerOptions the product does not expose go through the bench's worker.
    ...(setting.workerEnv.BENCH_WORKER_OPTIONS && { workerEntry: join(__dirname, 'timed-worker.ts') }),
    ...(profileDir && { workerNodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir] }),
  });
  try {
    const result = await throughput(stack, N, LATENCY);
    console.log(JSON.stringify(result));
    if (profileDir) await stack.killWorker('SIGTERM'); // a graceful stop writes the profiles
  } finally {
    await stack.close();
  }
}

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', ...args],
      { cwd: join(__dirname, '..'), maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`${args.join(' ')} failed: ${String(err)}\n${stderr.slice(-2000)}`))
          : resolve(stdout),
    );
  });
}

interface OverheadRow {
  turnP50: number;
  turnP95: number;
  untilLastWftP50: number;
  /** Each of the turn's two transcript queries, inside callClaude (ms, p50). */
  workerQueryP50?: number[];
  /** CPU per turn (ms). */
  serverCpuMsPerTurn: number;
  workerCpuMsPerTurn: number;
  /** CPU per `messages` query (ms), measured from the driver on an idle conversation. */
  queryCpuMs: { server: number; worker: number };
}
type Row = { setting: string; othersCores: number; quietBefore?: number } & (ThroughputResult | OverheadRow);

async function measure(setting: Setting, quiet: boolean): Promise<Row> {
  const quietBefore = quiet ? await waitForQuiet() : undefined;
  if (MODE === 'throughput') {
    const out = await run([
      __filename,
      '--one',
      setting.name,
      '--n',
      String(N),
      '--latency',
      String(LATENCY),
      ...extraEnvFlags,
    ]);
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as ThroughputResult;
    const othersCores = round(
      (result.machineBusyS - result.serverCpuS - result.workerCpuS - result.driverCpuS) /
        (result.wallMs / 1000),
      2,
    );
    return { setting: setting.name, othersCores, quietBefore, ...result };
  }
  const file = join(mkdtempSync(join(tmpdir(), 'sweep-')), 'timeline.json');
  const flags = [
    ...(setting.server.inMemory ? ['--memory'] : []),
    ...Object.entries(setting.server.dynamicConfig ?? {}).flatMap(([k, v]) => [
      '--dc',
      `${k}=${JSON.stringify(v)}`,
    ]),
    ...Object.entries(setting.server.sqlitePragmas ?? {}).flatMap(([k, v]) => ['--pragma', `${k}=${v}`]),
    ...Object.entries({ ...setting.workerEnv, ...EXTRA_ENV }).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
  ];
  await run([
    join(__dirname, 'timeline.ts'),
    '--turns',
    TURNS,
    '--out',
    file,
    '--wait',
    argValue(argv, '--wait', 'poll1'),
    ...flags,
    ...(argv.includes('--plain') ? ['--plain'] : []),
  ]);
  const t = JSON.parse(readFileSync(file, 'utf8')) as {
    turns: number;
    turnMs: { p50: number; p95: number };
    untilLastWorkflowTaskMs: { p50: number };
    cpu: { serverCpuS: number; workerCpuS: number; othersCores: number };
    queryCpuMs: { server: number; worker: number };
    steps: Array<{ label: string; p50: number }>;
  };
  const at = (label: string) => t.steps.find((s) => s.label === label)?.p50 ?? NaN;
  const queries = [1, 2]
    .map((n) => round(at(`worker: query#${n} end`) - at(`worker: query#${n} start`), 1))
    .filter(Number.isFinite);
  return {
    setting: setting.name,
    othersCores: t.cpu.othersCores,
    quietBefore,
    turnP50: t.turnMs.p50,
    turnP95: t.turnMs.p95,
    untilLastWftP50: t.untilLastWorkflowTaskMs.p50,
    ...(queries.length > 0 && { workerQueryP50: queries }),
    serverCpuMsPerTurn: round((t.cpu.serverCpuS * 1000) / t.turns, 1),
    workerCpuMsPerTurn: round((t.cpu.workerCpuS * 1000) / t.turns, 1),
    queryCpuMs: t.queryCpuMs,
  };
}

/** The commit measured, and whether the tree had changes (the worker runs the source as it is). */
function codeVersion(): string {
  try {
    const cwd = join(__dirname, '..');
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function format(row: Row): string {
  if ('wallMs' in row) {
    return `${row.setting.padEnd(34)} wall ${String(row.wallMs).padStart(6)} ms  x${String(row.ratio).padEnd(6)} p50 done ${String(row.p50DoneMs).padStart(6)}  started ${String(row.startedAllMs).padStart(6)}  rss ${String(row.workerPeakRssMiB).padStart(4)} MiB  cpu server ${String(row.serverCpuS).padStart(5)} worker ${String(row.workerCpuS).padStart(5)} driver ${String(row.driverCpuS).padStart(5)} s  others ${row.othersCores} cores  calls ${row.modelCalls}`;
  }
  return `${row.setting.padEnd(34)} turn p50 ${String(row.turnP50).padStart(6)} p95 ${String(row.turnP95).padStart(6)}  to last wft ${String(row.untilLastWftP50).padStart(6)}  queries ${row.workerQueryP50?.join('+') ?? '-'} ms  cpu/turn server ${row.serverCpuMsPerTurn} worker ${row.workerCpuMsPerTurn} ms  cpu/query server ${row.queryCpuMs.server} worker ${row.queryCpuMs.worker} ms  others ${row.othersCores} cores`;
}

async function main(): Promise<void> {
  if (argv.includes('--list')) {
    for (const s of SETTINGS)
      console.log(`${s.name.padEnd(34)} ${JSON.stringify(s.server)} ${JSON.stringify(s.workerEnv)}`);
    return;
  }
  const oneAt = argv.indexOf('--one');
  if (oneAt >= 0) return one(argv[oneAt + 1]);
  const only = argValue(argv, '--only', '');
  const chosen = only
    ? only.split(',').map(
        (name) =>
          SETTINGS.find((s) => s.name === name) ??
          (() => {
            throw new Error(`unknown setting ${name}`);
          })(),
      )
    : SETTINGS;
  const rows: Row[] = [];
  console.log(
    `${MODE}${MODE === 'throughput' ? ` (${N} conversations, ${LATENCY} ms model latency)` : ''}, code ${codeVersion()}${extraEnvFlags.length ? `, worker env ${JSON.stringify(EXTRA_ENV)}` : ''}`,
  );
  for (let r = 0; r < REPEAT; r++) {
    for (const setting of chosen) {
      const row = await measure(setting, argv.includes('--quiet'));
      rows.push(row);
      console.log(format(row));
      if (OUT)
        writeFileSync(
          OUT,
          `${JSON.stringify({ mode: MODE, n: N, latencyMs: LATENCY, code: codeVersion(), rows }, null, 2)}\n`,
        );
    }
  }
  console.log(`\nmedian per setting (${REPEAT} runs each; spread = min..max)`);
  for (const setting of chosen) {
    const mine = rows.filter((r) => r.setting === setting.name);
    const key = MODE === 'throughput' ? 'wallMs' : 'turnP50';
    const values = mine.map((r) => (r as unknown as Record<string, number>)[key]);
    const rss =
      MODE === 'throughput'
        ? `  rss ${percentile(
            mine.map((r) => (r as ThroughputResult).workerPeakRssMiB),
            50,
          )} MiB`
        : '';
    console.log(
      `  ${setting.name.padEnd(34)} ${key} ${percentile(values, 50)} (${Math.min(...values)}..${Math.max(...values)})${rss}  others ${mine.map((r) => r.othersCores).join('/')}`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
