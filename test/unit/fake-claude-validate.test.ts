import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { validateRequest, type Route } from '../../src/testing/fake-claude/validate';

type Body = Record<string, unknown>;

const user = (content: unknown) => ({ role: 'user', content });
const assistant = (content: unknown) => ({ role: 'assistant', content });
const text = (t: string) => ({ type: 'text', text: t });
const toolUse = (id: string, name = 'get_weather', input: unknown = { city: 'Paris' }) => ({
  type: 'tool_use',
  id,
  name,
  input,
});
const toolResult = (id: string, content: unknown = 'sunny') => ({
  type: 'tool_result',
  tool_use_id: id,
  content,
});

const weatherTool = {
  name: 'get_weather',
  description: 'Current weather',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

/** A minimal valid request, with overrides (a key set to `undefined` is removed). */
function request(overrides: Body = {}): Body {
  const body: Body = { model: 'claude-opus-4-8', max_tokens: 1024, messages: [user('Hello')], ...overrides };
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}

/** Asserts that the body fails validation with exactly this message. */
function expectError(body: unknown, message: string, route: Route = 'messages'): void {
  expect(validateRequest(body, route)).toEqual({ ok: false, message });
}

function expectOk(body: unknown, route: Route = 'messages'): void {
  expect(validateRequest(body, route)).toEqual({ ok: true });
}

/** A conversation with one tool round: user → assistant (tool_use toolu_1) → user (answer). */
const toolRound = (answer: unknown[]) => [
  user('Weather in Paris?'),
  assistant([text('Checking.'), toolUse('toolu_1')]),
  user(answer),
];

describe('validateRequest: valid requests', () => {
  it('accepts a plain user message', () => {
    expectOk(request());
  });

  it('accepts a full tool loop', () => {
    expectOk(
      request({
        tools: [weatherTool, { ...weatherTool, name: 'get_time', type: 'custom' }],
        tool_choice: { type: 'auto', disable_parallel_tool_use: false },
        messages: [
          user('Weather and time in Paris?'),
          assistant([text('Let me check both.'), toolUse('toolu_01A'), toolUse('toolu_01B', 'get_time', {})]),
          user([
            toolResult('toolu_01A', [text('sunny, 21°C')]),
            { type: 'tool_result', tool_use_id: 'toolu_01B', content: 'boom', is_error: true },
            text('Be brief.'),
          ]),
          assistant('It is sunny; the clock tool failed.'),
        ],
      }),
    );
  });

  it('accepts a pause_turn continuation ending with an unanswered server_tool_use', () => {
    expectOk(
      request({
        tools: [{ type: 'web_search_20260209', name: 'web_search', max_uses: 3 }],
        messages: [
          user('Search the news.'),
          assistant([
            text('Searching.'),
            { type: 'server_tool_use', id: 'srvtoolu_01', name: 'web_search', input: { query: 'news' } },
            {
              type: 'web_search_tool_result',
              tool_use_id: 'srvtoolu_01',
              content: [{ type: 'web_search_result', url: 'https://example.com', title: 'Example' }],
            },
            { type: 'server_tool_use', id: 'srvtoolu_02', name: 'web_search', input: { query: 'more news' } },
          ]),
        ],
      }),
    );
  });

  it('accepts a final assistant prefill, even an empty one', () => {
    expectOk(request({ messages: [user('Hi'), assistant('{"answer":')] }));
    expectOk(request({ messages: [user('Hi'), assistant('')] }));
    expectOk(request({ messages: [user('Hi'), assistant([])] }));
  });

  it('rejects consecutive messages of one role by default', () => {
    expectError(
      request({ messages: [user('Hi'), user([text('again')])] }),
      'messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row',
    );
    expectError(
      request({ messages: [user('Hi'), assistant('a'), assistant('b')] }),
      'messages: roles must alternate between "user" and "assistant", but found multiple "assistant" roles in a row',
    );
  });

  it('accepts consecutive messages of one role when lenient, as the API merges them', () => {
    const lenient = (body: unknown) =>
      expect(validateRequest(body, 'messages', { lenientRoles: true })).toEqual({ ok: true });
    lenient(request({ messages: [user('Hi'), user([text('again')])] }));
    lenient(request({ messages: [...toolRound([toolResult('toolu_1')]), user([text('Now summarize.')])] }));
  });

  it('accepts a final assistant message holding an unanswered tool_use', () => {
    expectOk(request({ tools: [weatherTool], messages: [user('Hi'), assistant([toolUse('toolu_1')])] }));
  });

  it('accepts thinking, system blocks, sampling parameters and server tools', () => {
    expectOk(
      request({
        max_tokens: 4096,
        system: [{ type: 'text', text: 'Be nice.', cache_control: { type: 'ephemeral' } }],
        thinking: { type: 'enabled', budget_tokens: 1024 },
        temperature: 1,
        top_p: 0.9,
        top_k: 0,
        stop_sequences: ['END'],
        stream: true,
        metadata: { user_id: 'u-1' },
        service_tier: 'auto',
        tools: [
          weatherTool,
          { type: 'code_execution_20260120', name: 'code_execution' },
          { type: 'memory_20250818', name: 'memory' },
          { type: 'bash_20250124', name: 'bash' },
          { type: 'text_editor_20250728', name: 'str_replace_based_edit_tool' },
          { type: 'web_fetch_20260209', name: 'web_fetch' },
          { type: 'mcp_toolset', mcp_server_name: 'docs' },
        ],
        tool_choice: { type: 'tool', name: 'get_weather' },
        messages: [
          user('Hi'),
          assistant([
            { type: 'thinking', thinking: 'Hmm.', signature: 'sig' },
            { type: 'redacted_thinking', data: 'xyz' },
            text('Hello!'),
          ]),
          user('Bye'),
        ],
      }),
    );
    expectOk(request({ thinking: { type: 'adaptive' }, system: 'Be nice.' }));
    expectOk(
      request({ thinking: { type: 'disabled' }, tool_choice: { type: 'none' }, tools: [weatherTool] }),
    );
  });

  it('accepts count_tokens requests without max_tokens', () => {
    expectOk(request({ max_tokens: undefined }), 'count_tokens');
    expectOk(
      request({ max_tokens: undefined, thinking: { type: 'enabled', budget_tokens: 2048 } }),
      'count_tokens',
    );
  });

  const fixtures = join(__dirname, '../../../shared/fixtures/anthropic-api/tool_runner_exchange.json');
  if (!existsSync(fixtures))
    console.warn(`shared fixtures are missing (${fixtures}): skipping the recorded bodies`);
  const maybeIt = existsSync(fixtures) ? it : it.skip;
  maybeIt('accepts every request body recorded from the real API', () => {
    const exchanges = JSON.parse(readFileSync(fixtures, 'utf8')) as { path: string; body: unknown }[];
    expect(exchanges.length).toBeGreaterThan(0);
    for (const { path, body } of exchanges) {
      const route: Route = path.includes('count_tokens') ? 'count_tokens' : 'messages';
      // Real recordings hold consecutive user messages, which the API merges.
      expect({ path, result: validateRequest(body, route, { lenientRoles: true }) }).toEqual({
        path,
        result: { ok: true },
      });
    }
  });
});

describe('validateRequest: rule 1, required fields', () => {
  it('rejects a body that is not an object', () => {
    expectError([], 'body: Input should be a valid dictionary');
    expectError(null, 'body: Input should be a valid dictionary');
  });

  it('checks model', () => {
    expectError(request({ model: undefined }), 'model: Field required');
    expectError(request({ model: 42 }), 'model: Input should be a valid string');
    expectError(request({ model: '' }), 'model: String should have at least 1 character');
    expectError(
      request({ model: undefined, max_tokens: undefined }),
      'model: Field required',
      'count_tokens',
    );
  });

  it('checks max_tokens on /v1/messages only', () => {
    expectError(request({ max_tokens: undefined }), 'max_tokens: Field required');
    expectError(request({ max_tokens: 1.5 }), 'max_tokens: Input should be a valid integer');
    expectError(request({ max_tokens: '100' }), 'max_tokens: Input should be a valid integer');
    expectError(request({ max_tokens: 0 }), 'max_tokens: Input should be greater than or equal to 1');
    expectError(
      request({ max_tokens: 0 }),
      'max_tokens: Input should be greater than or equal to 1',
      'count_tokens',
    );
  });

  it('checks messages', () => {
    expectError(request({ messages: undefined }), 'messages: Field required');
    expectError(request({ messages: 'Hello' }), 'messages: Input should be a valid list');
    expectError(request({ messages: [] }), 'messages: at least one message is required');
  });
});

describe('validateRequest: rule 2, unknown keys', () => {
  it('rejects unknown top-level keys, on both routes', () => {
    expectError(request({ temprature: 0.5 }), 'temprature: Extra inputs are not permitted');
    expectError(request({ betas: ['x'] }), 'betas: Extra inputs are not permitted');
    expectError(
      request({ max_tokens: undefined, foo: 1 }),
      'foo: Extra inputs are not permitted',
      'count_tokens',
    );
  });

  it('accepts the known optional keys', () => {
    expectOk(
      request({
        container: 'container_1',
        mcp_servers: [],
        context_management: { edits: [] },
        output_config: {},
        output_format: null,
        inference_geo: 'us',
      }),
    );
  });
});

describe('validateRequest: rule 3, message and block shapes', () => {
  it('checks each message', () => {
    expectError(request({ messages: ['Hello'] }), 'messages.0: Input should be a valid dictionary');
    expectError(request({ messages: [{ content: 'Hi' }] }), 'messages.0.role: Field required');
    expectError(
      request({ messages: [{ role: 'system', content: 'Hi' }] }),
      "messages.0.role: Input should be 'user' or 'assistant'",
    );
    expectError(request({ messages: [{ role: 'user' }] }), 'messages.0.content: Field required');
    expectError(
      request({ messages: [user(42)] }),
      'messages.0.content: Input should be a valid string or a valid list',
    );
    expectError(
      request({ messages: [user('   ')] }),
      'messages.0.content: text content blocks must contain non-whitespace text',
    );
  });

  it('checks each block has a type', () => {
    expectError(
      request({ messages: [user(['Hi'])] }),
      'messages.0.content.0: Input should be a valid dictionary',
    );
    expectError(
      request({ messages: [user([{ text: 'Hi' }])] }),
      "messages.0.content.0: Unable to extract tag using discriminator 'type'",
    );
    expectError(
      request({ messages: [user([{ type: 1, text: 'Hi' }])] }),
      'messages.0.content.0.type: Input should be a valid string',
    );
  });

  it('checks text blocks', () => {
    expectError(
      request({ messages: [user([text('')])] }),
      'messages.0.content.0.text: text content blocks must be non-empty',
    );
    expectError(
      request({ messages: [user([text('Hi'), text(' \n')])] }),
      'messages.0.content.1.text: text content blocks must contain non-whitespace text',
    );
    expectError(
      request({ messages: [user([{ type: 'text' }])] }),
      'messages.0.content.0.text.text: Field required',
    );
    expectError(
      request({ messages: [user('Hi'), assistant([text('')])] }),
      'messages.1.content.0.text: text content blocks must be non-empty',
    );
  });

  it('checks tool_use blocks', () => {
    const withUse = (block: unknown) =>
      request({ messages: [user('Hi'), assistant([text('On it.'), block])] });
    expectError(
      withUse({ ...toolUse('toolu_1'), input: '{"city":"Paris"}' }),
      'messages.1.content.1.tool_use.input: Input should be a valid dictionary',
    );
    expectError(
      withUse({ ...toolUse('toolu_1'), input: [] }),
      'messages.1.content.1.tool_use.input: Input should be a valid dictionary',
    );
    expectError(
      withUse({ ...toolUse('toolu_1'), input: null }),
      'messages.1.content.1.tool_use.input: Input should be a valid dictionary',
    );
    expectError(
      withUse({ type: 'tool_use', id: 'toolu_1', name: 'get_weather' }),
      'messages.1.content.1.tool_use.input: Field required',
    );
    expectError(
      withUse({ type: 'tool_use', name: 'get_weather', input: {} }),
      'messages.1.content.1.tool_use.id: Field required',
    );
    expectError(
      withUse({ type: 'tool_use', id: 'toolu_1', input: {} }),
      'messages.1.content.1.tool_use.name: Field required',
    );
    expectError(
      withUse(toolUse('')),
      "messages.1.content.1.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'",
    );
    expectError(
      withUse({ type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: 'q' }),
      'messages.1.content.1.server_tool_use.input: Input should be a valid dictionary',
    );
  });

  it('checks tool_result blocks', () => {
    const withResult = (block: unknown) => request({ messages: toolRound([block]) });
    expectError(
      withResult({ type: 'tool_result', content: 'x' }),
      'messages.2.content.0.tool_result.tool_use_id: Field required',
    );
    expectError(
      withResult(toolResult('toolu_1', 42)),
      'messages.2.content.0.tool_result.content: Input should be a valid string or a valid list',
    );
    expectError(
      withResult(toolResult('toolu_1', [text('')])),
      'messages.2.content.0.content.0.text: text content blocks must be non-empty',
    );
    expectError(
      withResult({ ...toolResult('toolu_1'), is_error: 'yes' }),
      'messages.2.content.0.tool_result.is_error: Input should be a valid boolean',
    );
    expectOk(withResult({ type: 'tool_result', tool_use_id: 'toolu_1' }));
  });

  it('checks thinking blocks', () => {
    expectError(
      request({ messages: [user('Hi'), assistant([{ type: 'thinking', thinking: 'Hmm.' }, text('Hi!')])] }),
      'messages.1.content.0.thinking.signature: Field required',
    );
    expectError(
      request({ messages: [user('Hi'), assistant([{ type: 'redacted_thinking' }, text('Hi!')])] }),
      'messages.1.content.0.redacted_thinking.data: Field required',
    );
  });
});

describe('validateRequest: rule 4, other parameters', () => {
  it('checks system', () => {
    expectError(request({ system: 42 }), 'system: Input should be a valid string or a valid list');
    expectError(request({ system: ['Be nice.'] }), 'system.0: Input should be a valid dictionary');
    expectError(
      request({ system: [{ type: 'image', source: {} }] }),
      "system.0.type: Input should be 'text'",
    );
    expectError(
      request({ system: [{ type: 'text', text: '' }] }),
      'system.0.text: text content blocks must be non-empty',
    );
  });

  it('checks custom tools', () => {
    expectError(request({ tools: weatherTool }), 'tools: Input should be a valid list');
    expectError(request({ tools: ['get_weather'] }), 'tools.0: Input should be a valid dictionary');
    expectError(request({ tools: [{ ...weatherTool, name: undefined }] }), 'tools.0.name: Field required');
    expectError(
      request({ tools: [weatherTool, weatherTool, { ...weatherTool, name: 'get weather' }] }),
      "tools.2.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
    );
    expectError(
      request({ tools: [{ ...weatherTool, name: 'x'.repeat(65) }] }),
      "tools.0.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
    );
    expectError(request({ tools: [{ name: 'get_weather' }] }), 'tools.0.input_schema: Field required');
    expectError(
      request({ tools: [{ ...weatherTool, input_schema: 'object' }] }),
      'tools.0.input_schema: Input should be a valid dictionary',
    );
    expectError(
      request({ tools: [{ ...weatherTool, input_schema: { type: 'array' } }] }),
      "tools.0.input_schema.type: Input should be 'object'",
    );
    expectError(
      request({ tools: [{ ...weatherTool, type: 'custom', input_schema: {} }] }),
      "tools.0.input_schema.type: Input should be 'object'",
    );
  });

  it('checks server tools by name only', () => {
    expectOk(request({ tools: [{ type: 'web_search_20260209', name: 'web_search' }] }));
    expectError(request({ tools: [{ type: 'web_search_20260209' }] }), 'tools.0.name: Field required');
    expectError(
      request({ tools: [{ type: 'web_search_20260209', name: 'web search' }] }),
      "tools.0.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
    );
    expectError(request({ tools: [{ type: 'mcp_toolset' }] }), 'tools.0.mcp_server_name: Field required');
  });

  it('requires unique tool names', () => {
    expectError(
      request({ tools: [weatherTool, { ...weatherTool, type: 'custom' }] }),
      'tools: Tool names must be unique.',
    );
    expectError(
      request({
        tools: [
          { ...weatherTool, name: 'web_search' },
          { type: 'web_search_20260209', name: 'web_search' },
        ],
      }),
      'tools: Tool names must be unique.',
    );
  });

  it('checks tool_choice', () => {
    const withChoice = (tool_choice: unknown, tools: unknown = [weatherTool]) =>
      request({ tool_choice, tools });
    expectOk(withChoice({ type: 'any', disable_parallel_tool_use: true }));
    expectError(withChoice('auto'), 'tool_choice: Input should be a valid dictionary');
    expectError(
      withChoice({ name: 'get_weather' }),
      "tool_choice: Unable to extract tag using discriminator 'type'",
    );
    expectError(
      withChoice({ type: 'required' }),
      "tool_choice: Input tag 'required' found using 'type' does not match any of the expected tags: " +
        "'auto', 'any', 'tool', 'none'",
    );
    expectError(
      withChoice({ type: 'auto', disable_parallel_tool_use: 'yes' }),
      'tool_choice.auto.disable_parallel_tool_use: Input should be a valid boolean',
    );
    expectError(withChoice({ type: 'tool' }), 'tool_choice.tool.name: Field required');
    expectError(
      withChoice({ type: 'tool', name: 'get_time' }),
      "tool_choice.name: tool 'get_time' was not found in the provided tools",
    );
    expectError(
      request({ tool_choice: { type: 'tool', name: 'get_weather' } }),
      "tool_choice.name: tool 'get_weather' was not found in the provided tools",
    );
  });

  it('checks sampling parameters, stream and metadata', () => {
    expectError(request({ temperature: '0.5' }), 'temperature: Input should be a valid number');
    expectError(request({ temperature: 1.5 }), 'temperature: Input should be less than or equal to 1');
    expectError(request({ temperature: -0.1 }), 'temperature: Input should be greater than or equal to 0');
    expectError(request({ top_p: 2 }), 'top_p: Input should be less than or equal to 1');
    expectError(request({ top_k: 2.5 }), 'top_k: Input should be a valid integer');
    expectError(request({ top_k: -1 }), 'top_k: Input should be greater than or equal to 0');
    expectError(request({ stop_sequences: 'END' }), 'stop_sequences: Input should be a valid list');
    expectError(request({ stop_sequences: ['END', 7] }), 'stop_sequences.1: Input should be a valid string');
    expectError(
      request({ stop_sequences: ['END', ' \n'] }),
      'stop_sequences: each stop sequence must contain non-whitespace',
    );
    expectError(request({ stream: 'true' }), 'stream: Input should be a valid boolean');
    expectError(request({ metadata: 'u-1' }), 'metadata: Input should be a valid dictionary');
    expectError(request({ metadata: { user_id: 7 } }), 'metadata.user_id: Input should be a valid string');
  });

  it('checks thinking', () => {
    expectError(request({ thinking: true }), 'thinking: Input should be a valid dictionary');
    expectError(
      request({ thinking: { budget_tokens: 2048 } }),
      "thinking: Unable to extract tag using discriminator 'type'",
    );
    expectError(
      request({ thinking: { type: 'on' } }),
      "thinking: Input tag 'on' found using 'type' does not match any of the expected tags: " +
        "'enabled', 'disabled', 'adaptive', 'between_tools'",
    );
    expectError(request({ thinking: { type: 'enabled' } }), 'thinking.enabled.budget_tokens: Field required');
    expectError(
      request({ thinking: { type: 'enabled', budget_tokens: 1000.5 } }),
      'thinking.enabled.budget_tokens: Input should be a valid integer',
    );
    expectError(
      request({ thinking: { type: 'enabled', budget_tokens: 512 } }),
      'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024',
    );
    expectError(
      request({ max_tokens: 1024, thinking: { type: 'enabled', budget_tokens: 1024 } }),
      '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at ' +
        'https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size',
    );
  });
});

describe('validateRequest: rule 5, the conversation', () => {
  it('requires the first message to come from the user', () => {
    expectError(
      request({ messages: [assistant('Hi'), user('Hello')] }),
      'messages: first message must use the "user" role',
    );
  });

  it('rejects empty content except in a final assistant message', () => {
    const message =
      'all messages must have non-empty content except for the optional final assistant message';
    expectError(request({ messages: [user('')] }), `messages.0: ${message}`);
    expectError(request({ messages: [user([])] }), `messages.0: ${message}`);
    expectError(request({ messages: [user('Hi'), assistant(''), user('Hello?')] }), `messages.1: ${message}`);
  });

  it('requires unique tool_use ids across the conversation', () => {
    expectError(
      request({
        messages: [
          ...toolRound([toolResult('toolu_1')]),
          assistant([toolUse('toolu_2'), toolUse('toolu_1')]),
          user([toolResult('toolu_2'), toolResult('toolu_1')]),
        ],
      }),
      'messages.3.content.1: `tool_use` ids must be unique',
    );
  });

  it('requires a tool_result for each tool_use in the next message', () => {
    expectError(
      request({ messages: [...toolRound([text('Never mind.')])] }),
      'messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. ' +
        'Each `tool_use` block must have a corresponding `tool_result` block in the next message.',
    );
    expectError(
      request({
        messages: [
          user('Two cities?'),
          assistant([toolUse('toolu_a'), toolUse('toolu_b'), toolUse('toolu_c')]),
          user([toolResult('toolu_b')]),
        ],
      }),
      'messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_a, toolu_c. ' +
        'Each `tool_use` block must have a corresponding `tool_result` block in the next message.',
    );
  });

  it('requires the tool_result to come immediately after, not in a later turn', () => {
    expectError(
      request({
        messages: [
          user('Weather?'),
          assistant([toolUse('toolu_1')]),
          user('Hurry up.'),
          assistant('OK.'),
          user([toolResult('toolu_1')]),
        ],
      }),
      'messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. ' +
        'Each `tool_use` block must have a corresponding `tool_result` block in the next message.',
    );
  });

  it('requires tool_result blocks before any other content', () => {
    expectError(
      request({ messages: toolRound([text('Here you go:'), toolResult('toolu_1')]) }),
      'messages.2.content.1: `tool_result` blocks must come before any other content in the user message ' +
        'following `tool_use` blocks, but found `text` at messages.2.content.0 before it',
    );
    expect(
      validateRequest(
        request({ messages: [...toolRound([text('Here you go:')]), user([toolResult('toolu_1')])] }),
        'messages',
        {
          lenientRoles: true,
        },
      ),
    ).toEqual({
      ok: false,
      message:
        'messages.3.content.0: `tool_result` blocks must come before any other content in the user message ' +
        'following `tool_use` blocks, but found `text` at messages.2.content.0 before it',
    });
  });

  it('rejects a tool_result that answers no tool_use of the previous message', () => {
    const unexpected = (path: string, ids: string) =>
      `${path}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${ids}. ` +
      'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.';
    expectError(
      request({ messages: toolRound([toolResult('toolu_1'), toolResult('toolu_x'), toolResult('toolu_y')]) }),
      unexpected('messages.2.content.1', 'toolu_x, toolu_y'),
    );
    expectError(
      request({ messages: [user([toolResult('toolu_1')])] }),
      unexpected('messages.0.content.0', 'toolu_1'),
    );
    expectError(
      request({ messages: [user('Hi'), assistant('Hello.'), user([toolResult('toolu_1'), text('?')])] }),
      unexpected('messages.2.content.0', 'toolu_1'),
    );
  });

  it('does not pair server_tool_use blocks with tool_result blocks', () => {
    const search = { type: 'server_tool_use', id: 'srvtoolu_01', name: 'web_search', input: { query: 'q' } };
    expectOk(request({ messages: [user('Search.'), assistant([search]), user('Thanks.')] }));
    expectError(
      request({ messages: [user('Search.'), assistant([search]), user([toolResult('srvtoolu_01')])] }),
      'messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: srvtoolu_01. ' +
        'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.',
    );
  });

  it('rejects two tool_result blocks for one tool_use', () => {
    expectError(
      request({ messages: toolRound([toolResult('toolu_1'), toolResult('toolu_1', 'again')]) }),
      'messages.2.content.1: found more than one `tool_result` block for `tool_use` id toolu_1',
    );
  });
});
