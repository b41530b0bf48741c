import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import { MessageAccumulator, type Accumulated } from '../../src/activities/message-accumulator';
import { parseSse } from '../../src/testing/fake-claude/sse';

const FIXTURES = path.join(__dirname, '../../../shared/fixtures/anthropic-api');

/** An `it` that runs only when the fixture exists (the shared fixtures live outside this repo). */
function withFixture(name: string, title: string, fn: (events: RawMessageStreamEvent[]) => void): void {
  const file = path.join(FIXTURES, name);
  if (!existsSync(file)) {
    it.skip(`${title} (fixture ${name} missing)`, () => {});
    console.warn(`message-accumulator.test: fixture ${file} not found, skipping`);
    return;
  }
  it(title, () =>
    fn(parseSse(readFileSync(file, 'utf8')).map((e) => e.data as unknown as RawMessageStreamEvent)),
  );
}

function accumulate(events: RawMessageStreamEvent[]): Accumulated {
  const acc = new MessageAccumulator();
  for (const e of events) acc.push(e);
  return acc.finish();
}

const ev = (e: Record<string, unknown>) => e as unknown as RawMessageStreamEvent;

const messageStart = (
  usage: Record<string, unknown> = {
    input_tokens: 10,
    cache_creation_input_tokens: 5,
    cache_read_input_tokens: 7,
    output_tokens: 1,
  },
) =>
  ev({
    type: 'message_start',
    message: {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-test',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage,
    },
  });
const blockStart = (index: number, block: Record<string, unknown>) =>
  ev({ type: 'content_block_start', index, content_block: block });
const delta = (index: number, d: Record<string, unknown>) =>
  ev({ type: 'content_block_delta', index, delta: d });
const blockStop = (index: number) => ev({ type: 'content_block_stop', index });
const messageDelta = (stop_reason: string, usage: Record<string, unknown>) =>
  ev({ type: 'message_delta', delta: { stop_reason, stop_sequence: null }, usage });
const messageStop = ev({ type: 'message_stop' });

describe('MessageAccumulator on the recorded API fixtures', () => {
  withFixture('basic_response.sse', 'basic_response: one text block', (events) => {
    const { message, rawInputs, stopped } = accumulate(events);
    expect(message.id).toBe('msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK');
    expect(message.content).toEqual([{ type: 'text', text: 'Hello there!' }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.input_tokens).toBe(11);
    expect(message.usage.output_tokens).toBe(6);
    expect(rawInputs.size).toBe(0);
    expect([...stopped]).toEqual([0]);
  });

  withFixture('tool_use_response.sse', 'tool_use_response: text then a whole tool_use input', (events) => {
    const { message, rawInputs, stopped } = accumulate(events);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toHaveLength(2);
    expect(message.content[0]).toEqual({
      type: 'text',
      text: "I'll check the current weather in Paris for you.",
    });
    expect(message.content[1]).toMatchObject({
      type: 'tool_use',
      id: 'toolu_01NRLabsLyVHZPKxbKvkfSMn',
      name: 'get_weather',
    });
    expect(rawInputs.get(1)).toBe('{"location": "Paris"}');
    expect(rawInputs.has(0)).toBe(false);
    expect(stopped.has(0)).toBe(true);
    expect(stopped.has(1)).toBe(true);
    expect(message.usage.output_tokens).toBe(65);
    expect(message.usage.input_tokens).toBe(377);
  });

  withFixture(
    'incomplete_partial_json_response.sse',
    'incomplete_partial_json_response: a tool input cut by max_tokens',
    (events) => {
      const { message, rawInputs, stopped } = accumulate(events);
      expect(message.stop_reason).toBe('max_tokens');
      const raw = rawInputs.get(1);
      expect(raw).toBeDefined();
      expect(raw!.startsWith('{"filename": "taxes.txt", "lines_of_text": [')).toBe(true);
      expect(raw!.endsWith('"Filing taxes')).toBe(true);
      expect(() => JSON.parse(raw!)).toThrow();
      expect(stopped.has(0)).toBe(true);
      expect(stopped.has(1)).toBe(false);
      expect(message.content[1]).toMatchObject({ type: 'tool_use', name: 'make_file', input: {} });
      expect(message.usage.output_tokens).toBe(124);
      expect(message.usage.input_tokens).toBe(450);
    },
  );

  withFixture(
    'server_tool_web_search_refusal.sse',
    'server_tool_web_search_refusal: a server tool, a whole result block, stop_details',
    (events) => {
      const { message, rawInputs, stopped } = accumulate(events);
      expect(message.stop_reason).toBe('refusal');
      expect(message.content[0]).toMatchObject({ type: 'server_tool_use', name: 'web_search' });
      expect(JSON.parse(rawInputs.get(0)!)).toEqual({ query: 'solar eclipse viewing safety news 2026' });
      expect(message.content[1]).toMatchObject({
        type: 'web_search_tool_result',
        tool_use_id: 'srvtoolu_fixture_a_0001',
      });
      expect(stopped.has(0)).toBe(true);
      expect((message as { stop_details?: unknown }).stop_details).not.toBeNull();
    },
  );
});

describe('MessageAccumulator strictness', () => {
  it('throws on any event before message_start', () => {
    expect(() => new MessageAccumulator().push(blockStart(0, { type: 'text', text: '' }))).toThrow(
      'content_block_start before message_start',
    );
    expect(() => new MessageAccumulator().push(delta(0, { type: 'text_delta', text: 'x' }))).toThrow(
      /before message_start/,
    );
    expect(() => new MessageAccumulator().push(messageDelta('end_turn', { output_tokens: 1 }))).toThrow(
      'message_delta before message_start',
    );
    expect(() => new MessageAccumulator().push(messageStop)).toThrow('message_stop before message_start');
  });

  it('throws on a second message_start', () => {
    const acc = new MessageAccumulator();
    acc.push(messageStart());
    expect(() => acc.push(messageStart())).toThrow('message_start received twice');
  });

  it('throws on a delta (or stop) for a block never started', () => {
    const acc = new MessageAccumulator();
    acc.push(messageStart());
    acc.push(blockStart(0, { type: 'text', text: '' }));
    expect(() => acc.push(delta(1, { type: 'text_delta', text: 'x' }))).toThrow(
      'content_block_delta for block 1 before its content_block_start',
    );
    expect(() => acc.push(blockStop(2))).toThrow(
      'content_block_stop for block 2 before its content_block_start',
    );
  });

  it('throws on a delta after its block stopped, and on a second stop', () => {
    const acc = new MessageAccumulator();
    acc.push(messageStart());
    acc.push(blockStart(0, { type: 'text', text: '' }));
    acc.push(delta(0, { type: 'text_delta', text: 'a' }));
    acc.push(blockStop(0));
    expect(() => acc.push(delta(0, { type: 'text_delta', text: 'b' }))).toThrow(
      'content_block_delta for block 0 after its content_block_stop',
    );
    expect(() => acc.push(blockStop(0))).toThrow(/after its content_block_stop/);
  });

  it('throws on a block started twice', () => {
    const acc = new MessageAccumulator();
    acc.push(messageStart());
    acc.push(blockStart(0, { type: 'text', text: '' }));
    expect(() => acc.push(blockStart(0, { type: 'text', text: '' }))).toThrow(
      'content_block_start for block 0 twice',
    );
  });

  it('throws on events after message_stop', () => {
    const acc = new MessageAccumulator();
    acc.push(messageStart());
    acc.push(messageStop);
    expect(() => acc.push(blockStart(0, { type: 'text', text: '' }))).toThrow(
      'stream event content_block_start after message_stop',
    );
  });

  it('finish() throws before message_stop (and before anything)', () => {
    expect(() => new MessageAccumulator().finish()).toThrow('the stream ended before message_stop');
    const acc = new MessageAccumulator();
    acc.push(messageStart());
    acc.push(blockStart(0, { type: 'text', text: '' }));
    acc.push(delta(0, { type: 'text_delta', text: 'partial' }));
    acc.push(messageDelta('end_turn', { output_tokens: 3 }));
    expect(() => acc.finish()).toThrow('the stream ended before message_stop');
  });

  // A stream that skips a block index must not finish with a hole in `content` (JSON: null); a
  // `map` over the sparse block list would skip the hole silently.
  it('finish() throws when a block index was skipped', () => {
    const acc = new MessageAccumulator();
    acc.push(messageStart());
    acc.push(blockStart(1, { type: 'text', text: '' }));
    acc.push(blockStop(1));
    acc.push(messageStop);
    expect(() => acc.finish()).toThrow('block 0 never started');
  });
});

describe('MessageAccumulator accumulation', () => {
  it('overwrites only the usage fields a message_delta carries', () => {
    const { message } = accumulate([
      messageStart(),
      messageDelta('end_turn', { output_tokens: 42, input_tokens: null, cache_read_input_tokens: 9 }),
      messageStop,
    ]);
    expect(message.usage).toEqual({
      input_tokens: 10,
      cache_creation_input_tokens: 5,
      cache_read_input_tokens: 9,
      output_tokens: 42,
    });
    expect(message.stop_reason).toBe('end_turn');
    expect(message.stop_sequence).toBeNull();
  });

  it('keeps the stop sequence and stop details of message_delta', () => {
    const { message } = accumulate([
      messageStart(),
      ev({
        type: 'message_delta',
        delta: { stop_reason: 'stop_sequence', stop_sequence: 'END', stop_details: { type: 'x' } },
        usage: { output_tokens: 2 },
      }),
      messageStop,
    ]);
    expect(message.stop_reason).toBe('stop_sequence');
    expect(message.stop_sequence).toBe('END');
    expect((message as { stop_details?: unknown }).stop_details).toEqual({ type: 'x' });
  });

  it('accumulates thinking deltas and keeps the signature', () => {
    const { message, rawInputs, stopped } = accumulate([
      messageStart(),
      blockStart(0, { type: 'thinking', thinking: '', signature: '' }),
      delta(0, { type: 'thinking_delta', thinking: 'Let me ' }),
      delta(0, { type: 'thinking_delta', thinking: 'think.' }),
      delta(0, { type: 'signature_delta', signature: 'sig-abc' }),
      blockStop(0),
      blockStart(1, { type: 'text', text: '' }),
      delta(1, { type: 'text_delta', text: 'Answer' }),
      blockStop(1),
      messageDelta('end_turn', { output_tokens: 5 }),
      messageStop,
    ]);
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'Let me think.', signature: 'sig-abc' },
      { type: 'text', text: 'Answer' },
    ]);
    expect(rawInputs.size).toBe(0);
    expect([...stopped].sort()).toEqual([0, 1]);
  });

  it('collects citations deltas', () => {
    const c1 = {
      type: 'char_location',
      cited_text: 'a',
      document_index: 0,
      document_title: null,
      start_char_index: 0,
      end_char_index: 1,
    };
    const c2 = { ...c1, cited_text: 'b' };
    const { message } = accumulate([
      messageStart(),
      blockStart(0, { type: 'text', text: '' }),
      delta(0, { type: 'citations_delta', citation: c1 }),
      delta(0, { type: 'text_delta', text: 'x' }),
      delta(0, { type: 'citations_delta', citation: c2 }),
      blockStop(0),
      messageStop,
    ]);
    expect(message.content[0]).toEqual({ type: 'text', text: 'x', citations: [c1, c2] });
  });

  it('keeps an empty raw input for a tool_use without deltas', () => {
    const { rawInputs } = accumulate([
      messageStart(),
      blockStart(0, { type: 'tool_use', id: 't', name: 'n', input: {} }),
      blockStop(0),
      messageStop,
    ]);
    expect(rawInputs.get(0)).toBe('');
  });

  it('ignores unknown event types and unknown delta types', () => {
    const { message } = accumulate([
      messageStart(),
      ev({ type: 'ping' }),
      ev({ type: 'some_future_event', index: 0 }),
      blockStart(0, { type: 'text', text: '' }),
      delta(0, { type: 'text_delta', text: 'hi' }),
      delta(0, { type: 'future_delta', stuff: 1 }),
      blockStop(0),
      ev({ type: 'another_future_event' }),
      messageStop,
    ]);
    expect(message.content).toEqual([{ type: 'text', text: 'hi' }]);
  });

  it('does not alter the message_start event it was given', () => {
    const start = messageStart();
    accumulate([
      start,
      blockStart(0, { type: 'text', text: '' }),
      delta(0, { type: 'text_delta', text: 'x' }),
      blockStop(0),
      messageStop,
    ]);
    expect((start as unknown as { message: { content: unknown[] } }).message.content).toEqual([]);
  });
});
