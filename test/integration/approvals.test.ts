/**
 * Human approval of side-effecting tools, on a real dev server: approve, reject, edit, the validator's
 * refusals, parallel calls, the signal twin, a worker restart while waiting, and replay.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { decideToolCallSignal, decideToolCallUpdate } from '../../src/api/approvals';
import { endUpdate, stateQuery, type MessageParam } from '../../src/api/conversation';
import { reply } from '../../src/testing/fake-claude';
import { defineTool } from '../../src/tools/define-tool';
import { listArticles } from '../../src/tools/save-article';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { expectRefused } from '../support/updates';

type Block = Record<string, unknown>;
const blocks = (m: MessageParam | undefined): Block[] =>
  typeof m?.content === 'string'
    ? [{ type: 'text', text: m.content }]
    : ((m?.content ?? []) as unknown as Block[]);

const payments: Array<{ amount: number; to: string }> = [];
const pay = defineTool({
  name: 'pay',
  description: 'Sends money',
  input: z.object({ amount: z.number().positive(), to: z.string() }),
  effect: 'write',
  approval: (input) => input.amount > 100,
  run: async (input) => {
    payments.push(input);
    return { paid: input.amount };
  },
});

const article = (n: number) => ({
  abstract: `Article ${n} about durable agents.`,
  meta: { word_count: 100 + n, review: 'solid' },
});

let t: AgentEnv;
beforeAll(async () => {
  t = await startAgentEnv({ tools: [pay] });
});
afterAll(async () => {
  await t?.teardown();
});

/** Starts a conversation whose model calls save_article (once per given article), then answers. */
async function startSaving(...articles: Array<ReturnType<typeof article>>) {
  const handle = await t.start({
    message: 'Save these',
    tools: ['save_article', 'get_weather'],
    singleTurn: true,
  });
  const ids = articles.map((_, i) => `toolu_save_${i}_${handle.workflowId.slice(-8)}`);
  t.fake.script(handle.workflowId, [
    reply.toolUse(articles.map((input, i) => ({ name: 'save_article', input, id: ids[i] }))),
    reply.text('Saved what I could.'),
  ]);
  const state = await t.waitFor(handle, (s) => s.pendingApprovals.length === articles.length);
  return { handle, ids, state };
}

const savedFor = async (workflowId: string) =>
  (await listArticles(t.dataDir)).filter((a) => a.workflowId === workflowId);

describe('approval gate', () => {
  it('a write tool waits in awaiting_approval, visible in the state and in search attributes; approve runs it once', async () => {
    const { handle, ids, state } = await startSaving(article(1));
    expect(state.status).toBe('awaiting_approval');
    const [pending] = state.pendingApprovals;
    expect(pending).toMatchObject({
      toolUseId: ids[0],
      name: 'save_article',
      input: article(1),
      turn: 1,
      effect: 'write',
    });
    expect(Date.parse(pending.deadline) - Date.parse(pending.requestedAt)).toBe(24 * 3600 * 1000);
    const described = await handle.describe();
    expect(described.searchAttributes).toMatchObject({
      AgentStatus: ['awaiting_approval'],
      AgentPendingApprovals: [1],
    });
    // Listable across all conversations.
    const listed: string[] = [];
    for await (const wf of t.env.client.workflow.list({
      query: `AgentStatus = "awaiting_approval" AND TaskQueue = "${t.taskQueue}"`,
    }))
      listed.push(wf.workflowId);
    expect(listed).toContain(handle.workflowId);
    expect(await savedFor(handle.workflowId)).toHaveLength(0);

    const [decision] = await handle.executeUpdate(decideToolCallUpdate, {
      args: [{ toolUseId: ids[0], decision: 'approve', decidedBy: 'alice' }],
    });
    expect(decision).toMatchObject({
      toolUseId: ids[0],
      decision: 'approve',
      decidedBy: 'alice',
      via: 'update',
      originalInput: article(1),
    });
    await handle.result();
    const saved = await savedFor(handle.workflowId);
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatchObject({ toolUseId: ids[0], abstract: article(1).abstract });
    const after = await handle.query(stateQuery, {});
    expect(after.decisions).toEqual([decision]);
    expect(after.pendingApprovals).toEqual([]);
    expect((await handle.describe()).searchAttributes.AgentPendingApprovals).toEqual([0]);
  });

  it('reject: the model gets an is_error result with the reason; nothing runs', async () => {
    const { handle, ids } = await startSaving(article(2));
    await handle.executeUpdate(decideToolCallUpdate, {
      args: [{ toolUseId: ids[0], decision: 'reject', reason: 'not this one', decidedBy: 'bob' }],
    });
    await handle.result();
    expect(await savedFor(handle.workflowId)).toHaveLength(0);
    const [result] = blocks(t.fake.requestsFor(handle.workflowId)[1].body.messages[2]);
    expect(result).toMatchObject({ type: 'tool_result', tool_use_id: ids[0], is_error: true });
    expect(result.content).toBe('An operator (bob) rejected this call: not this one. It was not run.');
  });

  it('edit: runs with the edited input, and the model is told which input ran', async () => {
    const { handle, ids } = await startSaving(article(3));
    const edited = { ...article(3), meta: { word_count: 333, review: 'edited by ops' } };
    const [decision] = await handle.executeUpdate(decideToolCallUpdate, {
      args: [{ toolUseId: ids[0], decision: 'edit', input: edited, reason: 'fix count', decidedBy: 'carol' }],
    });
    expect(decision).toMatchObject({ decision: 'edit', input: edited, originalInput: article(3) });
    await handle.result();
    const [saved] = await savedFor(handle.workflowId);
    expect(saved.meta).toEqual(edited.meta);
    const [result] = blocks(t.fake.requestsFor(handle.workflowId)[1].body.messages[2]);
    expect(result.content).toMatch(
      /^An operator \(carol\) edited the input before the call ran \(fix count\)\. The input that ran: \{"abstract"/,
    );
    // The transcript keeps what the model asked for.
    expect(blocks(t.fake.requestsFor(handle.workflowId)[1].body.messages[1])[0].input).toEqual(article(3));
  });

  it('refuses an edit that fails the schema, unknown ids, conflicting repeats; answers an identical repeat once', async () => {
    const { handle, ids } = await startSaving(article(4));
    await expectRefused(
      handle.executeUpdate(decideToolCallUpdate, {
        args: [
          {
            toolUseId: ids[0],
            decision: 'edit',
            input: { abstract: '', meta: { word_count: -1 } },
            decidedBy: 'dave',
          },
        ],
      }),
      /edited input of .* does not match the save_article schema: abstract: Too small.*; meta.word_count: Too small.*; meta.review: Invalid input/,
    );
    await expectRefused(
      handle.executeUpdate(decideToolCallUpdate, {
        args: [{ toolUseId: 'toolu_nope', decision: 'approve', decidedBy: 'dave' }],
      }),
      /unknown tool_use_id toolu_nope/,
    );
    await expectRefused(
      handle.executeUpdate(decideToolCallUpdate, {
        args: [{ toolUseId: ids[0], decision: 'approve', decidedBy: '' }],
      }),
      /decidedBy is required/,
    );
    // Refused updates left nothing behind.
    expect((await handle.query(stateQuery, {})).pendingApprovals).toHaveLength(1);

    const approve = { toolUseId: ids[0], decision: 'approve' as const, decidedBy: 'dave' };
    const [first] = await handle.executeUpdate(decideToolCallUpdate, { args: [approve] });
    const [again] = await handle.executeUpdate(decideToolCallUpdate, { args: [approve] });
    expect(again).toEqual(first);
    await expectRefused(
      handle.executeUpdate(decideToolCallUpdate, { args: [{ ...approve, decision: 'reject' }] }),
      /already decided: approve by dave/,
    );
    await handle.result();
    expect(await savedFor(handle.workflowId)).toHaveLength(1);
    expect((await handle.query(stateQuery, {})).decisions).toHaveLength(1);
  });

  it('two parallel calls decided separately: the approved one runs while the other still waits', async () => {
    const { handle, ids } = await startSaving(article(5), article(6));
    await handle.executeUpdate(decideToolCallUpdate, {
      args: [{ toolUseId: ids[1], decision: 'approve', decidedBy: 'erin' }],
    });
    const waiting = await t.waitFor(handle, (s) => s.pendingApprovals.length === 1);
    expect(waiting.status).toBe('awaiting_approval');
    // The approved call ran already; the result message waits for the other.
    await new Promise((r) => setTimeout(r, 300));
    expect((await savedFor(handle.workflowId)).map((a) => a.toolUseId)).toEqual([ids[1]]);
    expect(t.fake.requestsFor(handle.workflowId)).toHaveLength(1);
    await handle.executeUpdate(decideToolCallUpdate, {
      args: [{ toolUseId: ids[0], decision: 'reject', reason: 'dup', decidedBy: 'erin' }],
    });
    await handle.result();
    const results = blocks(t.fake.requestsFor(handle.workflowId)[1].body.messages[2]);
    expect(results.map((r) => r.tool_use_id)).toEqual(ids);
    expect(results.map((r) => r.is_error ?? false)).toEqual([true, false]);
  });

  it('two parallel calls decided together in one update', async () => {
    const { handle, ids } = await startSaving(article(7), article(8));
    const recorded = await handle.executeUpdate(decideToolCallUpdate, {
      args: [
        {
          decisions: ids.map((toolUseId) => ({
            toolUseId,
            decision: 'approve' as const,
            decidedBy: 'frank',
          })),
        },
      ],
    });
    expect(recorded.map((d) => d.toolUseId)).toEqual(ids);
    await handle.result();
    expect(await savedFor(handle.workflowId)).toHaveLength(2);
  });

  it('a call that needs no approval runs at once beside one that waits; a predicate policy decides per input', async () => {
    const handle = await t.start({ message: 'Pay', tools: ['pay'], singleTurn: true });
    t.fake.script(handle.workflowId, [
      reply.toolUse([
        { name: 'pay', input: { amount: 50, to: 'small' }, id: 'toolu_small' },
        { name: 'pay', input: { amount: 500, to: 'big' }, id: 'toolu_big' },
      ]),
      reply.text('Paid.'),
    ]);
    const state = await t.waitFor(handle, (s) => s.pendingApprovals.length === 1);
    expect(state.pendingApprovals[0].toolUseId).toBe('toolu_big');
    await new Promise((r) => setTimeout(r, 300));
    expect(payments).toEqual([{ amount: 50, to: 'small' }]);
    await handle.executeUpdate(decideToolCallUpdate, {
      args: [{ toolUseId: 'toolu_big', decision: 'approve', decidedBy: 'gina' }],
    });
    await handle.result();
    expect(payments).toEqual([
      { amount: 50, to: 'small' },
      { amount: 500, to: 'big' },
    ]);
  });

  it('the signal twin applies decisions; a refused signal is recorded and never fails the workflow', async () => {
    const { handle, ids } = await startSaving(article(9));
    await handle.signal(decideToolCallSignal, {
      toolUseId: 'toolu_ghost',
      decision: 'approve',
      decidedBy: 'temporal-ui',
    });
    await handle.signal(decideToolCallSignal, {
      toolUseId: ids[0],
      decision: 'edit',
      input: { abstract: 3 },
      decidedBy: 'temporal-ui',
    });
    const refused = await t.waitFor(handle, (s) => s.refusedDecisions.length === 2);
    expect(refused.refusedDecisions[0]).toMatchObject({
      toolUseId: 'toolu_ghost',
      decidedBy: 'temporal-ui',
      error: expect.stringMatching(/unknown tool_use_id/),
    });
    expect(refused.refusedDecisions[1].error).toMatch(/does not match the save_article schema/);
    expect(refused.status).toBe('awaiting_approval');
    await handle.signal(decideToolCallSignal, {
      toolUseId: ids[0],
      decision: 'approve',
      decidedBy: 'temporal-ui',
    });
    await handle.result();
    expect((await handle.query(stateQuery, {})).decisions[0]).toMatchObject({
      via: 'signal',
      decidedBy: 'temporal-ui',
    });
    expect(await savedFor(handle.workflowId)).toHaveLength(1);
  });

  it('survives a worker restart while waiting', async () => {
    const { handle, ids } = await startSaving(article(10));
    await t.restartWorker();
    await handle.executeUpdate(decideToolCallUpdate, {
      args: [{ toolUseId: ids[0], decision: 'approve', decidedBy: 'hank' }],
    });
    expect((await handle.result()).lastText).toBe('Saved what I could.');
    expect(await savedFor(handle.workflowId)).toHaveLength(1);
  });

  it('ending a conversation that waits rejects the pending calls and keeps the transcript valid', async () => {
    const { handle, ids } = await startSaving(article(11));
    await handle.executeUpdate(endUpdate, { args: [{ by: 'ops', reason: 'abandoned' }] });
    expect(await handle.result()).toMatchObject({ status: 'completed', endReason: 'abandoned' });
    const state = await handle.query(stateQuery, {});
    expect(state.decisions[0]).toMatchObject({ toolUseId: ids[0], decision: 'reject', via: 'end' });
    expect(blocks(state.messages[2])[0]).toMatchObject({
      type: 'tool_result',
      tool_use_id: ids[0],
      is_error: true,
    });
    expect(await savedFor(handle.workflowId)).toHaveLength(0);
  });
});

describe('determinism', () => {
  it('replays every history of this file', async () => {
    expect(await t.replayHistories()).toBeGreaterThanOrEqual(10);
  });
});
