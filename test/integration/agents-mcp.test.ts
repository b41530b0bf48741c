/**
 * An agent's MCP servers as durable tool sources, end to end on a real dev server: real MCP servers
 * over stdio (a child process) and streamable HTTP, listed by the `prepareAgent` activity (recorded),
 * offered to the model under namespaced names, run by `runTool` with the idempotency key in `_meta`,
 * write tools behind approval by default; a server that is down is named in an error result.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineAgent } from '../../src/agents/define-agent';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { CONVERSATION_WORKFLOW, endUpdate, type ConversationResult } from '../../src/api/conversation';
import type { conversationWorkflow } from '../../src/workflows/conversation';
import { AgentClient } from '../../src/client';
import { reply } from '../../src/testing/fake-claude';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { startHttpFixture, type HttpFixture } from '../support/mcp-fixture-server';

const ROOT = join(__dirname, '..', '..');
const FIXTURE = join(ROOT, 'test', 'support', 'mcp-fixture-server.ts');

const MANY_TOOLS = `
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js');
const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js');
const server = new McpServer({ name: 'many', version: '1.0.0' });
for (let i = 0; i < 501; i++) server.registerTool('t' + i, { description: 'tool ' + i }, async () => ({ content: [] }));
void server.connect(new StdioServerTransport());
`;

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
        include: ['lookup_order', 'refund', 'big'],
        approval: 'never',
      },
    ],
  });
  const broken = defineAgent({
    name: 'broken',
    model: 'claude-sonnet-5-5',
    mcpServers: [{ name: 'gone', transport: 'http', url: 'http://127.0.0.1:9/mcp' }],
  });
  // A server that offers more tools than one agent may: a clear error at start.
  const crowded = defineAgent({
    name: 'crowded',
    model: 'claude-sonnet-5-5',
    mcpServers: [
      { name: 'many', transport: 'stdio', command: process.execPath, args: ['-e', MANY_TOOLS], cwd: ROOT },
    ],
  });
  t = await startAgentEnv({ agents: [shop, broken, crowded] });
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
      ['remote__big', 'write', 'remote'],
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

describe('what an MCP server may not do', () => {
  it('returns 10 MB: the result is capped like any tool output, and the model is told', async () => {
    const workflowId = id('big');
    t.fake.script(workflowId, [
      reply.toolUse({ name: 'remote__big', input: {}, id: 'toolu_big' }),
      reply.text('Big.'),
    ]);
    await client.startConversation({ agent: 'shop', message: 'Go', singleTurn: true }, { workflowId });
    await t.env.client.workflow.getHandle(workflowId).result();
    const [result] = t.toolResults(workflowId);
    const text = JSON.stringify(result.content);
    expect(text.length).toBeLessThan(120_000);
    expect(text).toMatch(/output truncated: \d+ characters omitted/);
  });

  it('offers more tools than an agent may: refused at start, naming the server and what to do', async () => {
    const workflowId = id('crowded');
    const err = await client.startConversation({ agent: 'crowded', message: 'Hi' }, { workflowId }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe('invalid');
    expect(err?.message).toMatch(/offers 501 tools, more than the 500 .*many: 501.*include \/ exclude/);
    const described = await t.env.client.workflow.getHandle(workflowId).describe();
    expect(described.status.name).toBe('FAILED');
  });
});

describe('an MCP server that is down', () => {
  it('while the agent is listed: end is accepted, and ends the conversation once it is listed', async () => {
    const handle = await t.start({ agent: 'broken', message: 'Hi' });
    await handle.executeUpdate(endUpdate, { args: [{ by: 'ops', reason: 'not now' }] });
    expect(await handle.result()).toMatchObject({ status: 'completed', endReason: 'not now', turns: 0 });
    expect(t.requests(handle.workflowId)).toEqual([]);
  }, 60_000);

  it('an end sent with the start (in the first activation, before the listing begins) is accepted too', async () => {
    const workflowId = `mcp-end-with-start-${process.pid}`;
    const start = new WithStartWorkflowOperation<typeof conversationWorkflow>(CONVERSATION_WORKFLOW, {
      taskQueue: t.taskQueue,
      workflowId,
      workflowIdConflictPolicy: 'FAIL',
      args: [{ agent: 'broken', message: 'Hi' }],
    });
    await t.env.client.workflow.executeUpdateWithStart(endUpdate, {
      args: [{ by: 'ops', reason: 'changed my mind' }],
      startWorkflowOperation: start,
    });
    const handle = await start.workflowHandle();
    expect(await handle.result()).toMatchObject({ status: 'completed', endReason: 'changed my mind' });
    expect(t.requests(workflowId)).toEqual([]);
  }, 60_000);

  it('at call time: retried as transient, then an error result that names the server and why', async () => {
    const workflowId = id('down-at-call');
    t.fake.script(workflowId, [
      reply.toolUse({ name: 'remote__lookup_order', input: { orderId: 'C3' }, id: 'toolu_down' }),
      reply.text('The order service is down.'),
    ]);
    await client.startConversation(
      { agent: 'shop', message: 'Where is C3?', singleTurn: true },
      { workflowId },
    );
    http.failWith = 503;
    try {
      const result = (await t.env.client.workflow.getHandle(workflowId).result()) as ConversationResult;
      expect(result.lastText).toBe('The order service is down.');
    } finally {
      http.failWith = undefined;
    }
    const [down] = t.toolResults(workflowId);
    expect(down).toMatchObject({ tool_use_id: 'toolu_down', is_error: true });
    expect(String(down.content)).toMatch(/remote__lookup_order could not be run: .*"remote".*503/);
  }, 60_000);

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
