/**
 * Start a conversation and stream it live, from your own script.
 *
 *   TEMPORAL_ADDRESS=... OPS_URL=http://127.0.0.1:8787 OPS_TOKEN=... node --import tsx examples/start-and-stream.ts "Your prompt"
 *
 * (In your project, import from the package: `claude-temporal-agent` and its `/testing` entry.)
 */
import { AgentClient } from '../src/client';
import { watch } from '../src/cli/watch';
import { loadConfig } from '../src/config';

async function main(): Promise<void> {
  const config = loadConfig();
  const agent = await AgentClient.fromConfig(config);
  const prompt = process.argv[2] ?? 'What is the weather in Paris?';
  const { workflowId } = await agent.startConversation({
    model: config.AGENT_MODEL,
    message: prompt,
    tools: ['get_weather'],
    singleTurn: true,
  });
  console.log(`conversation ${workflowId}`);
  const result = agent.client.workflow.getHandle(workflowId).result();
  // The live stream, until the conversation is done.
  await watch({
    url: config.OPS_URL ?? `http://${config.OPS_HOST}:${config.OPS_PORT}`,
    token: config.OPS_TOKEN ?? '',
    workflowId,
    json: false,
    write: (text) => process.stdout.write(text),
    until: result.then(() => undefined),
  });
  console.log(`\nfinal answer: ${(await result).lastText}`);
  await agent.client.connection.close();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
