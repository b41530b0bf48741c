/**
 * The crash harness in its short form (CI): real dev server on SQLite, the worker as a child process
 * killed with SIGKILL at each crash point (two of them in a sub-agent's child conversation), a server
 * restart, a randomized run, graceful SIGTERM, and every history of these runs replayed against the
 * current workflow code. `npm run crash-test` runs the long form.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CASES, runCase, runRandomized, saveScript, type CaseResult } from '../support/crash-scenarios';
import { CRASH_AGENT_MODULE, CrashStack, sleep, until } from '../support/stack';
import { workflowBundle } from '../support/agent-env';

/**
 * Two stacks, each with its own server, worker and fake: the crash points run in two lanes at once, a
 * kill in one lane never touching the other's conversations. A case mostly waits (a heartbeat timeout,
 * a worker's start), so two lanes take about half the time on the same two cores. The randomized run,
 * the graceful shutdown and the replay use the first stack once the lanes are done.
 */
let stacks: CrashStack[] = [];
let stack: CrashStack;
const results = new Map<string, Promise<CaseResult>>();
beforeAll(async () => {
  stacks = await Promise.all([0, 1].map(() => CrashStack.start({ agentModule: CRASH_AGENT_MODULE })));
  await Promise.all(stacks.map((s) => s.startWorker()));
  stack = stacks[0];
  const runId = String(Date.now());
  stacks.forEach((lane, index) => {
    let previous: Promise<unknown> = Promise.resolve();
    for (const spec of CASES.filter((_, i) => i % stacks.length === index)) {
      const result = previous.then(() => runCase(lane, spec, runId));
      // A case that fails does not stop its lane: its test reports it.
      previous = result.catch(() => undefined);
      results.set(spec.name, result);
    }
  });
}, 120_000);
afterAll(async () => {
  // The lanes run on their own: let them end before their stacks do, whatever failed.
  await Promise.allSettled(results.values());
  await Promise.all(stacks.map((s) => s.close()));
});

describe('crash points (SIGKILL, then a new worker)', () => {
  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s: completes, same transcript, side effects once, no model request beyond the documented retry',
    async (name) => {
      const result = await results.get(name)!;
      if (result.recoveryMs !== undefined)
        console.log(
          `crash-test: recovery after a mid-stream kill took ${(result.recoveryMs / 1000).toFixed(1)} s (heartbeat timeout 10 s)`,
        );
      expect(result.problems).toEqual([]);
      // Noticed through the heartbeat timeout (10 s), not the call's start-to-close timeout (10 min).
      // How long it took is a figure (printed above; the bench's), not a bound: on a busy machine the
      // new worker's start and the retry's dispatch add seconds (18 s seen with three suites at once).
      if (result.recoveryMs !== undefined) expect(result.recoveryMs).toBeLessThan(120_000);
    },
    // The lanes started in beforeAll: a case waits at most for the cases before it in its lane.
    300_000,
  );
});

describe('randomized', () => {
  it('conversations survive kills at random moments', async () => {
    const result = await runRandomized(stack, { conversations: 6, kills: 2, seed: Date.now() % 1000 });
    console.log(
      `crash-test: ${result.conversations} conversations, ${result.kills} kills, ${result.lost} lost, ${result.duplicateSideEffects} duplicate side effects`,
    );
    expect(result.problems).toEqual([]);
    expect(result).toMatchObject({ lost: 0, duplicateSideEffects: 0, kills: 2 });
  }, 300_000);
});

describe('graceful shutdown', () => {
  it('SIGTERM lets the streaming call finish: no failed activity, no retry', async () => {
    const workflowId = `crash-sigterm-${Date.now()}`;
    stack.fake.script(workflowId, saveScript({ streamMs: 60 }));
    await stack.agent.startConversation(
      { model: 'claude-sonnet-5-5', message: 'Save it', tools: ['save_article'], singleTurn: true },
      { workflowId },
    );
    await until('the stream to start', () => stack.fake.requestsFor(workflowId).length === 1);
    await sleep(300);
    await stack.killWorker('SIGTERM');
    // The in-flight stream finished before the worker exited.
    expect(stack.fake.requestsFor(workflowId)[0].clientClosed).toBeUndefined();
    await stack.startWorker();
    await until(
      'the approval request',
      async () =>
        ((await stack.agent.getState(workflowId, { from: 0, to: 0 }).catch(() => undefined))?.pendingApprovals
          .length ?? 0) === 1,
    );
    await stack.agent.decide(workflowId, {
      toolUseId: 'toolu_save_1',
      decision: 'approve',
      decidedBy: 'ops',
    });
    await stack.agent.client.workflow.getHandle(workflowId).result();
    const history = await stack.agent.client.workflow.getHandle(workflowId).fetchHistory();
    const failed = (history.events ?? []).filter(
      (e) => e.activityTaskFailedEventAttributes || e.activityTaskTimedOutEventAttributes,
    );
    expect(failed).toEqual([]);
    expect(stack.fake.requestsFor(workflowId)).toHaveLength(2);
    expect(await stack.articles(workflowId)).toHaveLength(1);
  }, 120_000);
});

describe('determinism', () => {
  it('replays every history of these crash runs against the current workflow code', async () => {
    const histories = [];
    for (const { agent } of stacks)
      for await (const wf of agent.client.workflow.list({ query: `WorkflowId STARTS_WITH "crash-"` })) {
        histories.push({
          // Replayed under its own id: a sub-agent's child id derives from its parent's.
          workflowId: wf.workflowId,
          history: await agent.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory(),
        });
      }
    expect(histories.length).toBeGreaterThanOrEqual(CASES.length * 2 + 6);
    let replayed = 0;
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: await workflowBundle(), replayName: 'crash-replay' },
      histories,
    )) {
      if (result.error) throw new Error(`replay of ${result.workflowId} failed: ${String(result.error)}`);
      replayed++;
    }
    expect(replayed).toBe(histories.length);
    if (process.env.RECORD_HISTORIES) {
      // Keep the faulted runs (and the graceful shutdown) as fixtures: test/replay/replay-histories.test.ts
      // replays them against every future version of the workflow code.
      const dir = join(__dirname, '..', 'replay', 'histories');
      mkdirSync(dir, { recursive: true });
      for (const { workflowId, history } of histories) {
        const name = workflowId.replace(/-\d{10,}/g, '');
        if (!/-fault$|sigterm/.test(name)) continue;
        // The fixtures replay under their file name, and a parent's commands name its children by its
        // own id: a sub-agent parent would not replay there (it does here, under its id).
        if (history.events?.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)) continue;
        writeFileSync(
          join(dir, `${name}.json`),
          `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 1)}\n`,
        );
      }
    }
  }, 120_000);
});
