/**
 * The context window, for the fake Messages API: a prompt larger than the window is refused with the API's
 * 400; an answer that would not fit in what the prompt leaves is cut where the window ends and stops with
 * `model_context_window_exceeded`.
 */
import { estimateTokens } from './basics';
import type { FakeBlock } from './types';

/** A context window size, or one per model. */
export type ContextWindow = number | ((model: string) => number);

/** The default window: 200k tokens, the API's for current models without the 1M beta. */
export const DEFAULT_CONTEXT_WINDOW = 200_000;

export function contextWindowOf(window: ContextWindow | undefined, model: string): number {
  if (window === undefined) return DEFAULT_CONTEXT_WINDOW;
  return typeof window === 'number' ? window : window(model);
}

/** The API's refusal of a prompt over the window, e.g. `prompt is too long: 200010 tokens > 200000 maximum`. */
export function promptTooLong(tokens: number, window: number): string | undefined {
  return tokens > window ? `prompt is too long: ${tokens} tokens > ${window} maximum` : undefined;
}

/**
 * `content` cut to `budget` output tokens, counted like the fake's usage counts them (4 characters of the
 * blocks' JSON a token). Text and thinking are cut mid-way; a block that is not text (a `tool_use`, whose
 * input would be unfinished JSON) is dropped with everything after it.
 */
export function fitToWindow(content: FakeBlock[], budget: number): FakeBlock[] {
  let chars = Math.max(0, budget) * 4 - 2; // the array's brackets
  const kept: FakeBlock[] = [];
  for (const block of content) {
    const size = JSON.stringify(block).length + 1;
    if (size <= chars) {
      kept.push(block);
      chars -= size;
      continue;
    }
    if (block.type === 'text' || block.type === 'thinking') {
      const field = block.type === 'text' ? 'text' : 'thinking';
      const room = chars - (JSON.stringify({ ...block, [field]: '' }).length + 1);
      // JSON escapes may make the cut text longer than its characters: cut a little more until it fits.
      let cut = (block.type === 'text' ? block.text : block.thinking).slice(0, Math.max(0, room));
      while (cut && JSON.stringify(cut).length - 2 > room) cut = cut.slice(0, -1);
      if (cut) kept.push({ ...block, [field]: cut } as FakeBlock);
    }
    break;
  }
  return kept;
}

/** Output tokens of `content` as the fake reports them. */
export const contentTokens = (content: FakeBlock[]): number => estimateTokens(content);
