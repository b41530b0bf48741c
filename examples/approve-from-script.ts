/**
 * Approve from a script: a policy bot that approves save_article calls with a short abstract and
 * rejects the others, with a reason the model will read.
 *
 *   TEMPORAL_ADDRESS=... node --import tsx examples/approve-from-script.ts
 */
import { AgentClient } from '../src/client';
import { loadConfig } from '../src/config';

async function main(): Promise<void> {
  const config = loadConfig();
  const agent = await AgentClient.fromConfig(config);
  for (const call of await agent.listPendingApprovals()) {
    if (call.name !== 'save_article') continue;
    const abstract = String(call.input.abstract ?? '');
    const ok = abstract.length <= 500;
    // Safe to run twice: the conversation answers a repeated decision without applying it again.
    const [decision] = await agent.decide(call.workflowId, {
      toolUseId: call.toolUseId,
      decision: ok ? 'approve' : 'reject',
      ...(!ok && { reason: 'Abstracts must be 500 characters or fewer; shorten it.' }),
      decidedBy: 'policy-bot',
    });
    console.log(`${decision.decision} ${call.workflowId} ${call.toolUseId}`);
  }
  await agent.client.connection.close();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
