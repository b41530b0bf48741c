import { proxyActivities, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { AGENT_STATUS } from '../../../src/api/search-attributes';

interface SmokeActivities {
  greet(name: string): Promise<string>;
}

const { greet } = proxyActivities<SmokeActivities>({ startToCloseTimeout: '10 seconds' });

/** Runs one activity; proves a worker, a real server and our search attributes work together. */
export async function greetWorkflow(name: string): Promise<string> {
  upsertSearchAttributes([{ key: AGENT_STATUS, value: 'smoke' }]);
  return greet(name);
}

/** Sleeps a day of workflow time; on the time-skipping server it finishes at once. */
export async function sleepDayWorkflow(): Promise<{ startedAt: number; endedAt: number }> {
  const startedAt = workflowInfo().runStartTime.getTime();
  await sleep('1 day');
  return { startedAt, endedAt: Date.now() };
}
