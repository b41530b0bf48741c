/**
 * Compaction through the real workflow on a real dev server, against the fake's compaction (the
 * summary, its signature checked on every later request, the context window): a token threshold
 * compacts before the next turn, keeping its message verbatim; a full context window compacts and
 * the call is made again; a tool loop compacts between calls; an operator compacts an idle or parked
 * conversation; each compaction is followed by continue-as-new, the next run carrying the transcript
 * from the compaction message on while the earlier run still answers for what it summarized. No
 * request the API would refuse is ever sent.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { z } from 'zod';
import { defineAgent } from '../../src/agents/define-agent';
import { defineTool } from '../../src/tools/define-tool';
import type { ConversationResult, ConversationState } from '../../src/api/conversation';
import { AgentClient } from '../../src/client';
import { reply, type RecordedRequest } from '../../src/testing/fake-claude';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { lookup } from '../support/agents';

/** About `tokens` tokens of text, as the fake counts them (4 characters a token). */
function words(tokens: number, word = 'talk'): string {
  return `${word} `.repeat(Math.ceil((tokens * 4) / (word.length + 1))).trim();
}

const WINDOW = 6000;
/** A tool whose result alone is past the window. */
const dump = defineTool({
  name: 'dump',
  description: 'Dumps everything',
  input: z.object({}),
  effect: 'read',
  run: async () => words(7000, 'dump'),
});
const base = { model: 'claude-sonnet-4-6', tools: [lookup, dump], promptCaching: 'off' as const };
const compactor = defineAgent({ name: 'compactor', ...base, compaction: { thresholdTokens: 2000 } });
const windowed = defineAgent({ name: 'windowed', ...base });
const stubborn = defineAgent({ name: 'stubborn', ...base, compaction: { onContextWindow: false } });
const serverSide = defineAgent({
  name: 'server_side',
  ...base,
  compaction: { mode: 'server', thresholdTokens: 2000 },
});
const editor = defineAgent({
  name: 'editor',
  ...base,
  effort: 'high',
  contextManagement: {
    edits: [
      {
        type: 'clear_tool_uses_20250919',
        trigger: { type: 'input_tokens', value: 50 },
        keep: { type: 'tool_uses', value: 1 },
      },
    ],
  },
});
const thinker = defineAgent({
  name: 'thinker',
  ...base,
  maxTokens: 4096,
  thinking: { type: 'enabled', budget_tokens: 1024 },
  limits: { continueAsNewAfterEvents: 10 },
});
const adaptive = defineAgent({
  name: 'adaptive',
  ...base,
  thinking: { type: 'adaptive' },
  effort: 'medium',
});

let t: AgentEnv;
let client: AgentClient;
beforeAll(async () => {
  t = await startAgentEnv({
    agents: [compactor, windowed, stubborn, serverSide, editor, thinker, adaptive],
    fake: { contextWindow: WINDOW },
  });
  client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
});
afterAll(async () => {
  await t?.teardown();
});

/** What the model received: each request's messages, and whether it was a compaction request. */
function calls(workflowId: string): Array<{ compaction: boolean; messages: MessageParam[] }> {
  return t.requests(workflowId).map((r: RecordedRequest) => ({
    compaction: 'compaction' in r.body,
    messages: r.body.messages,
  }));
}

function firstBlock(message: MessageParam | undefined): Record<string, unknown> | undefined {
  return Array.isArray(message?.content)
    ? (message.content[0] as unknown as Record<string, unknown>)
    : undefined;
}

/** The hidden rule: the conversation never sent a request the API refused. */
function expectNothingRefused(workflowId: string): void {
  const refused = t.fake.requests.filter((r) => r.conversation === workflowId && r.invalid);
  expect(refused.map((r) => r.invalid)).toEqual([]);
}

async function idleAt(workflowId: string, turn: number, generation = 0): Promise<ConversationState> {
  const handle = t.env.client.workflow.getHandle(workflowId);
  return t.waitFor(handle, (s) => s.status === 'idle' && s.turn === turn && s.generation >= generation);
}

describe('compaction', () => {
  it('at a token threshold, before the next turn: the prompt starts at the summary, the run continues-as-new', async () => {
    const workflowId = `compact-threshold-${process.pid}`;
    t.fake.script(workflowId, [reply.text(words(2500)), reply.text('Second answer.')]);
    const started = await client.startConversation(
      { agent: 'compactor', message: 'First question' },
      { workflowId },
    );
    await idleAt(workflowId, 1);
    await client.sendMessage(workflowId, 'Second question');
    const state = await idleAt(workflowId, 2, 1);

    const made = calls(workflowId);
    expect(made.map((c) => c.compaction)).toEqual([false, true, false]);
    const compactionRequest = t.requests(workflowId)[1];
    expect(String(compactionRequest.headers['anthropic-beta'])).toContain('compact-2026-09-04');
    expect(compactionRequest.body.messages).toHaveLength(2); // the first turn, not the new message
    // The next call: the compaction block first, unchanged, then the new message verbatim.
    const [summary, question] = made[2].messages;
    expect(firstBlock(summary)).toMatchObject({ type: 'compaction', signature: expect.any(String) });
    expect(summary.role).toBe('assistant');
    expect(question).toEqual({ role: 'user', content: 'Second question' });
    expect(made[2].messages).toHaveLength(2);

    // The state: the whole transcript's indexes; this run holds it from the compaction message on.
    expect(state.generation).toBe(1);
    expect(state.messageCount).toBe(5);
    expect(state.from).toBe(2);
    expect(state.messages[0]).toEqual(summary);
    expect(state.meta[0].compaction).toEqual({ trigger: 'threshold', summarized: 2 });
    expect(state.compaction).toMatchObject({
      count: 1,
      promptFrom: 2,
      recent: [{ trigger: 'threshold', index: 2, tokensBefore: expect.any(Number) }],
      earlier: { runId: started.runId, firstIndex: 2 },
    });
    expect(state.compaction!.recent[0].tokensBefore).toBeGreaterThanOrEqual(2000);
    // What it summarized: in the first run, read back through the client.
    const earlier = await client.earlierMessages(workflowId);
    expect(earlier.map((m) => [m.index, m.message.role])).toEqual([
      [0, 'user'],
      [1, 'assistant'],
    ]);
    expect(earlier[0].message.content).toBe('First question');
    // Usage counts the compaction (its tokens are only in usage.iterations).
    expect(state.usage.calls).toBe(3);
    expect(state.compaction!.recent[0].outputTokens).toBeGreaterThan(0);
    expectNothingRefused(workflowId);
  });

  it('when the context window is full: the cut answer is dropped, the conversation compacts and asks again', async () => {
    const workflowId = `compact-window-${process.pid}`;
    t.fake.script(workflowId, [
      reply.text(words(3000)),
      reply.text(words(4000, 'long')), // does not fit what is left of the window
      reply.text('Short answer.'),
    ]);
    await client.startConversation({ agent: 'windowed', message: 'First question' }, { workflowId });
    await idleAt(workflowId, 1);
    await client.sendMessage(workflowId, 'Second question');
    const state = await idleAt(workflowId, 2, 1);

    const made = calls(workflowId);
    expect(made.map((c) => c.compaction)).toEqual([false, false, true, false]);
    // Mid-turn, everything is summarized (the new message too): the retry sends the summary alone.
    expect(made[3].messages).toHaveLength(1);
    expect(firstBlock(made[3].messages[0])?.type).toBe('compaction');
    expect(state.compaction?.recent[0]).toMatchObject({ trigger: 'context_window' });
    // The cut answer never entered the transcript; the retry's did, after the compaction message.
    const text = JSON.stringify(state.messages);
    expect(text).not.toContain('long long');
    expect(state.messages.map((m) => firstBlock(m)?.type)).toEqual(['compaction', 'text']);
    expect(state.messageCount).toBe(5); // U1, A1, U2, compaction, A2
    expect(state.usage.calls).toBe(4);
    expectNothingRefused(workflowId);
  });

  it('within a tool loop: compacts between calls, and later turns send the summary and what followed', async () => {
    const workflowId = `compact-loop-${process.pid}`;
    t.fake.script(workflowId, [
      reply.toolUse({ name: 'lookup', input: { id: 'A-1' } }, { text: words(2500) }),
      reply.text('Done.'),
      reply.text('Third.'),
    ]);
    await client.startConversation({ agent: 'compactor', message: 'Look it up' }, { workflowId });
    await idleAt(workflowId, 1, 1);
    await client.sendMessage(workflowId, 'And then?');
    const state = await idleAt(workflowId, 2, 1);

    const made = calls(workflowId);
    expect(made.map((c) => c.compaction)).toEqual([false, true, false, false]);
    expect(made[2].messages).toHaveLength(1); // the summary of the call and its result
    // The answer after the summary, then the new message: two assistant messages in a row, as the
    // SDK's tool runner sends them after a compaction.
    expect(made[3].messages.map((m) => [m.role, firstBlock(m)?.type ?? 'string'])).toEqual([
      ['assistant', 'compaction'],
      ['assistant', 'text'],
      ['user', 'string'],
    ]);
    expect(state.compaction?.recent[0]).toMatchObject({ trigger: 'threshold' });
    expectNothingRefused(workflowId);
  });

  it('by an operator: an idle conversation compacts at once; one parked on its full window goes on', async () => {
    const workflowId = `compact-operator-${process.pid}`;
    t.fake.script(workflowId, [
      reply.text(words(3000)),
      reply.text(words(4000, 'long')),
      reply.text('After the summary.'),
    ]);
    await client.startConversation({ agent: 'stubborn', message: 'First question' }, { workflowId });
    await idleAt(workflowId, 1);
    await client.sendMessage(workflowId, 'Second question');
    const handle = t.env.client.workflow.getHandle(workflowId);
    // Compaction on the window is off for this agent: it parks as before.
    const parked = await t.waitFor(handle, (s) => s.status === 'needs_attention');
    expect(parked.attention).toMatchObject({ reason: 'context_window_exceeded' });

    const view = await client.compact(workflowId, { by: 'ops', instructions: 'Keep the order ids.' });
    expect(view.requested).toMatchObject({ by: 'ops' });
    const compacted = await idleAt(workflowId, 2, 1);
    expect(compacted.compaction).toMatchObject({ count: 1, recent: [{ trigger: 'operator', by: 'ops' }] });
    expect(compacted.compaction?.requested).toBeUndefined();
    const compactionRequest = t.requests(workflowId).find((r) => 'compaction' in r.body)!;
    expect(compactionRequest.body).toMatchObject({
      compaction: { type: 'summarize', instructions: 'Keep the order ids.' },
    });

    await client.sendMessage(workflowId, 'Third question');
    await idleAt(workflowId, 3, 1);
    const last = calls(workflowId).at(-1)!;
    expect(firstBlock(last.messages[0])?.type).toBe('compaction');
    expect(last.messages.at(-1)).toEqual({ role: 'user', content: 'Third question' });
    expectNothingRefused(workflowId);

    // Refused: bad input, an ended conversation.
    await expect(client.compact(workflowId, { instructions: '  ' })).rejects.toThrow(
      /invalid compaction request/,
    );
    await client.end(workflowId, 'ops');
    const result = (await handle.result()) as ConversationResult;
    expect(result.messageCount).toBe(compacted.messageCount + 2);
    await expect(client.compact(workflowId)).rejects.toThrow();
  });
});

describe('a prompt refused as too long', () => {
  it('compacts what came before the last exchange and keeps that exchange verbatim after the summary', async () => {
    const workflowId = `compact-refused-${process.pid}`;
    t.fake.script(workflowId, [reply.text(words(3000)), reply.text('Got it.')]);
    await client.startConversation({ agent: 'windowed', message: 'First question' }, { workflowId });
    await idleAt(workflowId, 1);
    const huge = words(4000, 'huge'); // with it, the prompt no longer fits the window
    await client.sendMessage(workflowId, huge);
    const state = await idleAt(workflowId, 2, 1);
    const made = calls(workflowId);
    // The call (refused: 400 prompt is too long), the compaction of the first turn, the call again.
    expect(made.map((c) => c.compaction)).toEqual([false, false, true, false]);
    expect(made[2].messages).toHaveLength(2);
    expect(made[3].messages.map((m) => [m.role, firstBlock(m)?.type ?? 'string'])).toEqual([
      ['assistant', 'compaction'],
      ['user', 'string'],
    ]);
    expect(made[3].messages[1].content).toBe(huge);
    expect(state.compaction?.recent[0]).toMatchObject({ trigger: 'context_window', index: 2 });
    expect(state.messageCount).toBe(5); // U1, A1, the compaction, U2, A2: nothing lost
    const refused = t.fake.requests.filter((r) => r.conversation === workflowId && r.invalid);
    expect(refused.map((r) => r.invalid)).toEqual([expect.stringMatching(/^prompt is too long: /)]);
  });

  it("parks as compaction_failed with the API's refusal when even the compaction is too long", async () => {
    const workflowId = `compact-failed-${process.pid}`;
    t.fake.script(workflowId, [reply.toolUse({ name: 'dump', input: {} })]);
    await client.startConversation({ agent: 'windowed', message: 'Dump it' }, { workflowId });
    const handle = t.env.client.workflow.getHandle(workflowId);
    const parked = await t.waitFor(handle, (s) => s.status === 'needs_attention');
    expect(parked.attention).toMatchObject({
      reason: 'compaction_failed',
      errorType: 'invalid_request_error',
      status: 400,
    });
    expect(parked.attention?.message).toMatch(
      /^compaction failed: prompt is too long: \d+ tokens > 6000 maximum$/,
    );
    // The call refused as too long (the tool result alone is past the window), the compaction request
    // refused too: nothing else was sent, nothing lost.
    expect(calls(workflowId).map((c) => c.compaction)).toEqual([false, false, true]);
    expect(parked.messageCount).toBe(3);
    await client.end(workflowId, 'ops', 'too big');
    expect(await handle.result()).toMatchObject({ status: 'completed', endReason: 'too big' });
  });
});

describe('server-side compaction', () => {
  it('sends compact_20260112 at the threshold and keeps the block the API returns first in an answer', async () => {
    const workflowId = `compact-server-${process.pid}`;
    t.fake.script(workflowId, [reply.text(words(2500)), reply.text('Second.'), reply.text('Third.')]);
    await client.startConversation({ agent: 'server_side', message: 'First question' }, { workflowId });
    await idleAt(workflowId, 1);
    await client.sendMessage(workflowId, 'Second question');
    const second = await idleAt(workflowId, 2, 1);
    const requests = t.requests(workflowId);
    expect(requests[1].body).toMatchObject({
      context_management: {
        edits: [{ type: 'compact_20260112', trigger: { type: 'input_tokens', value: 2000 } }],
      },
    });
    expect(String(requests[1].headers['anthropic-beta'])).toContain('compact-2026-01-12');
    expect(second.compaction).toMatchObject({ count: 1, recent: [{ trigger: 'server' }] });
    // The answer with the block opens the next run's transcript; it goes back exactly as it came.
    expect(second.messages[0].content).toEqual([
      expect.objectContaining({ type: 'compaction', signature: expect.any(String) }),
      expect.objectContaining({ type: 'text', text: 'Second.' }),
    ]);
    await client.sendMessage(workflowId, 'Third question');
    await idleAt(workflowId, 3, 1);
    expect(calls(workflowId).at(-1)!.messages[0]).toEqual(second.messages[0]);
    await expect(client.compact(workflowId)).rejects.toThrow(/compacts server-side/);
    expectNothingRefused(workflowId);
  });
});

describe('context editing and effort', () => {
  it('pass through to every call; the edits the API applied are recorded on the answer', async () => {
    const workflowId = `context-edits-${process.pid}`;
    t.fake.script(workflowId, [
      reply.toolUse({ name: 'lookup', input: { id: 'A-1' } }),
      reply.toolUse({ name: 'lookup', input: { id: 'A-2' } }),
      reply.toolUse({ name: 'lookup', input: { id: 'A-3' } }),
      reply.text('Three orders.'),
    ]);
    await client.startConversation({ agent: 'editor', message: 'Look up three orders' }, { workflowId });
    const state = await idleAt(workflowId, 1);
    const requests = t.requests(workflowId);
    expect(requests).toHaveLength(4);
    for (const r of requests) {
      expect(r.body).toMatchObject({
        output_config: { effort: 'high' },
        context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] },
      });
      expect(String(r.headers['anthropic-beta'])).toContain('context-management-2025-06-27');
    }
    // The transcript keeps every result; the answers of the calls the API cleared for say what it cleared.
    expect(JSON.stringify(state.messages)).not.toContain('[cleared by context management]');
    const edited = state.meta.filter((m) => m.appliedEdits);
    expect(edited.length).toBeGreaterThan(0);
    expect(edited.at(-1)!.appliedEdits).toEqual([
      expect.objectContaining({ type: 'clear_tool_uses_20250919', cleared_tool_uses: expect.any(Number) }),
    ]);
    expectNothingRefused(workflowId);
  });
});

describe('thinking', () => {
  it('goes back to the API with its signature unchanged across tool turns and continue-as-new', async () => {
    const workflowId = `thinking-${process.pid}`;
    t.fake.script(workflowId, [
      reply.message(
        [
          { type: 'thinking', thinking: 'The order id is needed.' },
          { type: 'tool_use', name: 'lookup', input: { id: 'A-1' } },
        ],
        { stop_reason: 'tool_use' },
      ),
      reply.text('It is 120.'),
      reply.text('Still 120.'),
    ]);
    await client.startConversation({ agent: 'thinker', message: 'How much was A-1?' }, { workflowId });
    await idleAt(workflowId, 1);
    await client.sendMessage(workflowId, 'Sure?');
    const state = await idleAt(workflowId, 2, 1);
    const signed = t.requests(workflowId)[1].body.messages[1];
    const thinking = firstBlock(signed);
    // The fake signed it (a script gave none); the worker sent it back as it came, and again after
    // continue-as-new; a changed signature would have been a 400.
    expect(thinking).toMatchObject({ type: 'thinking', signature: expect.any(String) });
    expect(t.fake.signer.verifyThinking(String(thinking?.thinking), String(thinking?.signature))).toBe(true);
    expect(t.requests(workflowId)[2].body.messages[1]).toEqual(signed);
    expect(state.generation).toBeGreaterThanOrEqual(1);
    expectNothingRefused(workflowId);
  });
});

describe('adaptive thinking', () => {
  it('sends thinking adaptive with the effort, and its signed thinking back with the tool result', async () => {
    const workflowId = `adaptive-${process.pid}`;
    t.fake.script(workflowId, [
      reply.message(
        [
          { type: 'thinking', thinking: 'A lookup will tell.' },
          { type: 'tool_use', name: 'lookup', input: { id: 'B-2' } },
        ],
        { stop_reason: 'tool_use' },
      ),
      reply.text('It is 120.'),
    ]);
    await client.startConversation({ agent: 'adaptive', message: 'How much was B-2?' }, { workflowId });
    await idleAt(workflowId, 1);
    const [first, second] = t.requests(workflowId);
    expect(first.body).toMatchObject({ thinking: { type: 'adaptive' }, output_config: { effort: 'medium' } });
    const thinking = firstBlock(second.body.messages[1]);
    expect(thinking).toMatchObject({ type: 'thinking', thinking: 'A lookup will tell.' });
    expect(t.fake.signer.verifyThinking(String(thinking?.thinking), String(thinking?.signature))).toBe(true);
    expectNothingRefused(workflowId);
  });
});

it('replays every conversation it ran', async () => {
  expect(await t.replayHistories()).toBeGreaterThanOrEqual(8);
});
