/**
 * Code execution and programmatic tool calling through the real workflow on a real dev server, against
 * the fake's containers: code the model runs calls our tools (`tool_use` with a `caller`), each call
 * runs through `runTool`, the results go back as the only content of their message with the container
 * named, and the container is reused across turns and continue-as-new until it expires. One that
 * expired while a call waited for approval parks the conversation instead of sending what the API
 * would refuse.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { defineAgent } from '../../src/agents/define-agent';
import type { ConversationState } from '../../src/api/conversation';
import { AgentClient } from '../../src/client';
import { reply, type FakeBlock } from '../../src/testing/fake-claude';
import { defineTool } from '../../src/tools/define-tool';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';

const CONTAINER_TTL_MS = 4000;
const CODE_EXECUTION = { type: 'code_execution_20250825', name: 'code_execution' } as const;
const byCode = ['code_execution_20250825'] as const;

const price = defineTool({
  name: 'price',
  description: 'The price of an order',
  input: z.object({ id: z.string() }),
  effect: 'read',
  allowedCallers: [...byCode],
  run: async ({ id }) => ({ id, amount: 120 }),
});
const refund = defineTool({
  name: 'refund',
  description: 'Refunds an order (an operator approves)',
  input: z.object({ id: z.string() }),
  effect: 'write',
  allowedCallers: ['direct', ...byCode],
  run: async ({ id }) => ({ refunded: id }),
});
const coder = defineAgent({
  name: 'coder',
  model: 'claude-sonnet-4-6',
  tools: [price, refund],
  serverTools: [CODE_EXECUTION],
  promptCaching: 'off',
  limits: { continueAsNewAfterEvents: 10 },
});

let t: AgentEnv;
let client: AgentClient;
beforeAll(async () => {
  t = await startAgentEnv({ agents: [coder], fake: { containerTtlMs: CONTAINER_TTL_MS } });
  client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
});
afterAll(async () => {
  await t?.teardown();
});

/** The model's code calling `tool` for each id: a `server_tool_use` and one `tool_use` per call. */
function codeCalling(tool: string, ids: string[], serverId: string): FakeBlock[] {
  return [
    {
      type: 'server_tool_use',
      id: serverId,
      name: 'code_execution',
      input: { code: `for i in ${JSON.stringify(ids)}: ${tool}(id=i)` },
    },
    ...ids.map((id): FakeBlock => ({
      type: 'tool_use',
      name: tool,
      input: { id },
      caller: { type: 'code_execution_20250825', tool_id: serverId },
    })),
  ];
}

function codeResult(serverId: string, stdout: string): FakeBlock {
  return {
    type: 'code_execution_tool_result',
    tool_use_id: serverId,
    content: { type: 'code_execution_result', stdout, stderr: '', return_code: 0, content: [] },
  };
}

async function waitFor(workflowId: string, predicate: (s: ConversationState) => boolean) {
  return t.waitFor(t.env.client.workflow.getHandle(workflowId), predicate);
}

describe('programmatic tool calling', () => {
  it('runs each call through runTool, answers with tool results only, and reuses the container', async () => {
    const workflowId = `code-${process.pid}`;
    t.fake.script(workflowId, [
      reply.message(codeCalling('price', ['A-1', 'A-2'], 'srvtoolu_sum'), { stop_reason: 'tool_use' }),
      reply.message([codeResult('srvtoolu_sum', '240'), { type: 'text', text: 'Together 240.' }]),
      reply.text('Still 240.'),
    ]);
    await client.startConversation({ agent: 'coder', message: 'Sum A-1 and A-2' }, { workflowId });
    const first = await waitFor(workflowId, (s) => s.status === 'idle' && s.turn === 1);
    const container = first.container!;
    expect(container.id).toMatch(/^container_/);

    const [, answering] = t.requests(workflowId);
    expect(answering.body.container).toBe(container.id);
    const results = answering.body.messages.at(-1)!;
    expect(results.role).toBe('user');
    expect((results.content as Array<{ type: string; tool_use_id: string }>).map((b) => b.type)).toEqual([
      'tool_result',
      'tool_result',
    ]);
    // Each call ran as our tool, with its result where the code waits for it.
    expect(t.toolResults(workflowId).map((r) => JSON.parse(String(r.content)))).toEqual([
      { id: 'A-1', amount: 120 },
      { id: 'A-2', amount: 120 },
    ]);
    // The calls keep their caller in the transcript, as the API sent them.
    const calls = first.messages.flatMap((m) =>
      Array.isArray(m.content) ? m.content.filter((b) => b.type === 'tool_use') : [],
    );
    expect(calls.map((c) => (c as { caller?: unknown }).caller)).toEqual([
      { type: 'code_execution_20250825', tool_id: 'srvtoolu_sum' },
      { type: 'code_execution_20250825', tool_id: 'srvtoolu_sum' },
    ]);

    await client.sendMessage(workflowId, 'Sure?');
    const second = await waitFor(workflowId, (s) => s.status === 'idle' && s.turn === 2);
    expect(second.generation).toBeGreaterThanOrEqual(1); // the container was carried across runs
    expect(t.requests(workflowId)[2].body.container).toBe(container.id);
    expect(t.fake.requests.filter((r) => r.conversation === workflowId && r.invalid)).toEqual([]);
  });

  it('parks as container_expired when a call waited for approval past its container, and can be ended', async () => {
    const workflowId = `code-expired-${process.pid}`;
    t.fake.script(workflowId, [
      reply.message(codeCalling('refund', ['A-9'], 'srvtoolu_refund'), { stop_reason: 'tool_use' }),
    ]);
    await client.startConversation({ agent: 'coder', message: 'Refund A-9' }, { workflowId });
    const waiting = await waitFor(workflowId, (s) => s.status === 'awaiting_approval');
    const [pending] = waiting.pendingApprovals;
    // Longer than the container lives, then approve: the answer would name a dead container.
    await new Promise((r) => setTimeout(r, CONTAINER_TTL_MS + 500));
    await client.decide(workflowId, { toolUseId: pending.toolUseId, decision: 'approve', decidedBy: 'ops' });
    const parked = await waitFor(workflowId, (s) => s.status === 'needs_attention');
    expect(parked.attention).toMatchObject({ reason: 'container_expired' });
    expect(parked.attention?.message).toContain(waiting.container!.id);
    // The refund ran (approved); nothing was sent to the API after the container died.
    expect(t.requests(workflowId)).toHaveLength(1);
    await client.end(workflowId, 'ops', 'container gone');
    expect(await t.env.client.workflow.getHandle(workflowId).result()).toMatchObject({
      status: 'completed',
      endReason: 'container gone',
    });
  });
});

it('replays every conversation it ran', async () => {
  expect(await t.replayHistories()).toBeGreaterThanOrEqual(3);
});
