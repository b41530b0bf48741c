// An end-to-end run as an agent author would write it, with the package's testing kit: a Temporal dev
// server, the scripted fake Messages API, this project's worker (a child process) and its client.
// Prints one JSON line: what happened.
import { execFileSync, spawn } from 'node:child_process';
import { FakeClaude, reply, startDevServer } from 'claude-temporal-agent/testing';
import { approvedConversation } from './client.mjs';

const server = await startDevServer();
const fake = await FakeClaude.start();
const taskQueue = 'package-consumer';
const workflowId = `note-${Date.now()}`;
fake.script(workflowId, [
  reply.toolUse({ name: 'save_note', input: { title: 'Durable', body: 'Conversations survive crashes.' } }),
  reply.text('Saved your note.'),
]);

let workerOutput = '';
const spawnedAt = Date.now();
const worker = spawn(process.execPath, ['worker.mjs'], {
  env: {
    ...process.env,
    AGENT_MODULE: './agents.mjs',
    // INFO shows the SDK's lifecycle lines, among them "Workflow bundle created" if it bundled at start.
    AGENT_LOG_LEVEL: 'INFO',
    TEMPORAL_ADDRESS: server.address,
    AGENT_TASK_QUEUE: taskQueue,
    ANTHROPIC_API_KEY: 'test-key',
    ANTHROPIC_BASE_URL: fake.url,
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
worker.stdout.on('data', (chunk) => (workerOutput += chunk));
worker.stderr.on('data', (chunk) => (workerOutput += chunk));
const exited = new Promise((resolve) => worker.once('exit', (code, signal) => resolve(code ?? signal)));

try {
  const deadline = Date.now() + 30_000;
  while (!/worker: task queue .*agents: notes/.test(workerOutput)) {
    if (Date.now() > deadline || worker.exitCode !== null)
      throw new Error(`worker not ready:\n${workerOutput}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const readyMs = Date.now() - spawnedAt;
  const outcome = await approvedConversation({
    address: server.address,
    taskQueue,
    workflowId,
    message: 'Save a note about durable execution',
  });
  // The operator's CLI, installed as the package's bin, reads the same conversation.
  const shown = execFileSync('node_modules/.bin/agent', ['show', workflowId, '--json'], {
    env: { ...process.env, TEMPORAL_ADDRESS: server.address, AGENT_TASK_QUEUE: taskQueue },
    encoding: 'utf8',
  });
  worker.kill('SIGINT');
  const workerExit = await exited;
  const requests = fake.requestsFor(workflowId).map((r) => r.body);
  console.log(
    JSON.stringify({ ...outcome, readyMs, cliShow: JSON.parse(shown), workerExit, workerOutput, requests }),
  );
} finally {
  if (worker.exitCode === null) worker.kill('SIGKILL');
  await fake.close();
  await server.teardown();
}
