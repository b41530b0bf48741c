/**
 * What the agent suites (integration, CLI, ops API and page) share: two test tools, one that reads and
 * one that waits for an operator, the scripts of a conversation that saves an article (waiting for an
 * operator) and of one that hands a task to a sub-agent, and a conversation parked on its budget.
 */
import { z } from 'zod';
import type { ConversationState } from '../../src/api/conversation';
import { reply, type FakeClaude, type FakeReply } from '../../src/testing/fake-claude';
import { defineTool } from '../../src/tools/define-tool';
import type { AgentEnv } from './agent-env';

/** A read tool: runs without asking anyone. */
export const lookup = defineTool({
  name: 'lookup',
  description: 'Looks an order up',
  input: z.object({ id: z.string() }),
  effect: 'read',
  run: async ({ id }) => ({ id, amount: 120 }),
});

/** A write tool: each call waits for an operator's decision. */
export const fileReport = defineTool({
  name: 'file_report',
  description: 'Files a report (waits for an operator)',
  input: z.object({ title: z.string() }),
  effect: 'write',
  run: async ({ title }) => ({ filed: title }),
});

/**
 * Scripts `workflowId`'s model to call the built-in `save_article` write tool (which waits for an
 * operator's decision) with `toolUseId`, then to answer `answer`.
 */
export function scriptSaveArticle(
  fake: FakeClaude,
  workflowId: string,
  call: { toolUseId: string; abstract: string; wordCount?: number; answer?: string },
): void {
  fake.script(workflowId, [
    reply.toolUse({
      name: 'save_article',
      input: { abstract: call.abstract, meta: { word_count: call.wordCount ?? 10, review: 'ok' } },
      id: call.toolUseId,
    }),
    reply.text(call.answer ?? 'Saved.'),
  ]);
}

/** A call of a sub-agent, as the parent's model makes it, and what the parent answers once it returns. */
export interface SubAgentCall {
  /** The sub-agent's name: the tool the parent's model calls. */
  agent: string;
  task: string;
  toolUseId: string;
  answer: string;
}

/**
 * Scripts `parentId`'s model to hand a task to a sub-agent and then answer, and, given `child`, the
 * sub-agent's own model (without it the caller scripts the child, e.g. as the parent of another call).
 * Answers the sub-agent's workflow id, `<parentId>.<toolUseId>`.
 */
export function scriptSubAgentCall(
  fake: FakeClaude,
  parentId: string,
  call: SubAgentCall,
  child?: FakeReply[],
): string {
  const childId = `${parentId}.${call.toolUseId}`;
  fake.script(parentId, [
    reply.toolUse({ name: call.agent, input: { task: call.task }, id: call.toolUseId }),
    reply.text(call.answer),
  ]);
  if (child) fake.script(childId, child);
  return childId;
}

/** A `get_weather` call for `location`, then `answer`: what the model says in a budget test. */
export interface WeatherCall {
  location: string;
  answer: string;
}

/**
 * Scripts `workflowId`'s model to call `get_weather`, then answer: with a 1-token budget, the second
 * model call is the one held back.
 */
export function scriptWeatherCall(fake: FakeClaude, workflowId: string, call: WeatherCall): void {
  fake.script(workflowId, [
    reply.toolUse({
      name: 'get_weather',
      input: { location: call.location },
      id: `toolu_${call.location.toLowerCase()}`,
    }),
    reply.text(call.answer),
  ]);
}

/**
 * Starts a single-turn `get_weather` conversation with a 1-token budget, scripted by
 * {@link scriptWeatherCall}, and waits until it is parked (`needs_attention`) before its second model
 * call. Answers its handle and the parked state.
 */
export async function parkedOnBudget(
  t: AgentEnv,
  call: WeatherCall,
): Promise<{ handle: Awaited<ReturnType<AgentEnv['start']>>; parked: ConversationState }> {
  const handle = await t.start({
    message: 'Weather?',
    tools: ['get_weather'],
    singleTurn: true,
    budget: { tokens: 1 },
  });
  scriptWeatherCall(t.fake, handle.workflowId, call);
  const parked = await t.waitFor(handle, (s) => s.status === 'needs_attention');
  return { handle, parked };
}

/** A refund done by this tool: where the tests check it ran once, or not at all. */
export interface Refund {
  order: string;
  amount: number;
}

/**
 * A `refund` tool that needs two distinct approvers of finance (four-eyes), and the refunds it made.
 */
export function financeRefund(): { refund: ReturnType<typeof defineTool>; refunds: Refund[] } {
  const refunds: Refund[] = [];
  const refund = defineTool({
    name: 'refund',
    description: 'Refunds an order',
    input: z.object({ order: z.string(), amount: z.number().positive() }),
    effect: 'write',
    approvers: ['finance'],
    approvalsRequired: 2,
    run: async (input) => {
      refunds.push(input);
      return { refunded: input.amount };
    },
  });
  return { refund, refunds };
}

/**
 * A single-turn conversation whose model asks for one `refund` of 250 for `order`, then says `answer`:
 * once the call waits for its approvals.
 */
export async function refundWaiting(t: AgentEnv, order: string, answer: string) {
  const handle = await t.start({ message: `Refund ${order}`, tools: ['refund'], singleTurn: true });
  const toolUseId = `toolu_refund_${handle.workflowId.slice(-8).replace(/[^a-zA-Z0-9]/g, '')}`;
  t.fake.script(handle.workflowId, [
    reply.toolUse({ name: 'refund', input: { order, amount: 250 }, id: toolUseId }),
    reply.text(answer),
  ]);
  const state = await t.waitFor(handle, (s) => s.pendingApprovals.length === 1);
  return { handle, toolUseId, state };
}
