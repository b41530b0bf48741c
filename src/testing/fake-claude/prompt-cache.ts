import { createHash } from 'node:crypto';
import { estimateTokens } from './basics';
import { compactionTokens } from './compaction';

/**
 * Prompt caching the way the Messages API accounts it, for the fake server.
 *
 * The prompt is read as one sequence of blocks in the API's prefix order: tools, then system, then
 * each message's content blocks. A block with `cache_control` (or the last cacheable block, when the
 * request sets `cache_control` at the top level) is a breakpoint; at most 4 per request (the validator
 * rejects more). For a request:
 * - **read**: the longest prefix, ending at a breakpoint or at one of the 19 block boundaries before
 *   it (the API looks back about 20 blocks), that an earlier request wrote and that has not expired;
 *   a hit refreshes the entry's lifetime (5 minutes, or 1 hour with `ttl: "1h"`);
 * - **write**: the prefix up to each breakpoint is stored, if it has at least the model's minimum
 *   number of tokens (smaller ones are simply not cached: no error); the tokens between the read and
 *   the last stored breakpoint are billed as cache creation, split by the TTL of the breakpoint that
 *   covers them (1-hour entries come first in a prompt);
 * - the rest of the prompt is `input_tokens`.
 *
 * Changes that the API says invalidate a cache level are folded into the prefix keys: the model and
 * the tool definitions key everything; `tool_choice` and `thinking` key the messages.
 * Entries are kept per API key (the API's are per organization).
 */

export interface CacheUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

/** Breakpoints a request may set. */
export const MAX_CACHE_BREAKPOINTS = 4;
type Ttl = '5m' | '1h';
const TTL_MS: Record<Ttl, number> = { '5m': 5 * 60_000, '1h': 60 * 60_000 };
/** Block boundaries checked for a hit at and before each breakpoint. */
const LOOKBACK_BLOCKS = 20;
/** Blocks that cannot carry `cache_control` (the automatic breakpoint skips them). */
const NOT_CACHEABLE = new Set(['thinking', 'redacted_thinking']);

/** Smallest prefix cached, by model family; newer or unknown models: 1024. */
export function minimumCacheableTokens(model: string): number {
  if (/opus-4-[56]|haiku-4-5/.test(model)) return 4096;
  if (/sonnet-4-6|haiku-3|3-5-haiku|3-haiku/.test(model)) return 2048;
  return 1024;
}

interface Block {
  tokens: number;
  /** Key of the prefix ending with this block. */
  key: string;
  breakpoint?: Ttl;
  cacheable: boolean;
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function ttlOf(cacheControl: unknown): Ttl | undefined {
  if (!isObject(cacheControl)) return undefined;
  return cacheControl.ttl === '1h' ? '1h' : '5m';
}

/** The request's prompt as blocks in prefix order, each keyed by its whole prefix. */
/**
 * The prompt's blocks in prefix order, each with what keys its place: `tool`, `system`, a message's
 * first block (`message:i:role`), or a later block of the same message. `messages` comes first once,
 * before the first message's block: the message level's cache depends on `tool_choice` and `thinking`.
 */
function* prefixOrder(body: Obj): Generator<{ marker: string; block: Obj }> {
  for (const tool of Array.isArray(body.tools) ? body.tools : [])
    if (isObject(tool)) yield { marker: 'tool', block: tool };
  const system =
    typeof body.system === 'string'
      ? body.system
        ? [{ type: 'text', text: body.system }]
        : []
      : body.system;
  for (const block of Array.isArray(system) ? system : [])
    if (isObject(block)) yield { marker: 'system', block };
  yield {
    marker: 'messages',
    block: { tool_choice: body.tool_choice ?? null, thinking: body.thinking ?? null },
  };
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const [i, message] of messages.entries()) {
    if (!isObject(message)) continue;
    const content =
      typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content;
    if (!Array.isArray(content)) continue;
    for (const [j, block] of content.entries())
      if (isObject(block))
        yield { marker: j === 0 ? `message:${i}:${String(message.role)}` : 'block', block };
  }
}

/** The request's prompt as blocks in prefix order, each keyed by its whole prefix. */
export function promptBlocks(body: Obj): Block[] {
  const blocks: Block[] = [];
  let chain = createHash('sha256')
    .update(`model:${String(body.model)}`)
    .digest('hex');
  for (const { marker, block } of prefixOrder(body)) {
    const { cache_control: cacheControl, ...content } = block;
    const text = JSON.stringify(content);
    chain = createHash('sha256').update(chain).update(marker).update(text).digest('hex');
    // The message-level settings key what follows; they are not prompt tokens.
    if (marker === 'messages') continue;
    blocks.push({
      // A compaction block stands for its summary: its opaque fields are not prompt text.
      tokens: content.type === 'compaction' ? compactionTokens(content) : estimateTokens(text),
      key: chain,
      breakpoint: ttlOf(cacheControl),
      cacheable: !NOT_CACHEABLE.has(String(content.type)),
    });
  }
  // Automatic caching: a top-level `cache_control` marks the last cacheable block.
  const automatic = ttlOf(body.cache_control);
  if (automatic) {
    for (let i = blocks.length - 1; i >= 0; i--) {
      if (!blocks[i].cacheable) continue;
      blocks[i].breakpoint ??= automatic;
      break;
    }
  }
  return blocks;
}

/** Number of breakpoints a request asks for (top-level `cache_control` counts as one). */
export function countBreakpoints(body: Obj): number {
  let count = isObject(body.cache_control) ? 1 : 0;
  for (const { block } of prefixOrder(body)) if (isObject(block.cache_control)) count++;
  return count;
}

export class PromptCache {
  /** Prefix key → when it expires, and its TTL (a hit extends it by as much). */
  private readonly entries = new Map<string, { expiresAt: number; ttl: Ttl }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly minimumTokens: (model: string) => number = minimumCacheableTokens,
  ) {}

  /** Reads and writes the cache for one request, and returns its input usage. */
  account(body: Obj, scope = ''): CacheUsage {
    const blocks = promptBlocks(body);
    const prefixTokens: number[] = [];
    blocks.forEach((b, i) => (prefixTokens[i] = (prefixTokens[i - 1] ?? 0) + b.tokens));
    const now = this.now();
    const breakpoints = blocks.flatMap((b, i) => (b.breakpoint ? [i] : []));

    // Read: the longest live prefix at, or up to 19 blocks before, any breakpoint.
    let hit = -1;
    for (const at of breakpoints) {
      for (let i = at; i >= Math.max(0, at - LOOKBACK_BLOCKS + 1) && i > hit; i--) {
        const entry = this.entries.get(scope + blocks[i].key);
        if (entry && entry.expiresAt > now) {
          hit = i;
          entry.expiresAt = now + TTL_MS[entry.ttl];
          break;
        }
      }
    }
    const read = hit >= 0 ? prefixTokens[hit] : 0;

    // Write: every breakpoint whose prefix is long enough; creation is what lies past the read.
    const minimum = this.minimumTokens(String(body.model));
    const creation = { '5m': 0, '1h': 0 };
    let covered = hit;
    for (const at of breakpoints) {
      if (prefixTokens[at] < minimum) continue;
      const ttl = blocks[at].breakpoint!;
      const key = scope + blocks[at].key;
      const existing = this.entries.get(key);
      if (!existing || existing.expiresAt <= now)
        this.entries.set(key, { expiresAt: now + TTL_MS[ttl], ttl });
      if (at > covered) {
        creation[ttl] += prefixTokens[at] - (covered >= 0 ? prefixTokens[covered] : 0);
        covered = at;
      }
    }
    const created = creation['5m'] + creation['1h'];
    return {
      input_tokens: (prefixTokens.at(-1) ?? 0) - read - created,
      cache_creation_input_tokens: created,
      cache_read_input_tokens: read,
      cache_creation: {
        ephemeral_5m_input_tokens: creation['5m'],
        ephemeral_1h_input_tokens: creation['1h'],
      },
    };
  }

  /** Forgets every entry (as if all expired). */
  clear(): void {
    this.entries.clear();
  }
}

/** Input tokens of a request, counted like {@link PromptCache.account} counts them (count_tokens). */
export function promptTokens(body: Obj): number {
  return promptBlocks(body).reduce((sum, b) => sum + b.tokens, 0);
}
