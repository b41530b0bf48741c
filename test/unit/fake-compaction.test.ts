/**
 * The pure parts of the fake's compaction, context window, context editing and signatures.
 */
import { describe, expect, it } from '@jest/globals';
import { Signer, canonicalJson } from '../../src/testing/fake-claude/signatures';
import {
  compactEdit,
  compactionPlacementProblem,
  compactionRequestProblem,
  signedBlocksProblem,
  summarize,
  DEFAULT_COMPACT_TRIGGER,
} from '../../src/testing/fake-claude/compaction';
import { applyContextEdits, CLEARED_TOOL_RESULT } from '../../src/testing/fake-claude/context-edits';
import { contextWindowOf, fitToWindow, promptTooLong } from '../../src/testing/fake-claude/context-window';
import { promptTokens } from '../../src/testing/fake-claude/prompt-cache';
import { validateRequest } from '../../src/testing/fake-claude/validate';

type Obj = Record<string, unknown>;
const signer = new Signer('unit-test-secret');
const block = signer.signCompaction('The user plans a trip.', [], 'summarize');
const user = (content: unknown) => ({ role: 'user', content });
const assistant = (content: unknown) => ({ role: 'assistant', content });
const body = (messages: unknown[], extra: Obj = {}): Obj => ({
  model: 'claude-sonnet-5-5',
  max_tokens: 1024,
  messages,
  ...extra,
});

describe('Signer', () => {
  it('verifies its compaction blocks and tells which field changed', () => {
    expect(signer.verifyCompaction(block)).toMatchObject({ ok: true, record: { origin: 'summarize' } });
    const verdict = (b: Obj) => signer.verifyCompaction(b as never);
    expect(verdict({ ...block, content: 'Edited.' })).toEqual({
      ok: false,
      code: 'compaction_content_mismatch',
    });
    expect(verdict({ ...block, tool_changes: undefined })).toEqual({
      ok: false,
      code: 'compaction_tool_changes_mismatch',
    });
    expect(verdict({ ...block, signature: `x${block.signature}` })).toEqual({
      ok: false,
      code: 'compaction_signature_invalid',
    });
    expect(verdict({ ...block, signature: undefined })).toEqual({
      ok: false,
      code: 'compaction_signature_invalid',
    });
    expect(verdict({ ...block, encrypted_content: `${block.encrypted_content}A` })).toEqual({
      ok: false,
      code: 'compaction_signature_invalid',
    });
    // Another secret (another fake process) did not sign it.
    expect(new Signer('other').verifyCompaction(block)).toEqual({
      ok: false,
      code: 'compaction_signature_invalid',
    });
  });

  it('ignores key order in tool_changes', () => {
    const changes = [{ type: 'tool_removal', tool: { type: 'tool_reference', name: 'x' } }];
    const signed = signer.signCompaction('S.', changes, 'compact_20260112');
    const reordered = [{ tool: { name: 'x', type: 'tool_reference' }, type: 'tool_removal' }];
    expect(signer.verifyCompaction({ ...signed, tool_changes: reordered }).ok).toBe(true);
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe('{"a":[1,{"c":3,"d":2}],"b":1}');
  });

  it('binds thinking signatures to their text, scripted ones included', () => {
    const sig = signer.signThinking('Hmm.');
    expect(signer.verifyThinking('Hmm.', sig)).toBe(true);
    expect(signer.verifyThinking('Hmm!', sig)).toBe(false);
    expect(signer.verifyThinking('Hmm.', 'sig')).toBe(false);
    signer.rememberThinking('Scripted.', 'sig');
    expect(signer.verifyThinking('Scripted.', 'sig')).toBe(true);
    expect(signer.verifyThinking('Other.', 'sig')).toBe(false);
  });

  it('accepts redacted data it issued only', () => {
    expect(signer.verifyRedacted(signer.redactedData())).toBe(true);
    expect(signer.verifyRedacted('made.up')).toBe(false);
    signer.rememberRedacted('scripted-data');
    expect(signer.verifyRedacted('scripted-data')).toBe(true);
  });
});

describe('compaction rules', () => {
  it('places a block with content first in the first message, never in a system message', () => {
    expect(compactionPlacementProblem(body([assistant([block]), user('Hi')]))).toBeUndefined();
    expect(compactionPlacementProblem(body([user('Hi'), assistant([block])]))).toEqual({
      message: expect.stringMatching(
        /^messages\.1\.content\.0: a `compaction` block must be the first block/,
      ),
      errorCode: 'compaction_block_misplaced',
    });
    expect(compactionPlacementProblem(body([assistant([{ type: 'text', text: 'a' }, block])]))).toMatchObject(
      {
        errorCode: 'compaction_block_misplaced',
      },
    );
    expect(compactionPlacementProblem(body([{ role: 'system', content: [block] }]))).toMatchObject({
      errorCode: 'compaction_block_misplaced',
    });
    expect(
      compactionPlacementProblem(body([assistant([block]), user('Hi'), assistant([block])])),
    ).toMatchObject({
      errorCode: 'compaction_block_ambiguous',
    });
    // Failed compactions (content null) are no-ops wherever they are.
    const noOp = { type: 'compaction', content: null, encrypted_content: null };
    expect(
      compactionPlacementProblem(body([assistant([block]), user('Hi'), assistant([noOp])])),
    ).toBeUndefined();
  });

  it('refuses compaction requests that cannot be compacted', () => {
    const compaction = { compaction: { type: 'summarize' } };
    expect(compactionRequestProblem(body([user('Hi')], compaction))).toBeUndefined();
    expect(
      compactionRequestProblem(body([user('Hi')], { ...compaction, context_management: { edits: [] } })),
    ).toMatchObject({ message: expect.stringContaining('`context_management`') });
    expect(
      compactionRequestProblem(body([assistant([{ type: 'compaction', content: null }])], compaction)),
    ).toMatchObject({ errorCode: 'compaction_nothing_to_summarize' });
    const call = { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} };
    expect(compactionRequestProblem(body([user('Hi'), assistant([call])], compaction))).toMatchObject({
      errorCode: 'compaction_incomplete_turn',
      message: expect.stringContaining('toolu_1'),
    });
    const answered = [user('Hi'), assistant([call]), user([{ type: 'tool_result', tool_use_id: 'toolu_1' }])];
    expect(compactionRequestProblem(body(answered, compaction))).toBeUndefined();
  });

  it('checks signed blocks against the signer', () => {
    expect(signedBlocksProblem(body([assistant([block])]), signer)).toBeUndefined();
    expect(signedBlocksProblem(body([assistant([{ ...block, content: 'x' }])]), signer)).toMatchObject({
      errorCode: 'compaction_content_mismatch',
    });
    const thinking = { type: 'thinking', thinking: 'Hm.', signature: 'forged' };
    expect(
      signedBlocksProblem(body([user('Hi'), assistant([thinking, { type: 'text', text: 'a' }])]), signer),
    ).toEqual({
      message: 'messages.1.content.0: Invalid `signature` in `thinking` block',
    });
    const compactEdits = { context_management: { edits: [{ type: 'compact_20260112' }] } };
    expect(signedBlocksProblem(body([assistant([block])], compactEdits), signer)?.message).toContain(
      'cannot be sent with a `compact_20260112` edit',
    );
  });

  it('validates a conversation opened by a compaction message, even in strict alternation', () => {
    const answer = assistant([{ type: 'text', text: 'And then...' }]);
    expect(validateRequest(body([assistant([block])]), 'messages')).toEqual({ ok: true });
    expect(validateRequest(body([assistant([block]), answer, user('Go on.')]), 'messages')).toEqual({
      ok: true,
    });
    expect(validateRequest(body([assistant([block]), answer, answer]), 'messages')).toMatchObject({
      ok: false,
      message: expect.stringContaining('roles must alternate'),
    });
    expect(validateRequest(body([answer, user('Hi')]), 'messages')).toMatchObject({
      message: 'messages: first message must use the "user" role',
    });
    expect(validateRequest(body([user('Hi'), assistant([block])]), 'count_tokens')).toMatchObject({
      errorCode: 'compaction_block_misplaced',
    });
    expect(validateRequest(body([assistant([{ ...block, content: '' }])]), 'messages')).toMatchObject({
      message: 'messages.0.content.0.compaction.content: String should have at least 1 character',
    });
    // Signatures are checked only with a signer (the pure validator accepts any).
    expect(validateRequest(body([assistant([{ ...block, signature: 'x' }])]), 'messages')).toEqual({
      ok: true,
    });
    expect(
      validateRequest(body([assistant([{ ...block, signature: 'x' }])]), 'messages', { signer }),
    ).toMatchObject({
      errorCode: 'compaction_signature_invalid',
    });
  });

  it('checks the compaction and context_management parameters', () => {
    expect(validateRequest(body([user('Hi')], { compaction: { type: 'now' } }), 'messages')).toMatchObject({
      message: expect.stringContaining("compaction: Input tag 'now'"),
    });
    const edits = (e: unknown[]) => body([user('Hi')], { context_management: { edits: e } });
    expect(validateRequest(edits([{ type: 'clear_everything' }]), 'messages')).toMatchObject({ ok: false });
    expect(
      validateRequest(
        edits([{ type: 'clear_tool_uses_20250919' }, { type: 'clear_thinking_20251015' }]),
        'messages',
      ),
    ).toMatchObject({ message: expect.stringContaining('must come first') });
    expect(validateRequest(edits([{ type: 'clear_thinking_20251015', keep: 'all' }]), 'messages')).toEqual({
      ok: true,
    });
  });

  it('reads a compact_20260112 edit with its defaults', () => {
    expect(compactEdit(body([]))).toBeUndefined();
    expect(compactEdit(body([], { context_management: { edits: [{ type: 'compact_20260112' }] } }))).toEqual({
      trigger: DEFAULT_COMPACT_TRIGGER,
      pause: false,
      instructions: null,
    });
  });
});

describe('summarize', () => {
  it('is deterministic, short, and quotes the last user texts', () => {
    const long = 'a'.repeat(500);
    const messages = [
      user('one'),
      assistant('ok'),
      user('two'),
      user([{ type: 'text', text: long }]),
      user('four'),
    ];
    const summary = summarize(messages, 1234);
    expect(summary).toBe(summarize(messages, 1234));
    expect(summary).toBe(
      `Summary of 5 messages (1234 tokens): user: two | user: ${'a'.repeat(120)}… | user: four`,
    );
    expect(summarize([user('x')], 1, 'Be brief.')).toContain('[custom instructions]');
    expect(summarize([user('x')], 1, '   ')).not.toContain('[custom instructions]');
    expect(summarize([assistant([block]), user('next')], 9)).toContain('earlier: The user plans a trip.');
  });
});

describe('counting', () => {
  it('counts a compaction block as its summary only', () => {
    const withBlock = promptTokens(body([assistant([block])]));
    expect(withBlock).toBe(Math.ceil(block.content.length / 4));
    expect(promptTokens(body([assistant([{ type: 'compaction', content: null }]), user('Hi')]))).toBe(
      promptTokens(body([user('Hi')])),
    );
  });
});

describe('context window', () => {
  it('chooses the window and words the refusal like the API', () => {
    expect(contextWindowOf(undefined, 'm')).toBe(200_000);
    expect(contextWindowOf(1000, 'm')).toBe(1000);
    expect(contextWindowOf((m) => (m === 'big' ? 1_000_000 : 5), 'big')).toBe(1_000_000);
    expect(promptTooLong(10, 10)).toBeUndefined();
    expect(promptTooLong(11, 10)).toBe('prompt is too long: 11 tokens > 10 maximum');
  });

  it('cuts text where the budget ends and drops an unfinished tool call', () => {
    const content = [
      { type: 'text' as const, text: 'abcdefghij'.repeat(10) },
      { type: 'tool_use' as const, id: 'toolu_1', name: 'f', input: {} },
    ];
    const cut = fitToWindow(content, 10);
    expect(cut).toEqual([{ type: 'text', text: expect.any(String) }]);
    expect(JSON.stringify(cut).length).toBeLessThanOrEqual(40);
    expect(fitToWindow(content, 1000)).toEqual(content);
    expect(fitToWindow(content, 0)).toEqual([]);
    // The whole text fits, the call does not.
    expect(fitToWindow(content, 40)).toEqual([content[0]]);
  });
});

describe('context edits', () => {
  const turns = (n: number): unknown[] => {
    const messages: unknown[] = [user('Go.')];
    for (let i = 0; i < n; i++) {
      messages.push(
        assistant([{ type: 'tool_use', id: `t${i}`, name: i % 2 ? 'odd' : 'even', input: { i } }]),
      );
      messages.push(user([{ type: 'tool_result', tool_use_id: `t${i}`, content: 'data '.repeat(50) }]));
    }
    return messages;
  };
  const edit = (e: Obj) =>
    body(turns(5), { context_management: { edits: [{ type: 'clear_tool_uses_20250919', ...e }] } });

  it('clears the oldest tool results once triggered, keeping and excluding as told', () => {
    const { body: edited, applied } = applyContextEdits(
      edit({
        trigger: { type: 'input_tokens', value: 10 },
        keep: { type: 'tool_uses', value: 1 },
        exclude_tools: ['odd'],
      }),
    );
    expect(applied).toEqual([
      { type: 'clear_tool_uses_20250919', cleared_tool_uses: 2, cleared_input_tokens: expect.any(Number) },
    ]);
    const results = (edited.messages as Obj[])
      .flatMap((m) => (Array.isArray(m.content) ? (m.content as Obj[]) : []))
      .filter((b) => b.type === 'tool_result')
      .map((b) => b.content === CLEARED_TOOL_RESULT);
    expect(results).toEqual([true, false, true, false, false]);
    expect(promptTokens(edited)).toBe(promptTokens(edit({})) - applied[0].cleared_input_tokens);
  });

  it('leaves the context alone below the trigger or when too little would be cleared', () => {
    expect(applyContextEdits(edit({})).applied).toEqual([]); // default trigger: 100000 tokens
    expect(
      applyContextEdits(
        edit({
          trigger: { type: 'tool_uses', value: 2 },
          clear_at_least: { type: 'input_tokens', value: 1e6 },
        }),
      ).applied,
    ).toEqual([]);
  });

  it('clears tool inputs when asked', () => {
    const { body: edited } = applyContextEdits(
      edit({ trigger: { type: 'tool_uses', value: 1 }, clear_tool_inputs: ['even'] }),
    );
    const inputs = (edited.messages as Obj[])
      .filter((m) => m.role === 'assistant')
      .map((m) => ((m.content as Obj[])[0] as Obj).input);
    expect(inputs).toEqual([{}, { i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }]);
  });

  it('clears thinking from all but the last turns, unless told to keep all', () => {
    const think = (t: string) =>
      assistant([
        { type: 'thinking', thinking: t, signature: 's' },
        { type: 'text', text: t },
      ]);
    const messages = [user('a'), think('one'), user('b'), think('two'), user('c'), think('three'), user('d')];
    const cleared = applyContextEdits(
      body(messages, {
        context_management: {
          edits: [{ type: 'clear_thinking_20251015', keep: { type: 'thinking_turns', value: 2 } }],
        },
      }),
    );
    expect(cleared.applied).toEqual([
      {
        type: 'clear_thinking_20251015',
        cleared_thinking_turns: 1,
        cleared_input_tokens: expect.any(Number),
      },
    ]);
    expect(((cleared.body.messages as Obj[])[1].content as Obj[]).map((b) => b.type)).toEqual(['text']);
    expect(
      applyContextEdits(
        body(messages, { context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] } }),
      ).applied,
    ).toEqual([]);
  });
});
