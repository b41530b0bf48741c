/**
 * The model call as the workflow sees it: one `callClaude` activity on the transcript as it stands,
 * retried by Temporal; an error a person must fix (or retries running out) parks the conversation
 * until an operator resumes it, then the call is made again.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  proxyActivities,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  CONFIGURATION_ERROR,
  CONTEXT_WINDOW_EXCEEDED,
  DEFAULT_SERVER_COMPACTION_TRIGGER,
  MAX_TAIL_BYTES,
  MODEL_API_ERROR,
  type CallClaudeInput,
  type CallClaudeResult,
  type ModelErrorDetails,
} from '../api/activity-contract';
import { AGENT_NOT_SERVED } from '../api/agents';
import type { Attention } from '../api/conversation';
import { isUndecodable, type Undecodable } from '../api/payload-converter';
import { tailStart } from '../api/transcript';
import type { Conversation } from './conversation-state';
import { startTurn, type TurnState } from './next-step';

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

/**
 * Calls Claude on the transcript (in the code execution `container`, if any); parks on failure and
 * calls again once resumed (or ends). A prompt the API refuses as too long for the context window goes
 * to `onContextWindow` first (compaction): when it made room, the call is made again at once.
 */
export async function callModel(
  conversation: Conversation,
  turn: TurnState,
  container: string | undefined,
  onContextWindow?: () => Promise<boolean>,
): Promise<CallClaudeResult> {
  conversation.container.name(container);
  for (;;) {
    conversation.setStatus('running');
    let failure: unknown;
    try {
      return await conversation.callingModelWith(async () =>
        decoded(await callClaude(modelCallInput(conversation, turn)), 'the model call'),
      );
    } catch (err) {
      if (isCancellation(err)) throw err;
      failure = err;
    }
    if (isContextWindowExceeded(failure) && onContextWindow && (await onContextWindow())) continue;
    await conversation.park(attentionFrom(failure));
  }
}

/**
 * A compaction request on the transcript as it stands: the answer is one `compaction` block. Retried
 * by Temporal like any model call; a failure is returned to the caller (it parks, saying why).
 */
export async function requestCompaction(
  conversation: Conversation,
  instructions: string | undefined,
  upTo = conversation.messages.length,
): Promise<{ ok: true; answer: CallClaudeResult } | { ok: false; why: Omit<Attention, 'at'> }> {
  conversation.setStatus('running');
  try {
    const answer = await conversation.callingModelWith(async () => {
      const whole = modelCallInput(conversation, startTurn(conversation.config));
      // Of a prefix (the last exchange kept out): its length and digest, no tail (the cache has it).
      const { tail: _tail, ...prefix } = whole;
      const input =
        upTo === conversation.messages.length
          ? whole
          : { ...prefix, messageCount: upTo, digest: conversation.transcript.digestOf(upTo) };
      return decoded(
        await callClaude({ ...input, compact: instructions ? { instructions } : {} }),
        'the compaction',
      );
    });
    return { ok: true, answer };
  } catch (err) {
    if (isCancellation(err)) throw err;
    const why = attentionFrom(err);
    return {
      ok: false,
      why: { ...why, reason: 'compaction_failed', message: `compaction failed: ${why.message}` },
    };
  }
}

/** Whether a model call failed because the prompt does not fit the model's context window. */
function isContextWindowExceeded(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type === CONTEXT_WINDOW_EXCEEDED;
}

/**
 * An activity result the worker could decode (see src/api/payload-converter.ts). One it could not is a
 * failure of that call: the model call parks for an operator, a tool call becomes an error result.
 * The same bytes decide the same way on replay.
 */
export function decoded<T>(result: T | Undecodable, what: string): T {
  if (isUndecodable(result))
    throw new Error(`the worker cannot decode the result of ${what}: ${result.error}`);
  return result;
}

/** The activity's input: where the transcript stands (the worker rebuilds it) and the request's options. */
function modelCallInput(conversation: Conversation, turn: TurnState): CallClaudeInput {
  const { config, messages, listed: snapshot } = conversation;
  const options = {
    toolChoice: turn.toolChoice,
    maxTokens: turn.maxTokens,
    ...(config.outputSchema && { outputSchema: config.outputSchema }),
  };
  const { promptFrom } = conversation.compactions;
  // A compaction request names the container the last model call named.
  const container = conversation.container.lastNamed;
  const compaction = conversation.compaction;
  const serverCompaction =
    compaction.mode === 'server'
      ? {
          triggerTokens: compaction.thresholdTokens ?? DEFAULT_SERVER_COMPACTION_TRIGGER,
          ...(compaction.instructions && { instructions: compaction.instructions }),
        }
      : undefined;
  return {
    workflowId: conversation.workflowId,
    messageCount: messages.length,
    digest: conversation.transcript.digest,
    ...smallTail(conversation),
    ...(promptFrom > 0 && { promptFrom }),
    turn: conversation.turn,
    request: snapshot
      ? // The worker builds the rest from the agent's definition, offering the tools this run listed.
        {
          agent: { name: snapshot.name, tools: snapshot.tools.map((t) => t.name) },
          model: snapshot.model,
          tools: [],
          serverTools: [],
          ...options,
          ...(serverCompaction && { serverCompaction }),
          ...(container && { container }),
        }
      : {
          model: conversation.model,
          system: config.system,
          tools: config.tools,
          serverTools: config.serverTools,
          ...options,
          temperature: config.temperature,
          stopSequences: config.stopSequences,
          thinking: config.thinking,
          betas: config.betas,
          ...(config.promptCaching !== 'off' && { cacheTtl: config.promptCaching }),
          ...(serverCompaction && { serverCompaction }),
          ...(config.contextManagement && { contextEdits: config.contextManagement.edits }),
          ...(config.effort && { effort: config.effort }),
          ...(container && { container }),
        },
  };
}

/** The messages since the last model answer, for the worker's cache, unless they are big. */
function smallTail({ messages }: Pick<Conversation, 'messages'>): Pick<CallClaudeInput, 'tail'> {
  const from = tailStart(messages);
  const tail = messages.slice(from);
  return JSON.stringify(tail).length <= MAX_TAIL_BYTES ? { tail: { from, messages: tail } } : {};
}

/** Why a failed model call parks the conversation, from the activity's failure. */
function attentionFrom(err: unknown): Omit<Attention, 'at'> {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = modelErrorDetails(cause.details?.[0]);
    return {
      reason:
        cause.type === CONFIGURATION_ERROR || cause.type === AGENT_NOT_SERVED ? 'configuration' : 'api_error',
      message: details.message ?? cause.message,
      // The API's error code when it gives one (`compaction_signature_invalid`), else its error type.
      errorType: details.errorCode ?? details.errorType ?? cause.type ?? undefined,
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

/** The {@link ModelErrorDetails} a model-call failure carries, field by field as far as they are there. */
function modelErrorDetails(details: unknown): Partial<ModelErrorDetails> {
  if (!details || typeof details !== 'object') return {};
  const field = (key: keyof ModelErrorDetails): unknown => Reflect.get(details, key);
  const text = (key: keyof ModelErrorDetails) => {
    const value = field(key);
    return typeof value === 'string' ? value : undefined;
  };
  const status = field('status');
  return {
    message: text('message'),
    errorType: text('errorType'),
    errorCode: text('errorCode'),
    requestId: text('requestId'),
    ...(typeof status === 'number' && { status }),
  };
}

/** The message of an activity's failure (its cause), or of any error. */
export function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}
