/**
 * Request validation for the fake Anthropic Messages API.
 *
 * The fake server runs every request body through {@link validateRequest} and answers the first problem found
 * as a 400 `invalid_request_error`, so that a bug in the worker fails a test the way the real API would fail
 * it in production. Messages copy the real API's wording where it is known (a path prefix such as
 * `messages.1.content.0: ...`, pydantic phrases such as `Field required`); where the real wording is not
 * known, they say plainly what is wrong in the same style.
 *
 * Rules run in this order; the first failing one wins:
 *  1. the body is a JSON object; `model`, `max_tokens` (route `messages` only) and `messages` are present and
 *     well typed;
 *  2. no unknown top-level key;
 *  3. each message and content block is well formed (roles, block types, `text`, `tool_use`, `tool_result`,
 *     `thinking` fields);
 *  4. `system`, `tools`, `tool_choice`, sampling parameters and `thinking` are well formed;
 *  5. the conversation makes sense: it starts with a user message (or with the assistant message holding a
 *     `compaction` block, see compaction.ts), no message but a final assistant one is empty, `tool_use` ids
 *     are unique, and every `tool_use` is answered by a `tool_result` at the start of the next user turn
 *     (and no `tool_result` answers anything else);
 *     deferred tools, tool search tools and tool references hold together (tool-search.ts);
 *  6. a compaction request (`compaction` set) can be compacted (compaction.ts);
 *  7. with a {@link Signer}: every signed block (`compaction`, `thinking`, `redacted_thinking`) is one the
 *     fake issued, unchanged.
 *
 * Compaction rules answer with the `error.details.error_code` the SDK picks its error class by
 * (`compaction_block_misplaced` -> `CompactionBlockMisplacedError`, ...). Placement rules run first (a
 * compaction block in a `system` message would otherwise fail on the role).
 *
 * Roles must alternate by default: our worker never sends two messages of one role in a row, and
 * one that does has a bug worth failing on. The real API is more lenient (it merges consecutive
 * same-role messages into one turn; the recorded exchanges in the shared fixtures hold such requests,
 * answered with 200): `{ lenientRoles: true }` validates like that, to replay real recordings.
 */
import type { MessageCreateParamsBase } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { countBreakpoints, MAX_CACHE_BREAKPOINTS } from './prompt-cache';
import {
  compactionPlacementProblem,
  compactionRequestProblem,
  signedBlocksProblem,
  startsWithCompaction,
  type CodedProblem,
} from './compaction';
import type { Signer } from './signatures';
import { strictSchemaProblem } from './strict-schema';
import { toolSearchProblem } from './tool-search';
import { TOOL_NAME_PATTERN } from '../../api/tools';

/** The endpoint a request was sent to: `POST /v1/messages` or `POST /v1/messages/count_tokens`. */
export type Route = 'messages' | 'count_tokens';

/** Options of {@link validateRequest}. */
export interface ValidationOptions {
  /** Accept consecutive messages of one role, merging them as the real API does. Default false. */
  lenientRoles?: boolean;
  /** Checks the signatures of `compaction`, `thinking` and `redacted_thinking` blocks. Default: not checked. */
  signer?: Signer;
}

/** The verdict on a request body: valid, or the error message the API would answer with a 400. */
export type ValidationResult = { ok: true } | { ok: false; message: string; errorCode?: string };

type Obj = Record<string, unknown>;
type Role = 'user' | 'assistant';
/**
 * A rule's verdict: the message of the first problem found (with its `error_code`, for the refusals that
 * have one), or `undefined` when the rule holds.
 */
type Problem = string | CodedProblem | undefined;
/** One validation rule over a body already known to be a JSON object. */
type Rule = (body: Obj, route: Route) => Problem;

/** A message once rule 3 has checked it: string content, or an array of objects with a string `type`. */
interface Message {
  role: Role;
  content: string | Block[];
}
interface Block extends Obj {
  type: string;
}
/** A content block and where it came from, for error paths. */
interface PlacedBlock {
  block: Block;
  message: number;
  index: number;
}
/** Consecutive messages of one role, merged the way the API merges them. */
interface Turn {
  role: Role;
  blocks: PlacedBlock[];
}

/** Header parameters of the SDK's params type: sent as HTTP headers, never in the body. */
type HeaderParam = 'betas' | 'user_profile_id' | 'workspace_id';
/** Sampling parameters the API still accepts though the installed SDK no longer declares them. */
type LegacyParam = 'temperature' | 'top_p' | 'top_k';

/**
 * Every top-level body key the API accepts: the SDK's (beta) body parameters plus the legacy sampling
 * ones. A `Record` so that an SDK upgrade adding or removing a body parameter fails the type check here.
 */
const KNOWN_KEYS: Record<Exclude<keyof MessageCreateParamsBase, HeaderParam> | LegacyParam, true> = {
  model: true,
  max_tokens: true,
  messages: true,
  system: true,
  tools: true,
  tool_choice: true,
  temperature: true,
  top_p: true,
  top_k: true,
  stop_sequences: true,
  stream: true,
  metadata: true,
  thinking: true,
  service_tier: true,
  container: true,
  mcp_servers: true,
  context_management: true,
  output_config: true,
  output_format: true,
  inference_geo: true,
  billing_policy: true,
  cache_control: true,
  compaction: true,
  diagnostics: true,
  fallback_credit_token: true,
  fallbacks: true,
  speed: true,
  thread: true,
};

// The API's rule, shared with the tool registry and the conversation contract.

const TOOL_USE_ID_PATTERN = /^[a-zA-Z0-9_-]+$/;
const TOOL_CHOICE_TYPES = ['auto', 'any', 'tool', 'none'];
const THINKING_TYPES = ['enabled', 'disabled', 'adaptive', 'between_tools'];
const MIN_THINKING_BUDGET = 1024;

// ---------------------------------------------------------------------------------------------------------
// Small helpers

const isObject = (value: unknown): value is Obj =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isInteger = (value: unknown): value is number => Number.isInteger(value);
const isBlank = (text: string): boolean => text.trim() === '';
const has = (obj: Obj, key: string): boolean => obj[key] !== undefined;
/** pydantic's wording for a discriminated union whose `type` tag matches no variant. */
const badTag = (path: string, tag: unknown, expected: readonly string[]): string =>
  `${path}: Input tag '${String(tag)}' found using 'type' does not match any of the expected tags: ` +
  expected.map((t) => `'${t}'`).join(', ');

/** The first problem among lazily evaluated checks. */
function firstProblem(checks: Iterable<Problem>): Problem {
  for (const problem of checks) if (problem) return problem;
  return undefined;
}

/** A numeric parameter in `[min, max]` (either bound optional), integer if asked. */
function checkNumber(
  path: string,
  value: unknown,
  opts: { integer?: boolean; min?: number; max?: number },
): Problem {
  if (opts.integer ? !isInteger(value) : !isNumber(value)) {
    return `${path}: Input should be a valid ${opts.integer ? 'integer' : 'number'}`;
  }
  const n = value as number;
  if (opts.min !== undefined && n < opts.min)
    return `${path}: Input should be greater than or equal to ${opts.min}`;
  if (opts.max !== undefined && n > opts.max)
    return `${path}: Input should be less than or equal to ${opts.max}`;
  return undefined;
}

/** A required string field of an object. */
function checkStringField(obj: Obj, key: string, path: string): Problem {
  if (!has(obj, key)) return `${path}.${key}: Field required`;
  if (typeof obj[key] !== 'string') return `${path}.${key}: Input should be a valid string`;
  return undefined;
}

/** The messages of a body that rules 1 and 3 have accepted. */
const messagesOf = (body: Obj): Message[] => body.messages as Message[];

/** Content as blocks: string content is one text block, as the API reads it. */
const blocksOf = (content: string | Block[]): Block[] =>
  typeof content === 'string' ? [{ type: 'text', text: content }] : content;

/** Merges consecutive same-role messages into turns, keeping each block's original position. */
function toTurns(messages: Message[]): Turn[] {
  const turns: Turn[] = [];
  messages.forEach((msg, message) => {
    const blocks = blocksOf(msg.content).map((block, index) => ({ block, message, index }));
    const last = turns[turns.length - 1];
    if (last && last.role === msg.role) last.blocks.push(...blocks);
    else turns.push({ role: msg.role, blocks });
  });
  return turns;
}

// ---------------------------------------------------------------------------------------------------------
// Rule 1: required fields

/** `model`: a non-empty string. */
function checkModel(body: Obj): Problem {
  if (!has(body, 'model')) return 'model: Field required';
  if (typeof body.model !== 'string') return 'model: Input should be a valid string';
  if (body.model === '') return 'model: String should have at least 1 character';
  return undefined;
}

/** `max_tokens`: a positive integer, required by `/v1/messages` only. */
function checkMaxTokens(body: Obj, route: Route): Problem {
  if (!has(body, 'max_tokens')) return route === 'messages' ? 'max_tokens: Field required' : undefined;
  return checkNumber('max_tokens', body.max_tokens, { integer: true, min: 1 });
}

/** `messages`: a non-empty array. */
function checkMessagesList(body: Obj): Problem {
  if (!has(body, 'messages')) return 'messages: Field required';
  if (!Array.isArray(body.messages)) return 'messages: Input should be a valid list';
  if (body.messages.length === 0) return 'messages: at least one message is required';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Rule 2: unknown keys

/** No top-level key outside {@link KNOWN_KEYS}. */
function checkUnknownKeys(body: Obj): Problem {
  const unknown = Object.keys(body).find((key) => !Object.hasOwn(KNOWN_KEYS, key));
  return unknown === undefined ? undefined : `${unknown}: Extra inputs are not permitted`;
}

// ---------------------------------------------------------------------------------------------------------
// Rule 3: message and block shapes

/** Each message: an object with a `user`/`assistant` role and string or block-array content. */
function checkMessageShapes(body: Obj): Problem {
  const messages = body.messages as unknown[];
  return firstProblem(messages.map((msg, i) => checkMessageShape(msg, `messages.${i}`)));
}

function checkMessageShape(msg: unknown, path: string): Problem {
  if (!isObject(msg)) return `${path}: Input should be a valid dictionary`;
  if (!has(msg, 'role')) return `${path}.role: Field required`;
  if (msg.role !== 'user' && msg.role !== 'assistant')
    return `${path}.role: Input should be 'user' or 'assistant'`;
  if (!has(msg, 'content')) return `${path}.content: Field required`;
  const { content } = msg;
  if (typeof content === 'string') {
    // String content is one text block; emptiness is checked later (a final assistant message may be empty).
    return content !== '' && isBlank(content)
      ? `${path}.content: text content blocks must contain non-whitespace text`
      : undefined;
  }
  if (!Array.isArray(content)) return `${path}.content: Input should be a valid string or a valid list`;
  return firstProblem(content.map((block, j) => checkBlock(block, `${path}.content.${j}`)));
}

/** A content block: an object with a string `type`, plus the fields its type requires. */
function checkBlock(block: unknown, path: string): Problem {
  if (!isObject(block)) return `${path}: Input should be a valid dictionary`;
  if (!has(block, 'type')) return `${path}: Unable to extract tag using discriminator 'type'`;
  if (typeof block.type !== 'string') return `${path}.type: Input should be a valid string`;
  switch (block.type) {
    case 'text':
      return checkTextBlock(block, path);
    case 'tool_use':
    case 'server_tool_use':
      return checkToolUseBlock(block, block.type, path);
    case 'tool_result':
      return checkToolResultBlock(block, path);
    case 'thinking':
      return (
        checkStringField(block, 'thinking', `${path}.thinking`) ??
        checkStringField(block, 'signature', `${path}.thinking`)
      );
    case 'redacted_thinking':
      return checkStringField(block, 'data', `${path}.redacted_thinking`);
    case 'compaction':
      return checkCompactionBlock(block, `${path}.compaction`);
    default:
      return undefined; // image, document, search results, server tool results...: accepted as they are.
  }
}

/** A compaction block: `content` a non-empty string, or `null` (a failed compaction, sent back as a no-op). */
function checkCompactionBlock(block: Obj, at: string): Problem {
  const { content } = block;
  if (content === undefined || content === null) return undefined;
  if (typeof content !== 'string') return `${at}.content: Input should be a valid string`;
  if (content === '') return `${at}.content: String should have at least 1 character`;
  if (block.tool_changes != null && !Array.isArray(block.tool_changes))
    return `${at}.tool_changes: Input should be a valid list`;
  return undefined;
}

/** A text block: `text` must be a string holding something other than whitespace. */
function checkTextBlock(block: Obj, path: string): Problem {
  const problem = checkStringField(block, 'text', `${path}.text`);
  if (problem) return problem;
  const text = block.text as string;
  if (text === '') return `${path}.text: text content blocks must be non-empty`;
  if (isBlank(text)) return `${path}.text: text content blocks must contain non-whitespace text`;
  return undefined;
}

/** A `tool_use` / `server_tool_use` block: string `id` and `name`, and an object `input`. */
function checkToolUseBlock(block: Obj, type: string, path: string): Problem {
  const at = `${path}.${type}`;
  const problem = checkStringField(block, 'id', at) ?? checkStringField(block, 'name', at);
  if (problem) return problem;
  if (type === 'tool_use' && !TOOL_USE_ID_PATTERN.test(block.id as string)) {
    return `${at}.id: String should match pattern '${TOOL_USE_ID_PATTERN.source}'`;
  }
  if (!has(block, 'input')) return `${at}.input: Field required`;
  if (!isObject(block.input)) return `${at}.input: Input should be a valid dictionary`;
  return undefined;
}

/** A `tool_result` block: string `tool_use_id`, optional string/block-array `content`, optional boolean `is_error`. */
function checkToolResultBlock(block: Obj, path: string): Problem {
  const at = `${path}.tool_result`;
  const problem = checkStringField(block, 'tool_use_id', at);
  if (problem) return problem;
  const { content } = block;
  if (content !== undefined && typeof content !== 'string') {
    if (!Array.isArray(content)) return `${at}.content: Input should be a valid string or a valid list`;
    const nested = firstProblem(content.map((inner, k) => checkBlock(inner, `${path}.content.${k}`)));
    if (nested) return nested;
  }
  if (block.is_error !== undefined && typeof block.is_error !== 'boolean') {
    return `${at}.is_error: Input should be a valid boolean`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Rule 4: the other parameters

/** `system`: a string, or an array of non-empty text blocks. */
function checkSystem(body: Obj): Problem {
  const { system } = body;
  if (system === undefined || typeof system === 'string') return undefined;
  if (!Array.isArray(system)) return 'system: Input should be a valid string or a valid list';
  return firstProblem(
    system.map((block, i): Problem => {
      const path = `system.${i}`;
      if (!isObject(block)) return `${path}: Input should be a valid dictionary`;
      if (block.type !== 'text') return `${path}.type: Input should be 'text'`;
      return checkTextBlock(block, path);
    }),
  );
}

/** A tool that bundles several tools under no single name (`mcp_toolset`, `browser_toolset_20260801`...). */
const isToolset = (tool: Obj): boolean =>
  typeof tool.type === 'string' && /(^|_)toolset(_\d+)?$/.test(tool.type);
/** A tool defined by the caller (no type, `null` or `custom`), as opposed to a server / Anthropic-defined tool. */
const isCustomTool = (tool: Obj): boolean =>
  tool.type === undefined || tool.type === null || tool.type === 'custom';

/** The fields of the memory tool's definition (SDK 1.15 `MemoryTool20250818`); its name is fixed. */
const MEMORY_TOOL_FIELDS = new Set([
  'type',
  'name',
  'cache_control',
  'allowed_callers',
  'defer_loading',
  'input_examples',
  'strict',
]);

/** `{type: 'memory_20250818', name: 'memory'}`: the client runs its commands, the API defines its schema. */
function checkMemoryTool(tool: Obj, path: string): Problem {
  const at = `${path}.memory_20250818`;
  if (tool.name !== 'memory') return `${at}.name: Input should be 'memory'`;
  const extra = Object.keys(tool).find((key) => !MEMORY_TOOL_FIELDS.has(key));
  return extra === undefined ? undefined : `${at}.${extra}: Extra inputs are not permitted`;
}

/** `tools`: well-formed custom and server tools with unique names. */
function checkTools(body: Obj): Problem {
  const { tools } = body;
  if (tools === undefined) return undefined;
  if (!Array.isArray(tools)) return 'tools: Input should be a valid list';
  const problem = firstProblem(tools.map((tool, i) => checkTool(tool, `tools.${i}`)));
  if (problem) return problem;
  const names = (tools as Obj[]).filter((tool) => !isToolset(tool)).map((tool) => tool.name);
  if (new Set(names).size !== names.length) return 'tools: Tool names must be unique.';
  return undefined;
}

function checkTool(tool: unknown, path: string): Problem {
  if (!isObject(tool)) return `${path}: Input should be a valid dictionary`;
  if (!isCustomTool(tool) && typeof tool.type !== 'string')
    return `${path}.type: Input should be a valid string`;
  if (isToolset(tool)) {
    return tool.type === 'mcp_toolset' ? checkStringField(tool, 'mcp_server_name', path) : undefined;
  }
  const problem = checkStringField(tool, 'name', path);
  if (problem) return problem;
  if (!TOOL_NAME_PATTERN.test(tool.name as string)) {
    return `${path}.name: String should match pattern '${TOOL_NAME_PATTERN.source}'`;
  }
  if (tool.type === 'memory_20250818') return checkMemoryTool(tool, path);
  if (!isCustomTool(tool)) return undefined; // Server tools: the API knows their schema.
  if (!has(tool, 'input_schema')) return `${path}.input_schema: Field required`;
  if (!isObject(tool.input_schema)) return `${path}.input_schema: Input should be a valid dictionary`;
  if (tool.input_schema.type !== 'object') return `${path}.input_schema.type: Input should be 'object'`;
  if (tool.strict !== undefined && typeof tool.strict !== 'boolean')
    return `${path}.strict: Input should be a valid boolean`;
  // Strict tool use: the schema must stay within what structured outputs support (strict-schema.ts).
  if (tool.strict === true) return strictSchemaProblem(tool.input_schema, `${path}.input_schema`);
  return undefined;
}

const OUTPUT_FORMAT_TYPES = ['json_schema'];
const EFFORTS = ['low', 'medium', 'high', 'xhigh', 'max'];

/**
 * `output_config`: `effort` one of the API's levels; `format` a `json_schema` with a `schema` inside the
 * structured-outputs subset (strict-schema.ts); not on a compaction request, which answers with the
 * compaction block alone (the SDK's tool runner drops the format from one for that reason).
 */
function checkOutputConfig(body: Obj): Problem {
  const config = body.output_config;
  if (config === undefined || config === null) return undefined;
  if (!isObject(config)) return 'output_config: Input should be a valid dictionary';
  if (config.effort !== undefined && config.effort !== null && !EFFORTS.includes(config.effort as string))
    return `output_config.effort: Input should be ${EFFORTS.map((e) => `'${e}'`).join(', ')}`;
  const { format } = config;
  if (format === undefined || format === null) return undefined;
  if (!isObject(format)) return 'output_config.format: Input should be a valid dictionary';
  if (!has(format, 'type')) return "output_config.format: Unable to extract tag using discriminator 'type'";
  if (!OUTPUT_FORMAT_TYPES.includes(format.type as string))
    return badTag('output_config.format', format.type, OUTPUT_FORMAT_TYPES);
  if (!has(format, 'schema')) return 'output_config.format.json_schema.schema: Field required';
  if (!isObject(format.schema))
    return 'output_config.format.json_schema.schema: Input should be a valid dictionary';
  if (body.compaction !== undefined && body.compaction !== null)
    return 'output_config.format: cannot be used with `compaction` (a compaction request answers with the compaction block only)';
  return strictSchemaProblem(format.schema, 'output_config.format.schema');
}

/** `tool_choice`: `auto` / `any` / `none`, or `tool` naming one of the `tools`. */
function checkToolChoice(body: Obj): Problem {
  const choice = body.tool_choice;
  if (choice === undefined) return undefined;
  if (!isObject(choice)) return 'tool_choice: Input should be a valid dictionary';
  if (!has(choice, 'type')) return "tool_choice: Unable to extract tag using discriminator 'type'";
  if (!TOOL_CHOICE_TYPES.includes(choice.type as string))
    return badTag('tool_choice', choice.type, TOOL_CHOICE_TYPES);
  const at = `tool_choice.${choice.type as string}`;
  if (
    choice.disable_parallel_tool_use !== undefined &&
    typeof choice.disable_parallel_tool_use !== 'boolean'
  ) {
    return `${at}.disable_parallel_tool_use: Input should be a valid boolean`;
  }
  if (choice.type !== 'tool') return undefined;
  const problem = checkStringField(choice, 'name', at);
  if (problem) return problem;
  const tools = Array.isArray(body.tools) ? (body.tools as Obj[]) : [];
  // A toolset's member tools are not listed in the request: a name may belong to one of them.
  if (tools.some(isToolset) || tools.some((tool) => tool.name === choice.name)) return undefined;
  return `tool_choice.name: tool '${choice.name as string}' was not found in the provided tools`;
}

/** `temperature`, `top_p`, `top_k`, `stop_sequences`, `stream` and `metadata`, when present. */
function checkSamplingParams(body: Obj): Problem {
  return firstProblem(samplingProblems(body));
}

function* samplingProblems(body: Obj): Generator<Problem> {
  if (has(body, 'temperature')) yield checkNumber('temperature', body.temperature, { min: 0, max: 1 });
  if (has(body, 'top_p')) yield checkNumber('top_p', body.top_p, { min: 0, max: 1 });
  if (has(body, 'top_k')) yield checkNumber('top_k', body.top_k, { integer: true, min: 0 });
  if (has(body, 'stop_sequences')) yield checkStopSequences(body.stop_sequences);
  if (has(body, 'stream') && typeof body.stream !== 'boolean')
    yield 'stream: Input should be a valid boolean';
  if (has(body, 'metadata')) yield checkMetadata(body.metadata);
}

function checkStopSequences(value: unknown): Problem {
  if (!Array.isArray(value)) return 'stop_sequences: Input should be a valid list';
  const nonString = value.findIndex((s) => typeof s !== 'string');
  if (nonString >= 0) return `stop_sequences.${nonString}: Input should be a valid string`;
  if ((value as string[]).some(isBlank))
    return 'stop_sequences: each stop sequence must contain non-whitespace';
  return undefined;
}

function checkMetadata(value: unknown): Problem {
  if (!isObject(value)) return 'metadata: Input should be a valid dictionary';
  const userId = value.user_id;
  if (userId !== undefined && userId !== null && typeof userId !== 'string') {
    return 'metadata.user_id: Input should be a valid string';
  }
  return undefined;
}

/** `thinking`: `enabled` with a budget of at least 1024 tokens, below `max_tokens`; or another known type. */
function checkThinking(body: Obj, route: Route): Problem {
  const { thinking } = body;
  if (thinking === undefined) return undefined;
  if (!isObject(thinking)) return 'thinking: Input should be a valid dictionary';
  if (!has(thinking, 'type')) return "thinking: Unable to extract tag using discriminator 'type'";
  if (!THINKING_TYPES.includes(thinking.type as string))
    return badTag('thinking', thinking.type, THINKING_TYPES);
  if (thinking.type !== 'enabled') return undefined;
  if (!has(thinking, 'budget_tokens')) return 'thinking.enabled.budget_tokens: Field required';
  const problem = checkNumber('thinking.enabled.budget_tokens', thinking.budget_tokens, {
    integer: true,
    min: MIN_THINKING_BUDGET,
  });
  if (problem) return problem;
  if (route === 'messages' && (thinking.budget_tokens as number) >= (body.max_tokens as number)) {
    return (
      '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at ' +
      'https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size'
    );
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Rule 5: the conversation

/** Roles alternate: no two user or two assistant messages in a row (unless lenient). */
function checkAlternation(body: Obj): Problem {
  const messages = messagesOf(body);
  // The assistant message holding a compaction block stands for the turns it summarized: the API merges it
  // with an assistant message that follows (the worker sends one after compacting mid-turn).
  const first = startsWithCompaction(messages) ? 2 : 1;
  for (let i = first; i < messages.length; i++) {
    if (messages[i].role === messages[i - 1].role) {
      return `messages: roles must alternate between "user" and "assistant", but found multiple "${messages[i].role}" roles in a row`;
    }
  }
  return undefined;
}

/** The first message must come from the user, unless it is the assistant message holding a compaction block. */
function checkFirstRole(body: Obj): Problem {
  const messages = messagesOf(body);
  return messages[0].role === 'user' || startsWithCompaction(messages)
    ? undefined
    : 'messages: first message must use the "user" role';
}

/** No message may be empty, except a final assistant message (a prefill to continue from). */
function checkNonEmptyContent(body: Obj): Problem {
  const messages = messagesOf(body);
  const empty = messages.findIndex(
    (msg, i) => msg.content.length === 0 && !(i === messages.length - 1 && msg.role === 'assistant'),
  );
  return empty < 0
    ? undefined
    : `messages.${empty}: all messages must have non-empty content except for the optional final assistant message`;
}

/** No two `tool_use` blocks in the conversation may share an id. */
function checkUniqueToolUseIds(body: Obj): Problem {
  const seen = new Set<string>();
  for (const [i, msg] of messagesOf(body).entries()) {
    for (const [j, block] of blocksOf(msg.content).entries()) {
      if (block.type !== 'tool_use') continue;
      const id = block.id as string;
      if (seen.has(id)) return `messages.${i}.content.${j}: \`tool_use\` ids must be unique`;
      seen.add(id);
    }
  }
  return undefined;
}

/**
 * Every `tool_use` of an assistant turn is answered by a `tool_result` at the start of the next (user) turn,
 * and every `tool_result` answers a `tool_use` of the turn just before. A final assistant turn needs no
 * answer; `server_tool_use` blocks never do (their results are inline in the assistant turn).
 */
function checkToolPairing(body: Obj): Problem {
  const turns = toTurns(messagesOf(body));
  return firstProblem(
    turns.map((turn, t) => (turn.role === 'user' ? checkToolResults(turn, turns[t - 1]) : undefined)),
  );
}

/** Checks a user turn's `tool_result` blocks against the `tool_use` blocks of the assistant turn before it. */
function checkToolResults(turn: Turn, previous: Turn | undefined): Problem {
  const uses = (previous?.blocks ?? []).filter(({ block }) => block.type === 'tool_use');
  const useIds = new Set(uses.map(({ block }) => block.id as string));
  const results = turn.blocks.filter(({ block }) => block.type === 'tool_result');
  const resultId = ({ block }: PlacedBlock): string => block.tool_use_id as string;

  if (uses.length > 0) {
    const firstOther = turn.blocks.findIndex(({ block }) => block.type !== 'tool_result');
    const late = turn.blocks.find(
      ({ block }, k) => firstOther >= 0 && k > firstOther && block.type === 'tool_result',
    );
    if (late) {
      const other = turn.blocks[firstOther];
      return (
        `messages.${late.message}.content.${late.index}: \`tool_result\` blocks must come before any other content ` +
        `in the user message following \`tool_use\` blocks, but found \`${other.block.type}\` ` +
        `at messages.${other.message}.content.${other.index} before it`
      );
    }
    const answered = new Set(results.map(resultId));
    const missing = uses.filter(({ block }) => !answered.has(block.id as string));
    if (missing.length > 0) {
      return (
        `messages.${missing[0].message}: ` +
        '`tool_use` ids were found without `tool_result` blocks immediately after: ' +
        `${missing.map(({ block }) => block.id as string).join(', ')}. ` +
        'Each `tool_use` block must have a corresponding `tool_result` block in the next message.'
      );
    }
  }

  const unexpected = results.filter((placed) => !useIds.has(resultId(placed)));
  if (unexpected.length > 0) {
    const first = unexpected[0];
    return (
      `messages.${first.message}.content.${first.index}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ` +
      `${unexpected.map(resultId).join(', ')}. ` +
      'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.'
    );
  }

  const seen = new Set<string>();
  for (const placed of results) {
    const id = resultId(placed);
    if (seen.has(id)) {
      return (
        `messages.${placed.message}.content.${placed.index}: ` +
        `found more than one \`tool_result\` block for \`tool_use\` id ${id}`
      );
    }
    seen.add(id);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Compaction and context management

const COMPACTION_TYPES = ['summarize'];
const EDIT_TYPES = ['clear_tool_uses_20250919', 'clear_thinking_20251015', 'compact_20260112'];

/** Where `compaction` blocks are (compaction.ts): run before the message shapes, `system` messages included. */
function checkCompactionPlacement(body: Obj): Problem {
  return compactionPlacementProblem(body);
}

/** `compaction`: `{type: 'summarize', instructions?}`, or null. */
function checkCompactionParam(body: Obj): Problem {
  const { compaction } = body;
  if (compaction === undefined || compaction === null) return undefined;
  if (!isObject(compaction)) return 'compaction: Input should be a valid dictionary';
  if (!has(compaction, 'type')) return "compaction: Unable to extract tag using discriminator 'type'";
  if (!COMPACTION_TYPES.includes(compaction.type as string))
    return badTag('compaction', compaction.type, COMPACTION_TYPES);
  const { instructions } = compaction;
  if (instructions !== undefined && instructions !== null && typeof instructions !== 'string')
    return 'compaction.summarize.instructions: Input should be a valid string';
  return undefined;
}

/** `context_management.edits`: known edit types, each at most once, `clear_thinking_20251015` first. */
function checkContextManagement(body: Obj): Problem {
  const cm = body.context_management;
  if (cm === undefined || cm === null) return undefined;
  if (!isObject(cm)) return 'context_management: Input should be a valid dictionary';
  if (cm.edits === undefined || cm.edits === null) return undefined;
  if (!Array.isArray(cm.edits)) return 'context_management.edits: Input should be a valid list';
  for (const [i, edit] of cm.edits.entries()) {
    const path = `context_management.edits.${i}`;
    if (!isObject(edit)) return `${path}: Input should be a valid dictionary`;
    if (!has(edit, 'type')) return `${path}: Unable to extract tag using discriminator 'type'`;
    if (!EDIT_TYPES.includes(edit.type as string)) return badTag(path, edit.type, EDIT_TYPES);
    const at = `${path}.${edit.type as string}`;
    for (const key of ['trigger', 'keep', 'clear_at_least']) {
      const value = edit[key];
      if (value === undefined || value === null || (key === 'keep' && value === 'all')) continue;
      if (!isObject(value)) return `${at}.${key}: Input should be a valid dictionary`;
      if (value.type !== 'all') {
        const problem = checkNumber(`${at}.${key}.value`, value.value, { integer: true, min: 0 });
        if (problem) return problem;
      }
    }
    if (edit.type === 'clear_thinking_20251015' && i > 0)
      return `${path}: \`clear_thinking_20251015\` must come first in \`context_management.edits\``;
    if (cm.edits.findIndex((e) => isObject(e) && e.type === edit.type) !== i)
      return `${path}: each edit type may appear only once in \`context_management.edits\``;
  }
  return undefined;
}

/** A compaction request (route `messages`) must have something finished to summarize (compaction.ts). */
function checkCompactionRequest(body: Obj, route: Route): Problem {
  if (route !== 'messages' || body.compaction === undefined || body.compaction === null) return undefined;
  return compactionRequestProblem(body);
}

// ---------------------------------------------------------------------------------------------------------

/** At most 4 `cache_control` breakpoints (a top-level `cache_control` takes one). */
function checkCacheBreakpoints(body: Obj): Problem {
  const found = countBreakpoints(body);
  if (found > MAX_CACHE_BREAKPOINTS)
    return `A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${found}.`;
  return undefined;
}

/** All rules, in the order they run: shapes before semantics, so later rules may trust earlier ones. */
const RULES: readonly Rule[] = [
  checkModel,
  checkMaxTokens,
  checkMessagesList,
  checkUnknownKeys,
  checkCompactionPlacement,
  checkMessageShapes,
  checkSystem,
  checkTools,
  checkToolChoice,
  checkSamplingParams,
  checkThinking,
  checkOutputConfig,
  checkCompactionParam,
  checkContextManagement,
  checkFirstRole,
  checkAlternation,
  checkNonEmptyContent,
  checkUniqueToolUseIds,
  checkToolPairing,
  toolSearchProblem,
  checkCompactionRequest,
  checkCacheBreakpoints,
];

/**
 * Validates a request body the way the Anthropic API does, and reports the first problem found.
 *
 * @param body - the parsed JSON body of the request.
 * @param route - `messages` for `POST /v1/messages` (which requires `max_tokens`), `count_tokens` for
 *   `POST /v1/messages/count_tokens` (which does not, and otherwise accepts the same keys here).
 * @returns `{ok: true}`, or `{ok: false, message}` with the message to answer in a 400 `invalid_request_error`,
 *   e.g. `max_tokens: Field required` or `tools.0.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`.
 */
export function validateRequest(
  body: unknown,
  route: Route,
  options: ValidationOptions = {},
): ValidationResult {
  if (!isObject(body)) return { ok: false, message: 'body: Input should be a valid dictionary' };
  for (const rule of RULES) {
    if (rule === checkAlternation && options.lenientRoles) continue;
    const problem = rule(body, route);
    if (problem !== undefined) return refusal(problem);
  }
  const unsigned = options.signer && signedBlocksProblem(body, options.signer);
  return unsigned ? refusal(unsigned) : { ok: true };
}

function refusal(problem: string | CodedProblem): ValidationResult {
  return typeof problem === 'string'
    ? { ok: false, message: problem }
    : { ok: false, message: problem.message, ...(problem.errorCode && { errorCode: problem.errorCode }) };
}
