/** The worker's structured logs (JSON lines carrying workflow and activity ids) and its tracing. */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { reply } from '../../src/testing/fake-claude';
import { CrashStack } from '../support/stack';

let stack: CrashStack;
beforeAll(async () => {
  stack = await CrashStack.start();
  stack.extraEnv = { AGENT_LOG_FORMAT: 'json', AGENT_LOG_LEVEL: 'INFO', AGENT_OTEL: 'console' };
  await stack.startWorker();
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

it('logs one JSON object per line, with workflow and activity ids on activity logs', async () => {
  const workflowId = `logging-${Date.now()}`;
  stack.fake.script(workflowId, [reply.httpError(429, { 'retry-after-ms': '10' }), reply.text('ok')]);
  await stack.agent.startConversation(
    { model: 'claude-sonnet-5-5', message: 'Hi', singleTurn: true },
    { workflowId },
  );
  await stack.agent.client.workflow.getHandle(workflowId).result();
  const logs = readdirSync(stack.dir)
    .filter((f) => f.startsWith('worker-') && f.endsWith('.log'))
    .flatMap((f) => readFileSync(join(stack.dir, f), 'utf8').split('\n'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return []; // the console span exporter's output, say
      }
    });
  expect(logs.length).toBeGreaterThan(0);
  const warning = logs.find((l) => l.message === 'model call failed' && l.workflowId === workflowId);
  expect(warning).toMatchObject({
    level: 'warn',
    activityType: 'callClaude',
    status: 429,
    errorType: 'rate_limit_error',
    retryable: true,
    taskQueue: 'crash-test',
  });
  expect(warning?.activityId).toBeDefined();
  expect(Date.parse(String(warning?.time))).not.toBeNaN();
}, 60_000);

it('traces workflows and activities with OpenTelemetry when AGENT_OTEL is set', async () => {
  const workflowId = `tracing-${Date.now()}`;
  stack.fake.script(workflowId, [
    reply.toolUse({ name: 'get_weather', input: { location: 'Oslo' } }),
    reply.text('Cold.'),
  ]);
  await stack.agent.startConversation(
    { model: 'claude-sonnet-5-5', message: 'Weather?', tools: ['get_weather'], singleTurn: true },
    { workflowId },
  );
  await stack.agent.client.workflow.getHandle(workflowId).result();
  await new Promise((r) => setTimeout(r, 500));
  const output = readdirSync(stack.dir)
    .filter((f) => f.startsWith('worker-') && f.endsWith('.log'))
    .map((f) => readFileSync(join(stack.dir, f), 'utf8'))
    .join('\n');
  const spans = [
    'RunWorkflow:conversationWorkflow',
    'StartActivity:callClaude',
    'RunActivity:callClaude',
    'StartActivity:runTool',
    'RunActivity:runTool',
  ];
  for (const span of spans) expect(output).toContain(`name: '${span}'`);
  expect(output).toContain('claude-agent-worker');
}, 60_000);
