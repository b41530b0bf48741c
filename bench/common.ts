/**
 * Helpers shared by the tuning scripts (bench/timeline.ts, bench/sweep.ts): command-line settings, a
 * stack with chosen server flags and worker environment, CPU sampling of the server and worker
 * processes, and the throughput scenario of bench/run.ts (same script, same latency, same checks).
 */
import { readFileSync } from 'node:fs';
import { Client, Connection, type WorkflowClientInterceptor } from '@temporalio/client';
import { AgentClient } from '../src/client';
import { reply, type FakeHandler, type RecordedRequest } from '../src/testing/fake-claude';
import { CrashStack, type ServerOptions } from '../test/support/stack';

export const MODEL = 'claude-sonnet-5-5';

export const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
export const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** Wall-clock time in ms with sub-ms resolution (comparable across processes on one machine). */
export const wallNow = (): number => performance.timeOrigin + performance.now();

/** One experiment's settings: server flags and worker environment. */
export interface Setting {
  name: string;
  server: ServerOptions;
  workerEnv: Record<string, string>;
}

/**
 * Parses `--memory`, `--dc KEY=JSON`, `--pragma NAME=VALUE`, `--env NAME=VALUE` (each repeatable) into
 * a setting; other arguments are left to the caller.
 */
export function settingFromArgs(argv: string[], name = 'cli'): Setting {
  const setting: Setting = { name, server: {}, workerEnv: {} };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    const split = () => {
      const at = value.indexOf('=');
      return [value.slice(0, at), value.slice(at + 1)] as const;
    };
    if (flag === '--memory') setting.server.inMemory = true;
    else if (flag === '--dc') {
      const [k, v] = split();
      (setting.server.dynamicConfig ??= {})[k] = JSON.parse(v) as string | number | boolean;
      i++;
    } else if (flag === '--pragma') {
      const [k, v] = split();
      (setting.server.sqlitePragmas ??= {})[k] = v;
      i++;
    } else if (flag === '--env') {
      const [k, v] = split();
      setting.workerEnv[k] = v;
      i++;
    }
  }
  return setting;
}

export function argValue(argv: string[], flag: string, fallback: string): string {
  const at = argv.indexOf(flag);
  return at >= 0 && at + 1 < argv.length ? argv[at + 1] : fallback;
}

/** Starts the dev server with the setting's flags and a worker with its environment. */
export async function startStack(
  setting: Setting,
  options: { workerEntry?: string; extraEnv?: Record<string, string>; workerNodeArgs?: string[] } = {},
): Promise<CrashStack> {
  const stack = await CrashStack.start({
    server: setting.server,
    workerEntry: options.workerEntry,
    workerNodeArgs: options.workerNodeArgs,
  });
  stack.extraEnv = { ...setting.workerEnv, ...options.extraEnv };
  try {
    await stack.startWorker();
  } catch (err) {
    await stack.close();
    throw err;
  }
  return stack;
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat; 0 when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime: fields 14 and 15, in ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}

/** Peak resident memory (VmHWM) of a process in KiB; 0 when it is gone. */
export function peakRssKb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** CPU seconds of the whole machine (all cores: user+nice+system+irq+softirq+steal), and idle. */
export function machineCpu(): { busy: number; idle: number } {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const t = ticks.map(Number);
  return { busy: (t[0] + t[1] + t[2] + t[5] + t[6] + t[7]) / 100, idle: (t[3] + t[4]) / 100 };
}

/** The scenario of a turn: the model calls get_weather, gets its result, answers. */
export const weatherTurn =
  (latencyMs = 0): FakeHandler =>
  (request) => {
    const last = request.body.messages.at(-1)!;
    const answered = Array.isArray(last.content) && last.content.some((b) => b.type === 'tool_result');
    const r = answered
      ? reply.text('It is 18 degrees and sunny in Paris.')
      : reply.toolUse({ name: 'get_weather', input: { location: 'Paris' } }, { text: 'Let me check.' });
    return latencyMs ? { ...r, latency: { firstByteMs: latencyMs } } : r;
  };

export interface ThroughputResult {
  conversations: number;
  wallMs: number;
  idealMs: number;
  ratio: number;
  /** When the last conversation was started (ms after the start). */
  startedAllMs: number;
  /** When half of them, and when 90% of them, had finished (ms after the start). */
  p50DoneMs: number;
  p90DoneMs: number;
  workerPeakRssMiB: number;
  serverCpuS: number;
  workerCpuS: number;
  driverCpuS: number;
  /** The machine's CPU seconds used by anything (other agents' tests included) during the run. */
  machineBusyS: number;
  machineIdleS: number;
  modelCalls: number;
}

/**
 * bench/run.ts's throughput scenario: `conversations` concurrent single-turn conversations, each of 3
 * model calls at `latencyMs` (and 2 tool calls), started at once; wall time until all have finished.
 * Samples the server's and the worker's CPU seconds and the worker's peak RSS over the run.
 */
export async function throughput(
  stack: CrashStack,
  conversations: number,
  latencyMs = 200,
): Promise<ThroughputResult> {
  const calls = 3;
  const tag = `tp-${Date.now()}`;
  let modelCalls = 0;
  stack.fake.script('*', (request: RecordedRequest) => {
    modelCalls++;
    const done = request.body.messages.filter((m) => m.role === 'assistant').length;
    return done + 1 >= calls
      ? { ...reply.text('Done.'), latency: { firstByteMs: latencyMs } }
      : {
          ...reply.toolUse({ name: 'get_weather', input: { location: `City ${done}` } }),
          latency: { firstByteMs: latencyMs },
        };
  });
  const serverCpu0 = cpuSeconds(stack.serverPid);
  const workerCpu0 = cpuSeconds(stack.workerPid);
  const driverCpu0 = process.cpuUsage();
  const machine0 = machineCpu();
  let peakKb = 0;
  const sampler = setInterval(() => (peakKb = Math.max(peakKb, peakRssKb(stack.workerPid))), 200);
  const started = performance.now();
  const ids = Array.from({ length: conversations }, (_, i) => `bench-${tag}-${i}`);
  const doneAt: number[] = [];
  let startedAllMs = 0;
  await Promise.all(
    ids.map((id) =>
      stack.agent.startConversation(
        { model: MODEL, message: 'Weather tour, please.', tools: ['get_weather'], singleTurn: true },
        { workflowId: id },
      ),
    ),
  );
  startedAllMs = performance.now() - started;
  await Promise.all(
    ids.map(async (id) => {
      await stack.agent.client.workflow.getHandle(id).result();
      doneAt.push(performance.now() - started);
    }),
  );
  const wallMs = performance.now() - started;
  clearInterval(sampler);
  peakKb = Math.max(peakKb, peakRssKb(stack.workerPid));
  const driverCpu = process.cpuUsage(driverCpu0);
  const machine1 = machineCpu();
  const idealMs = calls * latencyMs;
  return {
    conversations,
    wallMs: round(wallMs, 0),
    idealMs,
    ratio: round(wallMs / idealMs, 2),
    startedAllMs: round(startedAllMs, 0),
    p50DoneMs: round(percentile(doneAt, 50), 0),
    p90DoneMs: round(percentile(doneAt, 90), 0),
    workerPeakRssMiB: round(peakKb / 1024, 0),
    serverCpuS: round(cpuSeconds(stack.serverPid) - serverCpu0, 1),
    workerCpuS: round(cpuSeconds(stack.workerPid) - workerCpu0, 1),
    driverCpuS: round((driverCpu.user + driverCpu.system) / 1e6, 1),
    machineBusyS: round(machine1.busy - machine0.busy, 1),
    machineIdleS: round(machine1.idle - machine0.idle, 1),
    modelCalls,
  };
}

/**
 * Waits (up to `timeoutMs`) until the machine's other load is below `maxCores` over a 2 s window, so a
 * measurement starts on an idle machine (other agents share it); answers the load it last saw.
 */
export async function waitForQuiet(maxCores = 0.3, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = machineCpu();
    const self0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 2000));
    const b = machineCpu();
    const self = process.cpuUsage(self0);
    const cores = (b.busy - a.busy - (self.user + self.system) / 1e6) / 2;
    if (cores <= maxCores || Date.now() > deadline) return round(cores, 2);
  }
}

/**
 * An agent client on its own connection to the stack's server whose workflow queries are counted (the
 * ops server's, in the queue and feed benchmarks): `queries` reads the count, `reset` zeroes it.
 */
export async function countingAgentClient(stack: CrashStack): Promise<{
  agent: AgentClient;
  connection: Connection;
  queries(): number;
  reset(): void;
}> {
  let queries = 0;
  const counter: WorkflowClientInterceptor = {
    async query(input, next) {
      queries++;
      return next(input);
    },
  };
  const connection = await Connection.connect({ address: stack.address });
  const agent = new AgentClient({
    client: new Client({ connection, interceptors: { workflow: [counter] } }),
    taskQueue: stack.agent.taskQueue,
  });
  return { agent, connection, queries: () => queries, reset: () => (queries = 0) };
}
