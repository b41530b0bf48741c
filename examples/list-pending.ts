/**
 * List the tool calls waiting for approval across all conversations.
 *
 *   TEMPORAL_ADDRESS=... node --import tsx examples/list-pending.ts
 */
import { AgentClient } from '../src/client';
import { loadConfig } from '../src/config';

async function main(): Promise<void> {
  const config = loadConfig();
  const agent = await AgentClient.fromConfig(config);
  const pending = await agent.listPendingApprovals();
  for (const p of pending) {
    const age = Math.round((Date.now() - Date.parse(p.requestedAt)) / 1000);
    console.log(
      `${p.workflowId} ${p.toolUseId} ${p.name} waiting ${age}s, due ${p.deadline}: ${JSON.stringify(p.input)}`,
    );
  }
  console.log(`${pending.length} pending`);
  await agent.client.connection.close();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
