/**
 * An agent's MCP servers as durable tool sources, end to end on a real dev server: real MCP servers
 * over stdio (a child process) and streamable HTTP, listed by the `prepareAgent` activity (recorded),
 * offered to the model under namespaced names, run by `runTool` with the idempotency key in `_meta`,
 * write tools behind approval by default; a server that is down is named in an error result.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineAgent } from '../../src/agents/define-agent';
import type { ConversationResult } from '../../src/api/conversation';
import { AgentClient } from '../../src/client';
import { reply } from '../../src/fake-claude';
import { startAgentEnv, type AgentEnv } from '../helpers/agent-env';
import { startHttpFixture, type HttpFixture } from '../mcp/fixture-server';

const ROOT = join(__dirname, '..', '..');
const FIXTURE = join(ROOT, 'test', 'mcp', 'fixture-server.ts');

let http: HttpFixture;
let t: AgentEnv;
let client: AgentClient;
beforeAll(async () => {
  http = await startHttpFixture();
  const shop = defineAgent({
    name: 'shop',
    model: 'claude-sonnet-5-5',
    system: 'You run the shop.',
    mcpServers: [
      {
        name: 'orders',
        transport: 'stdio',
        command: process.execPath,
        args: ['--import', 'tsx', FIXTURE, '--stdio'],
        cwd: ROOT,
        include: ['lookup_order', 'refund', 'image', 'fail'],
        // `fail` has no annotations: a write tool, approval by default; this one is safe to run at once.
        tools: { fail: { approval: 'never', effect: 'read' } },
      },
      {
        name: 'remote',
        transport: 'http',
        url: http.url,
        include: ['lookup_order', 'refund'],
        approval: 'never',
      },
    ],
  });
  const broken = defineAgent({
    name: 'broken',
    model: 'claude-sonnet-5-5',
    mcpServers: [{ name: 'gone', transport: 'http', url: 'http://127.0.0.1:9/mcp' }],
  });
  t = await startAgentEnv({ agents: [shop, broken] });
  client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
});
afterAll(async () => {
  await t?.teardown();
  await http?.close();
});

let n = 0;
const id = (name: string) => `mcp-agent-${name}-${process.pid}-${++n}`;

describe('an agent with MCP servers', () => {
  it('lists their tools once per run, namespaced, with effects from the annotations', async () => {
    const workflowId = id('list');
    t.fake.script(workflowId, [reply.text('Hello.')]);
    const started = await client.startConversation(
      { agent: 'shop', message: 'Hi', singleTurn: true },
      { workflowId },
    );
    const tools = started.agent?.tools.map((tool) => [tool.name, tool.effect, tool.server]);
    expect(tools).toEqual([
      ['orders__lookup_order', 'read', 'orders'],
      ['orders__refund', 'write', 'orders'],
      ['orders__image', 'read', 'orders'],
      ['orders__fail', 'read', 'orders'],
      ['remote__lookup_order', 'read', 'remote'],
      ['remote__refund', 'write', 'remote'],
    ]);
    await t.env.client.workflow.getHandle(workflowId).result();
    const [call] = t.requests(workflowId);
    const offered = (call.body.tools ?? []).map((tool) => (tool as { name: string }).name);
    expect(offered).toEqual(started.agent?.tools.map((tool) => tool.name));
  });

  it('runs a read tool at once and a write tool after approval (stdio)', async () => {
    const workflowId = id('stdio');
    t.fake.script(workflowId, [
      reply.toolUse([
        { name: 'orders__lookup_order', input: { orderId: 'A1' }, id: 'toolu_look' },
        { name: 'orders__refund', input: { orderId: 'A1', amountCents: 1000 }, id: 'toolu_refund' },
      ]),
      reply.text('Refunded.'),
    ]);
    await client.startConversation({ agent: 'shop', message: 'Refund A1', singleTurn: true }, { workflowId });
    const handle = t.env.client.workflow.getHandle(workflowId);
    const state = await t.waitFor(handle, (s) => s.pendingApprovals.length === 1);
    expect(state.pendingApprovals[0]).toMatchObject({ name: 'orders__refund', effect: 'write' });
    await client.decide(workflowId, { toolUseId: 'toolu_refund', decision: 'approve', decidedBy: 'ops' });
    const result = (await handle.result()) as ConversationResult;
    expect(result.lastText).toBe('Refunded.');
    const results = t.toolResults(workflowId);
    expect(results.map((r) => [r.tool_use_id, r.is_error ?? false])).toEqual([
      ['toolu_look', false],
      ['toolu_refund', false],
    ]);
    expect(JSON.stringify(results[1].content)).toContain('refunded 1000 cents on A1');
  });

  it('calls an HTTP server with the idempotency key in _meta and a per-server approval override; images and errors pass through', async () => {
    const workflowId = id('http');
    t.fake.script(workflowId, [
      reply.toolUse([
        { name: 'remote__refund', input: { orderId: 'B2', amountCents: 500 }, id: 'toolu_remote' },
        { name: 'orders__image', input: {}, id: 'toolu_image' },
        { name: 'orders__fail', input: {}, id: 'toolu_fail' },
      ]),
      reply.text('Done.'),
    ]);
    await client.startConversation({ agent: 'shop', message: 'Go', singleTurn: true }, { workflowId });
    await t.env.client.workflow.getHandle(workflowId).result();
    expect(http.state.refundCalls[`${workflowId}/toolu_remote`]).toBe(1);
    const results = t.toolResults(workflowId);
    expect(results[0]).toMatchObject({ tool_use_id: 'toolu_remote' });
    expect(results[0].is_error).toBeUndefined();
    expect(results[1].content).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'image' })]));
    expect(results[2]).toMatchObject({ tool_use_id: 'toolu_fail', is_error: true });
  });
});

describe('an MCP server that is down', () => {
  it('is retried, then the run goes on without its tools, saying which server and why', async () => {
    const workflowId = id('down');
    t.fake.script(workflowId, [reply.text('I have no tools.')]);
    const started = await client.startConversation(
      { agent: 'broken', message: 'Hi', singleTurn: true },
      { workflowId },
    );
    expect(started.agent?.tools).toEqual([]);
    expect(started.agent?.unavailable).toEqual([{ server: 'gone', error: expect.stringMatching(/gone/) }]);
    const result = (await t.env.client.workflow.getHandle(workflowId).result()) as ConversationResult;
    expect(result.lastText).toBe('I have no tools.');
  }, 60_000);
});

it('replays every conversation it ran', async () => {
  expect(await t.replayHistories()).toBeGreaterThanOrEqual(4);
});
