/**
 * Large tool libraries, the pure parts: the fake's regex and BM25 search and its request rules, the
 * worker's deferral defaults, `input_examples` checked at definition, and the accumulator on the fake's
 * own stream of a search and its result.
 */
import { describe, expect, it } from '@jest/globals';
import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import { z } from 'zod';
import { MessageAccumulator } from '../../src/activities/message-accumulator';
import { fromDefinition, type OfferedTool } from '../../src/agents/agent-tools';
import { defineAgent } from '../../src/agents/define-agent';
import { DEFER_ALL_ABOVE, deferredNames, withToolSearch } from '../../src/agents/tool-search';
import { demoReply } from '../../src/testing/fake-claude/demo';
import { renderEvents, seededRandom } from '../../src/testing/fake-claude/sse';
import {
  bm25Search,
  regexSearch,
  searchTools,
  withToolSearchResults,
  type SearchableTool,
} from '../../src/testing/fake-claude/tool-search';
import { validateRequest } from '../../src/testing/fake-claude/validate';
import type { McpServerConfig, McpToolSnapshot } from '../../src/mcp/types';
import { defineTool } from '../../src/tools/define-tool';

const schema = (props: Record<string, string>) => ({
  type: 'object',
  properties: Object.fromEntries(
    Object.entries(props).map(([k, d]) => [k, { type: 'string', description: d }]),
  ),
});
const library: SearchableTool[] = [
  {
    name: 'get_weather',
    description: 'Current weather for a city',
    input_schema: schema({ city: 'City name' }),
  },
  {
    name: 'get_forecast',
    description: 'Forecast for the next days',
    input_schema: schema({ city: 'Where' }),
  },
  { name: 'send_email', description: 'Sends an email', input_schema: schema({ to: 'Recipient address' }) },
  { name: 'lookup_order', description: 'Looks an order up', input_schema: schema({ id: 'The order id' }) },
  {
    name: 'refund',
    description: 'Refunds an order',
    input_schema: schema({ reason: 'Why, e.g. bad weather' }),
  },
];

describe('tool search (the fake)', () => {
  it('regex: matches names, descriptions, argument names and descriptions; Python inline flags', () => {
    expect(regexSearch('weather', library)).toEqual({ ok: true, names: ['get_weather', 'refund'] });
    expect(regexSearch('^get_', library)).toEqual({ ok: true, names: ['get_weather', 'get_forecast'] });
    expect(regexSearch('Recipient', library)).toEqual({ ok: true, names: ['send_email'] });
    expect(regexSearch('SENDS', library)).toEqual({ ok: true, names: [] });
    expect(regexSearch('(?i)SENDS', library)).toEqual({ ok: true, names: ['send_email'] });
    expect(regexSearch('(', library)).toMatchObject({ ok: false, code: 'invalid_tool_input' });
  });

  it('BM25: best score first, only tools sharing a word, at most 5', () => {
    const found = bm25Search('weather in a city', library);
    expect(found).toMatchObject({ ok: true });
    const names = (found as { names: string[] }).names;
    expect(names[0]).toBe('get_weather'); // weather and city, in its name and description
    expect(names).toContain('refund'); // weather, in an argument's description
    expect(names).not.toContain('send_email');
    const many = Array.from({ length: 9 }, (_, i) => ({ name: `order_tool_${i}`, description: 'order' }));
    expect((bm25Search('order', many) as { names: string[] }).names).toHaveLength(5);
    expect(bm25Search('zebra', library)).toEqual({ ok: true, names: [] });
  });

  it('refuses a missing or over-long query with invalid_tool_input', () => {
    expect(searchTools('regex', {}, library)).toMatchObject({ ok: false, code: 'invalid_tool_input' });
    expect(searchTools('bm25', { query: 'x'.repeat(201) }, library)).toMatchObject({ ok: false });
    expect(searchTools('bm25', { query: 'forecast' }, library)).toEqual({
      ok: true,
      names: ['get_forecast'],
    });
  });

  it('answers a scripted search with the result block, referencing deferred tools only', () => {
    const body = {
      tools: [
        { ...library[0], defer_loading: true },
        { ...library[1] }, // loaded: not searched
        { type: 'tool_search_tool_regex_20251119', name: 'tool_search_tool_regex' },
      ],
    };
    const content = withToolSearchResults(
      [
        {
          type: 'server_tool_use',
          id: 'srvtoolu_1',
          name: 'tool_search_tool_regex',
          input: { query: 'get_' },
        },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
      ],
      body,
    );
    expect(content.map((b) => b.type)).toEqual(['server_tool_use', 'tool_search_tool_result', 'tool_use']);
    expect(content[1]).toEqual({
      type: 'tool_search_tool_result',
      tool_use_id: 'srvtoolu_1',
      content: {
        type: 'tool_search_tool_search_result',
        tool_references: [{ type: 'tool_reference', tool_name: 'get_weather' }],
      },
    });
    // A search tool the request did not offer: the API's `unavailable`.
    const bm25 = withToolSearchResults(
      [{ type: 'server_tool_use', id: 'srvtoolu_2', name: 'tool_search_tool_bm25', input: { query: 'x' } }],
      body,
    );
    expect(bm25[1]).toMatchObject({
      content: { type: 'tool_search_tool_result_error', error_code: 'unavailable' },
    });
  });
});

describe('demo mode with deferred tools', () => {
  it.each(['tool_search_tool_regex_20251119', 'tool_search_tool_bm25_20251119'])(
    'searches (%s) before it calls a deferred tool, and the search finds it',
    (type) => {
      const body = {
        model: 'claude-sonnet-4-6',
        max_tokens: 100,
        messages: [{ role: 'user' as const, content: 'weather please' }],
        tools: [
          { ...library[0], defer_loading: true },
          { ...library[3], defer_loading: true },
          { type, name: type.replace(/_20251119$/, '') },
        ],
      };
      const content = withToolSearchResults(demoReply(body as never).content, body);
      expect(content.map((b) => b.type)).toEqual([
        'text',
        'server_tool_use',
        'tool_search_tool_result',
        'tool_use',
      ]);
      const references = (content[2] as { content: { tool_references: Array<{ tool_name: string }> } })
        .content.tool_references;
      expect(references.map((r) => r.tool_name)).toContain((content[3] as { name: string }).name);
    },
  );
});

describe('tool search request rules (the fake)', () => {
  const search = { type: 'tool_search_tool_regex_20251119', name: 'tool_search_tool_regex' };
  const deferred = { ...library[0], defer_loading: true };
  const loaded = library[2];
  const base = (tools: unknown[], messages: unknown[] = [{ role: 'user', content: 'Hi' }]) => ({
    model: 'claude-sonnet-4-6',
    max_tokens: 100,
    tools,
    messages,
  });
  const problem = (body: Record<string, unknown>) => {
    const result = validateRequest(body, 'messages');
    return result.ok ? undefined : result.message;
  };
  const searched = (names: string[]) => [
    { type: 'server_tool_use', id: 'srvtoolu_1', name: 'tool_search_tool_regex', input: { query: 'x' } },
    {
      type: 'tool_search_tool_result',
      tool_use_id: 'srvtoolu_1',
      content: {
        type: 'tool_search_tool_search_result',
        tool_references: names.map((tool_name) => ({ type: 'tool_reference', tool_name })),
      },
    },
  ];
  const call = { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } };
  const conversation = (assistant: unknown[]) => [
    { role: 'user', content: 'Weather?' },
    { role: 'assistant', content: assistant },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
  ];

  it('accepts deferred tools with one search tool, input_examples, and a call of a found tool', () => {
    expect(problem(base([deferred, loaded, search]))).toBeUndefined();
    expect(
      problem(base([deferred, search], conversation([...searched(['get_weather']), call]))),
    ).toBeUndefined();
    expect(problem(base([{ ...loaded, input_examples: [{ to: 'a@b.c' }] }]))).toBeUndefined();
  });

  it('refuses a deferred tool without a search tool, all tools deferred, two search tools, a deferred search tool', () => {
    expect(problem(base([deferred, loaded]))).toMatch(
      /tools\.0: tool 'get_weather' has defer_loading set, but no tool search tool/,
    );
    expect(problem(base([deferred]))).toBe(
      'All tools have defer_loading set. At least one tool must be non-deferred.',
    );
    const bm25 = { type: 'tool_search_tool_bm25_20251119', name: 'tool_search_tool_bm25' };
    expect(problem(base([deferred, search, bm25]))).toMatch(
      /at most one tool search tool may be provided, found 2 \(tools\.1, tools\.2\)/,
    );
    expect(problem(base([deferred, loaded, { ...search, defer_loading: true }]))).toMatch(
      /the tool search tool cannot have defer_loading set/,
    );
    expect(problem(base([deferred, { ...search, name: 'search' }]))).toBe(
      "tools.1.name: Input should be 'tool_search_tool_regex'",
    );
  });

  it('refuses bad input_examples, unresolved references, a call of a tool never found', () => {
    expect(problem(base([{ ...loaded, input_examples: {} }]))).toBe(
      'tools.0.input_examples: Input should be a valid list',
    );
    expect(problem(base([{ ...library[0], input_examples: [{}] }]))).toBeUndefined(); // no required list
    const required = { ...loaded, input_schema: { ...(loaded.input_schema as object), required: ['to'] } };
    expect(problem(base([{ ...required, input_examples: [{ subject: 'x' }] }]))).toMatch(
      /input_examples\.0: .*'to' is a required property/,
    );
    expect(problem(base([deferred, search], conversation([...searched(['nope']), call])))).toMatch(
      /messages\.1\.content\.1: Tool reference 'nope' has no corresponding tool definition/,
    );
    expect(problem(base([deferred, search], conversation([call])))).toMatch(
      /messages\.1\.content\.0: `tool_use` of deferred tool 'get_weather', which no `tool_reference` earlier/,
    );
    // The search result dropped (only the server_tool_use kept): refused too.
    expect(problem(base([deferred, search], conversation([searched([])[0], call])))).toMatch(
      /deferred tool 'get_weather'/,
    );
    expect(problem(base([deferred, search], conversation([searched(['get_weather'])[1], call])))).toMatch(
      /does not follow a `server_tool_use` block with that id/,
    );
  });
});

describe('deferral (the worker)', () => {
  const tool = (name: string, extra: { deferLoading?: boolean } = {}) =>
    defineTool({
      name,
      description: name,
      input: z.object({}),
      effect: 'read',
      run: async () => 'ok',
      ...extra,
    });
  const own = (n: number) => Array.from({ length: n }, (_, i) => fromDefinition(tool(`tool_${i}`), 'tool'));
  const mcp = (name: string, server: Partial<McpServerConfig> = {}): OfferedTool => ({
    ...fromDefinition(tool(name), 'tool'),
    definition: undefined,
    source: 'mcp',
    mcp: {
      server: { name: 'crm', transport: 'http', url: 'http://x/mcp', ...server } as McpServerConfig,
      tool: { name } as McpToolSnapshot,
    },
  });
  const names = (set: Set<string>) => [...set].sort();

  it('auto: MCP tools always, own tools once there are more than 30 tools', () => {
    expect(names(deferredNames('regex', [...own(3), mcp('crm__a')]))).toEqual(['crm__a']);
    const many = own(DEFER_ALL_ABOVE);
    expect(deferredNames('bm25', many).size).toBe(0);
    expect(deferredNames('bm25', [...many, mcp('crm__a')]).size).toBe(DEFER_ALL_ABOVE + 1);
  });

  it("a tool's or server's own deferLoading wins over the modes; a list of names wins over everything", () => {
    const pinned = fromDefinition(tool('pinned', { deferLoading: false }), 'tool');
    const hidden = fromDefinition(tool('hidden', { deferLoading: true }), 'tool');
    const loadedServer = mcp('crm__b', { deferLoading: false });
    const tools = [pinned, hidden, loadedServer, mcp('crm__a'), ...own(40)];
    const auto = deferredNames('regex', tools);
    expect(auto.has('pinned')).toBe(false);
    expect(auto.has('crm__b')).toBe(false);
    expect(auto.has('tool_0')).toBe(true);
    expect(names(deferredNames({ variant: 'regex', defer: 'mcp' }, tools))).toEqual(['crm__a', 'hidden']);
    expect(deferredNames({ variant: 'regex', defer: 'all' }, tools).size).toBe(tools.length - 2);
    expect(names(deferredNames({ variant: 'regex', defer: ['pinned', 'tool_1', 'unknown'] }, tools))).toEqual(
      ['pinned', 'tool_1'],
    );
  });

  it('marks deferred tools and adds the search tool last; nothing deferred, nothing changes', () => {
    const web = { type: 'web_search_20260209', name: 'web_search' } as never;
    const tools = [...own(2), mcp('crm__a')];
    const out = withToolSearch('bm25', tools, [web]);
    expect(out.tools.map((t) => t.api.defer_loading)).toEqual([undefined, undefined, true]);
    expect(out.serverTools).toEqual([
      web,
      { type: 'tool_search_tool_bm25_20251119', name: 'tool_search_tool_bm25' },
    ]);
    expect(tools[2].api.defer_loading).toBeUndefined(); // the offered tools are not mutated
    const two = own(2);
    expect(withToolSearch('regex', two, [])).toEqual({ tools: two, serverTools: [] });
    expect(withToolSearch(undefined, tools, []).tools).toBe(tools);
  });

  it('defineAgent: checks toolSearch, refuses a tool named like the search tool, fingerprints it', () => {
    const base = { name: 'big', model: 'claude-sonnet-4-6', tools: own(1).map((t) => t.definition!) };
    expect(() => defineAgent({ ...base, toolSearch: 'fuzzy' as never })).toThrow(/agent "big": toolSearch/);
    expect(() => defineAgent({ ...base, toolSearch: { variant: 'regex', defer: [] } })).toThrow(/toolSearch/);
    expect(() =>
      defineAgent({ ...base, tools: [tool('tool_search_tool_regex')], toolSearch: 'regex' }),
    ).toThrow(/no tool or sub-agent of it may be named tool_search_tool_regex/);
    const plain = defineAgent(base);
    expect(defineAgent({ ...base, toolSearch: 'regex' }).fingerprint).not.toBe(plain.fingerprint);
    expect(defineAgent({ ...base, tools: [tool('tool_0', { deferLoading: true })] }).fingerprint).not.toBe(
      plain.fingerprint,
    );
  });
});

describe('input_examples (defineTool)', () => {
  const spec = {
    name: 'create_ticket',
    description: 'Opens a ticket',
    input: z.object({ title: z.string().min(3), priority: z.enum(['low', 'high']).optional() }),
    effect: 'write' as const,
    run: async () => 'ok',
  };

  it('sends the examples as written', () => {
    const examples = [{ title: 'Printer on fire', priority: 'high' as const }, { title: 'Typo' }];
    expect(defineTool({ ...spec, inputExamples: examples }).toApiTool().input_examples).toEqual(examples);
    expect(defineTool(spec).toApiTool()).not.toHaveProperty('input_examples');
  });

  it('refuses an example its own schema refuses, naming the tool and the example', () => {
    expect(() => defineTool({ ...spec, inputExamples: [{ title: 'Fine' }, { title: 'x' }] })).toThrow(
      /^tool create_ticket: inputExamples\[1\] does not match its input schema: title: /,
    );
    expect(() =>
      defineTool({ ...spec, inputExamples: [{ title: 'Fine', priority: 'urgent' as never }] }),
    ).toThrow(/inputExamples\[0\].*priority/);
  });
});

describe('the accumulator on a streamed search', () => {
  it('keeps the search input, the whole result block and the found tool call', () => {
    const content = withToolSearchResults(
      [
        { type: 'text', text: 'Let me find a tool.' },
        {
          type: 'server_tool_use',
          id: 'srvtoolu_1',
          name: 'tool_search_tool_regex',
          input: { query: 'weather' },
        },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
      ],
      {
        tools: [
          { ...library[0], defer_loading: true },
          { type: 'tool_search_tool_regex_20251119', name: 'tool_search_tool_regex' },
        ],
      },
    );
    const events = renderEvents(
      { kind: 'message', content, stop_reason: 'tool_use', chunkSize: 3 },
      {
        id: 'msg_1',
        model: 'claude-sonnet-4-6',
        input: {
          input_tokens: 10,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
        },
        random: seededRandom(1),
      },
    );
    // The result arrives whole in its content_block_start, with no delta.
    const resultStart = events.findIndex(
      (e) =>
        e.event === 'content_block_start' &&
        (e.data.content_block as { type: string }).type === 'tool_search_tool_result',
    );
    expect(events[resultStart + 1].event).toBe('content_block_stop');
    const accumulator = new MessageAccumulator();
    for (const e of events) accumulator.push(e.data as unknown as RawMessageStreamEvent);
    const { message, rawInputs, stopped } = accumulator.finish();
    expect(message.content.map((b) => b.type)).toEqual([
      'text',
      'server_tool_use',
      'tool_search_tool_result',
      'tool_use',
    ]);
    expect(JSON.parse(rawInputs.get(1)!)).toEqual({ query: 'weather' });
    expect(JSON.parse(rawInputs.get(3)!)).toEqual({ city: 'Paris' });
    expect(message.content[2]).toEqual(content[2]);
    expect(stopped.size).toBe(4);
    expect(message.stop_reason).toBe('tool_use');
  });
});
