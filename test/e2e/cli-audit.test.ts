/**
 * `agent audit` as a real process against a real dev server and worker: a decision taken with
 * `agent approve` comes out as JSON lines and as CSV (with the CLI's channel and a formula-like reason
 * neutralised); bad arguments exit 2 before anything connects.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { reply } from '../../src/testing/fake-claude';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { fileReport } from '../support/agents';
import { cliAgainst } from '../support/cli';

let t: AgentEnv;
beforeAll(async () => {
  t = await startAgentEnv({ tools: [fileReport] });
}, 120_000);
afterAll(async () => {
  await t?.teardown();
});

const { cli, ok, state } = cliAgainst(() => t);
const since = new Date(Date.now() - 1000).toISOString();

describe('agent audit', () => {
  it('prints the decisions since a time as JSON lines and CSV', async () => {
    const id = `cli-audit-${process.pid}`;
    t.fake.script(id, [
      reply.toolUse({ name: 'file_report', input: { title: 'Q4' }, id: 'toolu_audit_1' }),
      reply.text('Filed.'),
    ]);
    ok(await cli(['start', 'File it', '--tools', 'file_report', '--single-turn', '--id', id]));
    await state(id, (s) => s.pendingApprovals.length === 1);
    ok(await cli(['reject', id, 'toolu_audit_1', '--reason', '=HYPERLINK("x")', '--by', 'alice']));
    await state(id, (s) => s.status === 'completed');

    const jsonl = ok(await cli(['audit', '--since', since]));
    const rows = jsonl.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.workflowId === id);
    expect(rows).toEqual([
      expect.objectContaining({
        toolUseId: 'toolu_audit_1',
        tool: 'file_report',
        decision: 'reject',
        decidedBy: 'alice',
        channel: 'cli',
        via: 'update',
        reason: '=HYPERLINK("x")',
        originalInput: { title: 'Q4' },
        final: true,
      }),
    ]);

    const csv = ok(await cli(['audit', '--since', since, '--format', 'csv']));
    const line = csv.stdout.split('\n').find((l) => l.includes(id));
    expect(line).toContain(`"'=HYPERLINK(""x"")"`);
    expect(line).toContain('"cli"');
    expect(csv.stdout.startsWith('decidedAt,workflowId,')).toBe(true);

    // An agent nobody ran: nothing.
    expect(ok(await cli(['audit', '--since', since, '--agent', 'nobody'])).stdout).toBe('');
  });

  it('bad arguments exit 2 before anything connects', async () => {
    const down = '127.0.0.1:1';
    for (const args of [
      ['audit'],
      ['audit', '--since', 'yesterday'],
      ['audit', '--since', since, '--format', 'xml'],
      ['audit', '--since', since, '--until', since],
      ['audit', '--since', since, '--agent', 'bad name'],
      ['audit', 'extra', '--since', since],
    ]) {
      const run = await cli(args, down);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
    }
  });
});
