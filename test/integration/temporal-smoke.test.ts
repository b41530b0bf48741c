import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { AGENT_STATUS } from '../../src/api/search-attributes';
import { quietBundlerLogger, startDevServer, startTimeSkippingServer } from '../../src/testing';

let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../support/workflows/smoke'),
    logger: quietBundlerLogger,
  });
});

describe('Temporal CLI dev server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await startDevServer();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs a workflow whose activity runs on a real worker, with our search attributes registered', async () => {
    const taskQueue = `smoke-${Date.now()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: { greet: async (name: string) => `hello, ${name}` },
    });
    const result = await worker.runUntil(
      env.client.workflow.execute('greetWorkflow', {
        taskQueue,
        workflowId: `greet-${taskQueue}`,
        args: ['temporal'],
      }),
    );
    expect(result).toBe('hello, temporal');
    const description = await env.client.workflow.getHandle(`greet-${taskQueue}`).describe();
    expect(description.typedSearchAttributes.get(AGENT_STATUS)).toBe('smoke');
  });
});

describe('time-skipping test server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await startTimeSkippingServer();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('skips a day of workflow time and finishes at once', async () => {
    const taskQueue = `skip-${Date.now()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
    });
    const wallStart = Date.now();
    const { startedAt, endedAt } = await worker.runUntil(
      env.client.workflow.execute('sleepDayWorkflow', { taskQueue, workflowId: `sleep-${taskQueue}` }),
    );
    expect(endedAt - startedAt).toBeGreaterThanOrEqual(24 * 3600 * 1000);
    expect(Date.now() - wallStart).toBeLessThan(20_000);
  });
});
