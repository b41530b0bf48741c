/**
 * Context editing for the fake Messages API (`context_management.edits`, beta `context-management-2025-06-27`):
 * `clear_thinking_20251015` and `clear_tool_uses_20250919` change what the model sees, so the fake applies
 * them to a copy of the request before counting its tokens, and reports each edit that changed something in
 * the response's `context_management.applied_edits`. (`compact_20260112` is handled by the server: it
 * answers, it does not edit.)
 *
 * Defaults follow the API's documentation: `clear_tool_uses_20250919` triggers at 100000 input tokens and
 * keeps the last 3 tool uses; `clear_thinking_20251015` keeps the thinking of the last assistant turn.
 */
import { promptTokens } from './prompt-cache';

type Obj = Record<string, unknown>;

/** What a cleared tool result holds instead of its content. */
export const CLEARED_TOOL_RESULT = '[cleared by context management]';
const DEFAULT_CLEAR_TRIGGER = 100_000;
const DEFAULT_KEEP_TOOL_USES = 3;
const DEFAULT_KEEP_THINKING_TURNS = 1;

export type AppliedEdit =
  | { type: 'clear_tool_uses_20250919'; cleared_tool_uses: number; cleared_input_tokens: number }
  | { type: 'clear_thinking_20251015'; cleared_thinking_turns: number; cleared_input_tokens: number };

const isObject = (value: unknown): value is Obj =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The request's edits (malformed entries were refused by the validator). */
function editsOf(body: Obj): Obj[] {
  const edits = isObject(body.context_management) ? body.context_management.edits : undefined;
  return Array.isArray(edits) ? edits.filter(isObject) : [];
}

/** Messages with block-array content, deep enough copied to edit blocks in place. */
function copyMessages(body: Obj): Array<{ role: unknown; content: Obj[] }> {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  return messages.filter(isObject).map((m) => ({
    ...m,
    role: m.role,
    content:
      typeof m.content === 'string'
        ? [{ type: 'text', text: m.content }]
        : Array.isArray(m.content)
          ? m.content.filter(isObject).map((b) => ({ ...b }))
          : [],
  }));
}

/**
 * Applies the request's clearing edits in order and returns the edited body (what the model sees, and what
 * the fake counts) with the edits that cleared something.
 */
export function applyContextEdits(body: Obj): { body: Obj; applied: AppliedEdit[] } {
  let current = body;
  const applied: AppliedEdit[] = [];
  for (const edit of editsOf(body)) {
    const before = promptTokens(current);
    const result =
      edit.type === 'clear_thinking_20251015'
        ? clearThinking(current, edit)
        : edit.type === 'clear_tool_uses_20250919'
          ? clearToolUses(current, edit, before)
          : undefined;
    if (!result) continue;
    const cleared = before - promptTokens(result.body);
    if (edit.type === 'clear_tool_uses_20250919') {
      const atLeast = isObject(edit.clear_at_least) ? Number(edit.clear_at_least.value) : 0;
      if (cleared < atLeast) continue; // The API leaves the context alone rather than clear too little.
      applied.push({ type: edit.type, cleared_tool_uses: result.count, cleared_input_tokens: cleared });
    } else {
      applied.push({
        type: 'clear_thinking_20251015',
        cleared_thinking_turns: result.count,
        cleared_input_tokens: cleared,
      });
    }
    current = result.body;
  }
  return { body: current, applied };
}

/** Removes thinking blocks from all but the last `keep` assistant turns that have some. */
function clearThinking(body: Obj, edit: Obj): { body: Obj; count: number } | undefined {
  const keep = edit.keep;
  if (keep === 'all' || (isObject(keep) && keep.type === 'all')) return undefined;
  const value = isObject(keep) && typeof keep.value === 'number' ? keep.value : DEFAULT_KEEP_THINKING_TURNS;
  const messages = copyMessages(body);
  const isThinking = (b: Obj) => b.type === 'thinking' || b.type === 'redacted_thinking';
  const turns = messages.filter((m) => m.role === 'assistant' && m.content.some(isThinking));
  const cleared = turns.slice(0, Math.max(0, turns.length - value));
  if (cleared.length === 0) return undefined;
  for (const m of cleared) m.content = m.content.filter((b) => !isThinking(b));
  return { body: { ...body, messages }, count: cleared.length };
}

/**
 * Once triggered, clears the results (and, if asked, the inputs) of the oldest tool uses, keeping the last
 * `keep` ones and never touching `exclude_tools`.
 */
function clearToolUses(body: Obj, edit: Obj, tokens: number): { body: Obj; count: number } | undefined {
  const messages = copyMessages(body);
  const uses = messages
    .flatMap((m) => (m.role === 'assistant' ? m.content : []))
    .filter((b) => b.type === 'tool_use');
  const trigger = isObject(edit.trigger)
    ? edit.trigger
    : { type: 'input_tokens', value: DEFAULT_CLEAR_TRIGGER };
  const reached =
    trigger.type === 'tool_uses' ? uses.length >= Number(trigger.value) : tokens >= Number(trigger.value);
  if (!reached) return undefined;
  const excluded = new Set(Array.isArray(edit.exclude_tools) ? (edit.exclude_tools as string[]) : []);
  const keep =
    isObject(edit.keep) && typeof edit.keep.value === 'number' ? edit.keep.value : DEFAULT_KEEP_TOOL_USES;
  const candidates = uses.filter((b) => !excluded.has(String(b.name)));
  const cleared = candidates.slice(0, Math.max(0, candidates.length - keep));
  if (cleared.length === 0) return undefined;
  const ids = new Set(cleared.map((b) => String(b.id)));
  const clearInputs = edit.clear_tool_inputs;
  for (const block of cleared) {
    if (clearInputs === true || (Array.isArray(clearInputs) && clearInputs.includes(block.name)))
      block.input = {};
  }
  for (const m of messages) {
    for (const block of m.content) {
      if (block.type === 'tool_result' && ids.has(String(block.tool_use_id)))
        block.content = CLEARED_TOOL_RESULT;
    }
  }
  return { body: { ...body, messages }, count: cleared.length };
}
