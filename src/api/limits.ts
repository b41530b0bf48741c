/**
 * What one conversation may do and spend, and what it spent: its limits (with their defaults), its
 * budget, its compaction settings, its usage totals. Shared by the conversation's and the agent's
 * contracts (conversation.ts re-exports it all). Workflow-safe: no Node, no SDK values.
 */
import { z } from 'zod';

/** Limits of one conversation. All optional; defaults in {@link DEFAULT_LIMITS}. */
export const LimitsSchema = z.object({
  /** User turns before the conversation completes. */
  maxTurns: z.number().int().positive().optional(),
  /** `pause_turn` continuations in a row before parking. */
  maxPauseTurns: z.number().int().nonnegative().optional(),
  /** Model calls within one turn (tool loop rounds + continuations) before parking. */
  maxModelCallsPerTurn: z.number().int().positive().optional(),
  /** How long an idle conversation waits for a message before it completes (ms). */
  idleTimeoutMs: z.number().int().positive().optional(),
  /** Ceiling for the one retry of a call whose tool input was cut by `max_tokens`. */
  maxTokensCeiling: z.number().int().positive().optional(),
  /** Continue-as-new past this many history events even if Temporal does not suggest it yet. */
  continueAsNewAfterEvents: z.number().int().positive().optional(),
  /** Largest user message accepted by `sendMessage`, in bytes of JSON. */
  maxMessageBytes: z.number().int().positive().optional(),
  /** How long a tool call waits for an operator's decision before it is rejected (ms). */
  approvalTimeoutMs: z.number().int().positive().optional(),
});

/**
 * A ceiling on a conversation's spend, in US dollars (priced models only) and/or tokens (all of them:
 * input, output, cache writes and reads), its sub-agents' included. Reaching it parks the conversation
 * before its next model call, never mid-stream.
 */
export const BudgetSchema = z
  .strictObject({
    usd: z.number().positive().max(1e9).optional(),
    tokens: z.number().int().positive().max(1e15).optional(),
  })
  .refine((b) => b.usd !== undefined || b.tokens !== undefined, { message: 'a budget needs usd or tokens' });
export type Budget = z.infer<typeof BudgetSchema>;

/**
 * Compaction: the API summarizes the conversation into one signed `compaction` block that later calls
 * send first, in place of what it summarized, so a conversation outlives the context window. The
 * transcript people see keeps everything (the summarized part marked as compacted); the run
 * continues-as-new after a compaction, so history and payloads stay small.
 */
export const CompactionSchema = z.strictObject({
  /**
   * Compact once the prompt reaches this many tokens (as the last model call measured it): before a
   * turn starts (its new message is kept verbatim), or before a call within a long tool loop.
   */
  thresholdTokens: z.number().int().min(1000).max(10_000_000).optional(),
  /**
   * When the model's context window is full (`model_context_window_exceeded`, or the API's "prompt is
   * too long"): compact and make the call again instead of parking. On unless set to false.
   */
  onContextWindow: z.boolean().optional(),
  /** Replaces the API's summarization prompt. */
  instructions: z.string().trim().min(1).max(20_000).optional(),
  /**
   * `client` (default): the worker asks for each compaction (beta `compact-2026-09-04`). `server`: every
   * call carries `context_management` with a `compact_20260112` edit at `thresholdTokens` (default
   * 150,000) and the API compacts as part of an answer (beta `compact-2026-01-12`).
   */
  mode: z.enum(['client', 'server']).optional(),
});
export type CompactionConfig = z.infer<typeof CompactionSchema>;

export type Limits = z.infer<typeof LimitsSchema>;

/** Limits with every default filled in (`continueAsNewAfterEvents` stays optional). */
export type ResolvedLimits = Required<Omit<Limits, 'continueAsNewAfterEvents'>> &
  Pick<Limits, 'continueAsNewAfterEvents'>;

export const DEFAULT_LIMITS: ResolvedLimits = {
  maxTurns: 100,
  maxPauseTurns: 5,
  maxModelCallsPerTurn: 50,
  idleTimeoutMs: 24 * 60 * 60 * 1000,
  maxTokensCeiling: 32_000,
  continueAsNewAfterEvents: undefined,
  maxMessageBytes: 256 * 1024,
  approvalTimeoutMs: 24 * 60 * 60 * 1000,
};

/** A conversation's limits: its own over the defaults. */
export function resolveLimits(limits: Limits | undefined): ResolvedLimits {
  return { ...DEFAULT_LIMITS, ...limits };
}

/**
 * Token usage and cost totals across a conversation's model calls (all its runs). The prompt's
 * tokens are `inputTokens + cacheCreationInputTokens + cacheReadInputTokens`.
 */
export interface UsageTotals {
  calls: number;
  /** Input tokens not read from or written to the prompt cache. */
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  /** US dollars of the calls whose model has a price in the worker's table. */
  costUsd: number;
  /** Calls on a model with no price (not in `costUsd`). */
  unpricedCalls: number;
}

/** The counters of {@link UsageTotals}, for code that adds or checks them all. */
export const USAGE_FIELDS = [
  'calls',
  'inputTokens',
  'outputTokens',
  'cacheCreationInputTokens',
  'cacheReadInputTokens',
  'costUsd',
  'unpricedCalls',
] as const satisfies ReadonlyArray<keyof UsageTotals>;

export const EMPTY_USAGE: UsageTotals = {
  calls: 0,
  inputTokens: 0,
  outputTokens: 0,
  cacheCreationInputTokens: 0,
  cacheReadInputTokens: 0,
  costUsd: 0,
  unpricedCalls: 0,
};
