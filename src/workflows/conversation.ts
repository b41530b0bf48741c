/**
 * One Claude conversation, made durable. Read it top to bottom like the protocol: take a user message,
 * call Claude, look at `stop_reason`, gate and run tools, send their results, repeat until the turn
 * ends; then wait for the next message.
 *
 * Everything with side effects happens in activities (`callClaude`, `runTool`); this file only decides.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  ContentBlockParam,
  MessageParam,
  ToolChoice,
  ToolResultBlockParam,
  ToolUseBlockParam,
} from '@anthropic-ai/sdk/resources/messages';
import type { Activities } from '../activities';
import {
  CONFIGURATION_ERROR,
  MAX_TAIL_BYTES,
  MODEL_API_ERROR,
  type CallClaudeInput,
  type CallClaudeResult,
  type ModelErrorDetails,
} from '../api/activity-contract';
import {
  ConversationInputSchema,
  DEFAULT_LIMITS,
  EMPTY_USAGE,
  SendMessageSchema,
  endSignal,
  endUpdate,
  messagesQuery,
  resumeUpdate,
  sendMessageUpdate,
  stateQuery,
  type Attention,
  type AttentionReason,
  type ConversationConfig,
  type ConversationInput,
  type ConversationResult,
  type ConversationState,
  type ConversationStatus,
  type EndRequest,
  type LastStop,
  type MessageMeta,
  type ResumeRequest,
  type ToolCallInFlight,
  type UsageTotals,
} from '../api/conversation';
import {
  decideToolCallSignal,
  decideToolCallUpdate,
  type RecordedDecision,
  type RefusedDecision,
} from '../api/approvals';
import {
  AGENT_LAST_ACTIVITY,
  AGENT_MODEL,
  AGENT_PENDING_APPROVALS,
  AGENT_STATUS,
} from '../api/search-attributes';
import { answerMessage, appendMessage, blocksOf, tailStart } from '../api/transcript';
import { ApprovalBook } from './approvals';
import { PATCHES, rolledOut } from './patches';
import { editedResult, failedResult, notRunResult, rejectedResult, toolResult } from './tool-results';

const { callClaude } = proxyActivities<Activities>({
  // A long answer can stream for minutes; a dead worker is noticed through the heartbeat instead.
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  // Cancelling waits for the activity to abort its HTTP stream, so nothing streams after we stop.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    // Then the conversation parks for an operator instead of failing (nothing is lost).
    maximumAttempts: 10,
    nonRetryableErrorTypes: [CONFIGURATION_ERROR],
  },
});

const { runTool } = proxyActivities<Activities>({
  // The tool's own timeout is enforced inside the activity; this only bounds a stuck worker.
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
  },
});

/** What a conversation carries across continue-as-new. */
export interface CarriedState {
  messages: MessageParam[];
  meta: MessageMeta[];
  digests: string[];
  turn: number;
  queue: SendQueueItem[];
  usage: UsageTotals;
  lastStop?: LastStop;
  generation: number;
  startedAt: string;
  approvals: ReturnType<ApprovalBook['snapshot']>;
  refusedDecisions: RefusedDecision[];
}

interface SendQueueItem {
  content: string | ContentBlockParam[];
  turn: number;
}

/** A durable Claude conversation: one workflow per conversation. */
export async function conversationWorkflow(
  input: ConversationInput,
  carried?: CarriedState,
): Promise<ConversationResult> {
  const parsed = ConversationInputSchema.safeParse(input);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid conversation input: ${parsed.error.message}`,
      'InvalidConversationInput',
    );
  }
  const config: ConversationConfig = parsed.data;
  const limits = { ...DEFAULT_LIMITS, ...config.limits };
  const workflowId = workflowInfo().workflowId;
  const now = () => new Date().toISOString();

  // ── State ──────────────────────────────────────────────────────────────────────────────────────
  const messages: MessageParam[] = carried?.messages ?? [];
  const meta: MessageMeta[] = carried?.meta ?? [];
  const digests: string[] = carried?.digests ?? [];
  const queue: SendQueueItem[] = carried?.queue ?? [];
  // Spread over the defaults: a run continued from an older version carries fewer fields.
  const usage: UsageTotals = { ...EMPTY_USAGE, ...carried?.usage };
  let turn = carried?.turn ?? 0;
  let lastStop: LastStop | undefined = carried?.lastStop;
  // Not a real status until the first setStatus, so that one is always recorded.
  let status = 'starting' as ConversationStatus;
  let attention: Attention | undefined;
  let endReason: string | undefined;
  let endRequest: EndRequest | undefined;
  let resumeRequested = false;
  let modelCallInFlight = false;
  const toolCallsInFlight = new Map<string, ToolCallInFlight>();
  const approvals = new ApprovalBook(carried?.approvals);
  const refusedDecisions: RefusedDecision[] = carried?.refusedDecisions ?? [];
  let pendingCount = 0;
  const startedAt = carried?.startedAt ?? now();
  let updatedAt = now();

  function append(message: MessageParam): void {
    const index = appendMessage(messages, digests, message);
    meta[index] = { turn, at: now() };
    updatedAt = now();
  }

  function setStatus(next: ConversationStatus): void {
    updatedAt = now();
    // Search attributes change with the status only: each upsert is a history event.
    if (next === status) return;
    status = next;
    upsertSearchAttributes([
      { key: AGENT_STATUS, value: next },
      { key: AGENT_LAST_ACTIVITY, value: new Date() },
    ]);
  }

  // ── Messages in and out ────────────────────────────────────────────────────────────────────────
  setHandler(stateQuery, (options = {}) => {
    const from = clampIndex(options.from ?? 0, messages.length);
    const to = clampIndex(options.to ?? messages.length, messages.length);
    return {
      status,
      attention,
      model: config.model,
      turn,
      messageCount: messages.length,
      messages: messages.slice(from, Math.max(from, to)),
      meta: meta.slice(from, Math.max(from, to)),
      from,
      modelCallInFlight,
      toolCallsInFlight: [...toolCallsInFlight.values()],
      queuedMessages: queue.length,
      pendingApprovals: approvals.pending,
      decisions: approvals.decisions,
      refusedDecisions,
      usage,
      lastStop,
      endReason,
      generation: carried?.generation ?? 0,
      startedAt,
      updatedAt,
    } satisfies ConversationState;
  });

  setHandler(messagesQuery, ({ from, to }) => ({ messages: messages.slice(from, to) }));

  setHandler(
    sendMessageUpdate,
    ({ content }) => {
      const item: SendQueueItem = {
        content: content as SendQueueItem['content'],
        turn: turn + queue.length + 1,
      };
      queue.push(item);
      return { turn: item.turn, queuedBehind: queue.length - 1 };
    },
    {
      validator: (message) => {
        const result = SendMessageSchema.safeParse(message);
        if (!result.success)
          throw new Error(`invalid message: ${result.error.issues.map((i) => i.message).join('; ')}`);
        const bytes = JSON.stringify(result.data.content).length;
        if (bytes > limits.maxMessageBytes)
          throw new Error(
            `message too large: ${bytes} bytes of JSON, the limit is ${limits.maxMessageBytes}`,
          );
        const blocks = typeof result.data.content === 'string' ? [] : result.data.content;
        const bad = blocks.find((b) => !['text', 'image', 'document'].includes(b.type));
        if (bad) throw new Error(`a user message may hold text, image and document blocks, not ${bad.type}`);
        if (status === 'completed' || status === 'cancelled' || endRequest)
          throw new Error(`the conversation is ${endRequest ? 'ending' : status}`);
        if (turn + queue.length >= limits.maxTurns)
          throw new Error(`the conversation reached its limit of ${limits.maxTurns} turns`);
      },
    },
  );

  setHandler(
    resumeUpdate,
    (request): ConversationStatus => {
      log.info('resume requested', { by: request?.by, note: request?.note, reason: attention?.reason });
      resumeRequested = true;
      return 'running';
    },
    {
      validator: (_request: ResumeRequest) => {
        if (status !== 'needs_attention')
          throw new Error(`only a conversation in needs_attention can be resumed; this one is ${status}`);
      },
    },
  );

  const endable: ConversationStatus[] = ['idle', 'refused', 'needs_attention', 'awaiting_approval'];
  setHandler(
    endUpdate,
    (request): ConversationStatus => {
      endRequest = request ?? {};
      return 'completed';
    },
    {
      validator: (_request: EndRequest) => {
        if (!endable.includes(status))
          throw new Error(`a ${status} conversation cannot be ended now (cancel it instead)`);
      },
    },
  );
  setHandler(endSignal, (request) => {
    // A signal cannot be refused: one that cannot apply is logged and dropped, never fatal.
    if (endable.includes(status)) endRequest = request ?? {};
    else log.warn('end signal ignored', { status });
  });

  // Approval: an update, so the operator learns at once whether the decision was taken (the validator
  // refuses unknown ids, conflicting repeats and edits that fail the tool's schema, and nothing is
  // written to history for a refused one); and a signal twin for systems that can only signal.
  setHandler(
    decideToolCallUpdate,
    (input): RecordedDecision[] => {
      const recorded = approvals.apply(approvals.check(input), 'update', now());
      decided();
      return recorded;
    },
    { validator: (input) => void approvals.check(input) },
  );
  setHandler(decideToolCallSignal, (input) => {
    try {
      approvals.apply(approvals.check(input), 'signal', now());
      decided();
    } catch (err) {
      // A signal cannot be refused to its sender: record why it did not apply, never fail.
      const first =
        (input && typeof input === 'object' && ('decisions' in input ? input.decisions?.[0] : input)) ||
        undefined;
      refusedDecisions.push({
        at: now(),
        toolUseId: first?.toolUseId,
        decidedBy: first?.decidedBy,
        error: (err as Error).message,
      });
      if (refusedDecisions.length > 50) refusedDecisions.shift();
      log.warn('decision signal refused', { error: (err as Error).message });
    }
  });

  /** After decisions are recorded: the pending count, the status, and the time of the decision. */
  function decided(): void {
    // Patched: a decision that leaves the status unchanged (one of two parallel calls) still shows as
    // activity. Conversations that waited for approval across the deploy replay without it.
    if (rolledOut(PATCHES.decisionActivityTime))
      upsertSearchAttributes([{ key: AGENT_LAST_ACTIVITY, value: new Date() }]);
    refreshApprovals();
  }

  function refreshApprovals(): void {
    const count = approvals.pending.length;
    if (count !== pendingCount) {
      pendingCount = count;
      upsertSearchAttributes([{ key: AGENT_PENDING_APPROVALS, value: count }]);
    }
    if (count > 0) setStatus('awaiting_approval');
    else if (status === 'awaiting_approval') setStatus('running');
  }

  /** The operator's decision on a call, or a rejection when the deadline passes or the conversation ends. */
  async function decisionFor(toolUseId: string, deadline: Date): Promise<RecordedDecision> {
    const decided = () => approvals.decisionFor(toolUseId);
    if (!decided()) {
      await condition(
        () => decided() !== undefined || endRequest !== undefined,
        Math.max(1, deadline.getTime() - new Date().getTime()),
      );
    }
    const decision =
      decided() ??
      (endRequest
        ? approvals.expire(toolUseId, 'end', 'the conversation ended before a decision', now())
        : approvals.expire(
            toolUseId,
            'deadline',
            `no decision before the deadline (${deadline.toISOString()})`,
            now(),
          ));
    refreshApprovals();
    return decision;
  }

  // ── The model call, parked on errors a person must fix ─────────────────────────────────────────
  /** The messages since the last model answer, for the worker's cache, unless they are big. */
  function smallTail(): { tail?: CallClaudeInput['tail'] } {
    const from = tailStart(messages);
    const tail = messages.slice(from);
    return JSON.stringify(tail).length <= MAX_TAIL_BYTES ? { tail: { from, messages: tail } } : {};
  }

  async function callModel(
    toolChoice: ToolChoice | undefined,
    maxTokens: number,
  ): Promise<CallClaudeResult | 'ended'> {
    for (;;) {
      setStatus('running');
      modelCallInFlight = true;
      try {
        return await callClaude({
          workflowId,
          messageCount: messages.length,
          digest: digests[digests.length - 1] ?? '0000000000000000',
          ...smallTail(),
          turn,
          request: {
            model: config.model,
            system: config.system as never,
            tools: config.tools,
            serverTools: config.serverTools,
            toolChoice: toolChoice as ToolChoice | undefined,
            maxTokens,
            temperature: config.temperature,
            stopSequences: config.stopSequences,
            thinking: config.thinking,
            betas: config.betas,
            ...(config.promptCaching !== 'off' && { cacheTtl: config.promptCaching }),
          },
        });
      } catch (err) {
        if (isCancellation(err)) throw err;
        const outcome = await park(attentionFrom(err));
        if (outcome === 'ended') return 'ended';
      } finally {
        modelCallInFlight = false;
      }
    }
  }

  /** Parks the conversation until an operator resumes it (→ 'resumed') or ends it (→ 'ended'). */
  async function park(why: Omit<Attention, 'at'>): Promise<'resumed' | 'ended'> {
    attention = { ...why, at: now() };
    log.warn('conversation needs attention', { reason: why.reason, message: why.message });
    setStatus('needs_attention');
    await condition(() => resumeRequested || endRequest !== undefined);
    resumeRequested = false;
    attention = undefined;
    return endRequest ? 'ended' : 'resumed';
  }

  // ── Tools ──────────────────────────────────────────────────────────────────────────────────────
  /** Runs every tool call of one answer concurrently; answers all of them in one user message, in order. */
  async function runToolCalls(response: CallClaudeResult, maxTokens: number): Promise<'done' | 'ended'> {
    const blocks = response.message.content;
    const inputOf = (index: number) =>
      (blocks[index] as unknown as ToolUseBlockParam).input as Record<string, unknown>;
    // The approval gate: calls whose tool's policy asks for it wait for an operator's decision (until
    // their deadline); the others run at once. The tool_result message waits for all of them.
    const requestedAt = now();
    const deadline = new Date(new Date().getTime() + limits.approvalTimeoutMs);
    for (const call of response.toolCalls) {
      if (!call.runnable || !call.needsApproval) continue;
      approvals.request({
        toolUseId: call.id,
        name: call.name,
        input: inputOf(call.index),
        turn,
        requestedAt,
        deadline: deadline.toISOString(),
        ...(call.effect && { effect: call.effect }),
        ...(call.inputSchema && { schema: call.inputSchema }),
      });
    }
    refreshApprovals();
    const results = await Promise.all(
      response.toolCalls.map(async (call): Promise<ToolResultBlockParam> => {
        if (!call.runnable) return notRunResult(call, maxTokens);
        let input = inputOf(call.index);
        let decision: RecordedDecision | undefined;
        if (call.needsApproval) {
          decision = await decisionFor(call.id, deadline);
          if (decision.decision === 'reject') return rejectedResult(decision);
          if (decision.decision === 'edit') input = decision.input!;
        }
        toolCallsInFlight.set(call.id, { toolUseId: call.id, name: call.name, startedAt: now() });
        try {
          const result = await runTool({ workflowId, toolUseId: call.id, name: call.name, input });
          return decision?.decision === 'edit'
            ? editedResult(decision, result)
            : toolResult(call.id, result.content, result.isError);
        } catch (err) {
          if (isCancellation(err)) throw err;
          return failedResult(call, failureMessage(err));
        } finally {
          toolCallsInFlight.delete(call.id);
        }
      }),
    );
    append({ role: 'user', content: results });
    return endRequest ? 'ended' : 'done';
  }

  // ── One turn: model calls until the answer is final ───────────────────────────────────────────
  async function runTurn(): Promise<'done' | 'ended'> {
    let toolChoice = config.toolChoice as ToolChoice | undefined;
    let maxTokens = config.maxTokens;
    let pauseTurns = 0;
    let calls = 0;
    let retriedCutInput = false;
    for (;;) {
      if (++calls > limits.maxModelCallsPerTurn) {
        const outcome = await park({
          reason: 'turn_call_limit',
          message: `more than ${limits.maxModelCallsPerTurn} model calls in turn ${turn}`,
        });
        if (outcome === 'ended') return 'ended';
        calls = 1;
      }
      const response = await callModel(toolChoice, maxTokens);
      if (response === 'ended') return 'ended';

      // A tool input cut by max_tokens never runs. Retry once with more room before telling the model.
      const cut =
        response.stopReason === 'max_tokens' && response.toolCalls.some((c) => c.problem === 'truncated');
      if (cut && !retriedCutInput && maxTokens < limits.maxTokensCeiling) {
        retriedCutInput = true;
        maxTokens = Math.min(maxTokens * 2, limits.maxTokensCeiling);
        log.info('tool input cut by max_tokens; retrying with more room', { maxTokens });
        countUsage(response);
        continue;
      }

      append(answerMessage(response.message.content));
      countUsage(response);
      lastStop = {
        reason: response.stopReason,
        at: now(),
        ...(response.stopDetails != null && { details: response.stopDetails }),
        ...(response.stopSequence != null && { stopSequence: response.stopSequence }),
        ...(response.stopReason === 'max_tokens' && { truncated: true }),
      };
      if (
        response.toolCalls.length > 0 &&
        toolChoice &&
        (toolChoice.type === 'any' || toolChoice.type === 'tool') &&
        config.forcedToolChoice === 'once'
      ) {
        // The forced call happened; let the model answer freely now instead of forcing it forever.
        toolChoice = {
          type: 'auto',
          ...(toolChoice.disable_parallel_tool_use !== undefined && {
            disable_parallel_tool_use: toolChoice.disable_parallel_tool_use,
          }),
        };
      }

      switch (response.stopReason) {
        case 'tool_use':
          if ((await runToolCalls(response, maxTokens)) === 'ended') return 'ended';
          pauseTurns = 0;
          continue;
        case 'max_tokens':
          if (response.toolCalls.length > 0) {
            // The transcript needs a tool_result for every tool_use; cut calls get an is_error one.
            if ((await runToolCalls(response, maxTokens)) === 'ended') return 'ended';
            continue;
          }
          return 'done'; // Text cut short: recorded as it is, flagged in lastStop.truncated.
        case 'pause_turn':
          // The server's tool loop paused; send the transcript back as it is (no user message).
          if (++pauseTurns > limits.maxPauseTurns) {
            const outcome = await park({
              reason: 'pause_turn_limit',
              message: `more than ${limits.maxPauseTurns} pause_turn continuations in a row`,
            });
            if (outcome === 'ended') return 'ended';
            pauseTurns = 0;
          }
          continue;
        case 'model_context_window_exceeded': {
          const outcome = await park({
            reason: 'context_window_exceeded',
            message: `the conversation no longer fits the context window of ${config.model}`,
          });
          return outcome === 'ended' ? 'ended' : 'done';
        }
        case 'refusal':
        case 'end_turn':
        case 'stop_sequence':
        default:
          return 'done';
      }
    }
  }

  function countUsage(response: CallClaudeResult): void {
    usage.calls++;
    usage.inputTokens += response.usage.inputTokens;
    usage.outputTokens += response.usage.outputTokens;
    usage.cacheCreationInputTokens += response.usage.cacheCreationInputTokens;
    usage.cacheReadInputTokens += response.usage.cacheReadInputTokens;
    if (response.usage.costUsd === undefined) usage.unpricedCalls++;
    // Rounded to micro-dollars so the sum of many calls does not drift into float noise.
    else usage.costUsd = Math.round((usage.costUsd + response.usage.costUsd) * 1e6) / 1e6;
  }

  function result(final: 'completed' | 'cancelled', reason: string): ConversationResult {
    endReason = reason;
    setStatus(final);
    const lastAssistant = [...messages].reverse().find((m) => m.role === 'assistant');
    const lastText = lastAssistant
      ? blocksOf(lastAssistant)
          .filter((b): b is Extract<ContentBlockParam, { type: 'text' }> => b.type === 'text')
          .map((b) => b.text)
          .join('')
      : '';
    return { status: final, endReason: reason, turns: turn, messageCount: messages.length, lastText, usage };
  }

  function shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    return (
      info.continueAsNewSuggested ||
      (limits.continueAsNewAfterEvents !== undefined && info.historyLength >= limits.continueAsNewAfterEvents)
    );
  }

  // ── The conversation ───────────────────────────────────────────────────────────────────────────
  if (!carried) {
    upsertSearchAttributes([{ key: AGENT_MODEL, value: config.model }]);
    if (config.message) queue.push({ content: config.message as SendQueueItem['content'], turn: 1 });
  }
  try {
    for (;;) {
      if (shouldContinueAsNew()) {
        // Between turns nothing is in flight: let handlers finish, then carry on in a fresh run with
        // the same workflow id, handlers, transcript and queued messages.
        await condition(allHandlersFinished);
        const state: CarriedState = {
          messages,
          meta,
          digests,
          turn,
          queue,
          usage,
          lastStop,
          generation: (carried?.generation ?? 0) + 1,
          startedAt,
          approvals: approvals.snapshot(),
          refusedDecisions,
        };
        return await continueAsNew<typeof conversationWorkflow>(input, state);
      }
      if (queue.length === 0) {
        if (config.singleTurn && turn > 0) return result('completed', 'single turn done');
        if (turn >= limits.maxTurns) return result('completed', `reached ${limits.maxTurns} turns`);
        setStatus(lastStop?.reason === 'refusal' ? 'refused' : 'idle');
        const woke = await condition(
          () => queue.length > 0 || endRequest !== undefined,
          limits.idleTimeoutMs,
        );
        if (endRequest)
          return result(
            'completed',
            endRequest.reason ?? `ended${endRequest.by ? ` by ${endRequest.by}` : ''}`,
          );
        if (!woke) return result('completed', 'idle timeout');
      }
      const next = queue.shift()!;
      turn = next.turn;
      append({ role: 'user', content: next.content });
      if ((await runTurn()) === 'ended') {
        return result(
          'completed',
          endRequest?.reason ?? `ended${endRequest?.by ? ` by ${endRequest.by}` : ''}`,
        );
      }
    }
  } catch (err) {
    if (isCancellation(err)) {
      // Record the end where operators look, then let the workflow show as cancelled.
      await CancellationScope.nonCancellable(async () => {
        result('cancelled', 'cancelled');
      });
    }
    throw err;
  }
}

/** An index into a list of `length`, negative from the end, clamped to [0, length]. */
function clampIndex(index: number, length: number): number {
  const i = index < 0 ? length + index : index;
  return Math.min(Math.max(0, Math.trunc(i)), length);
}

/**
 * An assistant message must have content when sent back; an empty answer (possible with an
 * immediate stop sequence) is kept as an explicit empty-answer marker.
 */

/** Why a failed model call parks the conversation, from the activity's failure. */
function attentionFrom(err: unknown): Omit<Attention, 'at'> {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as Partial<ModelErrorDetails>;
    const reason: AttentionReason = cause.type === CONFIGURATION_ERROR ? 'configuration' : 'api_error';
    return {
      reason,
      message: details.message ?? cause.message,
      errorType: details.errorType ?? cause.type ?? undefined,
      ...(details.status !== undefined && { status: details.status }),
      ...(details.requestId && { requestId: details.requestId }),
    };
  }
  return {
    reason: 'api_error',
    message: failureMessage(err),
    errorType: cause instanceof Error ? cause.name : MODEL_API_ERROR,
  };
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}
