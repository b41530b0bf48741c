/**
 * Agent definitions on a real dev server: a conversation names its agent; the worker builds each call
 * from the definition (history keeps the name and fingerprint, not the prompt); an unknown agent is
 * refused at start; a deploy that changes the agent shows as a fingerprint change; sub-agents run as
 * child conversations (approvals, usage roll-up, end of the parent, cycles, depth) and replay.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { defineAgent } from '../../src/agents/define-agent';
import { decideToolCallUpdate } from '../../src/api/approvals';
import { endUpdate, stateQuery, type ConversationResult } from '../../src/api/conversation';
import { AgentClient } from '../../src/client';
import { reply } from '../../src/testing/fake-claude';
import { defineTool } from '../../src/tools/define-tool';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { lookup, scriptSubAgentCall } from '../support/agents';

const refunds: string[] = [];
const refund = defineTool({
  name: 'refund_order',
  description: 'Refunds an order',
  input: z.object({ id: z.string(), amount: z.number() }),
  effect: 'write',
  approval: 'never',
  run: async ({ id }, ctx) => {
    refunds.push(ctx.idempotencyKey);
    return { refunded: id };
  },
});

const SYSTEM = 'You are the support agent. SECRET-PROMPT-MARKER';
const support = defineAgent({
  name: 'support',
  description: 'Support',
  model: 'claude-opus-4-1',
  system: SYSTEM,
  tools: [lookup, refund],
  // The agent asks for approval where the tool itself would not.
  approval: { refund_order: (input: { amount: number }) => input.amount > 100 },
  subAgents: ['researcher'],
  maxTokens: 2000,
});
const researcher = defineAgent({
  name: 'researcher',
  description: 'Finds things out',
  model: 'claude-haiku-4-5',
  system: 'You research.',
  tools: [refund],
  approval: { refund_order: 'always' },
  subAgents: ['looper'],
});
const looper = defineAgent({
  name: 'looper',
  model: 'claude-haiku-4-5',
  subAgents: ['researcher'],
});
const shallow = defineAgent({
  name: 'shallow',
  model: 'claude-haiku-4-5',
  subAgents: ['researcher'],
  maxSubAgentDepth: 0,
});

let t: AgentEnv;
let client: AgentClient;
beforeAll(async () => {
  t = await startAgentEnv({ agents: [support, researcher, looper, shallow] });
  client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
});
afterAll(async () => {
  await t?.teardown();
});

let n = 0;
const id = (name: string) => `agents-${name}-${process.pid}-${++n}`;

describe('an agent conversation', () => {
  it('is built from the definition on the worker; history keeps the name and fingerprint, not the prompt', async () => {
    const workflowId = id('basic');
    t.fake.script(workflowId, [
      reply.toolUse({ name: 'lookup', input: { id: 'A1' }, id: 'toolu_lookup' }),
      reply.text('Order A1 is 120.'),
    ]);
    const started = await client.startConversation(
      { agent: 'support', message: 'What about A1?', singleTurn: true },
      { workflowId },
    );
    expect(started.agent).toMatchObject({ name: 'support', fingerprint: support.fingerprint });
    expect(started.agent?.tools.map((tool) => [tool.name, tool.source])).toEqual([
      ['lookup', 'tool'],
      ['refund_order', 'tool'],
      ['researcher', 'agent'],
    ]);
    const handle = t.env.client.workflow.getHandle(workflowId);
    const result = (await handle.result()) as ConversationResult;
    expect(result.lastText).toBe('Order A1 is 120.');

    const [first] = t.requests(workflowId);
    expect(first.body.model).toBe('claude-opus-4-1');
    expect(first.body.max_tokens).toBe(2000);
    expect(JSON.stringify(first.body.system)).toContain('SECRET-PROMPT-MARKER');
    expect(first.body.tools?.map((tool) => (tool as { name: string }).name)).toEqual([
      'lookup',
      'refund_order',
      'researcher',
    ]);

    const history = JSON.stringify(await handle.fetchHistory());
    expect(history).not.toContain('SECRET-PROMPT-MARKER');
    const state = await handle.query(stateQuery, {});
    expect(state.model).toBe('claude-opus-4-1');
    expect(state.agent).toMatchObject({ name: 'support', fingerprint: support.fingerprint, changes: [] });
    const described = await handle.describe();
    expect(described.searchAttributes.AgentName).toEqual(['support']);
  });

  it('refuses an unknown agent at start, naming the agents the workers serve; nothing is left running', async () => {
    const workflowId = id('unknown');
    const err = await client.startConversation({ agent: 'nobody', message: 'hi' }, { workflowId }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe('invalid');
    expect(err?.message).toMatch(/unknown agent "nobody".*support, researcher, looper, shallow/);
    const described = await t.env.client.workflow.getHandle(workflowId).describe();
    expect(described.status.name).toBe('FAILED');
  });

  it("applies the agent's approval override to its tool", async () => {
    const workflowId = id('approval');
    t.fake.script(workflowId, [
      reply.toolUse({ name: 'refund_order', input: { id: 'A1', amount: 150 }, id: 'toolu_refund' }),
      reply.text('Refunded.'),
    ]);
    await client.startConversation(
      { agent: 'support', message: 'Refund A1', singleTurn: true },
      { workflowId },
    );
    const handle = t.env.client.workflow.getHandle(workflowId);
    const state = await t.waitFor(handle, (s) => s.pendingApprovals.length === 1);
    expect(state.pendingApprovals[0]).toMatchObject({ name: 'refund_order', effect: 'write' });
    await handle.executeUpdate(decideToolCallUpdate, {
      args: [{ toolUseId: 'toolu_refund', decision: 'approve', decidedBy: 'alice' }],
    });
    await handle.result();
    expect(refunds).toContain(`${workflowId}/toolu_refund`);
  });
});

describe('a tool the model was not offered', () => {
  it("is never run: an ad-hoc conversation cannot reach an agent's tool, an agent's call a tool outside its own", async () => {
    const adHoc = id('adhoc-injection');
    t.fake.script(adHoc, [
      reply.toolUse({ name: 'refund_order', input: { id: 'Z9', amount: 1 }, id: 'toolu_sneak' }),
      reply.text('Tried.'),
    ]);
    await client.startConversation(
      { model: 'claude-sonnet-5-5', message: 'Hi', tools: ['get_weather'], singleTurn: true },
      { workflowId: adHoc },
    );
    await t.env.client.workflow.getHandle(adHoc).result();
    expect(t.toolResults(adHoc)).toMatchObject([
      {
        tool_use_id: 'toolu_sneak',
        is_error: true,
        content: expect.stringMatching(/Unknown tool "refund_order"/),
      },
    ]);
    const agentCall = id('agent-injection');
    t.fake.script(agentCall, [
      reply.toolUse({
        name: 'save_article',
        input: { abstract: 'x', meta: { word_count: 1, review: 'y' } },
        id: 'toolu_other',
      }),
      reply.text('Tried.'),
    ]);
    await client.startConversation(
      { agent: 'support', message: 'Hi', singleTurn: true },
      { workflowId: agentCall },
    );
    await t.env.client.workflow.getHandle(agentCall).result();
    expect(t.toolResults(agentCall)).toMatchObject([
      {
        tool_use_id: 'toolu_other',
        is_error: true,
        content: expect.stringMatching(/Unknown tool "save_article"/),
      },
    ]);
    expect(refunds.some((key) => key.startsWith(adHoc))).toBe(false);
  });
});

describe('sub-agents', () => {
  it('run as a child conversation whose answer is the tool result; usage rolls up', async () => {
    const workflowId = id('parent');
    const childId = scriptSubAgentCall(
      t.fake,
      workflowId,
      {
        agent: 'researcher',
        task: 'Find the policy',
        toolUseId: 'toolu_research',
        answer: 'The researcher says: 30 days.',
      },
      [reply.text('Returns are accepted for 30 days.')],
    );
    await client.startConversation(
      { agent: 'support', message: 'Policy?', singleTurn: true },
      { workflowId },
    );
    const handle = t.env.client.workflow.getHandle(workflowId);
    const result = (await handle.result()) as ConversationResult;
    expect(result.lastText).toBe('The researcher says: 30 days.');
    expect(t.toolResults(workflowId)).toEqual([
      { type: 'tool_result', tool_use_id: 'toolu_research', content: 'Returns are accepted for 30 days.' },
    ]);
    // The child got the task as its first message, from its own definition.
    const [childCall] = t.requests(childId);
    expect(childCall.body.model).toBe('claude-haiku-4-5');
    expect(JSON.stringify(childCall.body.messages)).toContain('Find the policy');
    expect(childCall.body.messages).toHaveLength(1);
    const child = await t.env.client.workflow.getHandle(childId).query(stateQuery, {});
    expect(child.parent).toMatchObject({
      workflowId,
      toolUseId: 'toolu_research',
      agent: 'support',
      depth: 1,
    });
    const parent = await handle.query(stateQuery, {});
    expect(parent.subAgents).toMatchObject([
      { toolUseId: 'toolu_research', workflowId: childId, agent: 'researcher', status: 'completed' },
    ]);
    // 2 calls of the parent, 1 of the child.
    expect(parent.usage.calls).toBe(3);
    expect(result.usage.calls).toBe(3);
  });

  it("put the child's approvals in the same queue, linked to the parent", async () => {
    const workflowId = id('parent-approval');
    const childId = scriptSubAgentCall(
      t.fake,
      workflowId,
      { agent: 'researcher', task: 'Refund B2', toolUseId: 'toolu_delegate', answer: 'Done.' },
      [
        reply.toolUse({ name: 'refund_order', input: { id: 'B2', amount: 5 }, id: 'toolu_child_refund' }),
        reply.text('Refunded B2.'),
      ],
    );
    await client.startConversation(
      { agent: 'support', message: 'Refund B2', singleTurn: true },
      { workflowId },
    );
    const child = t.env.client.workflow.getHandle(childId);
    await t.waitFor(child, (s) => s.pendingApprovals.length === 1);
    const queue = await client.listPendingApprovals();
    const rows = queue.filter((r) => r.workflowId === childId);
    expect(rows.map((r) => r.toolUseId)).toEqual(['toolu_child_refund']);
    const [row] = rows;
    expect(row?.parent).toMatchObject({ workflowId, toolUseId: 'toolu_delegate', agent: 'support' });
    expect(row?.agent).toBe('researcher');
    await client.decide(childId, { toolUseId: 'toolu_child_refund', decision: 'approve', decidedBy: 'bob' });
    const done = (await t.env.client.workflow.getHandle(workflowId).result()) as ConversationResult;
    expect(done.lastText).toBe('Done.');
    expect(refunds).toContain(`${childId}/toolu_child_refund`);
  });

  it('ending the parent while its sub-agent waits for approval stops the sub-agent; the parent completes', async () => {
    const workflowId = id('parent-stop');
    const childId = scriptSubAgentCall(
      t.fake,
      workflowId,
      { agent: 'researcher', task: 'Refund C3', toolUseId: 'toolu_stop', answer: 'unreachable' },
      [
        reply.toolUse({ name: 'refund_order', input: { id: 'C3', amount: 5 }, id: 'toolu_c3' }),
        reply.text('unreachable'),
      ],
    );
    await client.startConversation({ agent: 'support', message: 'Go', singleTurn: true }, { workflowId });
    const handle = t.env.client.workflow.getHandle(workflowId);
    await t.waitFor(t.env.client.workflow.getHandle(childId), (s) => s.pendingApprovals.length === 1);
    await client.end(workflowId, 'alice', 'enough');
    const result = (await handle.result()) as ConversationResult;
    expect(result).toMatchObject({ status: 'completed', endReason: 'enough' });
    const child = await t.env.client.workflow.getHandle(childId).describe();
    expect(child.status.name).toBe('CANCELLED');
    const parent = await handle.query(stateQuery, {});
    // The stopped child reported what it spent (a cancelled run has no result): in the parent's totals.
    expect(parent.subAgents?.[0]).toMatchObject({ status: 'cancelled', usage: { calls: 1 } });
    expect(parent.usage.calls).toBe(2);
    expect(refunds).not.toContain(`${childId}/toolu_c3`);
  });

  it('refuses a cycle with an error result that shows it', async () => {
    const workflowId = id('cycle');
    const childId = scriptSubAgentCall(t.fake, workflowId, {
      agent: 'researcher',
      task: 'Look it up',
      toolUseId: 'toolu_r',
      answer: 'Finished.',
    });
    const looperId = scriptSubAgentCall(t.fake, childId, {
      agent: 'looper',
      task: 'loop',
      toolUseId: 'toolu_loop',
      answer: 'Researcher done.',
    });
    // The call that closes the cycle: refused, so no conversation of its own to script.
    scriptSubAgentCall(t.fake, looperId, {
      agent: 'researcher',
      task: 'again',
      toolUseId: 'toolu_cycle',
      answer: 'Looper gave up.',
    });
    await client.startConversation({ agent: 'support', message: 'Go', singleTurn: true }, { workflowId });
    const result = (await t.env.client.workflow.getHandle(workflowId).result()) as ConversationResult;
    expect(result.lastText).toBe('Finished.');
    const [cycle] = t.toolResults(looperId);
    expect(cycle).toMatchObject({ tool_use_id: 'toolu_cycle', is_error: true });
    expect(String(cycle.content)).toMatch(/support → researcher → looper → researcher/);
  });

  it('refuses a call past the depth limit with an error result', async () => {
    const workflowId = id('shallow');
    scriptSubAgentCall(t.fake, workflowId, {
      agent: 'researcher',
      task: 'x',
      toolUseId: 'toolu_deep',
      answer: 'OK, myself then.',
    });
    await client.startConversation({ agent: 'shallow', message: 'Go', singleTurn: true }, { workflowId });
    await t.env.client.workflow.getHandle(workflowId).result();
    const [result] = t.toolResults(workflowId);
    expect(result).toMatchObject({ tool_use_id: 'toolu_deep', is_error: true });
    expect(String(result.content)).toMatch(/nest 0 deep/);
  });
});

describe('a deploy that changes the agent', () => {
  it('uses the new definition from the next call and records the fingerprint change', async () => {
    const workflowId = id('deploy');
    t.fake.script(workflowId, [reply.text('First.'), reply.text('Second.')]);
    await client.startConversation({ agent: 'support', message: 'One' }, { workflowId });
    const handle = t.env.client.workflow.getHandle(workflowId);
    await t.waitFor(handle, (s) => s.status === 'idle');
    const changed = defineAgent({ ...support, system: 'A new prompt.', tools: support.tools });
    expect(changed.fingerprint).not.toBe(support.fingerprint);
    await t.restartWorker({ agents: [changed, researcher, looper, shallow] });
    await client.sendMessage(workflowId, 'Two');
    const state = await t.waitFor(handle, (s) => s.status === 'idle' && s.turn === 2);
    expect(JSON.stringify(t.requests(workflowId)[1].body.system)).toContain('A new prompt.');
    expect(state.agent?.fingerprint).toBe(changed.fingerprint);
    expect(state.agent?.changes).toMatchObject([
      { from: support.fingerprint, to: changed.fingerprint, turn: 2 },
    ]);
    await handle.executeUpdate(endUpdate, { args: [{}] });
    await t.restartWorker({ agents: [support, researcher, looper, shallow] });
  });
});

it('replays every conversation it ran, sub-agents included', async () => {
  expect(await t.replayHistories()).toBeGreaterThanOrEqual(10);
});
