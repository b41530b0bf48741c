/** The worker's tuning knobs: defaults, overrides from the environment, poller counts kept within the slots. */
import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config';
import { tuningFromConfig, WORKER_TUNING_DEFAULTS, workerTuning } from '../../src/worker';

describe('workerTuning', () => {
  it('fills in the defaults', () => {
    const t = workerTuning({});
    expect(t).toMatchObject({
      maxConcurrentActivityTaskExecutions: WORKER_TUNING_DEFAULTS.maxConcurrentActivityTaskExecutions,
      maxConcurrentWorkflowTaskExecutions: WORKER_TUNING_DEFAULTS.maxConcurrentWorkflowTaskExecutions,
      workflowTaskPollerBehavior: {
        type: 'simple-maximum',
        maximum: WORKER_TUNING_DEFAULTS.workflowTaskPollers,
      },
      activityTaskPollerBehavior: {
        type: 'simple-maximum',
        maximum: WORKER_TUNING_DEFAULTS.activityTaskPollers,
      },
      nonStickyToStickyPollRatio: WORKER_TUNING_DEFAULTS.nonStickyToStickyPollRatio,
      maxEagerActivityReservationsPerWorkflowTask: WORKER_TUNING_DEFAULTS.maxEagerActivities,
    });
    // Unset: the SDK sizes the workflow cache from the heap.
    expect(t).not.toHaveProperty('maxCachedWorkflows');
  });

  it('keeps poller counts within the slots (polls without a slot are pointless)', () => {
    const t = workerTuning({
      maxConcurrentActivityTaskExecutions: 4,
      activityTaskPollers: 20,
      maxConcurrentWorkflowTaskExecutions: 3,
      workflowTaskPollers: 50,
    });
    expect(t.activityTaskPollerBehavior).toEqual({ type: 'simple-maximum', maximum: 4 });
    expect(t.workflowTaskPollerBehavior).toEqual({ type: 'simple-maximum', maximum: 3 });
  });

  it('reads every knob from the environment', () => {
    const config = loadConfig({
      AGENT_MAX_CACHED_WORKFLOWS: '500',
      AGENT_MAX_CONCURRENT_ACTIVITIES: '300',
      AGENT_MAX_CONCURRENT_WORKFLOW_TASKS: '20',
      AGENT_WORKFLOW_TASK_POLLERS: '4',
      AGENT_ACTIVITY_TASK_POLLERS: '6',
      AGENT_NON_STICKY_POLL_RATIO: '0.5',
      AGENT_MAX_EAGER_ACTIVITIES: '0',
    });
    const t = workerTuning(tuningFromConfig(config));
    expect(t).toEqual({
      maxCachedWorkflows: 500,
      maxConcurrentActivityTaskExecutions: 300,
      maxConcurrentWorkflowTaskExecutions: 20,
      workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: 4 },
      activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 6 },
      nonStickyToStickyPollRatio: 0.5,
      maxEagerActivityReservationsPerWorkflowTask: 0,
    });
  });

  it('refuses nonsense', () => {
    expect(() => loadConfig({ AGENT_NON_STICKY_POLL_RATIO: '0' })).toThrow(/AGENT_NON_STICKY_POLL_RATIO/);
    expect(() => loadConfig({ AGENT_WORKFLOW_TASK_POLLERS: '1' })).toThrow(/AGENT_WORKFLOW_TASK_POLLERS/);
  });
});
