/**
 * What the conversation does after each model answer: the protocol's decisions as pure functions of
 * the answer, the state of the turn and the limits. No Temporal APIs, so unit tests need no server
 * (test/unit/next-step.test.ts), and the workflow only carries the decisions out.
 */
import type { CallClaudeResult } from '../api/activity-contract';
import type {
  AttentionReason,
  Budget,
  ConversationConfig,
  ResolvedLimits,
  UsageTotals,
} from '../api/conversation';

/** The state of one user turn across its model calls. */
export interface TurnState {
  /** The `tool_choice` of the next call (relaxed to `auto` after a forced call, see `forcedToolChoice`). */
  toolChoice: ConversationConfig['toolChoice'];
  /** The `max_tokens` of the next call (raised once for a tool input cut by `max_tokens`). */
  maxTokens: number;
  /** Model calls made in this turn since it started (or since an operator let it go on). */
  calls: number;
  /** `pause_turn` continuations in a row. */
  pauseTurns: number;
  /** The one retry with more room for a cut tool input is spent. */
  retriedCutInput: boolean;
}

/** Why the conversation parks for an operator. */
export interface ParkReason {
  reason: AttentionReason;
  message: string;
}

/** What to do with a model answer. Every step carries the turn's state for the next call. */
export type Step =
  /** A tool input was cut by `max_tokens`: drop the answer (count its usage) and call again with more room. */
  | { kind: 'retry'; turn: TurnState }
  /** Record the answer, run its tool calls (cut or invalid ones get an error result), call again. */
  | { kind: 'runTools'; turn: TurnState }
  /** `pause_turn`: record the answer and send the transcript back as it is. */
  | { kind: 'continue'; turn: TurnState }
  /** Record the answer and park for an operator; once resumed, call again or end the turn. */
  | { kind: 'park'; why: ParkReason; then: 'continue' | 'endTurn'; turn: TurnState }
  /** Record the answer; the turn is over. */
  | { kind: 'endTurn'; turn: TurnState };

/** The state a turn starts in. */
export function startTurn(config: Pick<ConversationConfig, 'toolChoice' | 'maxTokens'>): TurnState {
  return {
    toolChoice: config.toolChoice,
    maxTokens: config.maxTokens,
    calls: 0,
    pauseTurns: 0,
    retriedCutInput: false,
  };
}

/**
 * Counts the model call about to be made. Past `maxModelCallsPerTurn` (a tool loop that does not end)
 * it parks first; an operator's resume allows another full budget.
 */
export function countCall(
  state: TurnState,
  limits: Pick<ResolvedLimits, 'maxModelCallsPerTurn'>,
  turnNumber: number,
): { turn: TurnState; park?: ParkReason } {
  if (state.calls + 1 <= limits.maxModelCallsPerTurn) return { turn: { ...state, calls: state.calls + 1 } };
  return {
    turn: { ...state, calls: 1 },
    park: {
      reason: 'turn_call_limit',
      message: `more than ${limits.maxModelCallsPerTurn} model calls in turn ${turnNumber}`,
    },
  };
}

/** The next step after `answer`, by its `stop_reason`. */
export function nextStep(
  answer: Pick<CallClaudeResult, 'stopReason' | 'toolCalls'>,
  state: TurnState,
  limits: Pick<ResolvedLimits, 'maxTokensCeiling' | 'maxPauseTurns'>,
  config: Pick<ConversationConfig, 'forcedToolChoice' | 'model'>,
): Step {
  // A tool input cut by max_tokens never runs. Retry once with more room before telling the model.
  const cut =
    answer.stopReason === 'max_tokens' && answer.toolCalls.some((call) => call.problem === 'truncated');
  if (cut && !state.retriedCutInput && state.maxTokens < limits.maxTokensCeiling) {
    const maxTokens = Math.min(state.maxTokens * 2, limits.maxTokensCeiling);
    return { kind: 'retry', turn: { ...state, retriedCutInput: true, maxTokens } };
  }

  const turn = { ...state, toolChoice: relaxedToolChoice(state.toolChoice, answer, config.forcedToolChoice) };
  switch (answer.stopReason) {
    case 'tool_use':
      return { kind: 'runTools', turn: { ...turn, pauseTurns: 0 } };
    case 'max_tokens':
      // The transcript needs a tool_result for every tool_use: cut calls get an is_error one. Text cut
      // short is recorded as it is, flagged in lastStop.truncated.
      return answer.toolCalls.length > 0 ? { kind: 'runTools', turn } : { kind: 'endTurn', turn };
    case 'pause_turn':
      // The server's tool loop paused; the transcript goes back as it is (no user message).
      if (turn.pauseTurns + 1 > limits.maxPauseTurns) {
        const message = `more than ${limits.maxPauseTurns} pause_turn continuations in a row`;
        const why: ParkReason = { reason: 'pause_turn_limit', message };
        return { kind: 'park', why, then: 'continue', turn: { ...turn, pauseTurns: 0 } };
      }
      return { kind: 'continue', turn: { ...turn, pauseTurns: turn.pauseTurns + 1 } };
    case 'compaction':
      // Server-side compaction paused after its block (`pause_after_compaction`): ask for the answer.
      return { kind: 'continue', turn };
    case 'model_context_window_exceeded': {
      const message = `the conversation no longer fits the context window of ${config.model}`;
      return { kind: 'park', why: { reason: 'context_window_exceeded', message }, then: 'endTurn', turn };
    }
    case 'refusal':
    case 'end_turn':
    case 'stop_sequence':
    default:
      return { kind: 'endTurn', turn };
  }
}

/**
 * After a forced call happened (`tool_choice` `any` or `tool`) and `forcedToolChoice` is `once`, let
 * the model answer freely (`auto`, keeping `disable_parallel_tool_use`) instead of forcing it forever.
 */
function relaxedToolChoice(
  toolChoice: TurnState['toolChoice'],
  answer: Pick<CallClaudeResult, 'toolCalls'>,
  forcedToolChoice: ConversationConfig['forcedToolChoice'],
): TurnState['toolChoice'] {
  const forced = toolChoice?.type === 'any' || toolChoice?.type === 'tool';
  if (!forced || answer.toolCalls.length === 0 || forcedToolChoice !== 'once') return toolChoice;
  const { disable_parallel_tool_use } = toolChoice;
  return { type: 'auto', ...(disable_parallel_tool_use !== undefined && { disable_parallel_tool_use }) };
}

/** What a conversation spent against a budget: dollars (priced calls) and every token. */
export function spent(usage: UsageTotals): { usd: number; tokens: number } {
  return {
    usd: usage.costUsd,
    tokens:
      usage.inputTokens + usage.outputTokens + usage.cacheCreationInputTokens + usage.cacheReadInputTokens,
  };
}

/** Why the next model call must wait for an operator, if the spend reached the budget. */
export function budgetProblem(budget: Budget | undefined, usage: UsageTotals): string | undefined {
  if (!budget) return undefined;
  const { usd, tokens } = spent(usage);
  if (budget.usd !== undefined && usd >= budget.usd)
    return `spent $${usd.toFixed(4)} of a $${budget.usd} budget`;
  if (budget.tokens !== undefined && tokens >= budget.tokens)
    return `spent ${tokens} tokens of a ${budget.tokens}-token budget`;
  return undefined;
}
