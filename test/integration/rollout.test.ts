/**
 * Rolling out a workflow change with patched() while conversations wait for approval.
 *
 * The "old" worker runs the workflow as it was before the change (the patch module swapped for one
 * where the new code path does not exist); the "new" worker runs the current code. A conversation
 * that waited for approval across the deploy finishes on the new worker; a conversation decided under
 * the old code replays on the new one; and the same change shipped without patched() fails that
 * replay — which is why the guard is there.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import webpack from 'webpack';
import { decideToolCallUpdate } from '../../src/api/approvals';
import { CONVERSATION_WORKFLOW, stateQuery } from '../../src/api/conversation';
import { FakeClaude, reply } from '../../src/testing/fake-claude';
import { installQuietRuntime, quietBundlerLogger, startDevServer } from '../../src/testing';
import { builtinTools } from '../../src/tools/builtin';
import { anthropicClient, createAgentWorker } from '../../src/worker';
import { workflowBundle } from '../support/agent-env';

/** The workflow bundle with src/workflows/patches.ts replaced by `replacement`. */
function bundleWith(replacement: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: quietBundlerLogger,
    webpackConfigHook: (config) => ({
      ...config,
      plugins: [
        ...(config.plugins ?? []),
        new webpack.NormalModuleReplacementPlugin(/^\.\/patches$/, replacement),
      ],
    }),
  });
}

let env: TestWorkflowEnvironment;
let fake: FakeClaude;
let dataDir: string;
let before: WorkflowBundleWithSourceMap;
let unguarded: WorkflowBundleWithSourceMap;
const taskQueue = `rollout-${Date.now()}`;

beforeAll(async () => {
  installQuietRuntime('ERROR');
  env = await startDevServer();
  fake = await FakeClaude.start();
  dataDir = mkdtempSync(join(tmpdir(), 'rollout-'));
  [before, unguarded] = await Promise.all([
    bundleWith(require.resolve('../support/workflows/rollout/before')),
    bundleWith(require.resolve('../support/workflows/rollout/unguarded')),
  ]);
});
afterAll(async () => {
  await fake?.close();
  await env?.teardown();
  rmSync(dataDir, { recursive: true, force: true });
});

async function worker(bundle: WorkflowBundleWithSourceMap) {
  return createAgentWorker({
    connection: env.nativeConnection,
    taskQueue,
    anthropic: anthropicClient({ apiKey: 'k', baseURL: fake.url }),
    tools: builtinTools({ dataDir }),
    workflowBundle: bundle,
  });
}

async function startSaving(workflowId: string) {
  fake.script(workflowId, [
    reply.toolUse({
      name: 'save_article',
      id: 'toolu_1',
      input: { abstract: 'A', meta: { word_count: 1, review: 'r' } },
    }),
    reply.text('Saved.'),
  ]);
  const handle = await env.client.workflow.start(CONVERSATION_WORKFLOW, {
    taskQueue,
    workflowId,
    args: [{ model: 'claude-sonnet-5-5', message: 'Save', tools: ['save_article'], singleTurn: true }],
  });
  for (let i = 0; i < 200; i++) {
    const state = await handle.query(stateQuery, {}).catch(() => undefined);
    if (state?.status === 'awaiting_approval') return handle;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('never reached awaiting_approval');
}

const approve = { toolUseId: 'toolu_1', decision: 'approve' as const, decidedBy: 'ops' };

describe('rolling out a change with patched()', () => {
  it('old conversations waiting for approval finish on the new code; decided ones replay; unguarded code would not', async () => {
    // Before the deploy: one conversation is decided and done, another waits for approval.
    const old = await worker(before);
    const [decidedBefore, waiting] = await old.runUntil(async () => {
      const done = await startSaving(`rollout-done-${Date.now()}`);
      await done.executeUpdate(decideToolCallUpdate, { args: [approve] });
      await done.result();
      return [done, await startSaving(`rollout-waiting-${Date.now()}`)];
    });

    // The deploy: the new worker takes over and the waiting conversation gets its approval.
    const current = await worker(await workflowBundle());
    await current.runUntil(async () => {
      await waiting.executeUpdate(decideToolCallUpdate, { args: [approve] });
      expect((await waiting.result()).lastText).toBe('Saved.');
      const state = await waiting.query(stateQuery, {});
      expect(state.decisions[0]).toMatchObject({ decision: 'approve', decidedBy: 'ops' });
    });
    const waitingHistory = await waiting.fetchHistory();
    const markers = (waitingHistory.events ?? []).filter(
      (e) => e.markerRecordedEventAttributes?.markerName === 'core_patch',
    );
    expect(markers).toHaveLength(1); // The new code path ran, from the decision on.

    // Both histories replay on the new code.
    const decidedHistory = await decidedBefore.fetchHistory();
    await Worker.runReplayHistory(
      { workflowBundle: await workflowBundle() },
      decidedHistory,
      decidedBefore.workflowId,
    );
    await Worker.runReplayHistory(
      { workflowBundle: await workflowBundle() },
      waitingHistory,
      waiting.workflowId,
    );

    // Shipped without the guard, the change breaks the replay of the conversation decided before it.
    await expect(
      Worker.runReplayHistory({ workflowBundle: unguarded }, decidedHistory, decidedBefore.workflowId),
    ).rejects.toThrow(/[Nn]ondetermin/);
  });
});
