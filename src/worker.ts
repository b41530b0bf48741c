import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import type { PayloadCodec } from '@temporalio/common';
import { createActivities, type ActivityDeps } from './activities';
import { DEFAULT_PRICES, type PriceTable } from './activities/pricing';
import { codecFromEnv, tolerantCodec } from './codec';
import { temporalConnectOptions } from './connection';
import { JsonLogger } from './logging';
import { tracingPlugin } from './tracing';
import { loadConfig, type Config } from './config';
import { builtinTools } from './tools/builtin';
import type { ToolDefinition } from './tools/define-tool';
import { StreamPublisher } from './streaming/publisher';
import { AgentTools } from './agents/agent-tools';
import type { AgentDefinition } from './agents/define-agent';
import { demoAgents } from './agents/demo';
import { loadAgentModule } from './agents/load-module';
import { AgentRegistry } from './agents/registry';
import { McpPool } from './mcp/pool';
import { memoryBackends, type MemoryBackends } from './memory/tool';
import { targetLabel, webhookConfig, type WebhookConfig } from './notify/config';

/** What an agent worker needs; everything else has a default. */
export interface AgentWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  /** Build it with `maxRetries: 0` (see {@link anthropicClient}). */
  anthropic: Anthropic;
  /** The agents this worker serves (`defineAgent`); conversations name one with `agent`. */
  agents?: AgentDefinition[];
  /** Tools for conversations without an agent (`tools: ['name']`); each agent brings its own. */
  tools?: ToolDefinition[];
  /** The pool of MCP connections (default: one per worker, closed when the worker stops). */
  mcpPool?: McpPool;
  /**
   * The memory backends of agents with `memory` (`memoryBackends({ dir, databaseUrl })`; required when
   * one has). The caller closes them after the worker stops.
   */
  memory?: MemoryBackends;
  /**
   * A prebuilt bundle (tests build one per file). Default: the package's prebuilt `workflow-bundle.js`
   * when running the built package (unless a plugin configures the bundler), else bundle at start.
   */
  workflowBundle?: WorkerOptions['workflowBundle'];
  observer?: ActivityDeps['observer'];
  transcriptCacheBytes?: number;
  /** Reads transcript ranges from workflows (default: the `messages` query); benchmarks time it. */
  readTranscript?: ActivityDeps['readTranscript'];
  /** Worker tuning; see {@link WORKER_TUNING_DEFAULTS} for the defaults and the measurements behind them. */
  maxCachedWorkflows?: number;
  maxConcurrentActivityTaskExecutions?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  /** Concurrent workflow task polls (sticky and non-sticky together). */
  workflowTaskPollers?: number;
  /** Concurrent activity task polls. */
  activityTaskPollers?: number;
  /** Share of the workflow task polls that go to the shared (non-sticky) queue. */
  nonStickyToStickyPollRatio?: number;
  /** Activity slots a workflow task may reserve for eager execution (0: off). */
  maxEagerActivities?: number;
  /** Model prices for each call's cost (default: the list prices in src/activities/pricing.ts). */
  prices?: PriceTable;
  /** Encrypts payloads at rest (see src/codec.ts). */
  codec?: PayloadCodec;
  /** Worker plugins, e.g. OpenTelemetry tracing (see src/tracing.ts). */
  plugins?: WorkerOptions['plugins'];
  /** Longest gap between heartbeats sent to the server (default 1 s): bounds cancellation latency. */
  maxHeartbeatThrottleInterval?: WorkerOptions['maxHeartbeatThrottleInterval'];
  /** Webhooks when a call starts waiting or a conversation needs attention (default: none; see src/notify). */
  notifications?: WebhookConfig;
}

/**
 * The Anthropic client the worker uses. `maxRetries: 0`: Temporal owns retries (one retry policy,
 * visible in the workflow's history), and SDK retries stacked under it would multiply attempts.
 */
export function anthropicClient(options: { apiKey?: string; baseURL?: string }): Anthropic {
  return new Anthropic({ apiKey: options.apiKey ?? 'no-key', baseURL: options.baseURL, maxRetries: 0 });
}

/**
 * The worker's tuning defaults (each overridable through AgentWorkerOptions / the AGENT_* variables of
 * src/config.ts). Measured with bench/sweep.ts on a 2-core machine (Temporal CLI dev server, worker,
 * driver on the same cores; figures and method in bench/TUNING.md):
 *
 * - Activity slots 1,000 (SDK default 100). Our activities wait on the network (a model call streams for
 *   seconds to minutes), so slots, not CPU, cap how many conversations progress at once: 200
 *   conversations x 3 model calls at 5 s latency took 34.0 s with 100 slots and 20.4 s (ideal 15 s) with
 *   500 or 1,000; at 200 ms latency, 1,000 conversations took 50.6-54.0 s with 100 and 49.4-52.9 s with
 *   1,000 (CPU-bound either way), peak RSS 723 vs 735-779 MiB. Each call in flight heartbeats once a
 *   second (maxHeartbeatThrottleInterval), so the server sees up to this many heartbeats a second
 *   (~1-3 ms of dev-server CPU each here): lower it for a small server.
 * - Everything else stays at the SDK's defaults, which no measurement beat beyond the noise (+-10%):
 *   workflow task slots 40 (100 with 20 pollers: no gain, peak RSS 965 MiB at 1,000 conversations),
 *   10 workflow and 10 activity task pollers (4 or 20: no difference), sticky ratio 0.2, 3 eager
 *   activity slots per workflow task (eager dispatch matters: with the server's eager execution off a
 *   turn took 300 instead of 118 ms on the default dev server), and the workflow cache sized from the
 *   heap (2,310 workflows with a 4 GiB heap limit; keep it above the conversations in flight, or
 *   evicted ones are replayed).
 */
export const WORKER_TUNING_DEFAULTS = {
  maxCachedWorkflows: undefined as number | undefined,
  maxConcurrentActivityTaskExecutions: 1000,
  maxConcurrentWorkflowTaskExecutions: 40,
  workflowTaskPollers: 10,
  activityTaskPollers: 10,
  nonStickyToStickyPollRatio: 0.2,
  maxEagerActivities: 3,
};

type TuningOptions = Pick<
  AgentWorkerOptions,
  | 'maxCachedWorkflows'
  | 'maxConcurrentActivityTaskExecutions'
  | 'maxConcurrentWorkflowTaskExecutions'
  | 'workflowTaskPollers'
  | 'activityTaskPollers'
  | 'nonStickyToStickyPollRatio'
  | 'maxEagerActivities'
>;

/** The Temporal WorkerOptions of the tuning knobs, defaults filled in. */
export function workerTuning(options: TuningOptions): Partial<WorkerOptions> {
  const d = WORKER_TUNING_DEFAULTS;
  const maxCachedWorkflows = options.maxCachedWorkflows ?? d.maxCachedWorkflows;
  const workflowTasks = options.maxConcurrentWorkflowTaskExecutions ?? d.maxConcurrentWorkflowTaskExecutions;
  const activities = options.maxConcurrentActivityTaskExecutions ?? d.maxConcurrentActivityTaskExecutions;
  // SDK 1.24 ignores `maxConcurrentWorkflowTaskPolls` / `maxConcurrentActivityTaskPolls` (declared, never
  // read): poller counts are set through the poller behaviours. Polls beyond the slots are pointless.
  const workflowPolls = Math.max(
    2,
    Math.min(options.workflowTaskPollers ?? d.workflowTaskPollers, workflowTasks),
  );
  const activityPolls = Math.max(
    1,
    Math.min(options.activityTaskPollers ?? d.activityTaskPollers, activities),
  );
  return {
    ...(maxCachedWorkflows !== undefined && { maxCachedWorkflows }),
    maxConcurrentWorkflowTaskExecutions: workflowTasks,
    maxConcurrentActivityTaskExecutions: activities,
    workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: workflowPolls },
    activityTaskPollerBehavior: { type: 'simple-maximum', maximum: activityPolls },
    nonStickyToStickyPollRatio: options.nonStickyToStickyPollRatio ?? d.nonStickyToStickyPollRatio,
    maxEagerActivityReservationsPerWorkflowTask: options.maxEagerActivities ?? d.maxEagerActivities,
  };
}

/** The tuning knobs set in the environment (unset ones stay undefined: {@link workerTuning} fills them in). */
export function tuningFromConfig(config: Config): TuningOptions {
  return {
    maxCachedWorkflows: config.AGENT_MAX_CACHED_WORKFLOWS,
    maxConcurrentActivityTaskExecutions: config.AGENT_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: config.AGENT_MAX_CONCURRENT_WORKFLOW_TASKS,
    workflowTaskPollers: config.AGENT_WORKFLOW_TASK_POLLERS,
    activityTaskPollers: config.AGENT_ACTIVITY_TASK_POLLERS,
    nonStickyToStickyPollRatio: config.AGENT_NON_STICKY_POLL_RATIO,
    maxEagerActivities: config.AGENT_MAX_EAGER_ACTIVITIES,
  };
}

/**
 * What the conversation workflow's bundle is built from: pass these to `bundleWorkflowCode` for a
 * prebuilt bundle (`AGENT_WORKFLOW_BUNDLE`, tests, the Docker image). The payload converter decodes a
 * payload it cannot read into a marker the handlers refuse, instead of failing the workflow task.
 */
export const CONVERSATION_BUNDLE_OPTIONS = {
  workflowsPath: require.resolve('./workflows'),
  payloadConverterPath: require.resolve('./api/payload-converter'),
  // A legacy query's answer goes out alone (src/workflows/legacy-query-guard.ts; README, "Fixed: a legacy query answered with other commands").
  workflowInterceptorModules: [require.resolve('./workflows/legacy-query-guard')],
};

/** The workflow bundle `npm run build` writes next to the compiled worker; absent when running from src. */
const PREBUILT_BUNDLE = join(__dirname, 'workflow-bundle.js');

/**
 * The workflow code: the bundle given, else the prebuilt one (so an installed package's worker starts in
 * about a second instead of bundling our sources), else bundled at start. A plugin that configures the
 * bundler (tracing adds workflow interceptors) needs the code bundled here, with it.
 */
function workflowCode(
  options: Pick<AgentWorkerOptions, 'workflowBundle' | 'plugins' | 'connection'>,
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'interceptors'> {
  if (options.workflowBundle) return { workflowBundle: options.workflowBundle };
  const plugins = [...(options.plugins ?? []), ...(options.connection.plugins ?? [])];
  if (!plugins.some((plugin) => 'configureBundler' in plugin) && existsSync(PREBUILT_BUNDLE))
    return { workflowBundle: { codePath: PREBUILT_BUNDLE } };
  return {
    workflowsPath: CONVERSATION_BUNDLE_OPTIONS.workflowsPath,
    interceptors: { workflowModules: CONVERSATION_BUNDLE_OPTIONS.workflowInterceptorModules },
  };
}

/** Creates a worker that runs conversation workflows and their activities. */
export async function createAgentWorker(options: AgentWorkerOptions): Promise<Worker> {
  const registry = new AgentRegistry(options.agents, options.tools);
  const ownPool =
    !options.mcpPool && registry.names().some((name) => registry.get(name)!.mcpServers.length > 0)
      ? new McpPool()
      : undefined;
  const pool = options.mcpPool ?? ownPool;
  // An agent whose memory backend this worker lacks would fail every call: refuse to start instead.
  for (const agent of registry.names().map((name) => registry.get(name)!)) {
    if (agent.memory && !options.memory?.store(agent.memory.backend)) {
      const backend = agent.memory.backend ?? 'default';
      throw new Error(
        `agent ${agent.name} has memory (${backend} backend), but the worker has no such memory backend: give it \`memory\` (AGENT_MEMORY_DATABASE_URL for postgres)`,
      );
    }
  }
  const activities = createActivities({
    anthropic: options.anthropic,
    agents: new AgentTools(registry, pool, options.memory),
    observer: options.observer,
    transcriptCacheBytes: options.transcriptCacheBytes,
    readTranscript: options.readTranscript,
    prices: options.prices,
    notifications: options.notifications,
  });
  const tuning = workerTuning(options);
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities,
    dataConverter: {
      payloadConverterPath: CONVERSATION_BUNDLE_OPTIONS.payloadConverterPath,
      ...(options.codec && { payloadCodecs: [tolerantCodec(options.codec)] }),
    },
    ...(options.plugins && { plugins: options.plugins }),
    ...workflowCode(options),
    ...tuning,
    // On SIGTERM, in-flight activities get this long to finish before they are cancelled (and retried elsewhere).
    shutdownGraceTime: '20 seconds',
    // Cancellation reaches an activity only in the answer to a heartbeat, and the SDK otherwise throttles
    // heartbeats to 80% of the heartbeat timeout: a cancelled conversation would keep streaming (and
    // paying for) tokens for seconds. One heartbeat a second per in-flight call is cheap.
    maxHeartbeatThrottleInterval: options.maxHeartbeatThrottleInterval ?? '1 second',
  });
}

/**
 * A worker that shuts itself down after a fatal error can stay DRAINING without ever stopping (seen
 * with SDK 1.24 after a "malformed workflow completion" on a legacy query, now guarded against by
 * src/workflows/legacy-query-guard.ts; kept for faults not known yet). A process that neither works nor exits is the worst outcome: exit so the supervisor
 * (docker, systemd, npm start) starts a fresh worker, and Temporal retries what this one held.
 */
function exitIfStuckShuttingDown(worker: Worker, limitMs: number): NodeJS.Timeout {
  let since: number | undefined;
  const timer = setInterval(() => {
    const state = worker.getState();
    if (state === 'RUNNING' || state === 'INITIALIZED') {
      since = undefined;
      return;
    }
    since ??= Date.now();
    if (Date.now() - since > limitMs) {
      console.error(
        `worker: still ${state} after ${limitMs} ms of shutting down; exiting so a fresh worker can take over`,
      );
      process.exit(70);
    }
  }, 1000);
  timer.unref();
  return timer;
}

/**
 * Runs a worker configured from the environment until it is shut down (SIGINT/SIGTERM). `overrides`
 * replace options (the benchmarks' instrumented worker uses it; `plugins` are added, not replaced).
 */
export async function runWorker(
  overrides: Partial<Omit<AgentWorkerOptions, 'connection'>> = {},
): Promise<void> {
  const config = loadConfig();
  if (!config.ANTHROPIC_API_KEY && !config.ANTHROPIC_BASE_URL) {
    throw new Error(
      'ANTHROPIC_API_KEY is not set. Set it, or point ANTHROPIC_BASE_URL at the fake Messages API (`npm start` does that for you).',
    );
  }
  // Your agents and tools (AGENT_MODULE), or the demo agent and the built-in tools.
  const served = config.AGENT_MODULE
    ? await loadAgentModule(config.AGENT_MODULE)
    : { agents: demoAgents({ dataDir: config.dataDir }), tools: builtinTools({ dataDir: config.dataDir }) };
  // A mistake in them (two tools with one name, a sub-agent nobody defines) stops the worker here,
  // before it connects, saying which.
  new AgentRegistry(served.agents, served.tools);
  const notifications = webhookConfig(config); // settings that only work together (OPS_PUBLIC_URL)
  Runtime.install({
    logger:
      config.AGENT_LOG_FORMAT === 'json'
        ? new JsonLogger(config.AGENT_LOG_LEVEL)
        : new DefaultLogger(config.AGENT_LOG_LEVEL),
  });
  const { connectionOptions, namespace } = temporalConnectOptions(config);
  const connection = await NativeConnection.connect(connectionOptions).catch((err: unknown) => {
    throw new Error(
      `cannot reach the Temporal server at ${connectionOptions.address} (${err instanceof Error ? err.message.slice(0, 200) : String(err)}): start it (\`npm start\` runs one) or set TEMPORAL_ADDRESS`,
    );
  });
  const mcpPool = new McpPool();
  const memory = memoryBackends({
    dir: config.AGENT_MEMORY_DIR ? resolve(config.AGENT_MEMORY_DIR) : join(config.dataDir, 'memory'),
    databaseUrl: config.AGENT_MEMORY_DATABASE_URL,
    backend: config.AGENT_MEMORY_BACKEND,
  });
  const worker = await createAgentWorker({
    connection,
    namespace,
    taskQueue: config.AGENT_TASK_QUEUE,
    anthropic: anthropicClient({ apiKey: config.ANTHROPIC_API_KEY, baseURL: config.ANTHROPIC_BASE_URL }),
    ...served,
    mcpPool,
    memory,
    transcriptCacheBytes: config.AGENT_TRANSCRIPT_CACHE_BYTES,
    ...tuningFromConfig(config),
    // Tracing adds interceptors to the workflow code, so it needs the bundle built here, not a prebuilt one.
    ...(config.AGENT_WORKFLOW_BUNDLE &&
      !config.AGENT_OTEL && { workflowBundle: { codePath: config.AGENT_WORKFLOW_BUNDLE } }),
    prices: { ...DEFAULT_PRICES, ...config.AGENT_MODEL_PRICES },
    notifications,
    codec: codecFromEnv(config.AGENT_ENCRYPTION_KEYS, config.AGENT_ENCRYPTION_KEY_ID),
    ...(config.AGENT_STREAM_URL &&
      config.OPS_TOKEN && {
        observer: new StreamPublisher({ url: config.AGENT_STREAM_URL, token: config.OPS_TOKEN }),
      }),
    ...overrides,
    plugins: [tracingPlugin(config.AGENT_OTEL), ...(overrides.plugins ?? [])].filter((p) => p !== undefined),
  });
  if (config.AGENT_WORKFLOW_BUNDLE && config.AGENT_OTEL)
    console.warn(
      'worker: AGENT_OTEL is set, so the workflow code is bundled at start (AGENT_WORKFLOW_BUNDLE is not used)',
    );
  if (config.AGENT_STREAM_URL && !config.OPS_TOKEN)
    console.warn('worker: AGENT_STREAM_URL is set but OPS_TOKEN is not; the live stream is off');
  console.log(
    `worker: task queue ${config.AGENT_TASK_QUEUE} on ${connectionOptions.address} (namespace ${namespace}); agents: ${served.agents.map((a) => a.name).join(', ') || 'none'}${config.AGENT_MODULE ? ` (from ${config.AGENT_MODULE})` : ''}`,
  );
  if (notifications)
    console.log(
      `worker: notifications to ${notifications.targets.map((target, i) => `${targetLabel(target, i)} [${target.format}]`).join(', ')}${notifications.secret ? ', signed' : ''}`,
    );
  const watchdog = exitIfStuckShuttingDown(worker, 20_000 + 15_000);
  // The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown: polling stops, in-flight work drains.
  await worker.run().finally(() => Promise.all([mcpPool.close(), memory.close()]));
  clearInterval(watchdog);
  await connection.close();
}

if (require.main === module) {
  runWorker().catch((err: unknown) => {
    console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
