import type { MessageParam, TextBlockParam, ToolUnion } from '@anthropic-ai/sdk/resources/messages';
import type { PromptCacheTtl } from '../api/activity-contract';

/** Breakpoints the API accepts in one request. */
const MAX_BREAKPOINTS = 4;
/** Blocks that cannot carry `cache_control` themselves (they are cached as part of a prefix). */
const NOT_MARKABLE = new Set(['thinking', 'redacted_thinking']);

export interface PromptParts {
  system?: string | TextBlockParam[];
  tools: ToolUnion[];
  messages: MessageParam[];
}

type Marked = { cache_control?: unknown };

/**
 * Places prompt-cache breakpoints so every model call of a conversation reads the prompt it shares
 * with the previous call from the cache, and pays (1.25x for 5 minutes, 2x for an hour) only to write
 * what is new:
 *
 * 1. the last block of the last message: the whole prompt is written, for the next call to read;
 * 2. the last block of the user message before it: where the previous call's prompt ended (a tool
 *    result, the previous turn's question, or the question a `pause_turn` answer continues). The
 *    API looks for an earlier entry only about 20 blocks back from a breakpoint, and a round of
 *    parallel tool calls and results can add more than that;
 * 3. the end of the system prompt (or of the tools): the prefix every conversation of the same agent
 *    shares, so a new conversation reads it too.
 *
 * Breakpoints the caller put in the system prompt, tools or messages are kept and count against the
 * API's limit of 4; ours fill what is left, in the order above. Prefixes shorter than the model's
 * minimum are not cached and cost nothing extra. Nothing is mutated: touched messages are copied.
 */
export function withCacheBreakpoints(parts: PromptParts, ttl: PromptCacheTtl): PromptParts {
  const existing = countMarks(parts);
  let budget = MAX_BREAKPOINTS - existing.count;
  if (budget <= 0) return parts;
  // A 1-hour entry may not follow a 5-minute one in the prompt: next to the caller's 5-minute
  // breakpoints, ours are 5-minute too.
  const control =
    ttl === '1h' && !existing.fiveMinute
      ? { type: 'ephemeral' as const, ttl: '1h' as const }
      : { type: 'ephemeral' as const };

  const messages = [...parts.messages];
  const markMessage = (index: number): boolean => {
    const message = messages[index];
    const content: Array<Record<string, unknown>> =
      typeof message.content === 'string'
        ? [{ type: 'text', text: message.content }]
        : (message.content as unknown as Array<Record<string, unknown>>);
    let at = content.length - 1;
    while (at >= 0 && NOT_MARKABLE.has(String(content[at].type))) at--;
    if (at < 0 || content[at].cache_control) return false;
    if (content[at].type === 'text' && content[at].text === '') return false;
    const copy = [...content];
    copy[at] = { ...content[at], cache_control: control };
    messages[index] = { ...message, content: copy } as unknown as MessageParam;
    return true;
  };

  const last = messages.length - 1;
  if (last >= 0 && markMessage(last)) budget--;
  if (budget > 0) {
    let previous = last - 1;
    while (previous >= 0 && messages[previous].role !== 'user') previous--;
    if (previous >= 0 && markMessage(previous)) budget--;
  }

  let { system, tools } = parts;
  if (budget > 0 && !existing.inSystemOrTools) {
    if (typeof system === 'string' && system !== '') {
      system = [{ type: 'text', text: system, cache_control: control }];
    } else if (Array.isArray(system) && system.length > 0) {
      system = [...system.slice(0, -1), { ...system[system.length - 1], cache_control: control }];
    } else if (tools.length > 0) {
      tools = [...tools.slice(0, -1), { ...tools[tools.length - 1], cache_control: control } as ToolUnion];
    }
  }
  return { ...(system !== undefined && { system }), tools, messages };
}

/** The breakpoints a prompt already has. */
function countMarks(parts: PromptParts): { count: number; inSystemOrTools: boolean; fiveMinute: boolean } {
  const marks: unknown[] = [];
  const collect = (blocks: readonly unknown[]) => {
    for (const block of blocks) {
      const mark = (block as Marked | null)?.cache_control;
      if (mark) marks.push(mark);
    }
  };
  if (Array.isArray(parts.system)) collect(parts.system);
  collect(parts.tools);
  const inSystemOrTools = marks.length > 0;
  for (const message of parts.messages) if (Array.isArray(message.content)) collect(message.content);
  return {
    count: marks.length,
    inSystemOrTools,
    fiveMinute: marks.some((m) => (m as { ttl?: string }).ttl !== '1h'),
  };
}
