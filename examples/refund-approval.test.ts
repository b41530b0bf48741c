/**
 * An example agent test, as an agent author writes one with the testing kit: a custom tool with an
 * approval policy, a scripted model, and an operator who approves a day later (in skipped time).
 *
 * In your project: `import { reply, startAgentEnv } from 'claude-temporal-agent/testing'`.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { z } from 'zod';
import { decideToolCallUpdate } from '../src/api/approvals';
import { stateQuery } from '../src/api/conversation';
import { defineTool } from '../src/tools/define-tool';
import { reply, startAgentEnv, type AgentEnv } from '../src/testing';

// The tool under test: refunds over 100 need an operator's approval.
const refunds: Array<{ orderId: string; amount: number }> = [];
const refund = defineTool({
  name: 'refund',
  description: 'Refund an order',
  input: z.object({ orderId: z.string(), amount: z.number().positive() }),
  effect: 'write',
  approval: ({ amount }) => amount > 100,
  run: async (input) => {
    refunds.push(input);
    return { refunded: input.amount };
  },
});

let env: AgentEnv;
beforeAll(async () => {
  env = await startAgentEnv({ tools: [refund], timeSkipping: true });
});
afterAll(async () => {
  await env?.teardown();
});

it('a large refund waits for an operator, who approves it the next day', async () => {
  const handle = await env.start({
    message: 'Refund order A1 in full',
    tools: ['refund'],
    singleTurn: true,
    limits: { approvalTimeoutMs: 3 * 24 * 3600 * 1000 },
  });
  env.fake.script(handle.workflowId, [
    reply.toolUse(
      { name: 'refund', input: { orderId: 'A1', amount: 250 }, id: 'toolu_refund' },
      { text: 'Refunding order A1.' },
    ),
    reply.text('Order A1 is refunded.'),
  ]);

  const waiting = await env.waitFor(handle, (s) => s.status === 'awaiting_approval');
  expect(waiting.pendingApprovals).toEqual([
    expect.objectContaining({ name: 'refund', input: { orderId: 'A1', amount: 250 } }),
  ]);
  expect(refunds).toEqual([]);

  await env.env.sleep('1 day');
  await handle.executeUpdate(decideToolCallUpdate, {
    args: [{ toolUseId: 'toolu_refund', decision: 'approve', decidedBy: 'ops-on-call' }],
  });
  expect((await handle.result()).lastText).toBe('Order A1 is refunded.');

  // What ran, and what the model was told.
  expect(refunds).toEqual([{ orderId: 'A1', amount: 250 }]);
  expect(env.toolResults(handle.workflowId)).toEqual([
    { type: 'tool_result', tool_use_id: 'toolu_refund', content: '{"refunded":250}' },
  ]);
  expect(env.requests(handle.workflowId)).toHaveLength(2);
  const state = await handle.query(stateQuery, {});
  expect(
    Date.parse(state.decisions[0].decidedAt) - Date.parse(waiting.pendingApprovals[0].requestedAt),
  ).toBeGreaterThanOrEqual(24 * 3600 * 1000);
});

it('a small refund runs without asking anyone', async () => {
  const handle = await env.start({
    message: 'Refund the shipping of A2',
    tools: ['refund'],
    singleTurn: true,
  });
  env.fake.script(handle.workflowId, [
    reply.toolUse({ name: 'refund', input: { orderId: 'A2', amount: 9.5 } }),
    reply.text('Done.'),
  ]);
  await handle.result();
  expect(refunds).toContainEqual({ orderId: 'A2', amount: 9.5 });
  expect((await handle.query(stateQuery, {})).decisions).toEqual([]);
});
