/**
 * What the agent suites (integration, CLI, ops API and page) share: two test tools, one that reads and
 * one that waits for an operator, and the script of a conversation that hands a task to a sub-agent.
 */
import { z } from 'zod';
import { reply, type FakeClaude, type FakeReply } from '../../src/fake-claude';
import { defineTool } from '../../src/tools/define-tool';

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
