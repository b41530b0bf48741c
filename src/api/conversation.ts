/**
 * The conversation contract shared by the workflow, the worker, the CLI and the ops server:
 * workflow input, state, and the updates, signals and queries that reach a conversation.
 * Workflow-safe: no Node, no SDK values.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  ContentBlockParam,
  MessageParam,
  StopReason,
  TextBlockParam,
  ThinkingConfigParam,
  ToolChoice,
  ToolUnion,
} from '@anthropic-ai/sdk/resources/messages';
import type {
  BetaClearThinking20251015Edit,
  BetaClearToolUses20250919Edit,
} from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { z } from 'zod';
import { AGENT_NAME_PATTERN, type AgentView, type ParentLink, type SubAgentRun } from './agents';
import type { PendingApproval, RecordedDecision, RefusedDecision } from './approvals';
import { MAX_NAME, MAX_REASON, MAX_TOOL_USE_ID, quote } from './bounds';
import { formatIssues } from './issues';
import { TENANT_PATTERN } from './tenants';
import { TOOL_NAME_PATTERN } from './tools';
import { OutputSchemaSchema, type OutputStatus, type StructuredOutput } from './structured-output';
import {
  BudgetSchema,
  CompactionSchema,
  LimitsSchema,
  resolveLimits,
  type Budget,
  type UsageTotals,
} from './limits';

export {
  BudgetSchema,
  CompactionSchema,
  DEFAULT_LIMITS,
  EMPTY_USAGE,
  LimitsSchema,
  USAGE_FIELDS,
  resolveLimits,
  type Budget,
  type CompactionConfig,
  type Limits,
  type ResolvedLimits,
  type UsageTotals,
} from './limits';

/** The workflow type name, for clients that start conversations by name. */
export const CONVERSATION_WORKFLOW = 'conversationWorkflow';

/**
 * Where a conversation stands; the one list every other place (search attribute, ops API filter, ops
 * page) is built from.
 * - `running`: a model call or tool calls are in flight.
 * - `awaiting_approval`: tool calls wait for an operator's decision.
 * - `idle`: the turn is over; waiting for the next user message.
 * - `refused`: the model refused; waiting for the next user message (see `lastStop.details`).
 * - `needs_attention`: parked: an error or a limit needs a person (`attention` says which); `resume` or `end` it.
 * - `completed`: over: single-turn run done, idle timeout, turn limit, or ended.
 * - `cancelled`: the workflow was cancelled.
 */
export const CONVERSATION_STATUSES = [
  'running',
  'awaiting_approval',
  'idle',
  'refused',
  'needs_attention',
  'completed',
  'cancelled',
] as const;
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];

/** Why a conversation is parked in `needs_attention`. */
export type AttentionReason =
  /** A non-retryable API error (400/401/403/404/413), or retries ran out. */
  | 'api_error'
  /** More `pause_turn` continuations in a row than `limits.maxPauseTurns`. */
  | 'pause_turn_limit'
  /** The model's context window is full (`model_context_window_exceeded`). */
  | 'context_window_exceeded'
  /** More model calls than `limits.maxModelCallsPerTurn` in one turn (a tool loop that does not end). */
  | 'turn_call_limit'
  /** The worker cannot serve this conversation as configured (unknown tool name, bad option). */
  | 'configuration'
  /** Its spend reached its budget (dollars or tokens): raise it (`raiseBudget`) or end it. */
  | 'budget_exceeded'
  /** Programmatic tool calls waited longer than their code execution container lived. */
  | 'container_expired'
  /**
   * A compaction the conversation needed failed (the API's `error_code` in `errorType`): resume tries
   * it again (a threshold's or an operator's is skipped instead), or end it.
   */
  | 'compaction_failed';

export interface Attention {
  reason: AttentionReason;
  message: string;
  /** The API's `error.type` (e.g. `authentication_error`) or our failure type. */
  errorType?: string;
  status?: number;
  requestId?: string;
  /** ISO time it was parked. */
  at: string;
}

/** One context-editing edit, passed through to the API (it checks the fields). */
export type ContextEdit = BetaClearToolUses20250919Edit | BetaClearThinking20251015Edit;

/**
 * Context editing (beta `context-management-2025-06-27`): the API clears old tool results
 * (`clear_tool_uses_20250919`) or thinking (`clear_thinking_20251015`) from what the model reads, by
 * its own rules; the transcript keeps everything. Each answer's `applied_edits` are recorded in its
 * message's `meta`. Compaction has its own settings (`compaction`).
 */
export const ContextManagementSchema = z.strictObject({
  edits: z
    .array(
      sdkShaped<ContextEdit>(
        z.looseObject({ type: z.enum(['clear_tool_uses_20250919', 'clear_thinking_20251015']) }),
      ),
    )
    .min(1)
    .max(2),
});
export type ContextManagement = z.infer<typeof ContextManagementSchema>;

/** `output_config.effort`: how much effort the model puts into its answers. */
export const EFFORTS = ['low', 'medium', 'high', 'xhigh', 'max'] as const;
export type Effort = (typeof EFFORTS)[number];

/** How a sub-agent's conversation names the conversation that called it (set by the parent workflow). */
const ParentLinkSchema = z.strictObject({
  workflowId: z.string().min(1).max(1000),
  toolUseId: z.string().min(1).max(MAX_TOOL_USE_ID),
  agent: z.string().regex(AGENT_NAME_PATTERN),
  depth: z.number().int().positive().max(100),
  ancestry: z.array(z.string().regex(AGENT_NAME_PATTERN)).max(100),
}) satisfies z.ZodType<ParentLink>;
/**
 * A value the API defines: we check what the conversation relies on (an object with its `type`, ...)
 * and type the result as the SDK's request type, so the workflow passes it on without a cast. The API
 * checks the rest; its 400 parks the conversation with the API's own message.
 */
function sdkShaped<T>(check: z.ZodType): z.ZodType<T, T> {
  return z.custom<T>().superRefine((value, ctx) => {
    const result = check.safeParse(value);
    if (result.success) return;
    for (const { message, path } of result.error.issues) ctx.addIssue({ code: 'custom', message, path });
  });
}

/** Where an image or a document comes from (the API checks the media types and the data). */
const SourceSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('base64'), media_type: z.string(), data: z.string() }),
  z.looseObject({ type: z.literal('url'), url: z.string() }),
  z.looseObject({ type: z.literal('file'), file_id: z.string() }),
  z.looseObject({ type: z.literal('text'), media_type: z.string(), data: z.string() }),
  z.looseObject({ type: z.literal('content'), content: z.union([z.string(), z.array(z.unknown())]) }),
]);

/** The blocks a user message may hold, each with the fields the API requires of it. */
const USER_BLOCKS: Record<string, z.ZodType> = {
  text: z.looseObject({ type: z.literal('text'), text: z.string().min(1, 'a text block must not be empty') }),
  image: z.looseObject({ type: z.literal('image'), source: SourceSchema }),
  document: z.looseObject({ type: z.literal('document'), source: SourceSchema }),
};

/** One block of a user message: the fields the API requires, checked here rather than by a 400 mid-turn. */
const UserBlockSchema = sdkShaped<ContentBlockParam>(
  z.looseObject({ type: z.string() }).superRefine((block, ctx) => {
    const schema = USER_BLOCKS[block.type];
    if (!schema) {
      const message = `a user message may hold text, image and document blocks, not ${quote(block.type)}`;
      return ctx.addIssue({ code: 'custom', message, path: ['type'] });
    }
    const result = schema.safeParse(block);
    if (!result.success) {
      for (const { message, path } of result.error.issues) ctx.addIssue({ code: 'custom', message, path });
    }
  }),
);

/** User content: a non-empty string or non-empty array of content blocks, each as the API requires it. */
const UserContentSchema = z.union([
  z.string().min(1, 'a message must not be empty'),
  z.array(UserBlockSchema).min(1, 'a message must have at least one block'),
]);

/**
 * The first message's shape as conversations have always been started with it (blocks checked for a
 * `type` only). The workflow parses every run's input with it, so runs started before the checks of
 * {@link firstMessageProblem} (and their continue-as-new successors) still start.
 */
const StartMessageSchema = z.union([
  z.string().min(1, 'a message must not be empty'),
  z
    .array(sdkShaped<ContentBlockParam>(z.looseObject({ type: z.string() })))
    .min(1, 'a message must have at least one block'),
]);

/** The size check of a user message, where it enters (`sendMessage`, the start input). */
export function messageSizeProblem(content: unknown, maxBytes: number): string | undefined {
  const bytes = JSON.stringify(content).length;
  return bytes > maxBytes ? `message too large: ${bytes} bytes of JSON, the limit is ${maxBytes}` : undefined;
}
export type UserContent = z.output<typeof UserContentSchema>;

/**
 * A conversation started from another's transcript (`AgentClient.fork`): where it came from, and the
 * messages it starts with (from the origin's last compaction message at most, so the prompt stays what
 * it was). Blocks are checked for a `type`; the API checks the rest.
 */
export const ForkSchema = z.strictObject({
  from: z.strictObject({
    workflowId: z.string().min(1).max(1000),
    /** Index (in the origin's whole transcript) of the last message taken. */
    index: z.number().int().nonnegative(),
    /** Who forked it (an operator action, in the audit) and when (ISO time). */
    by: z.string().max(MAX_NAME).optional(),
    at: z.iso.datetime().optional(),
  }),
  messages: z
    .array(
      sdkShaped<MessageParam>(
        z.looseObject({
          role: z.enum(['user', 'assistant']),
          content: z.union([z.string(), z.array(z.looseObject({ type: z.string() })).min(1)]),
        }),
      ),
    )
    .max(100_000),
});
export type ForkInput = z.infer<typeof ForkSchema>;

/** What `conversationWorkflow` takes. Validated on start; bad input fails the start, not later. */
export const ConversationInputSchema = z
  .object({
    /**
     * The agent this conversation talks to (`defineAgent` on the workers): its model, prompt, tools, MCP
     * servers, sub-agents, policies and limits. Without one, the conversation is ad hoc: `model`,
     * `system` and `tools` say it all.
     */
    agent: z.string().regex(AGENT_NAME_PATTERN, `an agent name must match ${AGENT_NAME_PATTERN}`).optional(),
    /** Required without `agent`; with one, the agent's model is used and this is ignored. */
    model: z.string().min(1).optional(),
    system: z
      .union([
        z.string(),
        z.array(sdkShaped<TextBlockParam>(z.looseObject({ type: z.literal('text'), text: z.string() }))),
      ])
      .optional(),
    /** Names of our tools (the worker's registry). */
    tools: z.array(z.string().regex(TOOL_NAME_PATTERN)).default([]),
    /** Server tool definitions, passed through to the API untouched (web search, web fetch, code execution). */
    serverTools: z
      .array(sdkShaped<ToolUnion>(z.looseObject({ type: z.string(), name: z.string() })))
      .default([]),
    toolChoice: z
      .union([
        z.object({
          type: z.enum(['auto', 'any', 'none']),
          disable_parallel_tool_use: z.boolean().optional(),
        }),
        z.object({
          type: z.literal('tool'),
          name: z.string(),
          disable_parallel_tool_use: z.boolean().optional(),
        }),
      ])
      .optional(),
    /**
     * After a forced call (`tool_choice` `any` or `tool`), continue with `auto` (default), so the model
     * is not forced to call the same tool forever; `keep` forces every call.
     */
    forcedToolChoice: z.enum(['once', 'keep']).default('once'),
    maxTokens: z.number().int().positive().default(4096),
    temperature: z.number().min(0).max(1).optional(),
    stopSequences: z.array(z.string()).optional(),
    /** Extended thinking, passed through (`{type: 'enabled', budget_tokens}`). */
    thinking: sdkShaped<ThinkingConfigParam>(z.looseObject({ type: z.string() })).optional(),
    /**
     * Prompt caching: the worker marks cache breakpoints so each model call reads the prompt it shares
     * with the previous one from the cache. `5m` (default) keeps entries 5 minutes from their last use,
     * `1h` an hour (writes cost 2x instead of 1.25x the input price: worth it when turns are minutes
     * apart, e.g. waiting for approvals); `off` sends no breakpoints (yours in `system` still apply).
     */
    promptCaching: z.enum(['5m', '1h', 'off']).default('5m'),
    /** Beta headers to send (e.g. `fine-grained-tool-streaming-2025-05-14`); uses the beta client. */
    betas: z.array(z.string()).optional(),
    /** The first user message; without it the conversation waits for `sendMessage`. */
    message: StartMessageSchema.optional(),
    /** End after the first turn (a single-shot run) instead of waiting for more messages. */
    singleTurn: z.boolean().default(false),
    limits: LimitsSchema.default({}),
    /** A ceiling on its spend (the agent's budget otherwise; see {@link BudgetSchema}). */
    budget: BudgetSchema.optional(),
    /** Compaction settings (over the agent's; see {@link CompactionSchema}). */
    compaction: CompactionSchema.optional(),
    /** Context editing, passed through (see {@link ContextManagementSchema}). */
    contextManagement: ContextManagementSchema.optional(),
    /** `output_config.effort` (`low` … `max`). */
    effort: z.enum(EFFORTS).optional(),
    /**
     * Structured output: each turn's final answer as a JSON object of this JSON Schema (over the
     * agent's `output`). Sent as `output_config.format` (transformed as the SDK does); the answer is
     * checked against this schema with every constraint (see src/api/structured-output.ts).
     */
    outputSchema: OutputSchemaSchema.optional(),
    /**
     * The tenant it works for (default `default`): tenant-scoped state, such as the memory tool's files,
     * is kept apart by it. Carried across continue-as-new and to sub-agents.
     */
    tenant: z.string().regex(TENANT_PATTERN, `a tenant must match ${TENANT_PATTERN}`).optional(),
    /** Set by the parent workflow on a sub-agent's conversation. */
    parent: ParentLinkSchema.optional(),
    /** Starts from another conversation's transcript (see {@link ForkSchema}). */
    fork: ForkSchema.optional(),
  })
  .refine((input) => input.agent !== undefined || input.model !== undefined, {
    message: 'a conversation needs an agent or a model',
    path: ['model'],
  });
export type ConversationInput = z.input<typeof ConversationInputSchema>;
export type ConversationConfig = z.output<typeof ConversationInputSchema>;

/**
 * What a new conversation's first message must pass, like any `sendMessage`: blocks as the API requires
 * them, and `limits.maxMessageBytes`. Checked by the client before it starts a conversation, and by
 * the workflow's first run (so a direct start is held to it too).
 */
export function firstMessageProblem(
  config: Pick<ConversationConfig, 'message' | 'limits'>,
): string | undefined {
  if (config.message === undefined) return undefined;
  const parsed = UserContentSchema.safeParse(config.message);
  if (!parsed.success) return `message: ${formatIssues(parsed.error)}`;
  return messageSizeProblem(config.message, resolveLimits(config.limits).maxMessageBytes);
}

/** How the last model response ended. */
export interface LastStop {
  reason: StopReason | 'compaction';
  /** `stop_details` (refusals). */
  details?: unknown;
  stopSequence?: string | null;
  /** The answer was cut by `max_tokens` (text recorded as far as it went). */
  truncated?: boolean;
  at: string;
}

/** A tool call being worked on. */
export interface ToolCallInFlight {
  toolUseId: string;
  name: string;
  startedAt: string;
}

/** One entry of the transcript's side record: when a message entered, and of which turn. */
export interface MessageMeta {
  turn: number;
  at: string;
  /** The message is a compaction block: the prompt starts here (until the next one). */
  compaction?: { trigger: CompactionTrigger; summarized: number };
  /** Context edits the API applied to the call that answered with this message (`applied_edits`). */
  appliedEdits?: unknown[];
  /** Not the user's: the worker asked again after an answer that failed the output schema. */
  outputCorrection?: true;
}

/** What made a conversation compact. */
export type CompactionTrigger = 'threshold' | 'context_window' | 'operator' | 'server';

/** One compaction, as the state keeps it. */
export interface CompactionRecord {
  trigger: CompactionTrigger;
  at: string;
  turn: number;
  /** Index (in the whole transcript) of the compaction message; the messages before it are summarized. */
  index: number;
  /** The prompt's size before (tokens, as the last call measured it), when known. */
  tokensBefore?: number;
  /** The compaction's own usage (its `usage.iterations` entry). */
  inputTokens: number;
  outputTokens: number;
  by?: string;
}

/** Where the transcript stands with compaction (absent until the first). */
export interface CompactionView {
  /** Compactions so far (all runs). */
  count: number;
  /** The newest 20. */
  recent: CompactionRecord[];
  /** Index (in the whole transcript) where the prompt sent to the model starts. */
  promptFrom: number;
  /**
   * Messages before `firstIndex` were summarized in earlier runs and are not in this run's state: the
   * run `runId` (of this workflow id) holds them, and names the run before it in its own state.
   */
  earlier?: { runId: string; firstIndex: number };
  /** An operator asked for a compaction that has not happened yet. */
  requested?: { by?: string; at: string };
}

/** The answer of {@link stateQuery}. */
export interface ConversationState {
  status: ConversationStatus;
  attention?: Attention;
  model: string;
  /** The conversation's agent (absent for an ad-hoc conversation). */
  agent?: AgentView;
  /** A sub-agent's conversation: the conversation and tool call it answers. */
  parent?: ParentLink;
  /** Sub-agent conversations this one started (the newest 100). */
  subAgents?: SubAgentRun[];
  /** Its budget, when it has one, and what it spent against it. */
  budget?: { limit: Budget; spent: { usd: number; tokens: number } };
  /** Current (or last) user turn, from 1; 0 before the first message. */
  turn: number;
  /** Messages in the transcript (API form), from its very first (earlier runs' compacted ones included). */
  messageCount: number;
  /** The requested range of the transcript (all of it by default, as far as this run holds it). */
  messages: MessageParam[];
  /** Index of `messages[0]` in the transcript. */
  from: number;
  /** Compaction: where the prompt starts, the compactions so far, where earlier messages are. */
  compaction?: CompactionView;
  /** A fork: the conversation and message it was started from, who forked it and when. */
  forkedFrom?: ForkInput['from'];
  /** The code execution container of the last answer that ran in one (reused until it expires). */
  container?: { id: string; expiresAt: string };
  meta: MessageMeta[];
  modelCallInFlight: boolean;
  toolCallsInFlight: ToolCallInFlight[];
  /** User messages accepted but not yet started. */
  queuedMessages: number;
  /** Tool calls waiting for an operator's decision. */
  pendingApprovals: PendingApproval[];
  /** Every decision taken, oldest first: who, when, what, why, original and edited input. */
  decisions: RecordedDecision[];
  /** Signal-borne decisions that could not apply, with the reason (the newest 50). */
  refusedDecisions: RefusedDecision[];
  usage: UsageTotals;
  lastStop?: LastStop;
  /** The last turn's structured output (conversations with an output schema). */
  output?: StructuredOutput;
  /** Why it completed, when it did. */
  endReason?: string;
  /** Continue-as-new generations so far. */
  generation: number;
  startedAt: string;
  updatedAt: string;
}

/** What `sendMessage` takes. */
export const SendMessageSchema = z.object({ content: UserContentSchema });

/** Who resumes or ends a conversation, and why: bounded, so the audit trail stays small. */
export const ResumeRequestSchema = z
  .strictObject({ by: z.string().max(MAX_NAME).optional(), note: z.string().max(MAX_REASON).optional() })
  .optional();
export const EndRequestSchema = z
  .strictObject({ by: z.string().max(MAX_NAME).optional(), reason: z.string().max(MAX_REASON).optional() })
  .optional();
export type SendMessageInput = z.input<typeof SendMessageSchema>;

/** What `sendMessage` answers: the turn this message starts (later than the current one if queued). */
export interface SendMessageResult {
  turn: number;
  /** Messages ahead of this one, waiting for the current turn to end. */
  queuedBehind: number;
}

export interface StateQueryOptions {
  /** First message index (default 0). Negative counts from the end. */
  from?: number;
  /** One past the last index (default: the end). */
  to?: number;
}

/** Sends a user message: validated, size-limited; answers with the turn it starts. */
export const sendMessageUpdate = defineUpdate<SendMessageResult, [SendMessageInput]>('sendMessage');
/** Who resumes a parked conversation, and why (for the log and the audit trail). */
export type ResumeRequest = NonNullable<z.input<typeof ResumeRequestSchema>>;
/** Who ends a conversation, and why (becomes its `endReason`). */
export type EndRequest = NonNullable<z.input<typeof EndRequestSchema>>;
/** Retries whatever parked the conversation (after the operator fixed it). */
export const resumeUpdate = defineUpdate<ConversationStatus, [ResumeRequest]>('resume');
/** Who raises a budget, to what, and why. */
export const RaiseBudgetSchema = z.strictObject({
  usd: z.number().positive().max(1e9).optional(),
  tokens: z.number().int().positive().max(1e15).optional(),
  by: z.string().max(MAX_NAME).optional(),
  note: z.string().max(MAX_REASON).optional(),
});
export type RaiseBudgetRequest = z.input<typeof RaiseBudgetSchema>;
/**
 * Sets the conversation's budget to new ceilings (each given one replaces its old value); a
 * conversation parked on its budget goes on if it is now under it. Answers with the budget.
 */
export const raiseBudgetUpdate = defineUpdate<Budget, [RaiseBudgetRequest]>('raiseBudget');
/** Who asks for a compaction, why, and with which summarization instructions (this one only). */
export const CompactRequestSchema = z.strictObject({
  by: z.string().max(MAX_NAME).optional(),
  note: z.string().max(MAX_REASON).optional(),
  instructions: z.string().trim().min(1).max(20_000).optional(),
});
export type CompactRequest = z.input<typeof CompactRequestSchema>;
/**
 * Compacts the conversation at its next safe point: at once when it is idle or parked (a parked one
 * goes on after it), before the next model call when it is running. Answers with the compaction view
 * (`requested` set until it happens). Refused for a conversation whose compaction is server-side.
 */
export const compactUpdate = defineUpdate<CompactionView, [CompactRequest]>('compact');
/** Ends the conversation (parked, idle, refused or awaiting approval). */
export const endUpdate = defineUpdate<ConversationStatus, [EndRequest]>('end');
/** The conversation's state, with the transcript or a range of it. */
export const stateQuery = defineQuery<ConversationState, [StateQueryOptions?]>('state');
/**
 * A range of the transcript in API form. The worker's model-call activity reads through it on a cache
 * miss, so each message enters workflow history once, not once per turn.
 */
export const messagesQuery = defineQuery<{ messages: MessageParam[] }, [{ from: number; to: number }]>(
  'messages',
);
/**
 * What the conversation runs with: its input as it started (or as continue-as-new carried it), without
 * its first message, its fork transcript or its parent link. A fork starts from it, so it keeps the
 * origin's tenant, tools and settings.
 */
export type ConversationSettings = Omit<ConversationInput, 'message' | 'fork' | 'parent'>;
export const settingsQuery = defineQuery<ConversationSettings>('settings');
/** Signal twin of `end`, for systems that can only signal. */
export const endSignal = defineSignal<[EndRequest]>('endSignal');

/** What the workflow returns when it ends; `O` is the type of its structured output. */
export interface ConversationResult<O = unknown> {
  status: 'completed' | 'cancelled';
  endReason: string;
  turns: number;
  messageCount: number;
  /** The text of the last assistant message. */
  lastText: string;
  usage: UsageTotals;
  /** Structured output: the last turn's answer, parsed and validated (with `outputStatus` `ok` only). */
  output?: O;
  /** Structured output: what became of the last turn's answer (absent without an output schema). */
  outputStatus?: OutputStatus;
  /** Why `outputStatus` is not `ok`. */
  outputReason?: string;
}

export type { ContentBlockParam, MessageParam, ToolChoice };
