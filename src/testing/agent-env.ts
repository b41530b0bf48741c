import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import {
  WorkflowNotFoundError,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import {
  CONVERSATION_WORKFLOW,
  stateQuery,
  type ConversationInput,
  type ConversationState,
} from '../api/conversation';
import type { RecordedRequest } from './fake-claude/types';
import { FakeClaude, type FakeClaudeOptions } from './fake-claude/server';
import { builtinTools } from '../tools/builtin';
import type { StreamObserver } from '../activities/call-claude';
import type { ToolDefinition } from '../tools/define-tool';
import type { AgentDefinition } from '../agents/define-agent';
import { McpPool } from '../mcp/pool';
import { memoryBackends, type MemoryBackends } from '../memory/tool';
import type { WebhookConfig } from '../notify/config';
import { CONVERSATION_BUNDLE_OPTIONS, anthropicClient, createAgentWorker } from '../worker';
import type { conversationWorkflow } from '../workflows/conversation';
import {
  installQuietRuntime,
  quietBundlerLogger,
  startDevServer,
  startTimeSkippingServer,
} from './temporal-env';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/**
 * Where a test run's shared workflow bundle is (set by {@link shareWorkflowBundle} in a jest
 * `globalSetup`; every test file and process the run starts inherits it).
 */
export const SHARED_BUNDLE_ENV = 'AGENT_TEST_WORKFLOW_BUNDLE';

/**
 * The conversation workflow's bundle: the run's shared one when a `globalSetup` built it
 * ({@link shareWorkflowBundle}), else built once per test file (a few seconds each).
 */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  const shared = process.env[SHARED_BUNDLE_ENV];
  bundle ??= shared
    ? Promise.resolve({
        code: readFileSync(shared, 'utf8'),
        sourceMap: readFileSync(`${shared}.map`, 'utf8'),
      })
    : bundleWorkflowCode({ ...CONVERSATION_BUNDLE_OPTIONS, logger: quietBundlerLogger });
  return bundle;
}

/**
 * Builds the conversation workflow's bundle once for a whole test run, for a jest `globalSetup`: the
 * bundle is written to `dir` and {@link SHARED_BUNDLE_ENV} set to it, so {@link workflowBundle} and
 * {@link startAgentEnv} in every test file read it instead of bundling again. Returns the bundle's path.
 */
export async function shareWorkflowBundle(dir: string): Promise<string> {
  const { code, sourceMap } = await bundleWorkflowCode({
    ...CONVERSATION_BUNDLE_OPTIONS,
    logger: quietBundlerLogger,
  });
  const path = join(dir, 'workflow-bundle.js');
  writeFileSync(path, code);
  writeFileSync(`${path}.map`, sourceMap);
  process.env[SHARED_BUNDLE_ENV] = path;
  return path;
}

/**
 * An agent test environment: a real Temporal server (the CLI dev server, or the time-skipping test
 * server), the scripted fake Messages API over HTTP, and a worker running the conversation workflow
 * with the built-in tools and yours.
 */
export interface AgentEnv {
  env: TestWorkflowEnvironment;
  fake: FakeClaude;
  taskQueue: string;
  dataDir: string;
  worker: Worker;
  /** Starts a conversation (id unique per call unless given). */
  start(
    input: Partial<ConversationInput> & { message?: ConversationInput['message'] },
    workflowId?: string,
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof conversationWorkflow>>;
  /** Polls the state query until `predicate` holds (default 20 s). */
  waitFor(
    handle: WorkflowHandle,
    predicate: (s: ConversationState) => boolean,
    timeoutMs?: number,
  ): Promise<ConversationState>;
  /** The model requests of a conversation, in order (what the model received). */
  requests(workflowId: string): RecordedRequest[];
  /** The tool_result blocks the model received, across the conversation, in order. */
  toolResults(workflowId: string): Array<{ tool_use_id: string; content: unknown; is_error?: boolean }>;
  /**
   * Stops the worker (to restart it, say) and starts a new one on the same task queue; with `agents`,
   * the new worker serves those (a deploy that changes an agent); with `memory`, it keeps memory there
   * (another machine's worker, say; the caller closes them).
   */
  restartWorker(options?: { agents?: AgentDefinition[]; memory?: MemoryBackends }): Promise<void>;
  /**
   * Replays the history of every conversation this env started (every run, continue-as-new included)
   * against the current workflow code; resolves to the number replayed, throws on non-determinism.
   * With `RECORD_HISTORIES_DIR` set, it also writes each history there as JSON, to replay against a
   * later version of the workflow (a change that moves a command fails that replay).
   */
  replayHistories(): Promise<number>;
  teardown(): Promise<void>;
}

let counter = 0;

export interface AgentEnvOptions {
  /** Your tools, besides the built-in get_weather and save_article. */
  tools?: ToolDefinition[];
  /** Your agents (`defineAgent`); conversations name one with `agent`. */
  agents?: AgentDefinition[];
  fake?: FakeClaudeOptions;
  /** Run on the time-skipping test server instead of the dev server. */
  timeSkipping?: boolean;
  /** Receives the model streams (the live side channel), e.g. a StreamHub adapter. */
  observer?: StreamObserver;
  /**
   * Memory backends for agents with `memory` (the caller closes them). Default: the filesystem backend
   * in the env's data directory.
   */
  memory?: MemoryBackends;
  /** Webhooks the worker sends when a call starts waiting or a conversation parks (src/notify). */
  notifications?: WebhookConfig;
}

/** Starts an {@link AgentEnv}; call `teardown()` when done (in `afterAll`). */
export async function startAgentEnv(options: AgentEnvOptions = {}): Promise<AgentEnv> {
  // Conversations parked on purpose log warnings; keep test output to errors.
  installQuietRuntime('ERROR');
  const env = options.timeSkipping ? await startTimeSkippingServer() : await startDevServer();
  const fake = await FakeClaude.start(options.fake);
  const dataDir = mkdtempSync(join(tmpdir(), 'agent-test-'));
  const taskQueue = `agent-${process.pid}-${Date.now()}`;
  const tools = [...builtinTools({ dataDir }), ...(options.tools ?? [])];
  let agents = options.agents;
  const ownMemory = options.memory ? undefined : memoryBackends({ dir: join(dataDir, 'memory') });
  let memory = options.memory ?? ownMemory!;
  // One pool of MCP connections across worker restarts, closed at teardown (its servers with it).
  const mcpPool = new McpPool();
  const makeWorker = async () =>
    createAgentWorker({
      connection: env.nativeConnection,
      taskQueue,
      anthropic: anthropicClient({ apiKey: 'test-key', baseURL: fake.url }),
      tools,
      agents,
      mcpPool,
      memory,
      workflowBundle: await workflowBundle(),
      observer: options.observer,
      notifications: options.notifications,
    });
  const started: string[] = [];
  let worker = await makeWorker();
  let running = worker.run();

  const self: AgentEnv = {
    env,
    fake,
    taskQueue,
    dataDir,
    get worker() {
      return worker;
    },
    async start(input, workflowId) {
      const id = workflowId ?? `conv-${process.pid}-${++counter}-${Date.now()}`;
      started.push(id);
      return env.client.workflow.start<typeof conversationWorkflow>(CONVERSATION_WORKFLOW, {
        taskQueue,
        workflowId: id,
        args: [{ model: 'claude-sonnet-5-5', ...input } as ConversationInput],
      });
    },
    requests(workflowId) {
      return fake.requestsFor(workflowId);
    },
    toolResults(workflowId) {
      const last = fake.requestsFor(workflowId).at(-1);
      // As the model got them, without the prompt-cache breakpoint the worker may have put on one.
      return (last?.body.messages ?? []).flatMap((m) =>
        Array.isArray(m.content)
          ? m.content
              .filter((b) => b.type === 'tool_result')
              .map((b) => {
                const { cache_control: _, ...block } = b as ToolResultBlockParam;
                return block as { tool_use_id: string; content: unknown; is_error?: boolean };
              })
          : [],
      );
    },
    async waitFor(handle, predicate, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let last: ConversationState | undefined;
      while (Date.now() < deadline) {
        try {
          last = await handle.query(stateQuery, {});
          if (predicate(last)) return last;
        } catch (err) {
          // Not started yet (a sub-agent's conversation, say): wait for it like for any state.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(
        `condition not met in ${timeoutMs} ms; last state: ${JSON.stringify({ ...last, messages: undefined }, null, 1)}`,
      );
    },
    async restartWorker(restart = {}) {
      if (restart.agents) agents = restart.agents;
      if (restart.memory) memory = restart.memory;
      worker.shutdown();
      await running;
      worker = await makeWorker();
      running = worker.run();
    },
    async replayHistories() {
      const histories = [];
      if (options.timeSkipping) {
        // The test server has no visibility store: the latest run of each conversation started here.
        for (const workflowId of started) {
          histories.push({
            workflowId,
            name: workflowId,
            history: await env.client.workflow.getHandle(workflowId).fetchHistory(),
          });
        }
      } else {
        // Every run on this env's task queue: conversations started by `start` or by a client,
        // continue-as-new runs, sub-agents' conversations.
        const query = `TaskQueue = '${taskQueue}'`;
        for await (const execution of env.client.workflow.list({ query })) {
          const handle = env.client.workflow.getHandle(execution.workflowId, execution.runId);
          histories.push({
            workflowId: execution.workflowId,
            name: `${execution.workflowId}/${execution.runId}`,
            history: await handle.fetchHistory(),
          });
        }
      }
      // RECORD_HISTORIES_DIR keeps them, to replay against later workflow code (test/replay/histories).
      const keep = process.env.RECORD_HISTORIES_DIR;
      if (keep) {
        mkdirSync(keep, { recursive: true });
        for (const { name: id, history } of histories) {
          const name = id.replace(/[^A-Za-z0-9._-]+/g, '_');
          writeFileSync(
            join(keep, `${name}.json`),
            `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 1)}\n`,
          );
        }
      }
      let replayed = 0;
      for await (const result of Worker.runReplayHistories(
        { workflowBundle: await workflowBundle(), replayName: 'agent-test' },
        histories.map(({ workflowId, history }) => ({ workflowId, history })),
      )) {
        if (result.error) throw new Error(`replay of ${result.workflowId} failed: ${String(result.error)}`);
        replayed++;
      }
      return replayed;
    },
    async teardown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await mcpPool.close();
      await ownMemory?.close();
      await fake.close();
      await env.teardown();
      rmSync(dataDir, { recursive: true, force: true });
    },
  } as AgentEnv;
  return self;
}
