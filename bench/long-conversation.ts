/**
 * bench/run.ts's long conversation: 300 user turns with tools (each turn a ~500-token message, a
 * get_weather call after ~1,000 tokens of preamble, its result, a ~1,000-token answer) on a model with a
 * 200k-token window, compacting at 150k tokens and continuing-as-new after each compaction; against the
 * same conversation without compaction on a 1M-token window (as a 1M-context model would take it).
 * Reports each variant's wall time, compactions, runs and their histories, the prompt size of every
 * call (as the fake counts it) and the usage and cost the workflow state reports.
 */
import { temporal } from '@temporalio/proto';
import {
  sendMessageUpdate,
  stateQuery,
  type CompactionConfig,
  type ConversationState,
  type UsageTotals,
} from '../src/api/conversation';
import {
  DEFAULT_CONTEXT_WINDOW,
  promptTokens,
  reply,
  type FakeClaude,
  type FakeHandler,
  type RecordedRequest,
} from '../src/testing/fake-claude';
import { sleep, type CrashStack } from '../test/support/stack';
import { percentile, round } from './common';

/** Priced in the worker's default table (src/activities/pricing.ts); the fake answers any model. */
const MODEL = 'claude-sonnet-4-6';
/** A 1M-context model's window: the conversation without compaction fits it to the end. */
const LARGE_WINDOW = 1_000_000;

/** The sizes of the full run and of `--smoke` (small enough for CI, still compacting several times). */
const SETTINGS = {
  full: { turns: 300, thresholdTokens: 150_000, window: DEFAULT_CONTEXT_WINDOW },
  smoke: { turns: 12, thresholdTokens: 6_000, window: 10_000 },
};

let window = DEFAULT_CONTEXT_WINDOW;

/**
 * The fake's context window, for the bench's `FakeClaude` (`contextWindow` option): the default until
 * this section sets it for each variant, then the default again.
 */
export const fakeContextWindow = (): number => window;

/** About `tokens` tokens of text, as the fake counts them (4 characters a token). */
function words(tokens: number, word: string): string {
  return `${word} `.repeat(Math.ceil((tokens * 4) / (word.length + 1))).trim();
}

/**
 * A turn of the long conversation: to the user's message, the model answers with ~1,000 tokens of
 * preamble and a get_weather call; to anything else (the tool's result, or a compaction that
 * summarized it), with a ~1,000-token answer that ends the turn.
 */
const longTurn: FakeHandler = (request) => {
  const last = request.body.messages.at(-1)!;
  const userText =
    last.role === 'user' &&
    (typeof last.content === 'string' || !last.content.some((b) => b.type === 'tool_result'));
  return userText
    ? reply.toolUse({ name: 'get_weather', input: { location: 'Paris' } }, { text: words(1000, 'check') })
    : reply.text(words(1000, 'sunny'));
};

/** One model call as the fake received it. */
interface Call {
  compaction: boolean;
  promptTokens: number;
  invalid?: string;
}

/**
 * The conversation's requests, taken out of the fake's record: measured, then dropped, since a
 * 300-turn conversation without compaction sends about a gigabyte of prompts.
 */
function takeCalls(fake: FakeClaude, workflowId: string): Call[] {
  const taken: RecordedRequest[] = [];
  const kept: RecordedRequest[] = [];
  for (const r of fake.requests) (r.conversation === workflowId ? taken : kept).push(r);
  fake.requests.splice(0, fake.requests.length, ...kept);
  return taken
    .filter((r) => r.route === 'messages')
    .map((r) => ({
      compaction: 'compaction' in r.body,
      promptTokens: promptTokens(r.body as unknown as Record<string, unknown>),
      ...(r.invalid && { invalid: r.invalid }),
    }));
}

/** Thrown when a turn does not end as it should: the state and the last calls say what happened. */
class LongConversationStuck extends Error {}

async function turnDone(
  stack: CrashStack,
  workflowId: string,
  turn: number,
  calls: () => Call[],
  timeoutMs = 120_000,
): Promise<ConversationState> {
  const handle = stack.agent.client.workflow.getHandle(workflowId);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await handle.query(stateQuery, { from: 0, to: 0 });
    if (state.turn === turn && state.status === 'idle') return state;
    const stuck =
      state.status === 'needs_attention' || state.status === 'completed' || state.status === 'cancelled'
        ? state.status
        : Date.now() > deadline && `no end of turn ${turn} in ${timeoutMs} ms`;
    if (stuck) {
      const { status, attention, lastStop, generation, compaction, usage } = state;
      throw new LongConversationStuck(
        `long conversation ${workflowId} stuck at turn ${state.turn} (waiting for ${turn}): ${stuck}\n${JSON.stringify(
          { status, attention, lastStop, generation, compaction, usage, lastCalls: calls().slice(-6) },
          null,
          2,
        )}`,
      );
    }
    await sleep(5);
  }
}

/** Each run of the workflow, first to last, following the chain of continue-as-new back from the last. */
async function runsOf(stack: CrashStack, workflowId: string) {
  const runs: Array<{ runId: string; bytes: number; events: number }> = [];
  let runId: string | undefined = (await stack.agent.client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    const history = await stack.agent.client.workflow.getHandle(workflowId, runId).fetchHistory();
    runs.unshift({
      runId,
      bytes: temporal.api.history.v1.History.encode(history).finish().length,
      events: history.events?.length ?? 0,
    });
    runId =
      history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
  }
  return runs;
}

/** One variant: the whole conversation, turn by turn, then its figures. */
async function converse(
  stack: CrashStack,
  variant: 'compacted' | 'uncompacted',
  turns: number,
  compaction: CompactionConfig,
  contextWindow: number,
) {
  const workflowId = `bench-long-${variant}-${Date.now()}`;
  stack.fake.script(workflowId, longTurn);
  window = contextWindow;
  const calls: Call[] = [];
  const taken = () => [...calls, ...takeCalls(stack.fake, workflowId)];
  const handle = stack.agent.client.workflow.getHandle(workflowId);
  const perTurnMs: number[] = [];
  const started = performance.now();
  let state: ConversationState | undefined;
  try {
    for (let turn = 1; turn <= turns; turn++) {
      const turnStarted = performance.now();
      const message = `Turn ${turn}: ${words(500, 'weather')}`;
      if (turn === 1) {
        await stack.agent.startConversation(
          { model: MODEL, tools: ['get_weather'], compaction, limits: { maxTurns: turns + 5 }, message },
          { workflowId },
        );
      } else await handle.executeUpdate(sendMessageUpdate, { args: [{ content: message }] });
      state = await turnDone(stack, workflowId, turn, taken);
      perTurnMs.push(performance.now() - turnStarted);
      calls.push(...takeCalls(stack.fake, workflowId));
    }
  } finally {
    window = DEFAULT_CONTEXT_WINDOW;
  }
  const wallMs = performance.now() - started;
  await stack.agent.end(workflowId);
  const ended = await handle.query(stateQuery, { from: 0, to: 0 });
  const runs = await runsOf(stack, workflowId);
  const prompts = calls.filter((c) => !c.compaction).map((c) => c.promptTokens);
  const compactions = state!.compaction;
  return {
    variant,
    contextWindow,
    compaction,
    turns: state!.turn,
    status: ended.status,
    wallMs: round(wallMs, 0),
    perTurnMs: { p50: round(percentile(perTurnMs, 50)), max: round(Math.max(...perTurnMs)) },
    compactions: {
      count: compactions?.count ?? 0,
      // The newest 20 the state keeps (all of them at 300 turns), each at the turn it records: a
      // compaction between two turns counts to the first.
      at: (compactions?.recent ?? []).map((c) => ({
        turn: c.turn,
        trigger: c.trigger,
        ...(c.tokensBefore !== undefined && { tokensBefore: c.tokensBefore }),
      })),
    },
    generations: state!.generation,
    runs,
    historyBytes: runs.reduce((sum, r) => sum + r.bytes, 0),
    prompt: {
      calls: prompts.length,
      maxTokens: Math.max(...prompts),
      p50Tokens: percentile(prompts, 50),
      /** The prompt of every 10th model call (compaction requests aside), from the first. */
      every10th: prompts.filter((_, i) => i % 10 === 0),
    },
    compactionRequestTokens: calls.filter((c) => c.compaction).map((c) => c.promptTokens),
    refused: calls.flatMap((c) => (c.invalid ? [c.invalid] : [])),
    usage: state!.usage,
    totalTokens: totalTokens(state!.usage),
  };
}

/** Every token the conversation was billed for: input (uncached, written, read) and output. */
const totalTokens = (u: UsageTotals): number =>
  u.inputTokens + u.cacheCreationInputTokens + u.cacheReadInputTokens + u.outputTokens;

/** The long conversation, with compaction and without (`smoke`: 12 turns, a 6k threshold, a 10k window). */
export async function longConversation(stack: CrashStack, smoke: boolean) {
  const { turns, thresholdTokens, window: contextWindow } = smoke ? SETTINGS.smoke : SETTINGS.full;
  const compacted = await converse(stack, 'compacted', turns, { thresholdTokens }, contextWindow);
  const uncompacted = await converse(stack, 'uncompacted', turns, { onContextWindow: false }, LARGE_WINDOW);
  const met =
    [compacted, uncompacted].every((v) => v.turns === turns && v.refused.length === 0) &&
    compacted.compactions.count > 0 &&
    compacted.runs.length > compacted.compactions.count &&
    compacted.prompt.maxTokens < contextWindow;
  return {
    turns,
    model: MODEL,
    thresholdTokens,
    compacted,
    uncompacted,
    // One price per token at any prompt size (the worker's table): the API has billed prompts over 200k
    // tokens at a higher rate on its 1M-window betas, so the cost without compaction is a floor.
    costRatio: round(compacted.usage.costUsd / uncompacted.usage.costUsd, 3),
    tokenRatio: round(compacted.totalTokens / uncompacted.totalTokens, 3),
    met,
  };
}

export type LongConversationResult = Awaited<ReturnType<typeof longConversation>>;

/** The section's rows of the bench's table: [what, measured, figure, target]. */
export function longRows(l: LongConversationResult): string[][] {
  const kib = (bytes: number) => `${round(bytes / 1024, 0)} KiB`;
  const variant = (v: LongConversationResult['compacted']) =>
    `${v.turns} turns in ${round(v.wallMs / 1000, 1)} s (${v.status}); ${v.compactions.count} compactions${
      v.compactions.count ? ` at turns ${v.compactions.at.map((c) => c.turn).join(', ')}` : ''
    }; ${v.runs.length} run(s): ${v.runs.map((r) => `${kib(r.bytes)}/${r.events} ev`).join(', ')}; prompt per call (${v.prompt.calls} calls) max ${v.prompt.maxTokens}, p50 ${v.prompt.p50Tokens}, every 50th ${v.prompt.every10th
      .filter((_, i) => i % 5 === 0)
      .join(' ')}; ${v.totalTokens} tokens, $${v.usage.costUsd}`;
  return [
    [
      'long conversation (compaction)',
      `${variant(l.compacted)} [threshold ${l.thresholdTokens}, window ${l.compacted.contextWindow}]`,
      `cost x${l.costRatio}, tokens x${l.tokenRatio}`,
      `runs to the end through compaction: ${l.met ? 'met' : 'NOT met'}`,
    ],
    [
      'long conversation (none, 1M)',
      variant(l.uncompacted),
      `$${l.uncompacted.usage.costUsd}, ${kib(l.uncompacted.historyBytes)} history`,
      `vs $${l.compacted.usage.costUsd}, ${kib(l.compacted.historyBytes)}`,
    ],
  ];
}
