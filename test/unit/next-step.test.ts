/**
 * The protocol's decisions after each model answer, without a server: every stop_reason, the retry of
 * a tool input cut by max_tokens, the relaxation of a forced tool_choice, and the per-turn limits.
 */
import { describe, expect, it } from '@jest/globals';
import type { CallClaudeResult, ToolCallInfo } from '../../src/api/activity-contract';
import {
  DEFAULT_LIMITS,
  EMPTY_USAGE,
  type ConversationConfig,
  type UsageTotals,
} from '../../src/api/conversation';
import {
  budgetProblem,
  countCall,
  nextStep,
  spent,
  startTurn,
  type TurnState,
} from '../../src/workflows/next-step';

type Answer = Pick<CallClaudeResult, 'stopReason' | 'toolCalls'>;
const limits = { ...DEFAULT_LIMITS, maxTokensCeiling: 8_000, maxPauseTurns: 2, maxModelCallsPerTurn: 3 };
const config: Pick<ConversationConfig, 'forcedToolChoice' | 'model'> = {
  forcedToolChoice: 'once',
  model: 'claude-test',
};

function call(overrides: Partial<ToolCallInfo> = {}): ToolCallInfo {
  return { index: 0, id: 'toolu_1', name: 'get_weather', runnable: true, needsApproval: false, ...overrides };
}
function turn(overrides: Partial<TurnState> = {}): TurnState {
  return { ...startTurn({ toolChoice: undefined, maxTokens: 1_000 }), ...overrides };
}
const answer = (stopReason: Answer['stopReason'], toolCalls: ToolCallInfo[] = []): Answer => ({
  stopReason,
  toolCalls,
});

describe('nextStep by stop_reason', () => {
  it.each(['end_turn', 'stop_sequence', 'refusal'] as const)('%s ends the turn', (reason) => {
    expect(nextStep(answer(reason), turn(), limits, config)).toEqual({ kind: 'endTurn', turn: turn() });
  });

  it('tool_use runs the tools and resets the pause_turn streak', () => {
    const step = nextStep(answer('tool_use', [call()]), turn({ pauseTurns: 2 }), limits, config);
    expect(step).toEqual({ kind: 'runTools', turn: turn({ pauseTurns: 0 }) });
  });

  it('max_tokens with text only ends the turn (the answer is kept, flagged truncated)', () => {
    expect(nextStep(answer('max_tokens'), turn(), limits, config).kind).toBe('endTurn');
  });

  it('max_tokens with complete tool calls runs them (every tool_use needs its tool_result)', () => {
    const step = nextStep(answer('max_tokens', [call()]), turn({ pauseTurns: 1 }), limits, config);
    // The pause_turn streak is not reset here: only a tool_use answer does that.
    expect(step).toEqual({ kind: 'runTools', turn: turn({ pauseTurns: 1 }) });
  });

  it('pause_turn continues, counting the streak', () => {
    const step = nextStep(answer('pause_turn'), turn({ pauseTurns: 1 }), limits, config);
    expect(step).toEqual({ kind: 'continue', turn: turn({ pauseTurns: 2 }) });
  });

  it('pause_turn past maxPauseTurns parks, then continues with a fresh streak', () => {
    const step = nextStep(answer('pause_turn'), turn({ pauseTurns: 2 }), limits, config);
    expect(step).toEqual({
      kind: 'park',
      why: { reason: 'pause_turn_limit', message: 'more than 2 pause_turn continuations in a row' },
      then: 'continue',
      turn: turn({ pauseTurns: 0 }),
    });
  });

  it('model_context_window_exceeded parks, then ends the turn', () => {
    const step = nextStep(answer('model_context_window_exceeded'), turn(), limits, config);
    expect(step).toMatchObject({ kind: 'park', then: 'endTurn', why: { reason: 'context_window_exceeded' } });
    expect(step.kind === 'park' && step.why.message).toMatch(/context window of claude-test/);
  });

  it('an unknown stop_reason ends the turn rather than looping', () => {
    const unknown = answer('something_new' as Answer['stopReason']);
    expect(nextStep(unknown, turn(), limits, config).kind).toBe('endTurn');
  });
});

describe('a tool input cut by max_tokens', () => {
  const cut = answer('max_tokens', [call({ runnable: false, problem: 'truncated' })]);

  it('is retried once with twice the room, the answer dropped', () => {
    expect(nextStep(cut, turn(), limits, config)).toEqual({
      kind: 'retry',
      turn: turn({ maxTokens: 2_000, retriedCutInput: true }),
    });
  });

  it('is retried up to the ceiling, not past it', () => {
    const step = nextStep(cut, turn({ maxTokens: 6_000 }), limits, config);
    expect(step).toEqual({ kind: 'retry', turn: turn({ maxTokens: 8_000, retriedCutInput: true }) });
  });

  it('is not retried twice: the cut call goes to the model as an error result', () => {
    const step = nextStep(cut, turn({ maxTokens: 2_000, retriedCutInput: true }), limits, config);
    expect(step).toEqual({ kind: 'runTools', turn: turn({ maxTokens: 2_000, retriedCutInput: true }) });
  });

  it('is not retried when max_tokens is already at the ceiling', () => {
    expect(nextStep(cut, turn({ maxTokens: 8_000 }), limits, config).kind).toBe('runTools');
  });

  it('an invalid (not cut) input is not retried: the model is told at once', () => {
    const invalid = answer('max_tokens', [call({ runnable: false, problem: 'invalid_json' })]);
    expect(nextStep(invalid, turn(), limits, config).kind).toBe('runTools');
  });

  it('keeps a forced tool_choice forced for the retry (the forced call has not happened yet)', () => {
    const forced = turn({ toolChoice: { type: 'any' } });
    expect(nextStep(cut, forced, limits, config).turn.toolChoice).toEqual({ type: 'any' });
  });
});

describe('a forced tool_choice', () => {
  it.each([{ type: 'any' as const }, { type: 'tool' as const, name: 'get_weather' }])(
    '%j becomes auto after the forced call (forcedToolChoice once)',
    (toolChoice) => {
      const step = nextStep(answer('tool_use', [call()]), turn({ toolChoice }), limits, config);
      expect(step.turn.toolChoice).toEqual({ type: 'auto' });
    },
  );

  it('keeps disable_parallel_tool_use when relaxed', () => {
    const toolChoice = { type: 'any' as const, disable_parallel_tool_use: true };
    const step = nextStep(answer('tool_use', [call()]), turn({ toolChoice }), limits, config);
    expect(step.turn.toolChoice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
  });

  it('stays forced with forcedToolChoice keep', () => {
    const step = nextStep(answer('tool_use', [call()]), turn({ toolChoice: { type: 'any' } }), limits, {
      ...config,
      forcedToolChoice: 'keep',
    });
    expect(step.turn.toolChoice).toEqual({ type: 'any' });
  });

  it('stays forced while no tool was called', () => {
    const step = nextStep(answer('end_turn'), turn({ toolChoice: { type: 'any' } }), limits, config);
    expect(step.turn.toolChoice).toEqual({ type: 'any' });
  });

  it('auto and none are left alone', () => {
    for (const toolChoice of [{ type: 'auto' as const }, { type: 'none' as const }]) {
      const step = nextStep(answer('tool_use', [call()]), turn({ toolChoice }), limits, config);
      expect(step.turn.toolChoice).toEqual(toolChoice);
    }
  });
});

describe('the model-call limit of a turn', () => {
  it('counts calls up to maxModelCallsPerTurn', () => {
    let state = turn();
    for (let i = 1; i <= limits.maxModelCallsPerTurn; i++) {
      const counted = countCall(state, limits, 7);
      expect(counted.park).toBeUndefined();
      state = counted.turn;
      expect(state.calls).toBe(i);
    }
  });

  it('parks on the call past the limit, and the resumed call starts a fresh budget', () => {
    const counted = countCall(turn({ calls: 3 }), limits, 7);
    expect(counted.park).toEqual({ reason: 'turn_call_limit', message: 'more than 3 model calls in turn 7' });
    expect(counted.turn.calls).toBe(1);
  });
});

describe('startTurn', () => {
  it('starts from the configured tool_choice and max_tokens', () => {
    expect(startTurn({ toolChoice: { type: 'any' }, maxTokens: 512 })).toEqual({
      toolChoice: { type: 'any' },
      maxTokens: 512,
      calls: 0,
      pauseTurns: 0,
      retriedCutInput: false,
    });
  });
});

describe('budgetProblem', () => {
  const usage = (over: Partial<UsageTotals>): UsageTotals => ({ ...EMPTY_USAGE, ...over });

  it('is nothing without a budget, or under it', () => {
    expect(budgetProblem(undefined, usage({ costUsd: 100 }))).toBeUndefined();
    expect(budgetProblem({ usd: 1 }, usage({ costUsd: 0.99 }))).toBeUndefined();
    expect(budgetProblem({ tokens: 100 }, usage({ inputTokens: 50, outputTokens: 49 }))).toBeUndefined();
  });

  it('says which ceiling was reached: dollars, or every token (cache writes and reads included)', () => {
    expect(budgetProblem({ usd: 1 }, usage({ costUsd: 1 }))).toBe('spent $1.0000 of a $1 budget');
    expect(
      budgetProblem(
        { usd: 5, tokens: 100 },
        usage({ inputTokens: 10, outputTokens: 10, cacheCreationInputTokens: 30, cacheReadInputTokens: 50 }),
      ),
    ).toBe('spent 100 tokens of a 100-token budget');
    expect(spent(usage({ costUsd: 0.25, inputTokens: 1, cacheReadInputTokens: 2 }))).toEqual({
      usd: 0.25,
      tokens: 3,
    });
  });
});
