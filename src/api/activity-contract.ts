/**
 * What the workflow and the activities exchange. Workflow-safe types and constants only; the
 * implementations live in src/activities.
 */
import type {
  ContentBlock,
  ImageBlockParam,
  MessageParam,
  StopReason,
  TextBlockParam,
  ThinkingConfigParam,
  ToolChoice,
  ToolUnion,
} from '@anthropic-ai/sdk/resources/messages';

import type { AgentToolSource } from './agents';
import type { ContextEdit, Effort } from './conversation';
import type { OutputVerdict } from './structured-output';
import type { ToolEffect } from './tools';

/** Everything of a model call but the transcript, which the activity rebuilds from its cache. */
export interface ModelRequest {
  /**
   * The conversation's agent: the worker builds the prompt, tools and options from its definition at
   * call time (everything below but `toolChoice` and `maxTokens` is then ignored), offering the tools
   * the run listed (`tools`, by API name).
   */
  agent?: { name: string; tools: string[] };
  model: string;
  system?: string | TextBlockParam[];
  /** Our tools, by registry name. */
  tools: string[];
  /** Server tool definitions, passed through untouched. */
  serverTools: ToolUnion[];
  toolChoice?: ToolChoice;
  maxTokens: number;
  temperature?: number;
  stopSequences?: string[];
  thinking?: ThinkingConfigParam;
  betas?: string[];
  /** Prompt caching: the lifetime of the breakpoints the worker places; absent = no breakpoints. */
  cacheTtl?: PromptCacheTtl;
  /** Server-side compaction: each call carries a `compact_20260112` edit with this trigger. */
  serverCompaction?: { triggerTokens: number; instructions?: string };
  /**
   * Structured output: the conversation's JSON Schema of a final answer (for an agent's conversation
   * too, over the agent's `output`). Sent as `output_config.format`, answers that end a turn judged.
   */
  outputSchema?: Record<string, unknown>;
  /** Context editing: the edits each call carries in `context_management` (ad-hoc conversations). */
  contextEdits?: ContextEdit[];
  /** `output_config.effort` (ad-hoc conversations). */
  effort?: Effort;
  /** The code execution container to run in (reused from an earlier answer until it expires). */
  container?: string;
}

export type PromptCacheTtl = '5m' | '1h';

export interface CallClaudeInput {
  workflowId: string;
  /** The transcript the call is made on: its length and the digest of its last message. */
  messageCount: number;
  digest: string;
  /**
   * The transcript's messages from `from` on, when they are small: those after the last model answer
   * (tool results, user messages), which the worker's cache cannot know from its own calls. With them
   * the worker needs no query on the happy path; without them (or on a cache miss) it queries.
   */
  tail?: { from: number; messages: MessageParam[] };
  /**
   * Where the prompt starts in the transcript: the last compaction message (absent: at 0). The
   * messages before it are summarized by it and not sent.
   */
  promptFrom?: number;
  /**
   * A compaction request (beta `compact-2026-09-04`): the answer is one signed `compaction` block, which
   * the workflow adds to the transcript itself (the worker's cache does not append it).
   */
  compact?: { instructions?: string };
  request: ModelRequest;
  /** For logs and observers. */
  turn: number;
}

/** The beta of compaction on demand (a `compaction` request, and compaction blocks sent back). */
export const COMPACTION_BETA = 'compact-2026-09-04';
/** The beta of context editing (`clear_tool_uses_20250919`, `clear_thinking_20251015`). */
export const CONTEXT_MANAGEMENT_BETA = 'context-management-2025-06-27';
/** The beta of server-side threshold compaction (`context_management` edit `compact_20260112`). */
export const SERVER_COMPACTION_BETA = 'compact-2026-01-12';
/** The API's default trigger of server-side compaction (input tokens). */
export const DEFAULT_SERVER_COMPACTION_TRIGGER = 150_000;
/**
 * The failure type of a call the API refused because the prompt does not fit the model's context
 * window ("prompt is too long"): the workflow compacts and calls again instead of parking.
 */
export const CONTEXT_WINDOW_EXCEEDED = 'ContextWindowExceeded';

/** A tool_use block of the answer, judged by the worker that received it. */
export interface ToolCallInfo {
  /** Index of the block in `message.content`. */
  index: number;
  id: string;
  name: string;
  /**
   * False when the input must not run: cut off by `max_tokens` (`truncated`), or not valid JSON
   * (`invalid_json`). Schema errors and unknown tools are `runTool`'s to report.
   */
  runnable: boolean;
  problem?: 'truncated' | 'invalid_json';
  /** The raw input text, when it did not parse (also kept, wrapped, in the block's input). */
  rawInput?: string;
  /** The tool's approval policy applied to its validated input (false when unknown or invalid). */
  needsApproval: boolean;
  /** With `needsApproval`: the tool's input JSON Schema, so the workflow can check an operator's edit. */
  inputSchema?: Record<string, unknown>;
  /** With `needsApproval`: the groups a decider must be in (the tool's `approvers`). */
  approvers?: string[];
  /** With `needsApproval`: distinct approvals needed, when more than one. */
  approvalsRequired?: number;
  effect?: ToolEffect;
  /** Where an agent's tool comes from (absent: the worker's own tool); `agent`: a sub-agent call. */
  source?: AgentToolSource;
  /** With `source: 'agent'`: the agent that takes the task. */
  subAgent?: string;
}

/** Token counts of one call. */
export interface CallUsage {
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  /** Of `cacheCreationInputTokens`, written for an hour (priced 2x instead of 1.25x). */
  cacheCreation1hInputTokens?: number;
  /** US dollars, from the worker's price table; absent when the model has no price there. */
  costUsd?: number;
  /**
   * Of the counts above, those of compaction iterations (`usage.iterations` entries of type
   * `compaction`, which the API leaves out of its top-level usage): input and output tokens.
   */
  compaction?: { inputTokens: number; outputTokens: number };
}

export interface CallClaudeResult {
  /** The assistant message as the transcript keeps it (tool inputs parsed strictly, or wrapped). */
  message: { role: 'assistant'; content: ContentBlock[] };
  id: string;
  model: string;
  stopReason: StopReason | 'compaction';
  stopSequence: string | null;
  stopDetails: unknown;
  usage: CallUsage;
  toolCalls: ToolCallInfo[];
  requestId?: string;
  /** The agent definition this call was made with (its fingerprint changes when a deploy changes it). */
  agent?: { name: string; fingerprint: string };
  /**
   * Structured output: the verdict on this answer, when the call asked for a format and the answer
   * ends the turn (judged here, once, against the schema with every constraint; recorded in history).
   */
  output?: OutputVerdict;
  /** Context edits the API applied to this call (`context_management.applied_edits`), when any. */
  appliedEdits?: unknown[];
  /** The code execution container the answer ran in, and when it expires (ISO time). */
  container?: { id: string; expiresAt: string };
}

export interface RunToolInput {
  /** The conversation's agent, whose tools (its own and its MCP servers') the call is looked up in. */
  agent?: string;
  /**
   * The tools the model was offered (by name): a call to any other is refused, whatever the worker
   * has (a tool the model was not offered was not judged for approval either).
   */
  offered?: string[];
  workflowId: string;
  toolUseId: string;
  name: string;
  input: unknown;
  /** The conversation's tenant, when it names one (tenant-scoped tools such as memory; default `default`). */
  tenant?: string;
}

export interface RunToolResult {
  content: string | Array<TextBlockParam | ImageBlockParam>;
  isError: boolean;
  /** The output was longer than the cap and was cut (the model is told). */
  truncated?: boolean;
  durationMs: number;
}

/** Largest `tail` (bytes of JSON) the workflow sends with a model call; bigger ones are read by query. */
export const MAX_TAIL_BYTES = 16 * 1024;

/** Failure type of a model API error; `details[0]` is a {@link ModelErrorDetails}. */
export const MODEL_API_ERROR = 'ModelApiError';
/** Failure type of a worker that cannot serve the request as configured (unknown tool, ...). */
export const CONFIGURATION_ERROR = 'AgentConfigurationError';

export interface ModelErrorDetails {
  status?: number;
  /** The API's `error.type`, e.g. `invalid_request_error`, `overloaded_error`. */
  errorType?: string;
  /** The API's `error.details.error_code`, when it gives one (e.g. `compaction_signature_invalid`). */
  errorCode?: string;
  requestId?: string;
  message: string;
}

/** The raw text of a tool input that did not parse is kept in an object under this key. */
export const INVALID_INPUT_KEY = 'INVALID_JSON';
