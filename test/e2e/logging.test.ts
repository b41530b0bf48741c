/** The worker's structured logs: JSON lines carrying the workflow and activity ids. */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { reply } from '../../src/fake-claude';
import { CrashStack } from '../crash/stack';

let stack: CrashStack;
beforeAll(async () => {
  stack = await CrashStack.start();
  stack.extraEnv = { AGENT_LOG_FORMAT: 'json', AGENT_LOG_LEVEL: 'INFO' };
  await stack.startWorker();
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

it('logs one JSON object per line, with workflow and activity ids on activity logs', async () => {
  const workflowId = `logging-${Date.now()}`;
  stack.fake.script(workflowId, [reply.httpError(429, { 'retry-after-ms': '10' }), reply.text('ok')]);
  await stack.agent.startConversation({ model: 'claude-sonnet-5-5', message: 'Hi', singleTurn: true }, { workflowId });
  await stack.agent.client.workflow.getHandle(workflowId).result();
  const logs = readdirSync(stack.dir)
    .filter((f) => f.startsWith('worker-') && f.endsWith('.log'))
    .flatMap((f) => readFileSync(join(stack.dir, f), 'utf8').split('\n'))
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(logs.length).toBeGreaterThan(0);
  const warning = logs.find((l) => l.message === 'model call failed' && l.workflowId === workflowId);
  expect(warning).toMatchObject({ level: 'warn', activityType: 'callClaude', status: 429, errorType: 'rate_limit_error', retryable: true, taskQueue: 'crash-test' });
  expect(warning?.activityId).toBeDefined();
  expect(Date.parse(String(warning?.time))).not.toBeNaN();
}, 60_000);
