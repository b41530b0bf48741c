/**
 * The `agent` CLI with agent definitions, as a real process against a real dev server, a worker that
 * serves two agents and the scripted fake Messages API: `start --agent` prints the agent and its
 * fingerprint (an unknown agent exits 2 naming the served ones); `show` prints the agent, a deploy's
 * fingerprint change, a sub-agent's parent and a parent's sub-agent runs; `list` shows the agent and
 * filters by it; `pending` shows the agent of a call and the conversation a sub-agent works for. The
 * parent's id holds an escape sequence: every line that names it shows it visibly.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineAgent } from '../../src/agents/define-agent';
import { forTerminal } from '../../src/cli/sanitize';
import { AgentClient } from '../../src/client';
import { reply } from '../../src/testing/fake-claude';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { fileReport, lookup, scriptSubAgentCall } from '../support/agents';
import { cliAgainst } from '../support/cli';
import { inPool } from '../support/cli-runs';

const spec = {
  name: 'support',
  model: 'claude-opus-4-1',
  system: 'You are the support agent.',
  tools: [lookup],
  subAgents: ['researcher'],
};
const support = defineAgent(spec);
const researcher = defineAgent({
  name: 'researcher',
  model: 'claude-haiku-4-5',
  system: 'You research and file reports.',
  tools: [fileReport],
});

let t: AgentEnv;
let client: AgentClient;
beforeAll(async () => {
  t = await startAgentEnv({ agents: [support, researcher] });
  client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
}, 120_000);
afterAll(async () => {
  await t?.teardown();
});

let n = 0;
const newId = (what: string) => `cli-agents-${what}-${process.pid}-${++n}`;

const { cli, ok, state } = cliAgainst(() => t);

describe('agent start --agent', () => {
  it('prints the agent and its fingerprint (text and --json); the model is the agent’s', async () => {
    const [textId, jsonId] = [newId('start'), newId('start-json')];
    t.fake.script(textId, [reply.text('Hello from support.')]);
    t.fake.script(jsonId, [reply.text('Hello again.')]);
    const [text, json] = await Promise.all([
      cli(['start', 'Hi', '--agent', 'support', '--single-turn', '--id', textId]),
      cli(['start', 'Hi', '--agent', 'support', '--single-turn', '--id', jsonId, '--json']),
    ]);
    expect(ok(text).stdout).toBe(`started ${textId}\nagent: support (fingerprint ${support.fingerprint})\n`);
    expect(JSON.parse(ok(json).stdout)).toMatchObject({
      workflowId: jsonId,
      agent: {
        name: 'support',
        fingerprint: support.fingerprint,
        tools: [
          { name: 'lookup', source: 'tool', effect: 'read' },
          { name: 'researcher', source: 'agent' },
        ],
      },
    });
    await t.env.client.workflow.getHandle(textId).result();
    expect(t.requests(textId)[0].body.model).toBe('claude-opus-4-1');
  });

  it('an unknown agent exits 2 naming the agents the workers serve; --model beside --agent is bad usage', async () => {
    const id = newId('unknown');
    const [text, json, clash] = await Promise.all([
      cli(['start', 'Hi', '--agent', 'nobody', '--id', id]),
      cli(['start', 'Hi', '--agent', 'nobody', '--id', `${id}-json`, '--json']),
      // Checked before anything connects: Temporal is not even reachable here.
      cli(['start', 'Hi', '--agent', 'support', '--model', 'claude-haiku-4-5'], '127.0.0.1:1'),
    ]);
    expect(text).toMatchObject({ code: 2, stdout: '' });
    expect(text.stderr).toBe('agent: unknown agent "nobody": the workers serve support, researcher\n');
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({
      error: 'invalid',
      message: 'unknown agent "nobody": the workers serve support, researcher',
    });
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/^agent: --model cannot be given with --agent/);
  });
});

describe('a conversation with a sub-agent', () => {
  // The parent's id holds a clear-screen sequence: the CLI refuses it in --id, a client need not.
  const parentId = newId('parent\x1b[2J');
  const shownParent = forTerminal(parentId);
  let childId: string;
  let shownChild: string;

  beforeAll(async () => {
    childId = scriptSubAgentCall(
      t.fake,
      parentId,
      {
        agent: 'researcher',
        task: 'File the Q3 report',
        toolUseId: 'toolu_research',
        answer: 'The researcher filed it.',
      },
      [
        reply.toolUse({ name: 'file_report', input: { title: 'Q3' }, id: 'toolu_file' }),
        reply.text('Filed Q3.'),
      ],
    );
    shownChild = forTerminal(childId);
    await client.startConversation(
      { agent: 'support', message: 'File the Q3 report', singleTurn: true },
      { workflowId: parentId },
    );
    await state(childId, (s) => s.pendingApprovals.length === 1);
  });

  it('show, pending and list name the agents and link child and parent', async () => {
    const [child, parent, parentJson, pending, listed, listedJson] = await inPool([
      () => cli(['show', childId]),
      () => cli(['show', parentId]),
      () => cli(['show', parentId, '--json']),
      () => cli(['pending']),
      () => cli(['list', '--limit', '1000']),
      () => cli(['list', '--agent', 'researcher', '--limit', '1000', '--json']),
    ]);
    expect(ok(child).stdout).toContain(
      `agent: researcher (fingerprint ${researcher.fingerprint})\ntools: file_report (tool, write)\nsub-agent of ${shownParent} (tool call toolu_research)\n`,
    );
    expect(ok(parent).stdout).toContain(
      `agent: support (fingerprint ${support.fingerprint})\ntools: lookup (tool, read), researcher (agent)\nsub-agents:\n  ${shownChild}  researcher  running  started `,
    );
    expect(JSON.parse(ok(parentJson).stdout)).toMatchObject({
      agent: { name: 'support', fingerprint: support.fingerprint, changes: [] },
      subAgents: [
        { toolUseId: 'toolu_research', workflowId: childId, agent: 'researcher', status: 'running' },
      ],
    });
    expect(ok(pending).stdout).toContain(
      `${shownChild}  toolu_file  file_report  agent researcher  via ${shownParent}  requested `,
    );
    // The list reads the AgentName search attribute (visibility is eventually consistent, but both
    // rows were written when their runs began, long before the approval was requested).
    expect(ok(listed).stdout).toMatch(
      new RegExp(`^${escape(shownParent)}  running +claude-opus-4-1  agent support  `, 'm'),
    );
    expect(listed.stdout).toMatch(
      new RegExp(`^${escape(shownChild)}  awaiting_approval +claude-haiku-4-5  agent researcher  `, 'm'),
    );
    const rows = JSON.parse(ok(listedJson).stdout) as Array<{ workflowId: string; agent: string | null }>;
    expect(rows.map((r) => r.workflowId)).toContain(childId);
    expect(rows.every((r) => r.agent === 'researcher')).toBe(true);
  });

  it('list --agent takes only an agent name, before anything connects', async () => {
    const run = await cli(['list', '--agent', 'support" OR WorkflowType != "x'], '127.0.0.1:1');
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toMatch(/^agent: --agent: .* is not an agent name/);
  });

  it('approved from the CLI, the sub-agent answers and the parent completes', async () => {
    ok(await cli(['approve', childId, 'toolu_file', '--by', 'cli-agents']));
    await t.env.client.workflow.getHandle(parentId).result();
    const shown = ok(await cli(['show', parentId])).stdout;
    expect(shown).toMatch(/^status: completed$/m);
    expect(shown).toMatch(
      new RegExp(`^  ${escape(shownChild)}  researcher  completed  started \\S+  ended `, 'm'),
    );
  });
});

describe('a deploy that changes the agent', () => {
  it('show prints the fingerprint change at the turn it took effect', async () => {
    const id = newId('deploy');
    t.fake.script(id, [reply.text('First.'), reply.text('Second.')]);
    ok(await cli(['start', 'One', '--agent', 'support', '--id', id]));
    await state(id, (s) => s.status === 'idle');
    const changed = defineAgent({ ...spec, system: 'You are the new support agent.' });
    await t.restartWorker({ agents: [changed, researcher] });
    ok(await cli(['send', id, 'Two']));
    await state(id, (s) => s.status === 'idle' && s.turn === 2);
    const shown = ok(await cli(['show', id])).stdout;
    expect(shown).toContain(`agent: support (fingerprint ${changed.fingerprint})\n`);
    expect(shown).toMatch(
      new RegExp(
        `^agent changed at turn 2: ${support.fingerprint} → ${changed.fingerprint} \\(\\S+\\)$`,
        'm',
      ),
    );
    await client.end(id, 'cli-agents', 'done');
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
