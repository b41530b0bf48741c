/**
 * Conformance: the real @anthropic-ai/sdk talks to the fake Messages API over HTTP and gets what the
 * recorded fixtures of the real API describe, errors included.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { betaZodTool } from '@anthropic-ai/sdk/helpers/beta/zod';
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { CONVERSATION_ID_HEADER } from '../../src/api/wire';
import { FakeClaude, parseSse, reply } from '../../src/testing/fake-claude';
import { haveSharedFixtures, sharedFixture } from '../support/fixtures';

let fake: FakeClaude;
let client: Anthropic;
const itWithFixtures = haveSharedFixtures ? it : it.skip;

beforeAll(async () => {
  fake = await FakeClaude.start();
  client = new Anthropic({ apiKey: 'test-key', baseURL: fake.url, maxRetries: 0 });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

const params = {
  model: 'claude-sonnet-5-5',
  max_tokens: 1024,
  messages: [{ role: 'user' as const, content: 'Hi' }],
};

describe('fixture replay into the real SDK', () => {
  itWithFixtures('basic_response.sse: messages.stream, beta.messages.stream and create agree', async () => {
    fake.script('*', () => reply.fixture(sharedFixture('basic_response.sse')));
    const streamed = await client.messages.stream(params).finalMessage();
    const beta = await client.beta.messages.stream(params).finalMessage();
    const created = await client.messages.create(params);
    for (const m of [streamed, beta, created]) {
      expect(m.id).toBe('msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK');
      expect(m.content).toEqual([{ type: 'text', text: 'Hello there!' }]);
      expect(m.stop_reason).toBe('end_turn');
      expect(m.usage.output_tokens).toBe(6);
    }
  });

  itWithFixtures('tool_use_response.sse: the tool input pieces join into the whole input', async () => {
    fake.script('*', () => reply.fixture(sharedFixture('tool_use_response.sse')));
    const streamed = await client.messages.stream(params).finalMessage();
    const created = await client.messages.create(params);
    for (const m of [streamed, created]) {
      expect(m.stop_reason).toBe('tool_use');
      expect(m.content[1]).toEqual({
        type: 'tool_use',
        id: 'toolu_01NRLabsLyVHZPKxbKvkfSMn',
        name: 'get_weather',
        input: { location: 'Paris' },
      });
      expect(m.content[0]).toEqual({
        type: 'text',
        text: "I'll check the current weather in Paris for you.",
      });
    }
  });

  itWithFixtures(
    'incomplete_partial_json_response.sse: the SDK returns a silently shortened input',
    async () => {
      // The hazard our worker must not fall for: on max_tokens the SDK's lenient parser hands back an
      // object that looks whole; the raw JSON on the wire is cut mid-string.
      fake.script('*', () => reply.fixture(sharedFixture('incomplete_partial_json_response.sse')));
      const stream = client.messages.stream(params);
      let raw = '';
      stream.on('streamEvent', (event) => {
        if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta')
          raw += event.delta.partial_json;
      });
      const m = await stream.finalMessage();
      expect(m.stop_reason).toBe('max_tokens');
      const tool = m.content[1] as Anthropic.ToolUseBlock;
      expect(tool.name).toBe('make_file');
      expect(tool.input).toEqual({
        filename: 'taxes.txt',
        lines_of_text: [
          '# COMPREHENSIVE TAX GUIDE FOR INDIVIDUALS WITH MULTIPLE W-2s',
          '',
          '## INTRODUCTION',
          '',
        ],
      });
      expect(raw.endsWith('\n"Filing taxes')).toBe(true);
      expect(() => JSON.parse(raw)).toThrow();
      const beta = await client.beta.messages.stream(params).finalMessage();
      expect(beta.stop_reason).toBe('max_tokens');
    },
  );

  itWithFixtures(
    'server_tool_web_search_refusal.sse: server tool blocks and stop_details come through',
    async () => {
      fake.script('*', () => reply.fixture(sharedFixture('server_tool_web_search_refusal.sse')));
      for (const m of [
        await client.messages.stream(params).finalMessage(),
        await client.messages.create(params),
      ]) {
        expect(m.stop_reason).toBe('refusal');
        expect(m.stop_details).toMatchObject({ type: 'refusal', category: null, explanation: null });
        expect(m.content.map((b) => b.type)).toEqual(['server_tool_use', 'web_search_tool_result', 'text']);
        expect(m.content[0]).toMatchObject({
          id: 'srvtoolu_fixture_a_0001',
          input: { query: 'solar eclipse viewing safety news 2026' },
        });
        expect((m.content[1] as Anthropic.WebSearchToolResultBlock).content).toHaveLength(2);
      }
    },
  );

  it('serves the beta route with ?beta=true too', async () => {
    fake.script('*', () => reply.text('beta'));
    const res = await fetch(`${fake.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(params),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Anthropic.Message).content).toEqual([{ type: 'text', text: 'beta' }]);
    const counted = await fetch(`${fake.url}/v1/messages/count_tokens?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: params.model, messages: params.messages }),
    });
    expect(await counted.json()).toEqual({ input_tokens: expect.any(Number) });
  });

  itWithFixtures('streams fixture bytes verbatim, trailing spaces included', async () => {
    const path = sharedFixture('incomplete_partial_json_response.sse');
    fake.script('*', () => reply.fixture(path));
    const res = await fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...params, stream: true }),
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    expect(await res.text()).toBe(readFileSync(path, 'utf8'));
  });

  itWithFixtures(
    'tool_runner_exchange.json: every recorded request validates and its response round-trips',
    async () => {
      const pairs = JSON.parse(readFileSync(sharedFixture('tool_runner_exchange.json'), 'utf8')) as Array<{
        path: string;
        body: Anthropic.Beta.MessageCreateParamsNonStreaming;
        status: number;
        response: unknown;
        rawHeaders: Record<string, string>;
      }>;
      expect(pairs).toHaveLength(10);
      // Real recordings hold consecutive user messages, which the API merges: validate as leniently.
      const lenient = await FakeClaude.start({ lenientRoles: true });
      const lenientClient = new Anthropic({ apiKey: 'test-key', baseURL: lenient.url, maxRetries: 0 });
      try {
        for (const pair of pairs) {
          lenient.script('*', [
            {
              kind: 'json',
              status: pair.status,
              body: pair.response,
              headers: { 'request-id': pair.rawHeaders['request-id'] },
            },
          ]);
          const response = await lenientClient.beta.messages.create(pair.body).withResponse();
          expect(response.data).toEqual(pair.response);
          expect(response.request_id).toBe(pair.rawHeaders['request-id']);
          const recorded = lenient.requests.at(-1)!;
          // SDK 1.11 no longer appends ?beta=true (the recording is older); the route is the same.
          expect(recorded.path.split('?')[0]).toBe(pair.path.split('?')[0]);
          expect(recorded.body).toEqual(pair.body);
          expect(recorded.invalid).toBeUndefined();
        }
      } finally {
        await lenient.close();
      }
    },
  );
});

describe('scripted replies', () => {
  const blocks = [
    {
      type: 'thinking' as const,
      thinking: 'The user wants the weather; call the tool.',
      signature: 'sig_abc123==',
    },
    { type: 'text' as const, text: 'Let me check the weather in Paris and in Rome for you.' },
    {
      type: 'tool_use' as const,
      id: 'toolu_a',
      name: 'get_weather',
      input: { location: 'Paris', unit: 'celsius' },
    },
    {
      type: 'tool_use' as const,
      id: 'toolu_b',
      name: 'get_weather',
      input: { location: 'Rome', nested: { list: [1, 2, 3] } },
    },
  ];

  it('stream and create give the same final message, as the script says', async () => {
    fake.script('*', () => reply.message(blocks, { stop_reason: 'tool_use', chunkSize: [1, 5] }));
    const streamed = await client.messages.stream(params).finalMessage();
    const created = await client.messages.create(params);
    expect(streamed.content).toEqual(blocks);
    expect(created.content).toEqual(blocks);
    expect(streamed.stop_reason).toBe('tool_use');
    expect(streamed.usage.input_tokens).toBeGreaterThan(0);
    expect(streamed.usage.output_tokens).toBe(created.usage.output_tokens);
  });

  it('frames SSE like the API: event lines, ping, deltas of every kind, message_delta, message_stop', async () => {
    fake.script('*', () => reply.message(blocks, { stop_reason: 'tool_use', chunkSize: [1, 5] }));
    const res = await fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...params, stream: true }),
    });
    const body = await res.text();
    expect(body).toMatch(/^event: message_start\ndata: \{/);
    const events = parseSse(body);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('message_start');
    expect(names).toContain('ping');
    expect(names.slice(-2)).toEqual(['message_delta', 'message_stop']);
    const deltaTypes = new Set(
      events
        .filter((e) => e.event === 'content_block_delta')
        .map((e) => (e.data.delta as { type: string }).type),
    );
    expect([...deltaTypes].sort()).toEqual([
      'input_json_delta',
      'signature_delta',
      'text_delta',
      'thinking_delta',
    ]);
    for (const e of events) expect(e.event).toBe(e.data.type);
    const json = events
      .filter((e) => e.event === 'content_block_delta' && e.data.index === 2)
      .map((e) => (e.data.delta as { partial_json: string }).partial_json);
    expect(json[0]).toBe('');
    expect(json.length).toBeGreaterThan(3);
    expect(json.join('')).toBe(JSON.stringify(blocks[2].input));
  });

  it('carries stop_details on refusals', async () => {
    const details = { type: 'refusal', category: 'cyber', explanation: 'Not allowed.' };
    fake.script('*', () =>
      reply.stop('refusal', [{ type: 'text', text: 'I can' }], { stop_details: details }),
    );
    const m = await client.messages.stream(params).finalMessage();
    expect(m.stop_reason).toBe('refusal');
    expect(m.stop_details).toEqual(details);
  });

  it('streams raw, invalid tool input verbatim (fine-grained tool streaming)', async () => {
    fake.script('*', () =>
      reply.toolUse(
        { name: 'save_article', rawInput: '{"abstract": "Durable agents are' },
        { stop_reason: 'max_tokens' },
      ),
    );
    const stream = client.messages.stream(params);
    let raw = '';
    stream.on('inputJson', (partial) => {
      raw += partial;
    });
    const m = await stream.finalMessage();
    expect(raw).toBe('{"abstract": "Durable agents are');
    expect(m.stop_reason).toBe('max_tokens');
  });

  it('answers queued replies per conversation, in order, and records requests', async () => {
    fake.script('conv-a', [reply.text('first a'), reply.text('second a')]);
    fake.script('conv-b', [reply.text('only b')]);
    const ask = (conversation: string) =>
      client.messages.create(params, { headers: { [CONVERSATION_ID_HEADER]: conversation } });
    expect((await ask('conv-a')).content).toEqual([{ type: 'text', text: 'first a' }]);
    expect((await ask('conv-b')).content).toEqual([{ type: 'text', text: 'only b' }]);
    expect((await ask('conv-a')).content).toEqual([{ type: 'text', text: 'second a' }]);
    await expect(ask('conv-a')).rejects.toThrow(/conversation 'conv-a' has no reply left \(request #3\)/);
    await expect(ask('conv-c')).rejects.toThrow(/conversation 'conv-c' is not scripted/);
    expect(fake.requestsFor('conv-a').map((r) => r.index)).toEqual([1, 2, 3]);
    // SDK 1.11 sends a newer version than the long-standing 2023-06-01; both reach the fake.
    expect(fake.requestsFor('conv-a')[0].headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('counts tokens', async () => {
    const { input_tokens } = await client.messages.countTokens({
      model: params.model,
      messages: params.messages,
    });
    expect(input_tokens).toBeGreaterThan(0);
    const beta = await client.beta.messages.countTokens({ model: params.model, messages: params.messages });
    expect(beta.input_tokens).toBe(input_tokens);
  });

  it('answers with demo behaviour when asked to', async () => {
    const demo = await FakeClaude.start({ fallback: 'demo' });
    try {
      const c = new Anthropic({ apiKey: 'x', baseURL: demo.url, maxRetries: 0 });
      const tools = [
        {
          name: 'get_weather',
          description: 'Current weather for a city',
          input_schema: {
            type: 'object' as const,
            properties: { location: { type: 'string' } },
            required: ['location'],
          },
        },
      ];
      const first = await c.messages
        .stream({ ...params, tools, messages: [{ role: 'user', content: 'Weather in Oslo?' }] })
        .finalMessage();
      expect(first.stop_reason).toBe('tool_use');
      const call = first.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock;
      expect(call.input).toEqual({ location: expect.any(String) });
      const second = await c.messages.create({
        ...params,
        tools,
        messages: [
          { role: 'user', content: 'Weather in Oslo?' },
          { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '4°C, rain' }] },
        ],
      });
      expect(second.stop_reason).toBe('end_turn');
      expect(JSON.stringify(second.content)).toContain('4°C, rain');
    } finally {
      await demo.close();
    }
  });
});

describe('message threads (SDK 1.11 tool runner and thread())', () => {
  it("the SDK's tool runner runs a tool loop over a thread; the fake rebuilds every whole request", async () => {
    fake.script('*', (request) => {
      const last = request.body.messages.at(-1)!;
      const answered = Array.isArray(last.content) && last.content.some((b) => b.type === 'tool_result');
      return answered
        ? reply.text('Sunny in Paris.')
        : reply.toolUse({ name: 'get_weather', input: { location: 'Paris' } });
    });
    const ran: unknown[] = [];
    const weather = betaZodTool({
      name: 'get_weather',
      description: 'Weather',
      inputSchema: z.object({ location: z.string() }),
      run: async (input) => {
        ran.push(input);
        return '18 degrees';
      },
    });
    const final = await client.beta.messages
      .toolRunner({
        model: params.model,
        max_tokens: 256,
        messages: [{ role: 'user', content: 'Weather?' }],
        tools: [weather],
      })
      .runUntilDone();
    expect(final.content).toEqual([{ type: 'text', text: 'Sunny in Paris.' }]);
    expect(ran).toEqual([{ location: 'Paris' }]);
    const [first, second] = fake.requests;
    expect(first.body.messages).toHaveLength(1);
    // The second request sent only the tool result; the fake rebuilt the whole transcript and the tools.
    expect(second.body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(second.body.tools?.map((t) => (t as { name?: string }).name)).toEqual(['get_weather']);
    expect(second.invalid).toBeUndefined();
  });

  it('client.beta.messages.thread() sends only new messages; an unknown thread message is thread_not_found', async () => {
    fake.script('*', [reply.text('Hello!'), reply.text('Fine, thanks.')]);
    const thread = client.beta.messages.thread({ model: params.model, max_tokens: 256 });
    await thread.send({ role: 'user', content: 'Hello' });
    const second = await thread.send({ role: 'user', content: 'How are you?' });
    expect(second.content).toEqual([{ type: 'text', text: 'Fine, thanks.' }]);
    expect(fake.requests[1].body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    const res = await fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: params.model,
        max_tokens: 10,
        messages: [{ role: 'user', content: 'x' }],
        thread: { type: 'continue', previous_message_id: 'msg_nope' },
      }),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({
      error: { type: 'not_found_error', details: { error_code: 'thread_not_found' } },
    });
  });
});

describe('faults surface as the SDK own errors', () => {
  it.each([
    [400, 'invalid_request_error', Anthropic.BadRequestError],
    [401, 'authentication_error', Anthropic.AuthenticationError],
    [403, 'permission_error', Anthropic.PermissionDeniedError],
    [404, 'not_found_error', Anthropic.NotFoundError],
    [413, 'request_too_large', Anthropic.APIError],
    [429, 'rate_limit_error', Anthropic.RateLimitError],
    [500, 'api_error', Anthropic.InternalServerError],
    [529, 'overloaded_error', Anthropic.APIError],
  ])('%i %s', async (status, type, ErrorClass) => {
    fake.script('*', () => reply.httpError(status, { 'retry-after': '7', 'retry-after-ms': '6500' }));
    const err = (await client.messages
      .stream(params)
      .finalMessage()
      .catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(ErrorClass);
    expect(err.status).toBe(status);
    expect(err.type).toBe(type);
    expect(err.requestID).toMatch(/^req_/);
    expect(err.headers?.get('retry-after')).toBe('7');
    expect(err.headers?.get('retry-after-ms')).toBe('6500');
    expect(err.error).toMatchObject({ type: 'error', error: { type }, request_id: err.requestID });
  });

  it('an error event mid-stream throws an APIError without status', async () => {
    fake.script('*', () =>
      reply.streamError(reply.text('Hello there, this is a long answer', { chunkSize: 2 }), 6),
    );
    const stream = client.messages.stream(params);
    let text = '';
    stream.on('text', (t) => {
      text += t;
    });
    const err = (await stream.finalMessage().catch((e: unknown) => e)) as InstanceType<
      typeof Anthropic.APIError
    >;
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.status).toBeUndefined();
    expect(err.error).toMatchObject({ error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect(text.length).toBeGreaterThan(0);
  });

  it('a connection dropped mid-stream makes the stream fail', async () => {
    fake.script('*', () =>
      reply.dropConnection(reply.text('Hello there, this is a long answer', { chunkSize: 2 }), 6),
    );
    await expect(client.messages.stream(params).finalMessage()).rejects.toThrow();
  });

  it('holds the first byte and spaces events when told to', async () => {
    fake.script('*', () => ({
      ...reply.text('abcd', { chunkSize: 1 }),
      latency: { firstByteMs: 150, betweenEventsMs: 20 },
    }));
    const started = Date.now();
    const stream = client.messages.stream(params);
    const firstEventAt = new Promise<number>((resolve) =>
      stream.once('streamEvent', () => resolve(Date.now())),
    );
    await stream.finalMessage();
    expect((await firstEventAt) - started).toBeGreaterThanOrEqual(145);
    // 4 text deltas + 5 other events, 20 ms apart.
    expect(Date.now() - started).toBeGreaterThanOrEqual(150 + 8 * 20 - 10);
  });

  it('rejects a request the API would reject, with its message', async () => {
    const err = (await client.messages
      .create({ ...params, messages: [{ role: 'assistant', content: 'Hi' }] })
      .catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error).toMatchObject({
      error: { message: 'messages: first message must use the "user" role' },
    });
    expect(fake.requests.at(-1)!.invalid).toMatch(/user/);
  });

  it('answers 401 when it holds an API key and the request has another', async () => {
    fake.apiKey = 'right-key';
    try {
      await expect(client.messages.create(params)).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    } finally {
      fake.apiKey = undefined;
    }
  });
});
