/**
 * Approver groups, four-eyes counting and the audit export's pure parts: the rules the workflow's
 * validator applies (ApprovalBook), the rows and the CSV quoting.
 */
import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import type { DecideToolCallInput } from '../../src/api/approvals';
import { auditRowsOf, csvCell, inWindow, toCsv, toJsonLines } from '../../src/client/audit';
import { defineTool } from '../../src/tools/define-tool';
import { toolSnapshots } from '../../src/mcp/tool-snapshots';
import { ApprovalBook } from '../../src/workflows/approvals';

const T0 = '2026-12-01T00:00:00.000Z';
const T1 = '2026-12-01T00:01:00.000Z';
const T2 = '2026-12-01T00:02:00.000Z';
const T3 = '2026-12-01T00:03:00.000Z';

const schema = z.toJSONSchema(z.object({ amount: z.number().positive() })) as Record<string, unknown>;

function book(rules: { approvers?: string[]; approvalsRequired?: number }): ApprovalBook {
  const b = new ApprovalBook();
  b.request({
    toolUseId: 'toolu_1',
    name: 'refund',
    input: { amount: 500 },
    turn: 1,
    requestedAt: T0,
    deadline: '2026-12-02T00:00:00.000Z',
    effect: 'write',
    schema,
    ...rules,
  });
  return b;
}

/** As the update handler does: the validator's check, then apply. */
function decide(b: ApprovalBook, input: DecideToolCallInput, at = T1) {
  return b.apply(b.check(input), 'update', at);
}

describe('approver groups', () => {
  const finance = { approvers: ['finance'] };

  it('an approver in one of the groups may approve; the decision records the groups and the channel', () => {
    const b = book(finance);
    const [d] = decide(b, {
      toolUseId: 'toolu_1',
      decision: 'approve',
      decidedBy: 'fiona',
      groups: ['support', 'finance'],
      channel: 'ops',
    });
    expect(d).toMatchObject({
      decision: 'approve',
      decidedBy: 'fiona',
      groups: ['support', 'finance'],
      channel: 'ops',
    });
    expect(b.pending).toEqual([]);
  });

  it.each(['approve', 'reject', 'edit'] as const)('someone outside the groups may not %s', (decision) => {
    const b = book(finance);
    const request = {
      toolUseId: 'toolu_1',
      decision,
      decidedBy: 'sam',
      groups: ['support'],
      ...(decision === 'edit' && { input: { amount: 1 } }),
    };
    expect(() => b.check(request)).toThrow(
      /sam \(in support\) may not decide toolu_1: refund needs an approver in finance/,
    );
    expect(() => b.check({ ...request, groups: undefined })).toThrow(/in no group/);
    expect(b.pending).toHaveLength(1);
  });

  it('without approvers anyone may decide; an update that names no channel is recorded as admin', () => {
    const b = book({});
    const [d] = decide(b, { toolUseId: 'toolu_1', decision: 'reject', decidedBy: 'anyone', reason: 'no' });
    expect(d).toMatchObject({ decision: 'reject', channel: 'admin' });
    expect(d.groups).toBeUndefined();
  });

  it('groups are bounded and named like groups', () => {
    const b = book(finance);
    const base = { toolUseId: 'toolu_1', decision: 'approve' as const, decidedBy: 'x' };
    expect(() => b.check({ ...base, groups: Array.from({ length: 33 }, (_, i) => `g${i}`) })).toThrow(
      /invalid decision/,
    );
    expect(() => b.check({ ...base, groups: ['finance"; drop'] })).toThrow(/invalid decision/);
    expect(() => b.check({ ...base, groups: ['finance'], channel: 'web' as never })).toThrow(
      /invalid decision/,
    );
  });
});

describe('four-eyes: approvalsRequired', () => {
  const twoOfFinance = { approvers: ['finance'], approvalsRequired: 2 };
  const alice = {
    toolUseId: 'toolu_1',
    decision: 'approve' as const,
    decidedBy: 'alice',
    groups: ['finance'],
  };
  const bob = { ...alice, decidedBy: 'bob' };

  it('the first approval is counted, not decided; the second distinct approver decides', () => {
    const b = book(twoOfFinance);
    const [first] = decide(b, alice, T1);
    expect(first.awaiting).toEqual({ approvals: 1, required: 2 });
    expect(b.decisionFor('toolu_1')).toBeUndefined();
    expect(b.pending[0]).toMatchObject({
      approvalsRequired: 2,
      approvals: [{ decidedBy: 'alice', decidedAt: T1 }],
    });
    const [second] = decide(b, bob, T2);
    expect(second).toMatchObject({ decision: 'approve', decidedBy: 'bob', decidedAt: T2 });
    expect(second.awaiting).toBeUndefined();
    expect(second.approvals?.map((s) => s.decidedBy)).toEqual(['alice', 'bob']);
    expect(b.decisionFor('toolu_1')).toEqual(second);
    expect(b.pending).toEqual([]);
  });

  it('the same person twice does not count: refused with the reason (case and spaces do not make another person)', () => {
    const b = book(twoOfFinance);
    decide(b, alice);
    expect(() => b.check(alice)).toThrow(
      /alice already approved toolu_1 \(1 of 2 approvals\): the same person counts once/,
    );
    expect(() => b.check({ ...alice, decidedBy: ' Alice ' })).toThrow(/already approved/);
    expect(b.pending[0].approvals).toHaveLength(1);
  });

  it('one rejection rejects at once, the approvals before it kept', () => {
    const b = book(twoOfFinance);
    decide(b, alice, T1);
    const [d] = decide(b, { ...bob, decision: 'reject', reason: 'too much' }, T2);
    expect(d).toMatchObject({ decision: 'reject', decidedBy: 'bob', reason: 'too much' });
    expect(d.approvals?.map((s) => s.decidedBy)).toEqual(['alice']);
    expect(b.pending).toEqual([]);
  });

  it('an edit supersedes the approvals before it and counts as its author’s; the next approver runs the edited input', () => {
    const b = book(twoOfFinance);
    decide(b, alice, T1);
    const [edit] = decide(b, { ...bob, decision: 'edit', input: { amount: 200 } }, T2);
    expect(edit.awaiting).toEqual({ approvals: 1, required: 2 });
    expect(b.pending[0].editedInput).toEqual({ amount: 200 });
    expect(b.pending[0].approvals?.map((s) => [s.decidedBy, s.superseded ?? false])).toEqual([
      ['alice', true],
      ['bob', false],
    ]);
    // Alice approved the old input: she may approve the new one.
    const [final] = decide(b, alice, T3);
    expect(final).toMatchObject({
      decision: 'edit',
      decidedBy: 'alice',
      input: { amount: 200 },
      originalInput: { amount: 500 },
    });
  });

  it('the deadline rejects, the approvals collected so far kept', () => {
    const b = book(twoOfFinance);
    decide(b, alice, T1);
    const d = b.expire('toolu_1', 'deadline', 'too late', T2);
    expect(d).toMatchObject({ decision: 'reject', decidedBy: 'system:deadline', via: 'deadline' });
    expect(d.approvals).toHaveLength(1);
    expect(d.channel).toBeUndefined();
  });

  it('a signal is held to the same rules (refused, so the handler keeps it in refusedDecisions)', () => {
    const b = book(twoOfFinance);
    b.apply(b.check(alice), 'signal', T1);
    expect(() => b.check(alice)).toThrow(/already approved/);
    expect(() => b.check({ ...bob, groups: ['support'] })).toThrow(/needs an approver in finance/);
    expect(b.pending[0].approvals?.[0]).toMatchObject({ via: 'signal', channel: 'signal' });
  });

  it('continue-as-new carries the approvals collected', () => {
    const b = book(twoOfFinance);
    decide(b, alice);
    const carried = new ApprovalBook(JSON.parse(JSON.stringify(b.snapshot())));
    expect(() => carried.check(alice)).toThrow(/already approved/);
    expect(carried.apply(carried.check(bob), 'update', T2)[0].decision).toBe('approve');
  });
});

describe('defining approver rules', () => {
  const base = {
    description: 'd',
    input: z.object({ amount: z.number() }),
    effect: 'write' as const,
    run: async () => 'ok',
  };

  it('defineTool takes approvers and approvalsRequired, and refuses what the workflow could not apply', () => {
    expect(
      defineTool({ ...base, name: 'refund', approvers: ['finance'], approvalsRequired: 2 }),
    ).toMatchObject({
      approvers: ['finance'],
      approvalsRequired: 2,
    });
    expect(() => defineTool({ ...base, name: 'a', approvers: [] })).toThrow(
      /approvers must list 1 to 32 groups/,
    );
    expect(() => defineTool({ ...base, name: 'b', approvers: ['fin ance'] })).toThrow(
      /approver group "fin ance"/,
    );
    expect(() => defineTool({ ...base, name: 'c', approvalsRequired: 0 })).toThrow(
      /approvalsRequired must be an integer from 1 to 10/,
    );
    expect(() => defineTool({ ...base, name: 'd', approvalsRequired: 1.5 })).toThrow(/approvalsRequired/);
  });

  it('MCP: per server and per tool (the tool’s wins)', () => {
    const tools = toolSnapshots(
      {
        name: 'crm',
        transport: 'http',
        url: 'http://localhost/mcp',
        approvers: ['support'],
        tools: { refund: { approvers: ['finance'], approvalsRequired: 2 } },
      },
      [
        { name: 'refund', inputSchema: { type: 'object' } },
        { name: 'note', inputSchema: { type: 'object' } },
      ],
    );
    expect(tools.find((t) => t.mcpName === 'refund')).toMatchObject({
      approvers: ['finance'],
      approvalsRequired: 2,
    });
    const note = tools.find((t) => t.mcpName === 'note');
    expect(note).toMatchObject({ approvers: ['support'] });
    expect(note?.approvalsRequired).toBeUndefined();
  });
});

describe('audit export', () => {
  function decided() {
    const b = book({ approvers: ['finance'], approvalsRequired: 2 });
    decide(
      b,
      { toolUseId: 'toolu_1', decision: 'approve', decidedBy: 'alice', groups: ['finance'], channel: 'ops' },
      T1,
    );
    decide(
      b,
      { toolUseId: 'toolu_1', decision: 'approve', decidedBy: 'bob', groups: ['finance'], channel: 'cli' },
      T2,
    );
    return { decisions: b.decisions, pendingApprovals: b.pending, agent: { name: 'support' } };
  }

  it('every approval of a four-eyes call is its own row, the deciding one final', () => {
    const rows = auditRowsOf('conv-1', decided());
    expect(rows.map((r) => [r.decidedBy, r.decision, r.final, r.channel, r.groups])).toEqual([
      ['alice', 'approve', false, 'ops', ['finance']],
      ['bob', 'approve', true, 'cli', ['finance']],
    ]);
    expect(rows[0]).toMatchObject({
      workflowId: 'conv-1',
      agent: 'support',
      tool: 'refund',
      originalInput: { amount: 500 },
    });
  });

  it('approvals of a call still waiting are rows too; the window is [since, until)', () => {
    const b = book({ approvalsRequired: 2 });
    decide(b, { toolUseId: 'toolu_1', decision: 'approve', decidedBy: 'alice' }, T1);
    const rows = auditRowsOf('conv-2', { decisions: b.decisions, pendingApprovals: b.pending });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ final: false, decidedBy: 'alice', agent: null });
    expect(inWindow(rows, new Date(T1))).toHaveLength(1);
    expect(inWindow(rows, new Date(T2))).toHaveLength(0);
    expect(inWindow(rows, new Date(T0), new Date(T1))).toHaveLength(0);
  });

  it('JSON lines: one object a line', () => {
    const rows = auditRowsOf('conv-1', decided());
    const lines = toJsonLines(rows).trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(rows);
  });

  it('CSV: every cell quoted, quotes doubled, formula cells neutralised', () => {
    expect(csvCell('plain')).toBe('"plain"');
    expect(csvCell('say "hi", ok\nnext')).toBe('"say ""hi"", ok\nnext"');
    for (const start of ['=', '+', '-', '@', '\t', '\r'])
      expect(csvCell(`${start}HYPERLINK("http://evil")`)).toBe(`"'${start}HYPERLINK(""http://evil"")"`);
    const rows = auditRowsOf('conv-1', decided());
    rows[0].decidedBy = '=cmd|"/c calc"!A1';
    rows[0].reason = '@SUM(1)';
    const csv = toCsv(rows);
    const [header, first] = csv.split('\r\n');
    expect(header).toBe(
      'decidedAt,workflowId,agent,toolUseId,tool,decision,final,superseded,decidedBy,groups,channel,via,reason,originalInput,editedInput,action,forkedFrom',
    );
    expect(first).toContain(`"'=cmd|""/c calc""!A1"`);
    expect(first).toContain(`"'@SUM(1)"`);
    expect(first).toContain('"{""amount"":500}"');
    expect(csv.endsWith('\r\n')).toBe(true);
  });
});
