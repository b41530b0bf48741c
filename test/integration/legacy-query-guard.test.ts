/**
 * The SDK 1.24 fault behind the crash run's stuck workers (README, "Fixed: a legacy query answered with
 * other commands"), on a real dev server and real workers: a query sent while no workflow task is in flight is a legacy query,
 * and `activateQueries` concludes its activation with every command the workflow holds, not only the
 * answer. Core refuses such a completion as malformed and the worker shuts down. Here a query handler
 * issues a command (a memo upsert) so the completion is made deterministically; the guard
 * (src/workflows/legacy-query-guard.ts) sends the answer alone and the command with the next workflow
 * task. The first case shows the SDK's fault without the guard: when it stops failing, the SDK is fixed
 * and the guard can go.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { quietBundlerLogger, startDevServer } from '../../src/testing';
import { CONVERSATION_BUNDLE_OPTIONS } from '../../src/worker';
import {
  isLegacyQueryActivation,
  LEGACY_QUERY_ID,
  splitLegacyQueryCompletion,
} from '../../src/workflows/legacy-query-guard';
import { finishUpdate, peekQuery, queryCommandsWorkflow } from '../support/workflows/query-commands';

const GUARD = require.resolve('../../src/workflows/legacy-query-guard');
let env: TestWorkflowEnvironment;
let unguarded: WorkflowBundleWithSourceMap;
let guarded: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  env = await startDevServer();
  const workflowsPath = require.resolve('../support/workflows/query-commands');
  [unguarded, guarded] = await Promise.all([
    bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger }),
    bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: [GUARD], logger: quietBundlerLogger }),
  ]);
}, 120_000);
afterAll(async () => {
  await env?.teardown();
});

async function idle(handle: WorkflowHandle): Promise<void> {
  // The first workflow task is completed, so a query now is a legacy query task.
  while ((await handle.describe()).historyLength < 4) await new Promise((r) => setTimeout(r, 50));
}

/** The unguarded worker in its own process: the SDK's fault leaves it stuck shutting down. */
function workerProcess(taskQueue: string, codePath: string) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      require.resolve('../support/query-commands-worker.ts'),
      env.address,
      taskQueue,
      codePath,
    ],
    { env: process.env },
  );
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (b: Buffer) => (output.stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output.stderr += b.toString()));
  return { child, output };
}

async function until(what: string, test: () => boolean, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !test(); await new Promise((r) => setTimeout(r, 50)))
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

describe('a legacy query whose activation holds another command', () => {
  it('without the guard, the SDK sends both in one completion and the worker stops working (the fault)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'legacy-query-'));
    const codePath = join(dir, 'bundle.js');
    writeFileSync(codePath, unguarded.code);
    const taskQueue = `unguarded-${Date.now()}`;
    const { child, output } = workerProcess(taskQueue, codePath);
    try {
      await until('the worker to run', () => output.stdout.includes('state RUNNING'));
      const handle = await env.client.workflow.start(queryCommandsWorkflow, {
        taskQueue,
        workflowId: taskQueue,
      });
      await idle(handle);
      // A deadline of its own: the query must be over (no retry of it pending) before the server goes.
      const query = env.client
        .withDeadline(Date.now() + 3000, () => handle.query(peekQuery))
        .then(
          () => 'answered',
          () => 'failed',
        );
      await until('core to refuse the completion', () =>
        output.stderr.includes('legacy query response along with other commands'),
      );
      // The worker shuts down on it: it polls no more, so the conversation would wait for another one.
      await until('the worker to stop running', () =>
        /state (STOPPING|DRAINING|DRAINED|FAILED|STOPPED)/.test(output.stdout),
      );
      // The query is never answered: it fails at its deadline.
      expect(await query).toBe('failed');
      await handle.terminate('test over');
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('with the guard, the query is answered, the worker keeps running and the command goes with the next task', async () => {
    const taskQueue = `guarded-${Date.now()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: guarded,
    });
    const running = worker.run();
    const handle = await env.client.workflow.start(queryCommandsWorkflow, {
      taskQueue,
      workflowId: taskQueue,
    });
    try {
      await idle(handle);
      expect(await handle.query(peekQuery)).toBe(1);
      expect(await handle.query(peekQuery)).toBe(2);
      expect(worker.getState()).toBe('RUNNING');
      // Held, not lost: the memo upserts reach the server with the next workflow task.
      expect(await handle.executeUpdate(finishUpdate)).toBe(2);
      expect(await handle.result()).toBe(2);
      expect((await handle.describe()).memo).toEqual({ peeks: 2 });
      expect(worker.getState()).toBe('RUNNING');
    } finally {
      worker.shutdown();
      await running;
    }
  }, 60_000);
});

describe('the guard', () => {
  it('is bundled with the conversation workflow', () => {
    expect(CONVERSATION_BUNDLE_OPTIONS.workflowInterceptorModules).toContain(GUARD);
  });

  it('tells a legacy query activation from a query delivered with a workflow task', () => {
    expect(
      isLegacyQueryActivation({
        jobs: [{ queryWorkflow: { queryId: LEGACY_QUERY_ID, queryType: 'state' } }],
      }),
    ).toBe(true);
    expect(
      isLegacyQueryActivation({ jobs: [{ queryWorkflow: { queryId: 'q-1', queryType: 'state' } }] }),
    ).toBe(false);
    expect(isLegacyQueryActivation({ jobs: [{ doUpdate: { id: 'u-1' } }] })).toBe(false);
  });

  it('keeps the answers for the completion and every other command, in order, for the next one', () => {
    const answer = { respondToQuery: { queryId: LEGACY_QUERY_ID } };
    const reject = { updateResponse: { protocolInstanceId: 'u-1', rejected: {} } };
    const schedule = { scheduleActivity: { seq: 3 } };
    expect(splitLegacyQueryCompletion([reject, answer, schedule])).toEqual({
      answers: [answer],
      held: [reject, schedule],
    });
  });
});
