import Anthropic from '@anthropic-ai/sdk';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import type { PayloadCodec } from '@temporalio/common';
import { createActivities, type ActivityDeps } from './activities';
import { codecFromEnv } from './codec';
import { temporalConnectOptions } from './connection';
import { JsonLogger } from './logging';
import { tracingPlugin } from './tracing';
import { loadConfig } from './config';
import { builtinTools } from './tools/builtin';
import type { ToolDefinition } from './tools/define-tool';
import { StreamPublisher } from './streaming/publisher';
import { ToolRegistry } from './tools/registry';

/** What an agent worker needs; everything else has a default. */
export interface AgentWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  /** Build it with `maxRetries: 0` (see {@link anthropicClient}). */
  anthropic: Anthropic;
  tools: ToolDefinition[];
  /** A prebuilt bundle (tests build one per file); default: bundle src/workflows at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  observer?: ActivityDeps['observer'];
  transcriptCacheBytes?: number;
  maxCachedWorkflows?: number;
  maxConcurrentActivityTaskExecutions?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  /** Test only: see AGENT_CRASH_TEST_HOLD_AFTER_TOOL_MS. */
  holdAfterToolMs?: number;
  /** Encrypts payloads at rest (see src/codec.ts). */
  codec?: PayloadCodec;
  /** Worker plugins, e.g. OpenTelemetry tracing (see src/tracing.ts). */
  plugins?: WorkerOptions['plugins'];
  /** Longest gap between heartbeats sent to the server (default 1 s): bounds cancellation latency. */
  maxHeartbeatThrottleInterval?: WorkerOptions['maxHeartbeatThrottleInterval'];
}

/**
 * The Anthropic client the worker uses. `maxRetries: 0`: Temporal owns retries (one retry policy,
 * visible in the workflow's history), and SDK retries stacked under it would multiply attempts.
 */
export function anthropicClient(options: { apiKey?: string; baseURL?: string }): Anthropic {
  return new Anthropic({ apiKey: options.apiKey ?? 'no-key', baseURL: options.baseURL, maxRetries: 0 });
}

/** Creates a worker that runs conversation workflows and their activities. */
export async function createAgentWorker(options: AgentWorkerOptions): Promise<Worker> {
  const activities = createActivities({
    anthropic: options.anthropic,
    tools: new ToolRegistry(options.tools),
    observer: options.observer,
    transcriptCacheBytes: options.transcriptCacheBytes,
    holdAfterToolMs: options.holdAfterToolMs,
  });
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities,
    ...(options.codec && { dataConverter: { payloadCodecs: [options.codec] } }),
    ...(options.plugins && { plugins: options.plugins }),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: require.resolve('./workflows') }),
    ...(options.maxCachedWorkflows !== undefined && { maxCachedWorkflows: options.maxCachedWorkflows }),
    ...(options.maxConcurrentActivityTaskExecutions !== undefined && { maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions }),
    ...(options.maxConcurrentWorkflowTaskExecutions !== undefined && { maxConcurrentWorkflowTaskExecutions: options.maxConcurrentWorkflowTaskExecutions }),
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
 * with SDK 1.24 after a "malformed workflow completion" when a legacy query and an update meet in one
 * activation). A process that neither works nor exits is the worst outcome: exit so the supervisor
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
      console.error(`worker: still ${state} after ${limitMs} ms of shutting down; exiting so a fresh worker can take over`);
      process.exit(70);
    }
  }, 1000);
  timer.unref();
  return timer;
}

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.ANTHROPIC_API_KEY && !config.ANTHROPIC_BASE_URL) {
    throw new Error('ANTHROPIC_API_KEY is not set. Set it, or point ANTHROPIC_BASE_URL at the fake Messages API (`npm start` does that for you).');
  }
  Runtime.install({ logger: config.AGENT_LOG_FORMAT === 'json' ? new JsonLogger(config.AGENT_LOG_LEVEL) : new DefaultLogger(config.AGENT_LOG_LEVEL) });
  const { connectionOptions, namespace } = temporalConnectOptions(config);
  const connection = await NativeConnection.connect(connectionOptions).catch((err: unknown) => {
    throw new Error(`cannot reach the Temporal server at ${connectionOptions.address} (${err instanceof Error ? err.message.slice(0, 200) : String(err)}): start it (\`npm start\` runs one) or set TEMPORAL_ADDRESS`);
  });
  const worker = await createAgentWorker({
    connection,
    namespace,
    taskQueue: config.AGENT_TASK_QUEUE,
    anthropic: anthropicClient({ apiKey: config.ANTHROPIC_API_KEY, baseURL: config.ANTHROPIC_BASE_URL }),
    tools: builtinTools({ dataDir: config.dataDir }),
    transcriptCacheBytes: config.AGENT_TRANSCRIPT_CACHE_BYTES,
    maxCachedWorkflows: config.AGENT_MAX_CACHED_WORKFLOWS,
    maxConcurrentActivityTaskExecutions: config.AGENT_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: config.AGENT_MAX_CONCURRENT_WORKFLOW_TASKS,
    // Tracing adds interceptors to the workflow code, so it needs the bundle built here, not a prebuilt one.
    ...(config.AGENT_WORKFLOW_BUNDLE && !config.AGENT_OTEL && { workflowBundle: { codePath: config.AGENT_WORKFLOW_BUNDLE } }),
    holdAfterToolMs: config.AGENT_CRASH_TEST_HOLD_AFTER_TOOL_MS,
    codec: codecFromEnv(config.AGENT_ENCRYPTION_KEYS, config.AGENT_ENCRYPTION_KEY_ID),
    plugins: [tracingPlugin(config.AGENT_OTEL)].filter((p) => p !== undefined),
    ...(config.AGENT_STREAM_URL && config.OPS_TOKEN && { observer: new StreamPublisher({ url: config.AGENT_STREAM_URL, token: config.OPS_TOKEN }) }),
  });
  if (config.AGENT_WORKFLOW_BUNDLE && config.AGENT_OTEL) console.warn('worker: AGENT_OTEL is set, so the workflow code is bundled at start (AGENT_WORKFLOW_BUNDLE is not used)');
  if (config.AGENT_STREAM_URL && !config.OPS_TOKEN) console.warn('worker: AGENT_STREAM_URL is set but OPS_TOKEN is not; the live stream is off');
  console.log(`worker: task queue ${config.AGENT_TASK_QUEUE} on ${connectionOptions.address} (namespace ${namespace})`);
  const watchdog = exitIfStuckShuttingDown(worker, 20_000 + 15_000);
  // The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown: polling stops, in-flight work drains.
  await worker.run();
  clearInterval(watchdog);
  await connection.close();
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
