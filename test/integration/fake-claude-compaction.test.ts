/**
 * Compaction, context window, context editing and signed blocks of the fake Messages API, driven by the
 * real @anthropic-ai/sdk over HTTP: the errors surface as the SDK's own classes, the tool runner compacts
 * through the fake and carries on.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Anthropic, { APIError, BadRequestError } from '@anthropic-ai/sdk';
import { betaZodTool } from '@anthropic-ai/sdk/helpers/beta/zod';
import {
  CompactionBlockAmbiguousError,
  CompactionBlockMisplacedError,
  CompactionContentMismatchError,
  CompactionIncompleteTurnError,
  CompactionNothingToSummarizeError,
  CompactionSignatureInvalidError,
  CompactionToolChangesMismatchError,
} from '@anthropic-ai/sdk/resources/messages';
import type {
  BetaCompactionBlock,
  BetaMessage,
  BetaMessageParam,
  MessageCreateParamsNonStreaming,
} from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { z } from 'zod';
import { CONVERSATION_ID_HEADER } from '../../src/api/wire';
import { FakeClaude, promptTokens, reply } from '../../src/testing/fake-claude';

const COMPACT_BETA = 'compact-2026-09-04';
const WINDOW = 4_000;

let fake: FakeClaude;
let client: Anthropic;

beforeAll(async () => {
  fake = await FakeClaude.start({ contextWindow: (model) => (model === 'claude-small' ? WINDOW : 200_000) });
  client = new Anthropic({ apiKey: 'test-key', baseURL: fake.url, maxRetries: 0 });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

const model = 'claude-sonnet-5-5';
const conversation: BetaMessageParam[] = [
  { role: 'user', content: 'Plan a trip to Lisbon in May, three days, mostly museums and food.' },
  { role: 'assistant', content: 'Day one: Belém. Day two: Gulbenkian. Day three: Alfama.' },
  { role: 'user', content: 'Add a day trip to Sintra.' },
];

/** Compacts `messages` through the fake, not streamed. */
async function compact(messages: BetaMessageParam[], instructions?: string): Promise<BetaMessage> {
  return client.beta.messages.create({
    model,
    max_tokens: 1024,
    messages,
    compaction: { type: 'summarize', ...(instructions && { instructions }) },
    betas: [COMPACT_BETA],
  });
}

const blockOf = (message: BetaMessage): BetaCompactionBlock => message.content[0] as BetaCompactionBlock;
const afterCompaction = (block: BetaCompactionBlock, ...rest: BetaMessageParam[]): BetaMessageParam[] => [
  { role: 'assistant', content: [block] },
  ...rest,
];
const create = (messages: BetaMessageParam[], extra: Partial<MessageCreateParamsNonStreaming> = {}) =>
  client.beta.messages.create({ model, max_tokens: 1024, messages, ...extra });

/** The error a request fails with (it must fail). */
async function failure(promise: Promise<unknown>): Promise<APIError> {
  try {
    await promise;
  } catch (err) {
    return err as APIError;
  }
  throw new Error('expected the request to fail');
}

describe('compaction on demand', () => {
  it('answers with one signed compaction block, without consuming the script', async () => {
    fake.script('*', [reply.text('Sintra on day four.')]);
    const message = await compact(conversation);
    expect(message.stop_reason).toBe('compaction');
    expect(message.content).toHaveLength(1);
    const block = blockOf(message);
    expect(block).toEqual({
      type: 'compaction',
      content: expect.stringMatching(
        /^Summary of 3 messages \(\d+ tokens\): .*user: Add a day trip to Sintra\./,
      ),
      encrypted_content: expect.any(String),
      signature: expect.any(String),
      tool_changes: [],
    });
    expect(fake.pending('*')).toBe(1);
    // Compaction tokens are reported in the iterations only.
    expect(message.usage.input_tokens).toBe(0);
    expect(message.usage.output_tokens).toBe(0);
    expect(message.usage.iterations).toEqual([
      {
        type: 'compaction',
        input_tokens: promptTokens({ model, messages: conversation }),
        output_tokens: Math.ceil(block.content!.length / 4),
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      },
    ]);
    expect(fake.requests[0].headers['anthropic-beta']).toContain(COMPACT_BETA);

    // Sent back first, it replaces what it summarized; the model answers from it.
    const next = await create(afterCompaction(block, { role: 'user', content: 'And on day four?' }));
    expect(next.content).toEqual([{ type: 'text', text: 'Sintra on day four.' }]);
    const counted = await client.beta.messages.countTokens({
      model,
      messages: afterCompaction(block, { role: 'user', content: 'And on day four?' }),
    });
    expect(counted.input_tokens).toBe(
      Math.ceil(block.content!.length / 4) +
        promptTokens({ model, messages: [{ role: 'user', content: 'And on day four?' }] }),
    );
  });

  it('streams the block: signature in content_block_start, summary in one compaction_delta', async () => {
    const stream = await client.beta.messages.create({
      model,
      max_tokens: 1024,
      messages: conversation,
      compaction: { type: 'summarize', instructions: 'Keep the dates.' },
      stream: true,
    });
    const events: Anthropic.Beta.BetaRawMessageStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const start = events.find((e) => e.type === 'content_block_start');
    expect(start).toMatchObject({
      content_block: { type: 'compaction', content: null, signature: expect.any(String), tool_changes: [] },
    });
    const deltas = events.filter((e) => e.type === 'content_block_delta');
    expect(deltas).toHaveLength(1);
    expect(deltas[0]).toMatchObject({ delta: { type: 'compaction_delta', content: expect.any(String) } });

    // The SDK's accumulator puts the same block together; it verifies when sent back.
    const final = await client.beta.messages
      .stream({ model, max_tokens: 1024, messages: conversation, compaction: { type: 'summarize' } })
      .finalMessage();
    expect(final.stop_reason).toBe('compaction');
    const block = blockOf(final);
    expect(block.signature).toEqual(expect.any(String));
    fake.script('*', [reply.text('Noted.')]);
    await expect(create(afterCompaction(block))).resolves.toMatchObject({ content: [{ text: 'Noted.' }] });
  });

  it('marks custom instructions and works for a conversation opened by an earlier summary', async () => {
    const first = blockOf(await compact(conversation, 'Keep the dates.'));
    expect(first.content).toContain('[custom instructions]');
    const second = blockOf(
      await compact(afterCompaction(first, { role: 'user', content: 'Now Porto, too.' })),
    );
    expect(second.content).toMatch(
      /^Summary of 2 messages .*earlier: Summary of 3 messages.*user: Now Porto, too\./,
    );
  });

  it('refuses what cannot be compacted, with the SDK error classes', async () => {
    const withCm = await failure(
      client.beta.messages.create({
        model,
        max_tokens: 1024,
        messages: conversation,
        compaction: { type: 'summarize' },
        context_management: { edits: [{ type: 'clear_thinking_20251015' }] },
      }),
    );
    expect(withCm).toBeInstanceOf(BadRequestError);
    expect(withCm.message).toContain('cannot be combined with `context_management`');

    const nothing = await failure(
      compact([
        { role: 'assistant', content: [{ type: 'compaction', content: null, encrypted_content: null }] },
      ]),
    );
    expect(nothing).toBeInstanceOf(CompactionNothingToSummarizeError);
    expect(nothing.errorCode).toBe('compaction_nothing_to_summarize');

    const incomplete = await failure(
      compact([
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }] },
      ]),
    );
    expect(incomplete).toBeInstanceOf(CompactionIncompleteTurnError);
    expect(incomplete.errorCode).toBe('compaction_incomplete_turn');
  });
});

describe('compaction blocks sent back', () => {
  let block: BetaCompactionBlock;
  beforeAll(async () => {
    block = blockOf(await compact(conversation));
  });
  const hi: BetaMessageParam = { role: 'user', content: 'Hi' };

  it('accepts the block alone, a following assistant message, and no-op blocks', async () => {
    fake.script('*', () => reply.text('Go on.'));
    await expect(create(afterCompaction(block))).resolves.toBeDefined();
    // What the worker sends after compacting mid-turn: the summary, the answer, then the tool results.
    await expect(
      create([
        { role: 'assistant', content: [block] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_x', name: 'get_weather', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: '18 degrees' }] },
      ]),
    ).resolves.toBeDefined();
    const noOp = { type: 'compaction' as const, content: null, encrypted_content: null };
    await expect(
      create([hi, { role: 'assistant', content: [noOp, { type: 'text', text: 'Hello.' }] }, hi]),
    ).resolves.toBeDefined();
    expect(fake.requests.every((r) => r.invalid === undefined)).toBe(true);
  });

  it.each([
    [
      'misplaced (not the first block)',
      () => [hi, { role: 'assistant', content: [block] }, hi] as BetaMessageParam[],
      CompactionBlockMisplacedError,
      'compaction_block_misplaced',
    ],
    [
      'ambiguous (two blocks with content)',
      () => [{ role: 'assistant', content: [block, block] }, hi] as BetaMessageParam[],
      CompactionBlockAmbiguousError,
      'compaction_block_ambiguous',
    ],
    [
      'forged signature',
      () =>
        afterCompaction(
          { ...block, signature: block.signature!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) },
          hi,
        ),
      CompactionSignatureInvalidError,
      'compaction_signature_invalid',
    ],
    [
      'changed opaque metadata',
      () => afterCompaction({ ...block, encrypted_content: block.encrypted_content + 'x' }, hi),
      CompactionSignatureInvalidError,
      'compaction_signature_invalid',
    ],
    [
      'edited summary',
      () => afterCompaction({ ...block, content: `${block.content} And more.` }, hi),
      CompactionContentMismatchError,
      'compaction_content_mismatch',
    ],
    [
      'changed tool_changes',
      () =>
        afterCompaction(
          { ...block, tool_changes: [{ type: 'tool_removal', tool: { type: 'tool_reference', name: 'x' } }] },
          hi,
        ),
      CompactionToolChangesMismatchError,
      'compaction_tool_changes_mismatch',
    ],
  ] as const)('refuses a block %s', async (_, messages, errorClass, code) => {
    fake.script('*', () => reply.text('unreachable'));
    const err = await failure(create(messages()));
    expect(err).toBeInstanceOf(errorClass);
    expect(err.status).toBe(400);
    expect(err.errorCode).toBe(code);
    // count_tokens validates blocks the same way.
    const counted = await failure(client.beta.messages.countTokens({ model, messages: messages() }));
    expect(counted).toBeInstanceOf(errorClass);
  });

  it('refuses an empty summary', async () => {
    const err = await failure(create(afterCompaction({ ...block, content: '' }, hi)));
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.errorCode).toBeNull();
    expect(err.message).toContain(
      'messages.0.content.0.compaction.content: String should have at least 1 character',
    );
  });
});

describe('the tool runner', () => {
  it('compacts before the next turn and carries on from the summary', async () => {
    const id = 'runner-compaction';
    fake.script(id, [
      reply.toolUse({ name: 'get_weather', input: { location: 'Lisbon' } }),
      reply.text('Sunny, 24 degrees: pack light.'),
    ]);
    const weather = betaZodTool({
      name: 'get_weather',
      description: 'Weather',
      inputSchema: z.object({ location: z.string() }),
      run: async () => '24 degrees, sunny',
    });
    const runner = client.beta.messages.toolRunner(
      {
        model,
        max_tokens: 256,
        messages: [{ role: 'user', content: 'Weather in Lisbon?' }],
        tools: [weather],
      },
      { headers: { [CONVERSATION_ID_HEADER]: id, 'anthropic-beta': COMPACT_BETA } },
    );
    const seen: Array<string | null> = [];
    for await (const message of runner) {
      seen.push(message.stop_reason);
      if (seen.length === 1) runner.compactBeforeNextTurn();
    }
    expect(seen).toEqual(['tool_use', 'compaction', 'end_turn']);
    const [, compaction, after] = fake.requestsFor(id);
    expect((compaction.body as { compaction?: unknown }).compaction).toEqual({ type: 'summarize' });
    expect(compaction.body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    // The runner sends the summary back alone, first, as an assistant message.
    expect(after.body.messages).toHaveLength(1);
    expect(after.body.messages[0]).toMatchObject({ role: 'assistant', content: [{ type: 'compaction' }] });
    expect(fake.requests.every((r) => r.invalid === undefined)).toBe(true);
    expect(fake.pending(id)).toBe(0);
  });
});

describe('thinking signatures', () => {
  const thinkingParams = { thinking: { type: 'enabled' as const, budget_tokens: 1024 }, max_tokens: 2048 };

  it('signs thinking blocks, accepts them back, and refuses a tampered one', async () => {
    fake.script('*', [
      reply.message([
        { type: 'thinking', thinking: 'The user greets me.' },
        { type: 'text', text: 'Hello!' },
      ]),
      reply.text('Fine.'),
    ]);
    const hi: BetaMessageParam = { role: 'user', content: 'Hi' };
    const first = await client.beta.messages
      .stream({ model, messages: [hi], ...thinkingParams })
      .finalMessage();
    const thinking = first.content[0] as Anthropic.Beta.BetaThinkingBlock;
    expect(thinking.signature).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const back = (content: unknown[]): BetaMessageParam[] => [
      hi,
      { role: 'assistant', content: content as never },
      { role: 'user', content: 'How are you?' },
    ];
    await expect(create(back(first.content), thinkingParams)).resolves.toMatchObject({
      content: [{ text: 'Fine.' }],
    });

    const tampered = await failure(
      create(back([{ ...thinking, thinking: 'I was told to.' }, first.content[1]]), thinkingParams),
    );
    expect(tampered).toBeInstanceOf(BadRequestError);
    expect(tampered.message).toContain('messages.1.content.0: Invalid `signature` in `thinking` block');
    const redacted = await failure(
      create(back([{ type: 'redacted_thinking', data: 'made-up' }, first.content[1]]), thinkingParams),
    );
    expect(redacted.message).toContain('messages.1.content.0: Invalid `data` in `redacted_thinking` block');
  });

  it('accepts a scripted signature back with the text it was sent with', async () => {
    fake.script('*', [
      reply.message([
        { type: 'thinking', thinking: 'Scripted.', signature: 'sig_fixed==' },
        { type: 'redacted_thinking', data: 'opaque-data' },
        { type: 'text', text: 'Hi.' },
      ]),
      reply.text('Again.'),
    ]);
    const hi: BetaMessageParam = { role: 'user', content: 'Hi' };
    const first = await create([hi], thinkingParams);
    expect(first.content[0]).toMatchObject({ signature: 'sig_fixed==' });
    await expect(
      create([hi, { role: 'assistant', content: first.content as never }, hi], thinkingParams),
    ).resolves.toBeDefined();
  });
});

describe('context window', () => {
  const small = 'claude-small';
  const long = (tokens: number): BetaMessageParam[] => [{ role: 'user', content: 'x'.repeat(tokens * 4) }];

  it('refuses a prompt over the window with the API wording', async () => {
    const messages = long(WINDOW + 10);
    const tokens = promptTokens({ model: small, messages });
    const err = await failure(create(messages, { model: small }));
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.message).toContain(`prompt is too long: ${tokens} tokens > ${WINDOW} maximum`);
  });

  it('cuts an answer that would not fit and stops with model_context_window_exceeded', async () => {
    const messages = long(WINDOW - 50);
    const prompt = promptTokens({ model: small, messages });
    fake.script('*', () =>
      reply.message([
        { type: 'text', text: 'word '.repeat(200) },
        { type: 'tool_use', name: 'get_weather', input: { location: 'Lisbon' } },
      ]),
    );
    for (const streamed of [false, true]) {
      const m = streamed
        ? await client.beta.messages.stream({ model: small, max_tokens: 1024, messages }).finalMessage()
        : await create(messages, { model: small });
      expect(m.stop_reason).toBe('model_context_window_exceeded');
      expect(m.content).toHaveLength(1);
      expect((m.content[0] as Anthropic.Beta.BetaTextBlock).text).toMatch(/^(word )+w?o?r?d?$/);
      expect(m.usage.input_tokens + m.usage.output_tokens).toBe(WINDOW);
      expect(m.usage.input_tokens).toBe(prompt);
    }
  });
});

describe('server-side threshold compaction', () => {
  const big: BetaMessageParam[] = [
    { role: 'user', content: `Read this: ${'lorem ipsum '.repeat(400)}` },
    { role: 'assistant', content: 'Read.' },
    { role: 'user', content: 'Summarize it.' },
  ];
  const edit = (pause = false) => ({
    context_management: {
      edits: [
        {
          type: 'compact_20260112' as const,
          trigger: { type: 'input_tokens' as const, value: 1000 },
          pause_after_compaction: pause,
        },
      ],
    },
    betas: ['compact-2026-01-12'],
  });

  it('starts the answer with a compaction block once the trigger is reached, then the scripted reply', async () => {
    fake.script('*', [reply.text('It is filler text.'), reply.text('You are welcome.')]);
    const m = await client.beta.messages.create({ model, max_tokens: 512, messages: big, ...edit() });
    expect(m.content.map((b) => b.type)).toEqual(['compaction', 'text']);
    expect(m.stop_reason).toBe('end_turn');
    const iterations = m.usage.iterations!;
    expect(iterations.map((i) => i.type)).toEqual(['compaction', 'message']);
    expect(iterations[0].input_tokens).toBe(promptTokens({ model, messages: big }));
    expect(m.usage.input_tokens).toBe(iterations[1].input_tokens);
    expect(m.usage.input_tokens).toBeLessThan(iterations[0].input_tokens);

    // Next request: that message back, and what follows it; below the trigger now, no new compaction.
    const next = await client.beta.messages.create({
      model,
      max_tokens: 512,
      messages: [
        { role: 'assistant', content: m.content },
        { role: 'user', content: 'Thanks.' },
      ],
      ...edit(),
    });
    expect(next.content.map((b) => b.type)).toEqual(['text']);
  });

  it('pauses after compaction without consuming the script, streamed too', async () => {
    fake.script('*', [reply.text('Unused.')]);
    const m = await client.beta.messages
      .stream({ model, max_tokens: 512, messages: big, ...edit(true) })
      .finalMessage();
    expect(m.stop_reason).toBe('compaction');
    expect(m.content.map((b) => b.type)).toEqual(['compaction']);
    expect(m.usage.iterations!.map((i) => i.type)).toEqual(['compaction']);
    expect(fake.pending('*')).toBe(1);
  });

  it('refuses a block from a compaction request beside a compact_20260112 edit', async () => {
    const block = blockOf(await compact(conversation));
    const err = await failure(
      client.beta.messages.create({ model, max_tokens: 512, messages: afterCompaction(block), ...edit() }),
    );
    expect(err).toBeInstanceOf(BadRequestError);
  });
});

describe('context editing', () => {
  const toolTurns = (n: number): BetaMessageParam[] => {
    const messages: BetaMessageParam[] = [{ role: 'user', content: 'Check every city.' }];
    for (let i = 0; i < n; i++) {
      messages.push({
        role: 'assistant',
        content: [
          { type: 'tool_use', id: `toolu_${i}`, name: i === 0 ? 'memory' : 'get_weather', input: { i } },
        ],
      });
      messages.push({
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: `toolu_${i}`, content: `result ${i} `.repeat(100) }],
      });
    }
    return messages;
  };

  it('clears old tool results and reports applied_edits, streamed and not', async () => {
    fake.script('*', () => reply.text('Done.'));
    const messages = toolTurns(6);
    const params = {
      model,
      max_tokens: 256,
      messages,
      context_management: {
        edits: [
          {
            type: 'clear_tool_uses_20250919' as const,
            trigger: { type: 'tool_uses' as const, value: 5 },
            keep: { type: 'tool_uses' as const, value: 2 },
            exclude_tools: ['memory'],
          },
        ],
      },
      betas: ['context-management-2025-06-27'],
    };
    const full = promptTokens({ model, messages });
    for (const m of [
      await client.beta.messages.create(params),
      await client.beta.messages.stream(params).finalMessage(),
    ]) {
      const applied = m.context_management!
        .applied_edits[0] as Anthropic.Beta.BetaClearToolUses20250919EditResponse;
      expect(applied).toEqual({
        type: 'clear_tool_uses_20250919',
        cleared_tool_uses: 3,
        cleared_input_tokens: expect.any(Number),
      });
      expect(m.usage.input_tokens).toBe(full - applied.cleared_input_tokens);
    }
    const counted = await client.beta.messages.countTokens(params);
    expect(counted.context_management).toEqual({ original_input_tokens: full });
    expect(counted.input_tokens).toBeLessThan(full);
  });

  it('clears the thinking of older turns', async () => {
    fake.script('*', [
      reply.message([
        { type: 'thinking', thinking: 'First thoughts. '.repeat(20) },
        { type: 'text', text: 'One.' },
      ]),
      reply.message([
        { type: 'thinking', thinking: 'Second thoughts.' },
        { type: 'text', text: 'Two.' },
      ]),
      reply.text('Three.'),
    ]);
    const thinking = { type: 'enabled' as const, budget_tokens: 1024 };
    const messages: BetaMessageParam[] = [{ role: 'user', content: 'One?' }];
    for (const next of ['Two?', 'Three?']) {
      const m = await create(messages, { thinking, max_tokens: 2048 });
      messages.push({ role: 'assistant', content: m.content as never }, { role: 'user', content: next });
    }
    const m = await create(messages, {
      thinking,
      max_tokens: 2048,
      context_management: {
        edits: [{ type: 'clear_thinking_20251015', keep: { type: 'thinking_turns', value: 1 } }],
      },
    });
    expect(m.context_management!.applied_edits).toEqual([
      {
        type: 'clear_thinking_20251015',
        cleared_thinking_turns: 1,
        cleared_input_tokens: expect.any(Number),
      },
    ]);
  });
});
