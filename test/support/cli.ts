/**
 * The `agent` CLI as a real process against an {@link AgentEnv}'s dev server, task queue and fake model,
 * for the suites that drive it end to end.
 */
import { expect } from '@jest/globals';
import type { ConversationState } from '../../src/api/conversation';
import { RAW_CONTROL, runCli, type CliRun } from './cli-runs';
import type { AgentEnv } from './agent-env';

/**
 * `env` is a getter because suites assign their env in `beforeAll`, after this runs. Answers `cli` (runs
 * the CLI, against `address` if given: an unreachable one proves nothing connected), `ok` (asserts exit
 * 0 and no raw control character on stdout, then answers the run) and `state` (waits up to 30 s until a
 * conversation's state meets `predicate`).
 */
export function cliAgainst(env: () => AgentEnv) {
  function cli(args: string[], address = env().env.address): Promise<CliRun> {
    return runCli(args, {
      env: { TEMPORAL_ADDRESS: address, AGENT_TASK_QUEUE: env().taskQueue, AGENT_MODEL: 'claude-sonnet-5-5' },
    });
  }
  function ok(run: CliRun): CliRun {
    if (run.code !== 0) throw new Error(`exit ${run.code}: ${run.stderr}`);
    expect(run.stdout).not.toMatch(RAW_CONTROL);
    return run;
  }
  const state = (workflowId: string, predicate: (s: ConversationState) => boolean) =>
    env().waitFor(env().env.client.workflow.getHandle(workflowId), predicate, 30_000);
  return { cli, ok, state };
}
