import Anthropic from '@anthropic-ai/sdk';
import type {
  MessageCreateParamsStreaming,
  RawMessageStreamEvent,
  ToolUnion,
} from '@anthropic-ai/sdk/resources/messages';
import { activityInfo, ApplicationFailure, cancellationSignal, heartbeat, log } from '@temporalio/activity';
import type { BetaContextManagementConfig } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { ContextEdit, Effort } from '../api/conversation';
import {
  COMPACTION_BETA,
  CONFIGURATION_ERROR,
  CONTEXT_MANAGEMENT_BETA,
  CONTEXT_WINDOW_EXCEEDED,
  INVALID_INPUT_KEY,
  MODEL_API_ERROR,
  SERVER_COMPACTION_BETA,
  type CallClaudeInput,
  type CallClaudeResult,
  type ModelErrorDetails,
  type ModelRequest,
  type ToolCallInfo,
} from '../api/activity-contract';
import { AGENT_NOT_SERVED } from '../api/agents';
import { CONVERSATION_ID_HEADER } from '../api/wire';
import { startsWithCompaction } from '../api/transcript';
import { fromDefinition, inputSchemaOf, type AgentTools, type OfferedTool } from '../agents/agent-tools';
import { withToolSearch } from '../agents/tool-search';
import { withCacheBreakpoints } from './cache-breakpoints';
import {
  outputSpecFromJsonSchema,
  outputSpecFromZod,
  outputVerdict,
  type OutputSpec,
} from './structured-output';
import { MessageAccumulator } from './message-accumulator';
import { costOf, type PriceTable } from './pricing';
import type { TranscriptCache } from './transcript-cache';

/** Receives a model call's stream as it happens (the live side channel); must not throw or block. */
export interface StreamObserver {
  /** A call (or a retry of it) starts: observers drop any partial output of an earlier attempt. */
  onStart(workflowId: string, info: { turn: number; attempt: number }): void;
  onEvent(workflowId: string, event: RawMessageStreamEvent): void;
  onEnd(workflowId: string, outcome: { ok: boolean; error?: string }): void;
}

export interface CallClaudeDeps {
  anthropic: Anthropic;
  /** The worker's agents and tools. */
  agents: AgentTools;
  transcripts: TranscriptCache;
  observer?: StreamObserver;
  /** How often to heartbeat while a stream is open but quiet (ms). Default 1000. */
  heartbeatEveryMs?: number;
  /** Model prices, for each call's cost (see pricing.ts). */
  prices?: PriceTable;
}

/** Statuses the API may succeed on later; everything else 4xx is the request's fault. */
const RETRYABLE_STATUS = new Set([408, 409, 429]);
/** Longest server-asked retry delay we honour; past it we still retry, after this long. */
const MAX_RETRY_DELAY_MS = 10 * 60 * 1000;

/**
 * One streamed model call. Temporal owns retries: the SDK client runs with `maxRetries: 0`, and this
 * activity turns each failure into a retryable or non-retryable `ApplicationFailure`, carrying the
 * server's `retry-after` as the next retry delay.
 */
export function createCallClaude(deps: CallClaudeDeps) {
  return async function callClaude(input: CallClaudeInput): Promise<CallClaudeResult> {
    const { workflowId, request } = input;
    const transcript = await deps.transcripts.messages(
      workflowId,
      input.messageCount,
      input.digest,
      input.tail,
    );
    const call = await resolveRequest(deps.agents, request);
    const prompt = {
      system: call.system,
      tools: [...call.tools.map((t) => t.api), ...call.serverTools],
      // The last compaction message on: what it summarized is not sent.
      messages: transcript.slice(input.promptFrom ?? 0),
    };
    const { system, tools, messages } = call.cacheTtl ? withCacheBreakpoints(prompt, call.cacheTtl) : prompt;
    const { compact } = input;
    // A compaction request answers with the block alone, so the API refuses what only shapes a reply
    // (the SDK's tool runner leaves out the same: stop sequences, a forced tool choice).
    const forced = request.toolChoice?.type === 'any' || request.toolChoice?.type === 'tool';
    const body: MessageCreateParamsStreaming = {
      model: call.model,
      max_tokens: request.maxTokens,
      messages,
      stream: true,
      ...(system !== undefined && { system }),
      ...(tools.length > 0 && { tools }),
      ...(request.toolChoice &&
        tools.length > 0 &&
        !(compact && forced) && { tool_choice: request.toolChoice }),
      ...(call.temperature !== undefined && { temperature: call.temperature }),
      ...(call.stopSequences?.length && !compact && { stop_sequences: call.stopSequences }),
      ...(call.thinking && { thinking: call.thinking }),
      ...(request.container && { container: request.container }),
      // The format shapes a reply: a compaction request leaves it out (as the SDK's tool runner does).
      ...outputConfig(call.effort, compact ? undefined : call.output),
    };
    const beta = contextParams(input, request, call.contextEdits, messages);
    const betas = [...new Set([...(call.betas ?? []), ...beta.betas])];
    const signal = cancellationSignal();
    // Percent-encoded: a workflow id may hold characters no HTTP header can carry (non-latin-1, CR/LF).
    const options = { signal, headers: { [CONVERSATION_ID_HEADER]: encodeURIComponent(workflowId) } };
    const attempt = activityInfo().attempt;
    deps.observer?.onStart(workflowId, { turn: input.turn, attempt });

    // Heartbeat on a timer, not per event: the model may think for a long time before the first byte,
    // and a dead worker must still be noticed within the heartbeat timeout. Heartbeats also deliver
    // cancellation, which aborts the HTTP stream through `signal`.
    let events = 0;
    const beat = setInterval(() => heartbeat({ events }), deps.heartbeatEveryMs ?? 1000);
    heartbeat({ events });
    const accumulator = new MessageAccumulator();
    try {
      // The raw event stream, accumulated by our own strict accumulator: the SDK's stream helpers parse
      // tool input leniently (and the beta one throws on invalid JSON), and neither may decide what runs.
      const { data: stream, request_id } = betas.length
        ? await deps.anthropic.beta.messages
            .create({ ...body, ...beta.params, betas }, options)
            .withResponse()
        : await deps.anthropic.messages.create(body, options).withResponse();
      for await (const event of stream as AsyncIterable<RawMessageStreamEvent>) {
        events++;
        accumulator.push(event);
        deps.observer?.onEvent(workflowId, event);
      }
      const { message, rawInputs, stopped } = accumulator.finish();
      deps.observer?.onEnd(workflowId, { ok: true });
      const result = judge(message, rawInputs, stopped, call.tools, request_id ?? undefined, deps.prices);
      const output = call.output && !compact && outputVerdict(message, call.output, request.maxTokens);
      if (output) result.output = output;
      // A compaction's block enters the transcript as its own message, which the workflow adds.
      if (!compact) deps.transcripts.recordAnswer(workflowId, input.messageCount, result.message.content);
      return call.agent ? { ...result, agent: call.agent } : result;
    } catch (err) {
      deps.observer?.onEnd(workflowId, {
        ok: false,
        error: err instanceof Error ? err.message : String(err),
      });
      if (signal.aborted) throw signal.reason ?? err;
      throw toFailure(err);
    } finally {
      clearInterval(beat);
    }
  };
}

/**
 * The beta parameters of compaction and context editing: a compaction request (`compaction`), the
 * context edits and the server-side compaction edit (`context_management`, never with a compaction
 * request: the API refuses the pair), and the betas they and a prompt that starts with a compaction
 * block need.
 */
function contextParams(
  input: CallClaudeInput,
  request: ModelRequest,
  edits: readonly ContextEdit[] | undefined,
  messages: readonly unknown[],
): {
  params: {
    compaction?: { type: 'summarize'; instructions?: string };
    context_management?: BetaContextManagementConfig;
  };
  betas: string[];
} {
  const server = request.serverCompaction;
  if (input.compact) {
    const { instructions } = input.compact;
    return {
      params: { compaction: { type: 'summarize', ...(instructions && { instructions }) } },
      betas: [COMPACTION_BETA, ...(server ? [SERVER_COMPACTION_BETA] : [])],
    };
  }
  const first = messages[0] as Parameters<typeof startsWithCompaction>[0];
  const betas = [
    ...(server ? [SERVER_COMPACTION_BETA] : []),
    ...(startsWithCompaction(first) && !server ? [COMPACTION_BETA] : []),
    ...(edits?.length ? [CONTEXT_MANAGEMENT_BETA] : []),
  ];
  const compaction = server && {
    type: 'compact_20260112' as const,
    trigger: { type: 'input_tokens' as const, value: server.triggerTokens },
    ...(server.instructions && { instructions: server.instructions }),
  };
  // The API wants clear_thinking first; compaction last (it summarizes what the edits leave).
  const all = [
    ...(edits ?? []).filter((e) => e.type === 'clear_thinking_20251015'),
    ...(edits ?? []).filter((e) => e.type !== 'clear_thinking_20251015'),
    ...(compaction ? [compaction] : []),
  ];
  return { params: all.length > 0 ? { context_management: { edits: all } } : {}, betas };
}

/** What one call is made with: the request's options, or those of the agent's definition as deployed now. */
interface ResolvedRequest {
  model: string;
  system?: ModelRequest['system'];
  tools: OfferedTool[];
  serverTools: ToolUnion[];
  temperature?: number;
  stopSequences?: string[];
  thinking?: ModelRequest['thinking'];
  betas?: string[];
  cacheTtl?: ModelRequest['cacheTtl'];
  contextEdits?: ContextEdit[];
  effort?: Effort;
  /** Structured output: the format to send and the check of a final answer. */
  output?: OutputSpec;
  agent?: { name: string; fingerprint: string };
}

/** `output_config`: the effort and the structured-output format, when either is set. */
function outputConfig(
  effort: Effort | undefined,
  output: OutputSpec | undefined,
): { output_config?: { effort?: Effort; format?: OutputSpec['format'] } } {
  if (!effort && !output) return {};
  return { output_config: { ...(effort && { effort }), ...(output && { format: output.format }) } };
}

/**
 * An ad-hoc conversation's call is what the workflow sent; an agent's is built from the agent's
 * definition on this worker (prompt, model, tools, options), offering the tools its run listed. A name
 * the worker does not know is a configuration error (the conversation parks, saying so).
 */
async function resolveRequest(agents: AgentTools, request: ModelRequest): Promise<ResolvedRequest> {
  try {
    if (!request.agent) {
      return {
        model: request.model,
        system: request.system,
        tools: agents.registry.tools.resolve(request.tools).map((t) => fromDefinition(t, 'worker')),
        serverTools: request.serverTools,
        temperature: request.temperature,
        stopSequences: request.stopSequences,
        thinking: request.thinking,
        betas: request.betas,
        cacheTtl: request.cacheTtl,
        contextEdits: request.contextEdits,
        effort: request.effort,
        ...(request.outputSchema && { output: outputSpecFromJsonSchema(request.outputSchema) }),
      };
    }
    const agent = agents.registry.get(request.agent.name);
    // A rolling deploy: another worker serves it. Retried; when retries run out the conversation parks.
    if (!agent) {
      throw ApplicationFailure.create({
        type: AGENT_NOT_SERVED,
        message: `this worker does not serve agent ${request.agent.name} (it serves ${agents.registry.names().join(', ') || 'none'})`,
      });
    }
    return {
      model: agent.model,
      system: agent.system,
      // Tool search: deferred tools marked, the search tool added (src/agents/tool-search.ts).
      ...withToolSearch(
        agent.toolSearch,
        await agents.offered(agent, request.agent.tools),
        agent.serverTools ?? [],
      ),
      temperature: agent.temperature,
      stopSequences: agent.stopSequences,
      thinking: agent.thinking,
      betas: agent.betas,
      ...(agent.promptCaching !== 'off' && { cacheTtl: agent.promptCaching }),
      contextEdits: agent.contextManagement?.edits,
      effort: agent.effort,
      // The conversation's own schema wins over the agent's.
      ...((request.outputSchema || agent.output) && {
        output: request.outputSchema
          ? outputSpecFromJsonSchema(request.outputSchema)
          : outputSpecFromZod(agent.output!),
      }),
      agent: { name: agent.name, fingerprint: agent.fingerprint },
    };
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    throw ApplicationFailure.create({
      type: CONFIGURATION_ERROR,
      message: (err as Error).message,
      nonRetryable: true,
    });
  }
}

/**
 * Builds the transcript's assistant message and judges each tool call. Tool inputs come from the raw
 * streamed JSON, parsed strictly: the SDK's own parser is lenient and hands back a plausible but
 * shortened object when the input was cut off (`max_tokens`), which must never run.
 */
function judge(
  final: Anthropic.Message,
  raw: Map<number, string>,
  stopped: Set<number>,
  offered: readonly OfferedTool[],
  requestId: string | undefined,
  prices: PriceTable | undefined,
): CallClaudeResult {
  const toolCalls: ToolCallInfo[] = [];
  const content = final.content.map((block, index) => {
    if (block.type !== 'tool_use' && block.type !== 'server_tool_use') return block;
    const text = raw.get(index) ?? '';
    const parsed = parseObject(text);
    const cut = final.stop_reason === 'max_tokens' && (!stopped.has(index) || parsed === undefined);
    const input = parsed ?? (text === '' ? {} : { [INVALID_INPUT_KEY]: text });
    const kept = { ...block, input }; // our accumulator's blocks are plain objects
    if (block.type === 'tool_use') {
      const runnable = !cut && (parsed !== undefined || text === '');
      const tool = offered.find((t) => t.name === block.name);
      const checked = runnable && tool ? tool.check(input) : undefined;
      // Evaluated here, once, and recorded in history with the result: deterministic on replay, and the
      // workflow needs no tool code. A policy that throws asks for approval rather than skipping it.
      const needsApproval = Boolean(
        tool && checked?.ok && safePolicy(() => tool.needsApproval(checked.value)),
      );
      toolCalls.push({
        index,
        id: block.id,
        name: block.name,
        runnable,
        ...(!runnable && { problem: cut ? 'truncated' : 'invalid_json', rawInput: text }),
        needsApproval,
        // The schema with every constraint (a strict tool sends a transformed one), for an operator's edit.
        ...(needsApproval && tool && { inputSchema: inputSchemaOf(tool) }),
        // Recorded with the call, so the workflow's validator holds decisions to them (and replays).
        ...(needsApproval && tool?.approverRules),
        ...(tool && { effect: tool.effect }),
        ...(tool && tool.source !== 'worker' && tool.source !== 'tool' && { source: tool.source }),
        ...(tool?.subAgent && { subAgent: tool.subAgent }),
      } as ToolCallInfo);
    }
    return kept;
  });
  const usage = totalUsage(final.usage);
  const cacheWrite1h = usage.cache_creation?.ephemeral_1h_input_tokens ?? 0;
  const cacheWrite = usage.cache_creation_input_tokens ?? 0;
  const costUsd = prices
    ? costOf(
        final.model,
        {
          inputTokens: usage.input_tokens ?? 0,
          outputTokens: usage.output_tokens ?? 0,
          cacheRead: usage.cache_read_input_tokens ?? 0,
          cacheWrite5m: cacheWrite - cacheWrite1h,
          cacheWrite1h,
        },
        prices,
      )
    : undefined;
  return {
    message: { role: 'assistant', content: content as Anthropic.ContentBlock[] },
    id: final.id,
    model: final.model,
    stopReason: final.stop_reason ?? 'end_turn',
    stopSequence: final.stop_sequence ?? null,
    stopDetails: (final as { stop_details?: unknown }).stop_details ?? null,
    usage: {
      inputTokens: usage.input_tokens ?? 0,
      outputTokens: usage.output_tokens ?? 0,
      cacheCreationInputTokens: usage.cache_creation_input_tokens ?? 0,
      cacheReadInputTokens: usage.cache_read_input_tokens ?? 0,
      ...(cacheWrite1h > 0 && { cacheCreation1hInputTokens: cacheWrite1h }),
      ...(costUsd !== undefined && { costUsd }),
      ...(usage.compaction && { compaction: usage.compaction }),
    },
    toolCalls,
    ...(requestId && { requestId }),
    ...appliedEditsOf(final),
    ...(final.container && { container: { id: final.container.id, expiresAt: final.container.expires_at } }),
  };
}

/** The context edits the API applied (`context_management.applied_edits`), when it applied any. */
function appliedEditsOf(final: Anthropic.Message): Pick<CallClaudeResult, 'appliedEdits'> {
  const managed = (final as { context_management?: { applied_edits?: unknown } | null }).context_management;
  const edits = managed?.applied_edits;
  return Array.isArray(edits) && edits.length > 0 ? { appliedEdits: edits } : {};
}

/** One `usage.iterations` entry (beta), as far as the totals need it. */
interface IterationUsage {
  type: string;
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation?: { ephemeral_1h_input_tokens?: number; ephemeral_5m_input_tokens?: number } | null;
}

/**
 * The usage a call is billed for: the top-level counts plus those of its compaction iterations, which
 * the API reports only in `usage.iterations` (its other iterations are in the top-level counts).
 */
export function totalUsage(usage: Anthropic.Usage): Anthropic.Usage & {
  compaction?: { inputTokens: number; outputTokens: number };
} {
  const iterations = (usage as { iterations?: IterationUsage[] | null }).iterations ?? [];
  const compactions = iterations.filter((i) => i.type === 'compaction');
  if (compactions.length === 0) return usage;
  const sum = (pick: (i: IterationUsage) => number | undefined) =>
    compactions.reduce((total, i) => total + (pick(i) ?? 0), 0);
  const oneHour = sum((i) => i.cache_creation?.ephemeral_1h_input_tokens);
  const fiveMinutes = sum((i) => i.cache_creation?.ephemeral_5m_input_tokens);
  const compaction = { inputTokens: sum((i) => i.input_tokens), outputTokens: sum((i) => i.output_tokens) };
  return {
    ...usage,
    input_tokens: (usage.input_tokens ?? 0) + compaction.inputTokens,
    output_tokens: (usage.output_tokens ?? 0) + compaction.outputTokens,
    cache_creation_input_tokens:
      (usage.cache_creation_input_tokens ?? 0) + sum((i) => i.cache_creation_input_tokens),
    cache_read_input_tokens: (usage.cache_read_input_tokens ?? 0) + sum((i) => i.cache_read_input_tokens),
    cache_creation: {
      ephemeral_1h_input_tokens: (usage.cache_creation?.ephemeral_1h_input_tokens ?? 0) + oneHour,
      ephemeral_5m_input_tokens: (usage.cache_creation?.ephemeral_5m_input_tokens ?? 0) + fiveMinutes,
    },
    compaction,
  };
}

function safePolicy(policy: () => boolean): boolean {
  try {
    return policy();
  } catch (err) {
    log.warn('approval policy threw; asking for approval', { error: String(err) });
    return true;
  }
}

/** Strict JSON parse of a tool input; undefined unless it is a whole JSON object. */
function parseObject(text: string): Record<string, unknown> | undefined {
  if (text.trim() === '') return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Maps an SDK error to a Temporal failure. 408/409/429/5xx/529, dropped connections and mid-stream
 * `error` events are retryable, after the server's `retry-after` when it gives one; 400/401/403/404/413
 * and other 4xx are not: the workflow parks the conversation for an operator instead.
 */
export function toFailure(err: unknown): ApplicationFailure {
  if (err instanceof Anthropic.APIError) {
    const body = err.error as
      { error?: { type?: string; message?: string; details?: { error_code?: unknown } } } | undefined;
    const errorCode = body?.error?.details?.error_code;
    const details: ModelErrorDetails = {
      status: err.status,
      errorType:
        err.type ??
        body?.error?.type ??
        (err instanceof Anthropic.APIConnectionError ? 'connection_error' : undefined),
      ...(typeof errorCode === 'string' && { errorCode }),
      requestId: err.requestID ?? undefined,
      message: body?.error?.message ?? err.message,
    };
    const shouldRetry = err.headers?.get('x-should-retry');
    const retryable =
      shouldRetry === 'true' ||
      (shouldRetry !== 'false' &&
        (err.status === undefined || err.status >= 500 || RETRYABLE_STATUS.has(err.status)));
    const nextRetryDelay = retryable ? retryDelayMs(err.headers) : undefined;
    const what = err.status
      ? `${err.status} ${details.errorType ?? ''}`.trim()
      : (details.errorType ?? 'stream error');
    log.warn('model call failed', {
      status: err.status,
      errorType: details.errorType,
      requestId: details.requestId,
      retryable,
      nextRetryDelay,
    });
    return ApplicationFailure.create({
      type: contextWindowExceeded(err.status, details.message) ? CONTEXT_WINDOW_EXCEEDED : MODEL_API_ERROR,
      message: `Anthropic API ${what}: ${details.message}`,
      nonRetryable: !retryable,
      details: [details],
      ...(nextRetryDelay !== undefined && { nextRetryDelay }),
      cause: err,
    });
  }
  if (err instanceof ApplicationFailure) return err;
  // Anything else (a stream cut before message_stop, a bug): retryable, bounded by the retry policy.
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.create({
    type: MODEL_API_ERROR,
    message: `model call failed: ${message}`,
    details: [{ message }],
  });
}

/** The API's refusal of a prompt over the model's context window: 400 "prompt is too long: N tokens > M maximum". */
function contextWindowExceeded(status: number | undefined, message: string): boolean {
  return status === 400 && /^prompt is too long\b/i.test(message);
}

/** `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP date), capped. */
function retryDelayMs(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (headers?.get('retry-after-ms') && Number.isFinite(ms) && ms >= 0)
    return Math.min(ms, MAX_RETRY_DELAY_MS);
  const after = headers?.get('retry-after');
  if (!after) return undefined;
  const seconds = Number(after);
  const delay = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(after) - Date.now();
  return Number.isFinite(delay) ? Math.min(Math.max(delay, 0), MAX_RETRY_DELAY_MS) : undefined;
}
