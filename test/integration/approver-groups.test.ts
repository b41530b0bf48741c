/**
 * Approver groups and four-eyes through the real workflow on a dev server: an approver outside the
 * tool's group refused (update and signal), two distinct approvers before the call runs (once), the
 * same person twice refused, one reject rejecting, and the audit export of those decisions.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decideToolCallSignal, decideToolCallUpdate } from '../../src/api/approvals';
import { stateQuery } from '../../src/api/conversation';
import { AgentClient, toCsv, toJsonLines } from '../../src/client';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { financeRefund, refundWaiting as refundWaitingFor } from '../support/agents';
import { expectRefused } from '../support/updates';

const { refund, refunds } = financeRefund();

let t: AgentEnv;
let client: AgentClient;
const since = new Date(Date.now() - 1000);
beforeAll(async () => {
  t = await startAgentEnv({ tools: [refund] });
  client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
});
afterAll(async () => {
  await t?.teardown();
});

const refundWaiting = (order: string) => refundWaitingFor(t, order, 'Done.');

const workflowIds: string[] = [];

describe('approver groups and four-eyes', () => {
  it('an approver outside the group is refused (update and signal); two distinct approvers run it once; the same person twice is refused', async () => {
    const { handle, toolUseId, state } = await refundWaiting('A1');
    workflowIds.push(handle.workflowId);
    expect(state.pendingApprovals[0]).toMatchObject({ approvers: ['finance'], approvalsRequired: 2 });

    const outsider = { toolUseId, decidedBy: 'sam', groups: ['support'] };
    await expectRefused(
      handle.executeUpdate(decideToolCallUpdate, { args: [{ ...outsider, decision: 'approve' }] }),
      /sam \(in support\) may not decide .*refund needs an approver in finance/,
    );
    // A rejection too: nobody outside finance decides a refund.
    await expectRefused(
      handle.executeUpdate(decideToolCallUpdate, {
        args: [{ ...outsider, decision: 'reject', reason: 'no' }],
      }),
      /may not decide/,
    );
    await handle.signal(decideToolCallSignal, { ...outsider, decision: 'approve' });
    const refused = await t.waitFor(handle, (s) => s.refusedDecisions.length === 1);
    expect(refused.refusedDecisions[0]).toMatchObject({ toolUseId, decidedBy: 'sam' });
    expect(refused.refusedDecisions[0].error).toMatch(/needs an approver in finance/);
    expect(refused.pendingApprovals[0].approvals ?? []).toEqual([]);

    const alice = { toolUseId, decision: 'approve' as const, decidedBy: 'alice', groups: ['finance'] };
    const [first] = await client.decide(handle.workflowId, { ...alice, channel: 'ops' });
    expect(first).toMatchObject({ decidedBy: 'alice', awaiting: { approvals: 1, required: 2 } });
    const waiting = await handle.query(stateQuery, { from: -1 });
    expect(waiting.status).toBe('awaiting_approval');
    expect(waiting.pendingApprovals[0].approvals).toEqual([
      expect.objectContaining({ decidedBy: 'alice', groups: ['finance'], channel: 'ops', via: 'update' }),
    ]);
    expect(refunds.filter((r) => r.order === 'A1')).toHaveLength(0);

    // Alice again, by update or signal: not a second approval.
    await expectRefused(
      handle.executeUpdate(decideToolCallUpdate, { args: [alice] }),
      /alice already approved .*\(1 of 2 approvals\): the same person counts once/,
    );
    await handle.signal(decideToolCallSignal, { ...alice, decidedBy: 'Alice' });
    const twice = await t.waitFor(handle, (s) => s.refusedDecisions.length === 2);
    expect(twice.refusedDecisions[1].error).toMatch(/already approved/);
    expect(twice.status).toBe('awaiting_approval');

    const [second] = await client.decide(handle.workflowId, { ...alice, decidedBy: 'bob', channel: 'cli' });
    expect(second).toMatchObject({ decision: 'approve', decidedBy: 'bob', channel: 'cli' });
    expect(second.awaiting).toBeUndefined();
    expect(second.approvals?.map((s) => s.decidedBy)).toEqual(['alice', 'bob']);
    await handle.result();
    expect(refunds.filter((r) => r.order === 'A1')).toEqual([{ order: 'A1', amount: 250 }]);
    const done = await handle.query(stateQuery, { from: -1 });
    expect(done.decisions).toEqual([second]);
  });

  it('one reject by an approver rejects at once, after an approval', async () => {
    const { handle, toolUseId } = await refundWaiting('B2');
    workflowIds.push(handle.workflowId);
    const finance = { toolUseId, groups: ['finance'] };
    await client.decide(handle.workflowId, { ...finance, decision: 'approve', decidedBy: 'alice' });
    const [rejected] = await client.decide(handle.workflowId, {
      ...finance,
      decision: 'reject',
      decidedBy: 'bob',
      reason: '=not this one',
    });
    expect(rejected).toMatchObject({ decision: 'reject', decidedBy: 'bob', channel: 'client' });
    await handle.result();
    expect(refunds.filter((r) => r.order === 'B2')).toHaveLength(0);
  });

  it('the audit exports those decisions (closed conversations included) as JSON lines and CSV', async () => {
    const { rows, unreadable } = await client.audit({ since });
    expect(unreadable).toEqual([]);
    const ours = rows.filter((r) => workflowIds.includes(r.workflowId));
    expect(ours.map((r) => [r.workflowId, r.decidedBy, r.decision, r.final, r.channel, r.groups])).toEqual([
      [workflowIds[0], 'alice', 'approve', false, 'ops', ['finance']],
      [workflowIds[0], 'bob', 'approve', true, 'cli', ['finance']],
      [workflowIds[1], 'alice', 'approve', false, 'client', ['finance']],
      [workflowIds[1], 'bob', 'reject', true, 'client', ['finance']],
    ]);
    expect(ours[0]).toMatchObject({
      tool: 'refund',
      originalInput: { order: 'A1', amount: 250 },
      editedInput: null,
    });

    const lines = toJsonLines(ours).trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(ours);
    const csv = toCsv(ours).split('\r\n');
    expect(csv).toHaveLength(ours.length + 2); // header, rows, the final empty line
    expect(csv[4]).toContain(`"'=not this one"`);
    expect(csv[1]).toContain('"{""order"":""A1"",""amount"":250}"');

    // A window that ends before them finds none of them.
    const before = await client.audit({ since: new Date(since.getTime() - 60_000), until: since });
    expect(before.rows.filter((r) => workflowIds.includes(r.workflowId))).toEqual([]);
  });
});

it('replays every conversation it ran', async () => {
  expect(await t.replayHistories()).toBeGreaterThanOrEqual(2);
});
