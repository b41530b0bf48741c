/** The fork's transcript rules, without a server: where a fork may start and what it carries. */
import { describe, expect, it } from '@jest/globals';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { forkPlan, type IndexedMessage } from '../../src/client/fork-plan';
import type { MessageMeta } from '../../src/api/conversation';

const meta = (extra: Partial<MessageMeta> = {}): MessageMeta => ({
  turn: 1,
  at: '2026-12-08T00:00:00Z',
  ...extra,
});
const user = (text: string): MessageParam => ({ role: 'user', content: text });
const answer = (text: string): MessageParam => ({ role: 'assistant', content: [{ type: 'text', text }] });
const toolCall: MessageParam = {
  role: 'assistant',
  content: [{ type: 'tool_use', id: 'toolu_1', name: 'save_article', input: {} }],
};
const toolResult: MessageParam = {
  role: 'user',
  content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'saved' }],
};
const compaction: MessageParam = {
  role: 'assistant',
  content: [{ type: 'compaction', content: 'summary' } as never],
};

/** A state holding `messages` from index `from` of a transcript of `from + messages.length`. */
function stateOf(messages: MessageParam[], from = 0, metas = messages.map(() => meta())) {
  return { from, messages, meta: metas, messageCount: from + messages.length };
}

const transcript = [user('Hi'), answer('Hello.'), user('Save it'), toolCall, toolResult, answer('Saved.')];

describe('forkPlan', () => {
  it('at a user message: answered again, as the fork’s first message', () => {
    expect(forkPlan(stateOf(transcript), [], 2)).toEqual({
      messages: [user('Hi'), answer('Hello.')],
      message: 'Save it',
    });
  });

  it('at a finished answer: waits for the message given, or for one sent later', () => {
    expect(forkPlan(stateOf(transcript), [], 5, 'And then?')).toEqual({
      messages: transcript,
      message: 'And then?',
    });
    expect(forkPlan(stateOf(transcript), [], 1)).toEqual({ messages: transcript.slice(0, 2) });
  });

  it.each([
    [3, /message 3 calls tools: fork at the user message before it/],
    [4, /message 4 holds tool results: fork at the user message before the tool round/],
  ])('inside a tool round (message %i) is refused', (at, why) => {
    expect(() => forkPlan(stateOf(transcript), [], at)).toThrow(why);
  });

  it('a user message with another message given is refused', () => {
    expect(() => forkPlan(stateOf(transcript), [], 2, 'other')).toThrow(
      /answered again: give no other message/,
    );
  });

  it.each([
    [-1, /at must be a message index, not -1/],
    [1.5, /at must be a message index, not 1.5/],
    [6, /message 6 does not exist: the conversation has 6/],
  ])('at %p is refused', (at, why) => {
    expect(() => forkPlan(stateOf(transcript), [], at)).toThrow(why);
  });

  it('starts at the last compaction before the point, as the origin’s prompt did', () => {
    const messages = [user('Old'), answer('Old answer.'), compaction, user('New'), answer('New answer.')];
    const metas = messages.map((m) =>
      m === compaction ? meta({ compaction: { trigger: 'threshold', summarized: 2 } }) : meta(),
    );
    expect(forkPlan(stateOf(messages, 0, metas), [], 4).messages).toEqual([
      compaction,
      user('New'),
      answer('New answer.'),
    ]);
    // Before the compaction: the whole transcript up to the point.
    expect(forkPlan(stateOf(messages, 0, metas), [], 1).messages).toEqual(messages.slice(0, 2));
  });

  it('takes the messages earlier runs hold when the point is before the state’s first', () => {
    const earlier: IndexedMessage[] = [
      { index: 0, message: user('Hi'), meta: meta() },
      { index: 1, message: answer('Hello.'), meta: meta() },
    ];
    const state = stateOf(transcript.slice(2), 2);
    expect(forkPlan(state, earlier, 1, 'Again')).toEqual({
      messages: transcript.slice(0, 2),
      message: 'Again',
    });
    expect(() => forkPlan(state, [], 1)).toThrow(/message 1 could not be read \(the state answered from 2\)/);
  });
});
