/**
 * Hostile and careless input sent straight to a conversation (raw Temporal calls, bypassing the client
 * and the ops API): payloads the worker cannot decode, oversized and malformed updates and signals, and
 * a start input that would poison the first turn. After every case the conversation must still answer
 * its state query, must never have failed a workflow task, and must still end cleanly: nothing wedges it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { WorkflowHandle } from '@temporalio/client';
import { endUpdate, stateQuery, type ConversationState } from '../../src/api/conversation';
import { reply } from '../../src/testing/fake-claude';
import { AgentClient, AgentError } from '../../src/client';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import {
  awaitingApprovalConversation,
  enc,
  idleConversation,
  json,
  queryRaw as queryRawWith,
  signalRaw as signalRawWith,
  taskFailures,
  updateRaw as updateRawWith,
  type RawPayload,
} from '../support/workflow-raw';

let t: AgentEnv;
beforeAll(async () => {
  t = await startAgentEnv();
});
afterAll(async () => {
  await t?.teardown();
});

/** Payloads the default converter cannot decode, one per class of failure. */
const UNDECODABLE: Array<[string, RawPayload]> = [
  ['json/plain with invalid JSON', { metadata: { encoding: enc('json/plain') }, data: enc('{not json') }],
  [
    'json/plain with truncated JSON',
    { metadata: { encoding: enc('json/plain') }, data: enc('{"toolUseId": "a') },
  ],
  ['an unknown encoding', { metadata: { encoding: enc('binary/evil') }, data: enc('x') }],
  ['no encoding at all', { metadata: {}, data: enc('{}') }],
  [
    'an encrypted payload under a key the worker lacks',
    {
      metadata: { encoding: enc('binary/encrypted'), 'encryption-key-id': enc('stolen') },
      data: enc('\u0000garbage'),
    },
  ],
  [
    'json/protobuf with garbage',
    { metadata: { encoding: enc('json/protobuf'), messageType: enc('x.Y') }, data: enc('{') },
  ],
];

const signalRaw = (id: string, name: string, payloads: RawPayload[]) =>
  signalRawWith(t.env.client, id, name, payloads);
const updateRaw = (id: string, name: string, payloads: RawPayload[]) =>
  updateRawWith(t.env.client, id, name, payloads);
const queryRaw = (id: string, name: string, payloads: RawPayload[]) =>
  queryRawWith(t.env.client, id, name, payloads);

const awaitingApproval = () => awaitingApprovalConversation(t);
const idle = () => idleConversation(t, ['Hello.', 'Again.', 'More.']);

/** Nothing wedged: the state query answers (small), no workflow task failed, and `end` still works. */
async function expectUnharmed(handle: WorkflowHandle): Promise<ConversationState> {
  const state = await handle.query(stateQuery, {});
  expect(JSON.stringify(state).length).toBeLessThan(512 * 1024);
  expect(await taskFailures(handle)).toEqual([]);
  return state;
}
async function expectEnds(handle: WorkflowHandle): Promise<void> {
  await handle.executeUpdate(endUpdate, { args: [{ reason: 'test over' }] });
  expect(await handle.result()).toMatchObject({ status: 'completed', endReason: 'test over' });
  expect(await taskFailures(handle)).toEqual([]);
}

describe('a signal the worker cannot decode is refused, never fatal', () => {
  it.concurrent.each(UNDECODABLE)('decideToolCallSignal with %s', async (_name, payload) => {
    const { handle, toolUseId } = await awaitingApproval();
    await signalRaw(handle.workflowId, 'decideToolCallSignal', [payload]);
    await t.waitFor(handle, (s) => s.refusedDecisions.length === 1);
    const state = await expectUnharmed(handle);
    expect(state.refusedDecisions[0].error).toMatch(/invalid decision/);
    expect(state.pendingApprovals.map((p) => p.toolUseId)).toEqual([toolUseId]);
    await expectEnds(handle);
  });

  it.concurrent.each(UNDECODABLE)('endSignal with %s is ignored', async (_name, payload) => {
    const handle = await idle();
    await signalRaw(handle.workflowId, 'endSignal', [payload]);
    await new Promise((r) => setTimeout(r, 300));
    expect((await expectUnharmed(handle)).status).toBe('idle');
    await expectEnds(handle);
  });

  it.concurrent('an undecodable payload next to a good one: the signal is refused whole', async () => {
    const { handle, toolUseId } = await awaitingApproval();
    const good = json({ toolUseId, decision: 'approve', decidedBy: 'eve' });
    await signalRaw(handle.workflowId, 'decideToolCallSignal', [good, UNDECODABLE[0][1]]);
    await new Promise((r) => setTimeout(r, 300));
    await expectUnharmed(handle);
    await expectEnds(handle);
  });
});

describe('an update the worker cannot decode is rejected', () => {
  const updates = ['sendMessage', 'decideToolCall', 'resume', 'end'];
  it.concurrent.each(
    updates.flatMap((u) => UNDECODABLE.slice(0, 3).map(([name, p]) => [u, name, p] as const)),
  )('%s with %s', async (update, _name, payload) => {
    const { handle } = await awaitingApproval();
    const rejection = await updateRaw(handle.workflowId, update, [payload]);
    expect(rejection).toBeDefined();
    expect(rejection!.length).toBeLessThan(2000);
    const state = await expectUnharmed(handle);
    expect(state.status).toBe('awaiting_approval');
    await expectEnds(handle);
  });
});

describe('a query the worker cannot decode does not wedge it', () => {
  it.concurrent.each(UNDECODABLE.slice(0, 3))('state query with %s', async (_name, payload) => {
    const handle = await idle();
    await queryRaw(handle.workflowId, 'state', [payload]);
    await expectUnharmed(handle);
    await expectEnds(handle);
  });

  it.concurrent.each(UNDECODABLE.slice(0, 3))('messages query with %s', async (_name, payload) => {
    const handle = await idle();
    await queryRaw(handle.workflowId, 'messages', [payload]);
    await expectUnharmed(handle);
    await expectEnds(handle);
  });
});

describe('oversized values are refused without echoing them, and never stored whole', () => {
  it.concurrent('a decision update with a 1 MB toolUseId', async () => {
    const { handle } = await awaitingApproval();
    const huge = 'x'.repeat(1024 * 1024);
    const rejection = await updateRaw(handle.workflowId, 'decideToolCall', [
      json({ toolUseId: huge, decision: 'approve', decidedBy: 'eve' }),
    ]);
    expect(rejection).toMatch(/invalid decision/);
    expect(rejection!.length).toBeLessThan(2000);
    await expectUnharmed(handle);
    await expectEnds(handle);
  });

  it.concurrent.each([
    ['toolUseId', (id: string) => ({ toolUseId: 'y'.repeat(1_100_000), decision: 'approve', decidedBy: id })],
    ['decidedBy', () => ({ toolUseId: 'toolu_x', decision: 'approve', decidedBy: 'z'.repeat(1_100_000) })],
    [
      'reason',
      (id: string) => ({
        toolUseId: id,
        decision: 'reject',
        decidedBy: 'eve',
        reason: 'r'.repeat(1_100_000),
      }),
    ],
  ] as const)('a decision signal with a 1.1 MB %s', async (_field, make) => {
    const { handle, toolUseId } = await awaitingApproval();
    await signalRaw(handle.workflowId, 'decideToolCallSignal', [json(make(toolUseId))]);
    await t.waitFor(handle, (s) => s.refusedDecisions.length === 1);
    const state = await expectUnharmed(handle);
    expect(JSON.stringify(state.refusedDecisions).length).toBeLessThan(10_000);
    expect(state.pendingApprovals).toHaveLength(1);
    await expectEnds(handle);
  });

  it.concurrent('a decision whose edited input is nested 5,000 levels deep', async () => {
    const { handle, toolUseId } = await awaitingApproval();
    // Written by hand: JSON.stringify itself runs out of stack on it.
    const input = '{"a":'.repeat(5000) + '{}' + '}'.repeat(5000);
    const body = `{"toolUseId":${JSON.stringify(toolUseId)},"decision":"edit","decidedBy":"eve","input":${input}}`;
    const rejection = await updateRaw(handle.workflowId, 'decideToolCall', [
      { metadata: { encoding: enc('json/plain') }, data: enc(body) },
    ]);
    expect(rejection).toMatch(/nested deeper than 64 levels/);
    await expectUnharmed(handle);
    await expectEnds(handle);
  });

  it.concurrent(
    'a sendMessage update of 300 KB (over maxMessageBytes) is refused by size, not echoed',
    async () => {
      const handle = await idle();
      const rejection = await updateRaw(handle.workflowId, 'sendMessage', [
        json({ content: 'm'.repeat(300_000) }),
      ]);
      expect(rejection).toMatch(/message too large: 300002 bytes/);
      expect(rejection!.length).toBeLessThan(200);
      await expectUnharmed(handle);
      await expectEnds(handle);
    },
  );
});

describe('accepted now, poison later: refused where it enters', () => {
  it.concurrent.each([
    ['a text block without text', [{ type: 'text' }], /text/],
    ['an empty text block', [{ type: 'text', text: '' }], /must not be empty/],
    ['a text block whose text is a number', [{ type: 'text', text: 5 }], /text/],
    ['an image without a source', [{ type: 'image' }], /source/],
    [
      'an image with a base64 source without data',
      [{ type: 'image', source: { type: 'base64', media_type: 'image/png' } }],
      /data/,
    ],
    [
      'a document with an unknown source type',
      [{ type: 'document', source: { type: 'ftp', url: 'x' } }],
      /source/,
    ],
    ['a tool_result block', [{ type: 'tool_result', tool_use_id: 'x' }], /not tool_result/],
    ['a block type of 10,000 characters', [{ type: 'q'.repeat(10_000) }], /not q+… \(10000 characters\)/],
    ['a non-object block', ['text'], /./],
    ['an empty list', [], /at least one block/],
  ] as const)('sendMessage with %s', async (_name, content, reason) => {
    const handle = await idle();
    const rejection = await updateRaw(handle.workflowId, 'sendMessage', [json({ content })]);
    expect(rejection).toMatch(reason);
    expect(rejection!.length).toBeLessThan(1000);
    await expectUnharmed(handle);
    await expectEnds(handle);
  });

  it.concurrent.each([
    ['end', 'a reason that is a list', { reason: ['a'] }],
    ['end', '`by` that is a number', { by: 5 }],
    ['end', 'a 5,000-character reason', { reason: 'r'.repeat(5000) }],
    ['end', 'an unknown field', { reason: 'ok', extra: 'field' }],
    ['end', 'a string for a request', 'just a string'],
    ['resume', 'a note that is an object', { note: {} }],
    ['resume', 'a 300-character `by`', { by: 'b'.repeat(300) }],
  ] as const)('%s with %s is refused', async (update, _name, request) => {
    const handle = await idle();
    const rejection = await updateRaw(handle.workflowId, update, [json(request)]);
    expect(rejection).toMatch(/invalid (end|resume) request/);
    expect((await expectUnharmed(handle)).status).toBe('idle');
    await expectEnds(handle);
  });

  it.concurrent.each([[{ reason: ['a'] }], [{ by: 5 }], ['a string'], [{ reason: 'x', extra: 1 }]])(
    'endSignal with %j is ignored',
    async (request) => {
      const handle = await idle();
      await signalRaw(handle.workflowId, 'endSignal', [json(request)]);
      await new Promise((r) => setTimeout(r, 300));
      expect((await expectUnharmed(handle)).status).toBe('idle');
      await expectEnds(handle);
    },
  );

  it.concurrent.each([
    ['a first message over maxMessageBytes', { message: 'm'.repeat(300_000) }, /message too large/],
    ['a first message with a text block without text', { message: [{ type: 'text' }] }, /message: /],
    [
      'a first message with a tool_result block',
      { message: [{ type: 'tool_result', tool_use_id: 'x' }] },
      /not tool_result/,
    ],
  ] as const)('a direct start with %s fails at once, with the reason', async (_name, input, reason) => {
    const handle = await t.start(input as never);
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String((err as { cause?: unknown })?.cause ?? err)).toMatch(reason);
    expect(t.requests(handle.workflowId)).toHaveLength(0);
  });
});

describe('the client refuses a start input the conversation or Temporal would refuse, saying why', () => {
  const agent = () => new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
  it.concurrent.each([
    ['a 1.5 MB first message', { message: 'm'.repeat(1_500_000) }, /message too large: 1500002 bytes/],
    ['a first message with a text block without text', { message: [{ type: 'text' }] }, /message: 0.text/],
    ['a 2 MB system prompt', { system: 's'.repeat(2 * 1024 * 1024) }, /payload limit is 2097152/],
  ] as const)('%s', async (_name, input, reason) => {
    const err = await agent()
      .startConversation({ model: 'claude-sonnet-5-5', ...(input as object) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).code).toBe('invalid');
    expect((err as AgentError).message).toMatch(reason);
  });
});

describe('any workflow id can call the model', () => {
  it.concurrent.each([
    ['non-latin-1 characters', `conv-日本語-é-${Date.now()}`],
    ['a newline and a carriage return', `conv-a\r\nb-${Date.now()}`],
    ['percent signs and spaces', `conv-100% sure ${Date.now()}`],
  ])('an id with %s', async (_name, id) => {
    const handle = await t.start({ message: 'Hi' }, id);
    t.fake.script(id, [reply.text('Hello.')]);
    const state = await t.waitFor(handle, (s) => s.status === 'idle');
    expect(state.messageCount).toBe(2);
    expect(t.requests(id)).toHaveLength(1);
    await expectEnds(handle);
  });
});

describe('an input that only looks like the undecodable marker', () => {
  it.concurrent('a start input with an `undecodable: true` key runs like any other', async () => {
    const handle = await t.start({ message: 'Hi', undecodable: true, error: 'x' } as never);
    t.fake.script(handle.workflowId, [reply.text('Hello.')]);
    expect((await t.waitFor(handle, (s) => s.status === 'idle')).messageCount).toBe(2);
    await expectEnds(handle);
  });

  it.concurrent(
    'a decision signal with `undecodable: true` is judged as a decision, not as the marker',
    async () => {
      const { handle } = await awaitingApproval();
      await signalRaw(handle.workflowId, 'decideToolCallSignal', [json({ undecodable: true, error: 'x' })]);
      const state = await t.waitFor(handle, (s) => s.refusedDecisions.length === 1);
      expect(state.refusedDecisions[0].error).toMatch(/^invalid decision/);
      await expectEnds(handle);
    },
  );
});
