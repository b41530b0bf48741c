/**
 * The agent loop on a real Temporal dev server, talking HTTP to the fake Messages API (which validates
 * every request like the API does: a malformed transcript fails these tests).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { INVALID_INPUT_KEY } from '../../src/api/activity-contract';
import { endUpdate, sendMessageUpdate, stateQuery, type MessageParam } from '../../src/api/conversation';
import { reply, type RecordedRequest } from '../../src/testing/fake-claude';
import { defineTool } from '../../src/tools/define-tool';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { haveSharedFixtures, sharedFixture } from '../support/fixtures';
import { expectRefused } from '../support/updates';

type Block = Record<string, unknown>;
const blocks = (m: MessageParam | undefined): Block[] =>
  typeof m?.content === 'string'
    ? [{ type: 'text', text: m.content }]
    : ((m?.content ?? []) as unknown as Block[]);
const lastMessages = (r: RecordedRequest) => r.body.messages;
const itWithFixtures = haveSharedFixtures ? it : it.skip;

const spans = new Map<string, { start: number; end: number }>();
const slowEcho = defineTool({
  name: 'slow_echo',
  description: 'Echoes text after a delay',
  input: z.object({ text: z.string(), ms: z.number().int() }),
  effect: 'read',
  run: async ({ text, ms }, ctx) => {
    const start = Date.now();
    await sleep(ms);
    spans.set(ctx.toolUseId, { start, end: Date.now() });
    return `echo: ${text}`;
  },
});
const alwaysFails = defineTool({
  name: 'always_fails',
  description: 'Fails',
  input: z.object({}),
  effect: 'read',
  run: async () => {
    throw new Error('disk on fire');
  },
});
const makeFileCalls: unknown[] = [];
const makeFile = defineTool({
  name: 'make_file',
  description: 'Writes a file',
  input: z.object({ filename: z.string(), lines_of_text: z.array(z.string()) }),
  effect: 'read',
  run: async (input) => {
    makeFileCalls.push(input);
    return 'written';
  },
});
const huge = defineTool({
  name: 'huge_output',
  description: 'Returns a lot',
  input: z.object({}),
  effect: 'read',
  run: async () => 'x'.repeat(250_000),
});

let t: AgentEnv;
beforeAll(async () => {
  t = await startAgentEnv({ tools: [slowEcho, alwaysFails, makeFile, huge] });
});
afterAll(async () => {
  await t?.teardown();
});

describe('stop reasons', () => {
  it('end_turn: a single-turn run answers and completes', async () => {
    const handle = await t.start({ message: 'Hello', singleTurn: true });
    t.fake.script(handle.workflowId, [reply.text('Hi there!')]);
    const result = await handle.result();
    expect(result).toMatchObject({
      status: 'completed',
      endReason: 'single turn done',
      turns: 1,
      lastText: 'Hi there!',
    });
    const [request] = t.fake.requestsFor(handle.workflowId);
    // Prompt caching (on by default) marks the end of the prompt for the next call to read.
    expect(request.body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Hello', cache_control: { type: 'ephemeral' } }] },
    ]);
    expect(request.body.stream).toBe(true);
    expect(request.headers['x-stainless-retry-count']).toBe('0');
  });

  it('tool_use: runs the tool and sends its result back', async () => {
    const handle = await t.start({ message: 'Weather in Paris?', tools: ['get_weather'], singleTurn: true });
    t.fake.script(handle.workflowId, [
      reply.toolUse(
        { name: 'get_weather', input: { location: 'Paris' }, id: 'toolu_paris' },
        { text: 'Checking.' },
      ),
      reply.text('It is fine in Paris.'),
    ]);
    const result = await handle.result();
    expect(result.lastText).toBe('It is fine in Paris.');
    const requests = t.fake.requestsFor(handle.workflowId);
    expect(requests).toHaveLength(2);
    const second = lastMessages(requests[1]);
    expect(second).toHaveLength(3);
    expect(blocks(second[1]).map((b) => b.type)).toEqual(['text', 'tool_use']);
    const [toolResult] = blocks(second[2]);
    expect(toolResult).toMatchObject({ type: 'tool_result', tool_use_id: 'toolu_paris' });
    expect(toolResult.is_error).toBeUndefined();
    expect(JSON.parse(toolResult.content as string)).toMatchObject({ location: 'Paris' });
    expect(requests[0].body.tools?.[0]).toMatchObject({ name: 'get_weather', eager_input_streaming: true });
  });

  it('stop_sequence: the turn ends, the stop sequence is recorded, the conversation waits', async () => {
    const handle = await t.start({ message: 'Count', stopSequences: ['###'] });
    t.fake.script(handle.workflowId, [
      reply.text('1 2 3', { stop_reason: 'stop_sequence', stop_sequence: '###' }),
    ]);
    const state = await t.waitFor(handle, (s) => s.status === 'idle');
    expect(state.lastStop).toMatchObject({ reason: 'stop_sequence', stopSequence: '###' });
    expect(t.fake.requestsFor(handle.workflowId)[0].body.stop_sequences).toEqual(['###']);
    await handle.executeUpdate(endUpdate, { args: [{ by: 'test', reason: 'done' }] });
    expect(await handle.result()).toMatchObject({ status: 'completed', endReason: 'done' });
  });

  it('refusal: stop_details recorded, status refused, a new message can follow', async () => {
    const details = { type: 'refusal', category: 'cyber', explanation: 'Not with that.' };
    const handle = await t.start({ message: 'Do something bad' });
    t.fake.script(handle.workflowId, [
      reply.stop('refusal', [{ type: 'text', text: 'I' }], { stop_details: details }),
      reply.text('Sure, happy to help with that.'),
    ]);
    const refused = await t.waitFor(handle, (s) => s.status === 'refused');
    expect(refused.lastStop).toMatchObject({ reason: 'refusal', details });
    const { turn } = await handle.executeUpdate(sendMessageUpdate, {
      args: [{ content: 'Something nice then' }],
    });
    expect(turn).toBe(2);
    const idle = await t.waitFor(handle, (s) => s.status === 'idle');
    expect(idle.messageCount).toBe(4);
  });

  it('model_context_window_exceeded: parks with a clear reason', async () => {
    const handle = await t.start({ message: 'A long story' });
    t.fake.script(handle.workflowId, [
      reply.stop('model_context_window_exceeded', [{ type: 'text', text: 'Once upon' }]),
    ]);
    const state = await t.waitFor(handle, (s) => s.status === 'needs_attention');
    expect(state.attention).toMatchObject({ reason: 'context_window_exceeded' });
    expect(state.attention?.message).toMatch(/context window/);
    await handle.executeUpdate(endUpdate, { args: [{ by: 'ops' }] });
    expect(await handle.result()).toMatchObject({ status: 'completed', endReason: 'ended by ops' });
  });

  it('pause_turn: continues with the assistant content and no user message', async () => {
    const search = (n: number) => ({
      type: 'server_tool_use' as const,
      id: `srvtoolu_${n}`,
      name: 'web_search',
      input: { query: `q${n}` },
    });
    const result = (n: number) => ({
      type: 'web_search_tool_result' as const,
      tool_use_id: `srvtoolu_${n}`,
      content: [],
    });
    const handle = await t.start({
      message: 'Research',
      serverTools: [{ type: 'web_search_20260209', name: 'web_search' }],
      singleTurn: true,
    });
    t.fake.script(handle.workflowId, [
      reply.stop('pause_turn', [search(1), result(1)]),
      reply.stop('pause_turn', [search(2), result(2)]),
      reply.text('Here is what I found.'),
    ]);
    expect((await handle.result()).lastText).toBe('Here is what I found.');
    const requests = t.fake.requestsFor(handle.workflowId);
    expect(requests).toHaveLength(3);
    // With no system prompt, the end of the tools is the prefix other conversations share.
    expect(requests[0].body.tools).toEqual([
      { type: 'web_search_20260209', name: 'web_search', cache_control: { type: 'ephemeral' } },
    ]);
    // Each continuation ends with the assistant's paused content, never an extra user message.
    expect(lastMessages(requests[1]).map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(lastMessages(requests[2]).map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(blocks(lastMessages(requests[2])[1]).map((b) => b.id ?? b.tool_use_id)).toEqual([
      'srvtoolu_1',
      'srvtoolu_1',
      'srvtoolu_2',
      'srvtoolu_2',
    ]);
  });

  it('pause_turn: past the cap the conversation parks visibly', async () => {
    const handle = await t.start({
      message: 'Research forever',
      serverTools: [{ type: 'web_search_20260209', name: 'web_search' }],
      limits: { maxPauseTurns: 2 },
    });
    const pause = (n: number) =>
      reply.stop('pause_turn', [
        { type: 'server_tool_use', id: `srvtoolu_p${n}`, name: 'web_search', input: { query: 'x' } },
      ]);
    t.fake.script(handle.workflowId, [pause(1), pause(2), pause(3), reply.text('Finally.')]);
    const parked = await t.waitFor(handle, (s) => s.status === 'needs_attention');
    expect(parked.attention).toMatchObject({ reason: 'pause_turn_limit' });
    expect(t.fake.requestsFor(handle.workflowId)).toHaveLength(3);
    // Resuming grants a fresh budget of continuations.
    await handle.executeUpdate(endUpdate, { args: [{ reason: 'too long' }] });
    expect(await handle.result()).toMatchObject({ status: 'completed', endReason: 'too long' });
  });

  it('max_tokens with text only: recorded as truncated', async () => {
    const handle = await t.start({ message: 'Write an essay', maxTokens: 10, singleTurn: true });
    t.fake.script(handle.workflowId, [reply.text('The essay begins and', { stop_reason: 'max_tokens' })]);
    const result = await handle.result();
    expect(result.lastText).toBe('The essay begins and');
    const state = await handle.query(stateQuery, {});
    expect(state.lastStop).toMatchObject({ reason: 'max_tokens', truncated: true });
  });

  it('max_tokens cutting a tool input: retried once larger, then never run; the model is told', async () => {
    const cut = () =>
      reply.toolUse(
        { name: 'make_file', rawInput: '{"filename": "a.txt", "lines_of_text": ["one", "tw' },
        { stop_reason: 'max_tokens' },
      );
    const handle = await t.start({
      message: 'Make a file',
      tools: ['make_file'],
      maxTokens: 100,
      singleTurn: true,
    });
    t.fake.script(handle.workflowId, [cut(), cut(), reply.text('I will keep it shorter next time.')]);
    await handle.result();
    expect(makeFileCalls).toHaveLength(0);
    const requests = t.fake.requestsFor(handle.workflowId);
    expect(requests.map((r) => r.body.max_tokens)).toEqual([100, 200, 200]);
    const [, assistant, user] = lastMessages(requests[2]);
    expect(blocks(assistant)[0]).toMatchObject({
      type: 'tool_use',
      name: 'make_file',
      input: { [INVALID_INPUT_KEY]: '{"filename": "a.txt", "lines_of_text": ["one", "tw' },
    });
    expect(blocks(user)[0]).toMatchObject({ type: 'tool_result', is_error: true });
    expect(blocks(user)[0].content).toMatch(/cut off.*max_tokens \(200\).*not run/);
  });
});

describe('tools', () => {
  it('runs three calls concurrently and answers them in one message, in call order', async () => {
    const handle = await t.start({ message: 'Three echoes', tools: ['slow_echo'], singleTurn: true });
    const calls = ['a', 'b', 'c'].map((text) => ({
      name: 'slow_echo',
      input: { text, ms: 800 },
      id: `toolu_echo_${text}_${handle.workflowId.slice(-6)}`,
    }));
    t.fake.script(handle.workflowId, [reply.toolUse(calls), reply.text('All echoed.')]);
    await handle.result();
    const [a, b, c] = calls.map((call) => spans.get(call.id)!);
    // Overlap: each started before any other ended.
    const latestStart = Math.max(a.start, b.start, c.start);
    const earliestEnd = Math.min(a.end, b.end, c.end);
    expect(latestStart).toBeLessThan(earliestEnd);
    const results = blocks(lastMessages(t.fake.requestsFor(handle.workflowId)[1])[2]);
    expect(results.map((r) => r.tool_use_id)).toEqual(calls.map((call) => call.id));
    expect(results.map((r) => r.content)).toEqual(['echo: a', 'echo: b', 'echo: c']);
  });

  it('an unknown tool, invalid input and a throwing tool become is_error results', async () => {
    const handle = await t.start({
      message: 'Try things',
      tools: ['get_weather', 'always_fails'],
      singleTurn: true,
    });
    t.fake.script(handle.workflowId, [
      reply.toolUse([
        { name: 'teleport', input: { to: 'Mars' }, id: 'toolu_unknown' },
        { name: 'get_weather', input: { location: 42 }, id: 'toolu_invalid' },
        { name: 'always_fails', input: {}, id: 'toolu_fails' },
      ]),
      reply.text('Nothing worked.'),
    ]);
    expect((await handle.result()).status).toBe('completed');
    const results = blocks(lastMessages(t.fake.requestsFor(handle.workflowId)[1])[2]);
    expect(results.map((r) => r.is_error)).toEqual([true, true, true]);
    expect(results[0].content).toMatch(/Unknown tool "teleport"/);
    expect(results[1].content).toMatch(/Invalid input for get_weather: location: /);
    expect(results[2].content).toBe('Tool always_fails failed: disk on fire');
  });

  it('caps a huge tool output and tells the model', async () => {
    const handle = await t.start({ message: 'Big', tools: ['huge_output'], singleTurn: true });
    t.fake.script(handle.workflowId, [reply.toolUse({ name: 'huge_output', input: {} }), reply.text('ok')]);
    await handle.result();
    const content = blocks(lastMessages(t.fake.requestsFor(handle.workflowId)[1])[2])[0].content as string;
    expect(content.length).toBeLessThan(100_200);
    expect(content).toMatch(/\[output truncated: 150000 characters omitted/);
  });

  it('a forced tool_choice applies once, then the model answers freely', async () => {
    const handle = await t.start({
      message: 'Weather?',
      tools: ['get_weather'],
      toolChoice: { type: 'tool', name: 'get_weather' },
      singleTurn: true,
    });
    t.fake.script(handle.workflowId, [
      reply.toolUse({ name: 'get_weather', input: { location: 'Oslo' } }),
      reply.text('Rainy.'),
    ]);
    await handle.result();
    expect(t.fake.requestsFor(handle.workflowId).map((r) => r.body.tool_choice)).toEqual([
      { type: 'tool', name: 'get_weather' },
      { type: 'auto' },
    ]);
  });

  it('an unknown tool name in the configuration parks the conversation', async () => {
    const handle = await t.start({ message: 'Hi', tools: ['no_such_tool'] });
    const state = await t.waitFor(handle, (s) => s.status === 'needs_attention');
    expect(state.attention).toMatchObject({ reason: 'configuration', errorType: 'AgentConfigurationError' });
    expect(state.attention?.message).toMatch(/unknown tool no_such_tool/);
    expect(t.fake.requestsFor(handle.workflowId)).toHaveLength(0);
    await handle.executeUpdate(endUpdate, { args: [{}] });
  });
});

describe('the shared fixtures through the whole workflow', () => {
  itWithFixtures('basic_response.sse', async () => {
    const handle = await t.start({ message: 'Hi', singleTurn: true });
    t.fake.script(handle.workflowId, [reply.fixture(sharedFixture('basic_response.sse'))]);
    expect((await handle.result()).lastText).toBe('Hello there!');
  });

  itWithFixtures('tool_use_response.sse: the tool runs with the streamed input', async () => {
    const handle = await t.start({ message: 'Weather in Paris?', tools: ['get_weather'], singleTurn: true });
    t.fake.script(handle.workflowId, [
      reply.fixture(sharedFixture('tool_use_response.sse')),
      reply.text('Done.'),
    ]);
    await handle.result();
    const [, assistant, user] = lastMessages(t.fake.requestsFor(handle.workflowId)[1]);
    expect(blocks(assistant)[1]).toEqual({
      type: 'tool_use',
      id: 'toolu_01NRLabsLyVHZPKxbKvkfSMn',
      name: 'get_weather',
      input: { location: 'Paris' },
    });
    expect(JSON.parse(blocks(user)[0].content as string)).toMatchObject({ location: 'Paris' });
  });

  itWithFixtures('incomplete_partial_json_response.sse: the truncated tool never runs', async () => {
    const before = makeFileCalls.length;
    const handle = await t.start({ message: 'Tax guide', tools: ['make_file'], singleTurn: true });
    const fixture = reply.fixture(sharedFixture('incomplete_partial_json_response.sse'));
    t.fake.script(handle.workflowId, [fixture, fixture, reply.text('Sorry, too long.')]);
    await handle.result();
    expect(makeFileCalls.length).toBe(before);
    const [, assistant, user] = lastMessages(t.fake.requestsFor(handle.workflowId)[2]);
    expect((blocks(assistant)[1].input as Record<string, string>)[INVALID_INPUT_KEY]).toMatch(
      /"Filing taxes$/,
    );
    expect(blocks(user)[0]).toMatchObject({
      type: 'tool_result',
      tool_use_id: 'toolu_01EKqbqmZrGRXy18eN7m9kvY',
      is_error: true,
    });
  });

  itWithFixtures(
    'server_tool_web_search_refusal.sse: server blocks kept verbatim, refusal visible',
    async () => {
      const handle = await t.start({
        message: 'Eclipses?',
        serverTools: [{ type: 'web_search_20260209', name: 'web_search' }],
      });
      t.fake.script(handle.workflowId, [reply.fixture(sharedFixture('server_tool_web_search_refusal.sse'))]);
      const state = await t.waitFor(handle, (s) => s.status === 'refused');
      expect(state.lastStop?.details).toMatchObject({ type: 'refusal' });
      expect(blocks(state.messages[1]).map((b) => b.type)).toEqual([
        'server_tool_use',
        'web_search_tool_result',
        'text',
      ]);
      expect(blocks(state.messages[1])[0]).toMatchObject({
        id: 'srvtoolu_fixture_a_0001',
        input: { query: 'solar eclipse viewing safety news 2026' },
      });
      await handle.executeUpdate(endUpdate, { args: [{}] });
    },
  );
});

describe('conversation lifecycle', () => {
  it('multi-turn: messages queue as turns, usage adds up, the state shows the transcript', async () => {
    const handle = await t.start({ message: 'One' });
    t.fake.script(handle.workflowId, [reply.text('First.'), reply.text('Second.'), reply.text('Third.')]);
    await t.waitFor(handle, (s) => s.status === 'idle');
    const second = await handle.executeUpdate(sendMessageUpdate, { args: [{ content: 'Two' }] });
    const third = await handle.executeUpdate(sendMessageUpdate, {
      args: [{ content: [{ type: 'text', text: 'Three' }] }],
    });
    expect([second.turn, third.turn]).toEqual([2, 3]);
    const state = await t.waitFor(handle, (s) => s.status === 'idle' && s.messageCount === 6);
    expect(state.turn).toBe(3);
    expect(state.usage.calls).toBe(3);
    expect(state.usage.inputTokens).toBeGreaterThan(0);
    expect(state.meta.map((m) => m.turn)).toEqual([1, 1, 2, 2, 3, 3]);
    const range = await handle.query(stateQuery, { from: -2 });
    expect(range.from).toBe(4);
    expect(range.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    const third3 = t.fake.requestsFor(handle.workflowId)[2];
    expect(third3.body.messages.map((m) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
    ]);
    await handle.executeUpdate(endUpdate, { args: [{}] });
    expect(await handle.result()).toMatchObject({ turns: 3, lastText: 'Third.' });
  });

  it('sendMessage validates: empty, oversized, wrong block types, after the end', async () => {
    const handle = await t.start({ message: 'Hi', limits: { maxMessageBytes: 1000 } });
    t.fake.script(handle.workflowId, [reply.text('Hello.')]);
    await t.waitFor(handle, (s) => s.status === 'idle');
    await expectRefused(
      handle.executeUpdate(sendMessageUpdate, { args: [{ content: '' }] }),
      /must not be empty/,
    );
    await expectRefused(
      handle.executeUpdate(sendMessageUpdate, { args: [{ content: 'x'.repeat(2000) }] }),
      /too large: 2002 bytes/,
    );
    await expectRefused(
      handle.executeUpdate(sendMessageUpdate, {
        args: [{ content: [{ type: 'tool_result', tool_use_id: 'x' } as never] }],
      }),
      /not tool_result/,
    );
    await handle.executeUpdate(endUpdate, { args: [{}] });
    await handle.result();
    await expectRefused(handle.executeUpdate(sendMessageUpdate, { args: [{ content: 'late' }] }), /./);
    expect((await handle.query(stateQuery, {})).messageCount).toBe(2);
  });

  it('an idle conversation completes after the idle timeout', async () => {
    const handle = await t.start({ message: 'Hi', limits: { idleTimeoutMs: 1500 } });
    t.fake.script(handle.workflowId, [reply.text('Hello.')]);
    expect(await handle.result()).toMatchObject({ status: 'completed', endReason: 'idle timeout' });
  });

  it('keeps AgentStatus and the last activity time in search attributes', async () => {
    const handle = await t.start({ message: 'Hi' });
    t.fake.script(handle.workflowId, [reply.text('Hello.')]);
    await t.waitFor(handle, (s) => s.status === 'idle');
    const described = await handle.describe();
    expect(described.searchAttributes.AgentStatus).toEqual(['idle']);
    expect(described.searchAttributes.AgentLastActivityTime).toHaveLength(1);
    expect(described.searchAttributes.AgentModel).toEqual(['claude-sonnet-5-5']);
    await handle.executeUpdate(endUpdate, { args: [{}] });
  });
});

describe('determinism', () => {
  it('replays every history of this file against the current workflow code', async () => {
    expect(await t.replayHistories()).toBeGreaterThanOrEqual(20);
  });
});
