/**
 * Prompt caching on both sides: where the worker puts breakpoints, how the fake server accounts
 * cache reads and writes (the API's rules), and what a call costs.
 */
import { describe, expect, it } from '@jest/globals';
import type { MessageParam, TextBlockParam, ToolUnion } from '@anthropic-ai/sdk/resources/messages';
import { withCacheBreakpoints } from '../../src/activities/cache-breakpoints';
import { costOf, DEFAULT_PRICES, priceOf } from '../../src/activities/pricing';
import { PromptCache, promptTokens } from '../../src/testing/fake-claude/prompt-cache';
import { validateRequest } from '../../src/testing/fake-claude/validate';
import { loadConfig } from '../../src/config';

const EPHEMERAL = { type: 'ephemeral' as const };
/** About `tokens` tokens of text (the fake counts 4 characters a token). */
const words = (tokens: number, seed = 'x') => seed.repeat(tokens * 4);
const SYSTEM = words(1200, 's');
const TOOL: ToolUnion = {
  name: 'get_weather',
  description: 'Weather',
  input_schema: { type: 'object', properties: { location: { type: 'string' } } },
};

/** A conversation of `rounds` tool rounds: user, assistant tool_use, user tool_result, ... */
function transcript(rounds: number): MessageParam[] {
  const messages: MessageParam[] = [{ role: 'user', content: words(50, 'q') }];
  for (let i = 0; i < rounds; i++) {
    messages.push({
      role: 'assistant',
      content: [
        { type: 'tool_use', id: `toolu_${i}`, name: 'get_weather', input: { location: `City ${i}` } },
      ],
    });
    messages.push({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: `toolu_${i}`, content: words(100, String(i)) }],
    });
  }
  return messages;
}

function body(messages: MessageParam[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'claude-sonnet-4-5', max_tokens: 1024, system: SYSTEM, tools: [TOOL], messages, ...extra };
}

/** The request the worker would send: our breakpoints on the prompt. */
function cached(
  messages: MessageParam[],
  ttl: '5m' | '1h' = '5m',
  system: string | TextBlockParam[] = SYSTEM,
) {
  const parts = withCacheBreakpoints({ system, tools: [TOOL], messages }, ttl);
  return body(parts.messages, { system: parts.system, tools: parts.tools });
}

describe('breakpoints placed by the worker', () => {
  it('marks the last message, the user message before it, and the end of the system prompt', () => {
    const messages = transcript(2);
    const parts = withCacheBreakpoints({ system: SYSTEM, tools: [TOOL], messages }, '5m');
    expect(parts.system).toEqual([{ type: 'text', text: SYSTEM, cache_control: EPHEMERAL }]);
    expect(parts.tools).toEqual([TOOL]);
    const marked = parts.messages.flatMap((m, i) =>
      (Array.isArray(m.content) ? m.content : []).flatMap((b, j) =>
        'cache_control' in b && b.cache_control ? [[i, j]] : [],
      ),
    );
    expect(marked).toEqual([
      [2, 0],
      [4, 0],
    ]);
    // Nothing of the caller's transcript changed.
    expect(messages).toEqual(transcript(2));
    expect(JSON.stringify(messages)).not.toContain('cache_control');
  });

  it('turns string content into a text block to mark it, skips thinking blocks, and marks the last tool when there is no system prompt', () => {
    const messages: MessageParam[] = [
      { role: 'user', content: 'Hi' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Searching' },
          { type: 'thinking', thinking: 'hm', signature: 'sig' },
        ],
      },
    ];
    const parts = withCacheBreakpoints({ tools: [TOOL], messages }, '1h');
    expect(parts.system).toBeUndefined();
    expect(parts.messages[0].content).toEqual([
      { type: 'text', text: 'Hi', cache_control: { type: 'ephemeral', ttl: '1h' } },
    ]);
    expect(parts.messages[1].content).toEqual([
      { type: 'text', text: 'Searching', cache_control: { type: 'ephemeral', ttl: '1h' } },
      { type: 'thinking', thinking: 'hm', signature: 'sig' },
    ]);
    expect(parts.tools.at(-1)).toEqual({ ...TOOL, cache_control: { type: 'ephemeral', ttl: '1h' } });
  });

  it("keeps the caller's breakpoints, stays within 4, and does not put 1-hour entries after the caller's 5-minute ones", () => {
    const system: TextBlockParam[] = [
      { type: 'text', text: 'a', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'b', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'c', cache_control: { type: 'ephemeral' } },
    ];
    const parts = withCacheBreakpoints({ system, tools: [TOOL], messages: transcript(1) }, '1h');
    expect(parts.system).toBe(system);
    const request = body(parts.messages, { system: parts.system });
    expect(validateRequest(request, 'messages')).toEqual({ ok: true });
    expect(JSON.stringify(parts.messages)).toContain('"cache_control":{"type":"ephemeral"}');
    expect(JSON.stringify(parts.messages)).not.toContain('1h');
    const full = withCacheBreakpoints(
      {
        system: [...system, { type: 'text', text: 'd', cache_control: { type: 'ephemeral' } }],
        tools: [TOOL],
        messages: transcript(1),
      },
      '5m',
    );
    expect(JSON.stringify(full.messages)).not.toContain('cache_control');
  });
});

describe('cache accounting of the fake server', () => {
  it('sends everything as input when there is no breakpoint', () => {
    const cache = new PromptCache();
    const request = body(transcript(1));
    expect(cache.account(request)).toEqual({
      input_tokens: promptTokens(request),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    });
  });

  it('writes the prefix up to the last breakpoint, then reads it on the next call and writes only what is new', () => {
    const cache = new PromptCache();
    const first = cached(transcript(0));
    const one = cache.account(first);
    expect(one.cache_read_input_tokens).toBe(0);
    expect(one.cache_creation_input_tokens).toBe(promptTokens(first));
    expect(one.input_tokens).toBe(0);
    expect(one.cache_creation.ephemeral_5m_input_tokens).toBe(one.cache_creation_input_tokens);

    const second = cached(transcript(1));
    const two = cache.account(second);
    expect(two.cache_read_input_tokens).toBe(promptTokens(first));
    expect(two.cache_creation_input_tokens).toBe(promptTokens(second) - promptTokens(first));
    expect(two.input_tokens + two.cache_read_input_tokens + two.cache_creation_input_tokens).toBe(
      promptTokens(second),
    );
  });

  it('caches nothing below the model minimum, and fails nothing', () => {
    const cache = new PromptCache();
    const small = cached(transcript(0), '5m', 'Be brief.');
    expect(promptTokens(small)).toBeLessThan(1024);
    expect(cache.account(small)).toMatchObject({
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      input_tokens: promptTokens(small),
    });
    expect(cache.account(small).cache_read_input_tokens).toBe(0);
  });

  it('forgets an entry 5 minutes after its last use (a hit refreshes it); a 1-hour entry lives an hour', () => {
    let now = 0;
    const cache = new PromptCache(() => now);
    const request = cached(transcript(0));
    cache.account(request);
    now += 4 * 60_000;
    expect(cache.account(request).cache_read_input_tokens).toBeGreaterThan(0); // refreshed at 4 min
    now += 4 * 60_000;
    expect(cache.account(request).cache_read_input_tokens).toBeGreaterThan(0); // 8 min after the write
    now += 5 * 60_000 + 1;
    const expired = cache.account(request);
    expect(expired.cache_read_input_tokens).toBe(0);
    expect(expired.cache_creation_input_tokens).toBe(promptTokens(request));

    const hour = cached(transcript(1), '1h');
    const written = cache.account(hour);
    expect(written.cache_creation.ephemeral_1h_input_tokens).toBe(written.cache_creation_input_tokens);
    now += 50 * 60_000;
    expect(cache.account(hour).cache_read_input_tokens).toBe(promptTokens(hour));
  });

  it('finds an earlier entry only within 20 blocks of a breakpoint; the worker marks where the previous call ended', () => {
    // The model asks for 15 tools at once: the next call's prompt is 30 blocks longer.
    const question: MessageParam = { role: 'user', content: words(50, 'q') };
    const calls = Array.from({ length: 15 }, (_, i) => ({
      type: 'tool_use' as const,
      id: `toolu_${i}`,
      name: 'get_weather',
      input: { location: `City ${i}` },
    }));
    const results = calls.map((c) => ({
      type: 'tool_result' as const,
      tool_use_id: c.id,
      content: '18 degrees',
    }));
    const next: MessageParam[] = [
      question,
      { role: 'assistant', content: calls },
      { role: 'user', content: results },
    ];
    const markLast = (messages: MessageParam[]) =>
      messages.map((m, i) =>
        i === messages.length - 1
          ? {
              ...m,
              content: (m.content as unknown as Array<Record<string, unknown>>).map((b, j, all) =>
                j === all.length - 1 ? { ...b, cache_control: EPHEMERAL } : b,
              ),
            }
          : m,
      ) as unknown as MessageParam[];

    const lastOnly = new PromptCache();
    lastOnly.account(
      body([{ role: 'user', content: [{ type: 'text', text: words(50, 'q'), cache_control: EPHEMERAL }] }]),
    );
    expect(lastOnly.account(body(markLast(next))).cache_read_input_tokens).toBe(0);

    const worker = new PromptCache();
    const first = cached([question]);
    worker.account(first);
    expect(worker.account(cached(next)).cache_read_input_tokens).toBe(promptTokens(first));
  });

  it('keys the message level on tool_choice and the whole prompt on the tools', () => {
    const cache = new PromptCache();
    cache.account(cached(transcript(1)));
    const systemOnly = promptTokens({ model: 'claude-sonnet-4-5', system: SYSTEM, tools: [TOOL] });
    expect(
      cache.account({ ...cached(transcript(1)), tool_choice: { type: 'any' } }).cache_read_input_tokens,
    ).toBe(systemOnly);
    const otherTool = { ...TOOL, description: 'Weather, now' };
    expect(cache.account({ ...cached(transcript(1)), tools: [otherTool] }).cache_read_input_tokens).toBe(0);
  });

  it('treats string content like a text block, and honours top-level (automatic) cache_control', () => {
    const cache = new PromptCache();
    const automatic = body(transcript(1), { cache_control: EPHEMERAL });
    expect(cache.account(automatic).cache_creation_input_tokens).toBe(promptTokens(automatic));
    const asBlocks = body(
      [{ role: 'user', content: [{ type: 'text', text: words(50, 'q') }] }, ...transcript(2).slice(1)],
      { cache_control: EPHEMERAL },
    );
    expect(cache.account(asBlocks).cache_read_input_tokens).toBe(promptTokens(automatic));
  });

  it('rejects more than 4 breakpoints the way the API does', () => {
    const system = ['a', 'b', 'c', 'd', 'e'].map((text) => ({
      type: 'text',
      text,
      cache_control: EPHEMERAL,
    }));
    expect(validateRequest(body(transcript(0), { system }), 'messages')).toEqual({
      ok: false,
      message: 'A maximum of 4 blocks with cache_control may be provided. Found 5.',
    });
    expect(
      validateRequest(
        body(transcript(0), { system: system.slice(0, 4), cache_control: EPHEMERAL }),
        'messages',
      ),
    ).toMatchObject({ ok: false });
    expect(validateRequest(body(transcript(0), { system: system.slice(0, 4) }), 'messages')).toEqual({
      ok: true,
    });
  });
});

describe('cost of a call', () => {
  it('prices input, output, cache writes (1.25x / 2x) and reads (0.1x) off the list price', () => {
    const usage = {
      inputTokens: 1_000_000,
      outputTokens: 1_000_000,
      cacheRead: 1_000_000,
      cacheWrite5m: 1_000_000,
      cacheWrite1h: 1_000_000,
    };
    expect(costOf('claude-sonnet-4-5', usage, DEFAULT_PRICES)).toBeCloseTo(3 + 15 + 0.3 + 3.75 + 6, 6);
    expect(
      costOf(
        'claude-sonnet-4-5-20250929',
        { ...usage, outputTokens: 0, cacheRead: 0, cacheWrite5m: 0, cacheWrite1h: 0 },
        DEFAULT_PRICES,
      ),
    ).toBe(3);
  });

  it('has no price for a model it does not know, rather than a guess from its family', () => {
    expect(priceOf('claude-opus-4-7', DEFAULT_PRICES)).toBeUndefined();
    expect(priceOf('claude-sonnet-5-5', DEFAULT_PRICES)).toBeUndefined();
    expect(
      costOf(
        'claude-sonnet-5-5',
        { inputTokens: 1, outputTokens: 1, cacheRead: 0, cacheWrite5m: 0, cacheWrite1h: 0 },
        { 'claude-sonnet-5-5': { input: 3, output: 15 } },
      ),
    ).toBe(0.000018);
  });
});

describe('AGENT_MODEL_PRICES', () => {
  it('adds prices from JSON and names what is wrong with a bad value', () => {
    const config = loadConfig({
      AGENT_MODEL_PRICES: '{"claude-sonnet-5-5": {"input": 3, "output": 15, "cacheRead": 0.25}}',
    });
    expect(config.AGENT_MODEL_PRICES).toEqual({
      'claude-sonnet-5-5': { input: 3, output: 15, cacheRead: 0.25 },
    });
    expect(() => loadConfig({ AGENT_MODEL_PRICES: '{"claude-sonnet-5-5": 3' })).toThrow(
      /AGENT_MODEL_PRICES: not JSON/,
    );
    expect(() =>
      loadConfig({ AGENT_MODEL_PRICES: '{"claude-sonnet-5-5": {"input": -1, "output": 15}}' }),
    ).toThrow(/AGENT_MODEL_PRICES/);
  });
});
