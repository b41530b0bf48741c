/**
 * Budgets from the `agent` CLI, as a real process against a real dev server, worker and the scripted
 * fake Messages API: `start --budget-tokens` sets one, the conversation parks on it before its second
 * model call, `show` prints what it spent against it and why it waits, `budget` raises it (text and
 * --json) and the conversation completes. Bad arguments exit 2 before anything connects; a raise of an
 * ended conversation exits 3, of an unknown one 4. `compact` compacts an idle conversation (as the
 * operator), `show` says so; an ended one exits 3.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { reply } from '../../src/testing/fake-claude';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { scriptWeatherCall } from '../support/agents';
import { cliAgainst } from '../support/cli';
import { inPool } from '../support/cli-runs';

let t: AgentEnv;
beforeAll(async () => {
  t = await startAgentEnv();
}, 120_000);
afterAll(async () => {
  await t?.teardown();
});

let n = 0;
const newId = (what: string) => `cli-budget-${what}-${process.pid}-${++n}`;

const { cli, ok, state } = cliAgainst(() => t);

describe('agent budget', () => {
  it('start --budget-tokens parks it; show prints the budget; budget raises it and it completes', async () => {
    const id = newId('raise');
    scriptWeatherCall(t.fake, id, { location: 'Paris', answer: 'Sunny in Paris.' });
    ok(
      await cli([
        'start',
        'Weather?',
        '--tools',
        'get_weather',
        '--single-turn',
        '--budget-tokens',
        '1',
        '--id',
        id,
      ]),
    );
    const parked = await state(id, (s) => s.status === 'needs_attention');
    expect(parked.attention?.reason).toBe('budget_exceeded');
    const spent = parked.budget!.spent.tokens;
    expect(spent).toBeGreaterThan(1);
    expect(t.requests(id)).toHaveLength(1);

    const [shown, shownJson] = await inPool([() => cli(['show', id]), () => cli(['show', id, '--json'])]);
    expect(ok(shown).stdout).toMatch(
      new RegExp(
        `^status: needs_attention \\(budget_exceeded: spent ${spent} tokens of a 1-token budget\\)$`,
        'm',
      ),
    );
    expect(shown.stdout).toMatch(new RegExp(`^budget: ${spent.toLocaleString('en-US')} of 1 tokens$`, 'm'));
    expect(JSON.parse(ok(shownJson).stdout)).toMatchObject({
      budget: { limit: { tokens: 1 }, spent: { tokens: spent } },
    });

    // Still under what it spent: the new ceiling is set, the conversation stays parked.
    const low = ok(await cli(['budget', id, '--tokens', '2', '--by', 'cli-budget']));
    expect(low.stdout).toBe('budget: 2 tokens\n');
    expect((await state(id, () => true)).status).toBe('needs_attention');

    const raised = ok(
      await cli(['budget', id, '--tokens', '1000000', '--usd', '2.5', '--note', 'worth it', '--json']),
    );
    expect(JSON.parse(raised.stdout)).toEqual({ budget: { tokens: 1_000_000, usd: 2.5 } });
    const result = (await t.env.client.workflow.getHandle(id).result()) as { lastText: string };
    expect(result.lastText).toBe('Sunny in Paris.');
    expect(t.requests(id)).toHaveLength(2);

    const after = ok(await cli(['show', id])).stdout;
    expect(after).toMatch(/^status: completed$/m);
    expect(after).toMatch(/^budget: \$\d+\.\d{4} of \$2\.50, [\d,]+ of 1,000,000 tokens$/m);
  });

  it('a raise of an ended conversation exits 3, of an unknown one 4 (--json says why)', async () => {
    const id = newId('ended');
    t.fake.script(id, [reply.text('Done.')]);
    ok(await cli(['start', 'Hi', '--single-turn', '--budget-usd', '0.5', '--id', id]));
    await t.env.client.workflow.getHandle(id).result();
    const [ended, unknown] = await inPool([
      () => cli(['budget', id, '--usd', '1']),
      () => cli(['budget', newId('nobody'), '--tokens', '10', '--json']),
    ]);
    expect(ended).toMatchObject({ code: 3, stdout: '' });
    expect(ended.stderr).toMatch(/^agent: the conversation .* has ended \(completed\)/);
    expect(unknown.code).toBe(4);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: 'not_found' });
  });

  it('bad arguments exit 2 before anything connects', async () => {
    const bad = [
      ['compact'],
      ['compact', 'x', '--instructions', ''],
      ['compact', 'x', '--usd', '1'],
      ['budget', 'x'],
      ['budget', 'x', '--usd', '0'],
      ['budget', 'x', '--usd', '1e3'],
      ['budget', 'x', '--usd', '-1'],
      ['budget', 'x', '--tokens', '1.5'],
      ['budget', 'x', '--tokens', '0'],
      ['budget', 'x', '--usd', '1', '--reason', 'r'],
      ['budget', '--usd', '1'],
      ['start', 'Hi', '--budget-usd', 'lots'],
      ['start', 'Hi', '--budget-tokens', '10.5'],
    ];
    // Temporal is not reachable at this address: only a usage error can answer before it is tried.
    const runs = await inPool(bad.map((args) => () => cli(args, '127.0.0.1:1')));
    runs.forEach((run, i) => {
      expect({ args: bad[i], code: run.code, stdout: run.stdout }).toEqual({
        args: bad[i],
        code: 2,
        stdout: '',
      });
    });
    expect(runs[2].stderr).toBe('agent: compact does not take --usd\n');
    expect(runs[3].stderr).toBe('agent: budget needs --usd and/or --tokens (the new ceilings)\n');
    expect(runs[5].stderr).toBe('agent: --usd must be a positive number up to 1000000000, not "1e3"\n');
    expect(runs[7].stderr).toMatch(/^agent: --tokens must be a positive integer/);
    expect(runs[9].stderr).toBe('agent: budget does not take --reason\n');
    expect(runs[11].stderr).toMatch(/^agent: --budget-usd must be a positive number/);
    const help = ok(await cli(['--help'], '127.0.0.1:1')).stdout;
    expect(help).toContain('budget <workflowId> [--usd N] [--tokens N] [--note N] [--by NAME]');
    expect(help).toContain('compact <workflowId> [--instructions TEXT] [--note N] [--by NAME]');
    expect(help).toContain('[--budget-usd N] [--budget-tokens N]');
  });
});

describe('agent compact', () => {
  it('compacts an idle conversation as the operator; show says where the prompt starts; ended exits 3', async () => {
    const id = newId('compact');
    t.fake.script(id, [reply.text('Hello there.')]);
    ok(await cli(['start', 'Hi', '--id', id]));
    await state(id, (s) => s.status === 'idle' && s.turn === 1);
    const asked = ok(await cli(['compact', id, '--instructions', 'Keep the names.', '--by', 'cli-ops']));
    expect(asked.stdout).toBe('compaction requested (0 so far): it happens at the next safe point\n');
    const compacted = await state(id, (s) => s.compaction?.count === 1 && s.status === 'idle');
    expect(compacted.compaction?.recent[0]).toMatchObject({ trigger: 'operator', by: 'cli-ops' });
    const request = t.requests(id).find((r) => 'compaction' in r.body)!;
    expect(request.body).toMatchObject({
      compaction: { type: 'summarize', instructions: 'Keep the names.' },
    });

    const shown = ok(await cli(['show', id])).stdout;
    expect(shown).toMatch(
      /^compactions: 1 \(last: operator by cli-ops at message 2, .*\); the prompt starts at message 2$/m,
    );
    expect(shown).toMatch(/^messages 0-1: compacted, in run [0-9a-f-]+$/m);
    expect(shown).toMatch(/^assistant: \[summary\] Summary of 2 messages/m);

    ok(await cli(['end', id]));
    await t.env.client.workflow.getHandle(id).result();
    const ended = await cli(['compact', id]);
    expect(ended).toMatchObject({ code: 3, stdout: '' });
  });
});
