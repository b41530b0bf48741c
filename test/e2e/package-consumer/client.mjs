// A conversation through the package's client: start it, approve the tool call it waits on, read the result.
import { AgentClient } from 'claude-temporal-agent';

async function waitFor(agent, workflowId, predicate, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await agent.getState(workflowId);
    if (predicate(state)) return state;
    if (Date.now() > deadline) throw new Error(`timed out; last status ${state.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs one approved conversation; resolves to what happened, for the caller to check. */
export async function approvedConversation({ address, taskQueue, workflowId, message }) {
  const agent = await AgentClient.connect({ address, namespace: 'default', taskQueue });
  try {
    const started = await agent.startConversation(
      { agent: 'notes', message, singleTurn: true },
      { workflowId },
    );
    const waiting = await waitFor(agent, workflowId, (s) => s.status !== 'running');
    const pending = waiting.pendingApprovals;
    if (waiting.status === 'awaiting_approval')
      await agent.decide(workflowId, {
        toolUseId: pending[0].toolUseId,
        decision: 'approve',
        decidedBy: 'package-test',
      });
    const result = await agent.client.workflow.getHandle(workflowId).result();
    return { agent: started.agent, statusBeforeDecision: waiting.status, pending, result };
  } finally {
    await agent.client.connection.close();
  }
}
