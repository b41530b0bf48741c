import { describe, expect, it } from '@jest/globals';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import {
  appendMessage,
  blocksOf,
  chainDigest,
  digestsOf,
  EMPTY_DIGEST,
  mergeMessages,
} from '../../src/api/transcript';

const user = (text: string): MessageParam => ({ role: 'user', content: text });
const assistant = (text: string): MessageParam => ({ role: 'assistant', content: [{ type: 'text', text }] });

describe('chainDigest', () => {
  it('is deterministic and 16 hex characters', () => {
    const a = chainDigest(EMPTY_DIGEST, user('hello'));
    const b = chainDigest(EMPTY_DIGEST, user('hello'));
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(a).not.toBe(EMPTY_DIGEST);
  });

  it('differs for different messages and for different roles', () => {
    const digests = new Set([
      chainDigest(EMPTY_DIGEST, user('hello')),
      chainDigest(EMPTY_DIGEST, user('hellp')),
      chainDigest(EMPTY_DIGEST, user('hello ')),
      chainDigest(EMPTY_DIGEST, { role: 'assistant', content: 'hello' }),
      chainDigest(EMPTY_DIGEST, { role: 'user', content: [{ type: 'text', text: 'hello' }] }),
    ]);
    expect(digests.size).toBe(5);
  });

  it('depends on the previous digest', () => {
    const m = user('same');
    expect(chainDigest(EMPTY_DIGEST, m)).not.toBe(chainDigest('0000000000000001', m));
  });

  it('changes the last digest of a chain when any earlier message changes', () => {
    const base = [user('one'), assistant('two'), user('three'), assistant('four')];
    const reference = digestsOf(base).at(-1);
    for (let i = 0; i < base.length; i++) {
      const changed = base.map((m, j) =>
        j === i ? { ...m, content: [{ type: 'text' as const, text: `changed ${j}` }] } : m,
      );
      expect(digestsOf(changed).at(-1)).not.toBe(reference);
    }
    // ...but not when nothing changed.
    expect(digestsOf(base.map((m) => structuredClone(m))).at(-1)).toBe(reference);
  });
});

describe('digestsOf', () => {
  it('is empty for no messages and chains each message onto the previous digest', () => {
    expect(digestsOf([])).toEqual([]);
    const msgs = [user('a'), assistant('b'), user('c')];
    const d = digestsOf(msgs);
    expect(d).toHaveLength(3);
    expect(d[0]).toBe(chainDigest(EMPTY_DIGEST, msgs[0]));
    expect(d[1]).toBe(chainDigest(d[0], msgs[1]));
    expect(d[2]).toBe(chainDigest(d[1], msgs[2]));
  });

  it('continues from a previous digest like the full chain does', () => {
    const msgs = [user('a'), assistant('b'), user('c'), assistant('d'), user('e')];
    const full = digestsOf(msgs);
    expect(digestsOf(msgs.slice(2), full[1])).toEqual(full.slice(2));
    expect(digestsOf(msgs.slice(4), full[3])).toEqual([full[4]]);
    // Starting from the wrong digest gives a different chain.
    expect(digestsOf(msgs.slice(2))).not.toEqual(full.slice(2));
  });
});

describe('mergeMessages', () => {
  it('merges two string contents into text blocks', () => {
    expect(mergeMessages(user('first'), user('second'))).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'first' },
        { type: 'text', text: 'second' },
      ],
    });
  });

  it('merges a string with block content, keeping the first role', () => {
    const merged = mergeMessages({ role: 'assistant', content: 'a' }, assistant('b'));
    expect(merged.role).toBe('assistant');
    expect(merged.content).toEqual([
      { type: 'text', text: 'a' },
      { type: 'text', text: 'b' },
    ]);
  });

  it('puts tool_result blocks first in a merged user message, keeping the order within each group', () => {
    const a: MessageParam = {
      role: 'user',
      content: [
        { type: 'text', text: 'note' },
        { type: 'tool_result', tool_use_id: 't1', content: 'r1' },
      ],
    };
    const b: MessageParam = {
      role: 'user',
      content: [
        { type: 'text', text: 'later' },
        { type: 'tool_result', tool_use_id: 't2', content: 'r2' },
      ],
    };
    expect(mergeMessages(a, b).content).toEqual([
      { type: 'tool_result', tool_use_id: 't1', content: 'r1' },
      { type: 'tool_result', tool_use_id: 't2', content: 'r2' },
      { type: 'text', text: 'note' },
      { type: 'text', text: 'later' },
    ]);
  });

  it('does not reorder assistant blocks', () => {
    const a: MessageParam = { role: 'assistant', content: [{ type: 'text', text: 'x' }] };
    const b: MessageParam = {
      role: 'assistant',
      content: [{ type: 'tool_use', id: 'tu', name: 'n', input: {} }],
    };
    expect(blocksOf(mergeMessages(a, b)).map((x) => x.type)).toEqual(['text', 'tool_use']);
  });

  it('does not modify its arguments', () => {
    const a = assistant('a');
    const b = assistant('b');
    const copyA = structuredClone(a);
    const copyB = structuredClone(b);
    mergeMessages(a, b);
    expect(a).toEqual(copyA);
    expect(b).toEqual(copyB);
  });
});

describe('appendMessage', () => {
  it('pushes alternating roles and returns each index', () => {
    const messages: MessageParam[] = [];
    const digests: string[] = [];
    expect(appendMessage(messages, digests, user('q1'))).toBe(0);
    expect(appendMessage(messages, digests, assistant('a1'))).toBe(1);
    expect(appendMessage(messages, digests, user('q2'))).toBe(2);
    expect(messages).toEqual([user('q1'), assistant('a1'), user('q2')]);
    expect(digests).toEqual(digestsOf(messages));
  });

  it('merges a same-role user message, tool_result blocks first, and returns the index merged into', () => {
    const messages: MessageParam[] = [];
    const digests: string[] = [];
    appendMessage(messages, digests, user('q1'));
    appendMessage(messages, digests, {
      role: 'assistant',
      content: [{ type: 'tool_use', id: 'tu1', name: 'get', input: {} }],
    });
    appendMessage(messages, digests, {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'tu1', content: 'ok' }],
    });
    const before = digests[2];
    const index = appendMessage(messages, digests, {
      role: 'user',
      content: [
        { type: 'text', text: 'also this' },
        { type: 'tool_result', tool_use_id: 'tu9', content: 'late' },
      ],
    });
    expect(index).toBe(2);
    expect(messages).toHaveLength(3);
    expect(blocksOf(messages[2]).map((b) => b.type)).toEqual(['tool_result', 'tool_result', 'text']);
    expect(digests).toHaveLength(3);
    expect(digests[2]).not.toBe(before);
    expect(digests).toEqual(digestsOf(messages));
  });

  it('concatenates a pause_turn continuation into the paused assistant message', () => {
    const messages: MessageParam[] = [];
    const digests: string[] = [];
    appendMessage(messages, digests, user('search for it'));
    appendMessage(messages, digests, {
      role: 'assistant',
      content: [
        { type: 'text', text: 'Searching' },
        { type: 'server_tool_use', id: 'srv1', name: 'web_search', input: { query: 'q' } },
      ],
    });
    const index = appendMessage(messages, digests, assistant('Found it.'));
    expect(index).toBe(1);
    expect(messages).toHaveLength(2);
    expect(messages[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'text', text: 'Searching' },
        { type: 'server_tool_use', id: 'srv1', name: 'web_search', input: { query: 'q' } },
        { type: 'text', text: 'Found it.' },
      ],
    });
    expect(digests).toEqual(digestsOf(messages));
  });

  it('merges into the very first message using the empty digest as its base', () => {
    const messages: MessageParam[] = [];
    const digests: string[] = [];
    appendMessage(messages, digests, user('a'));
    expect(appendMessage(messages, digests, user('b'))).toBe(0);
    expect(messages).toHaveLength(1);
    expect(digests).toEqual([chainDigest(EMPTY_DIGEST, messages[0])]);
  });

  it('keeps digests consistent with digestsOf over a long mixed sequence', () => {
    const messages: MessageParam[] = [];
    const digests: string[] = [];
    const roles: Array<'user' | 'assistant'> = [
      'user',
      'user',
      'assistant',
      'assistant',
      'assistant',
      'user',
      'assistant',
      'user',
      'user',
    ];
    roles.forEach((role, i) => {
      appendMessage(messages, digests, role === 'user' ? user(`u${i}`) : assistant(`a${i}`));
      expect(digests).toEqual(digestsOf(messages));
    });
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect(blocksOf(messages[1]).map((b) => (b as { text: string }).text)).toEqual(['a2', 'a3', 'a4']);
  });
});
