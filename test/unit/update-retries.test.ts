/**
 * The client sends an update again, with the same update id, when the server refused it for a passing
 * state of the run (a workflow task that failed while it waited, a run closing into its successor, an
 * update the server aborted), until its deadline; anything else fails at once. The refusals are the
 * server's own gRPC errors as the SDK surfaces them (a `ServiceError` whose cause carries the status).
 */
import { describe, expect, it } from '@jest/globals';
import { ApplicationFailure, ServiceError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { AgentClient, AgentError, retryableUpdateRefusal, type UpdateRetry } from '../../src/client';
import { unprocessedUpdate } from '../../src/client/errors';

/** What the SDK throws for a refused update: a ServiceError around the gRPC error. */
function refusal(code: number, details: string): Error {
  const grpc = Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
  return new ServiceError('Failed to execute update', { cause: grpc });
}

const TASK_FAILED = 'Unable to perform workflow execution update due to unexpected workflow task failure.';

/** An AgentClient over a stand-in Temporal client whose updates answer from `answers` in turn. */
function clientAnswering(answers: Array<() => unknown>, updateTimeoutMs = 5000) {
  const ids: string[] = [];
  const stub = {
    connection: { withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn() },
    workflow: {
      getHandle: () => ({
        executeUpdate: async (_def: unknown, options: { updateId: string }) => {
          ids.push(options.updateId);
          const next = answers.shift();
          if (!next) throw new Error('no more answers');
          return next();
        },
      }),
    },
  } as unknown as Client;
  const agent = new AgentClient({ client: stub, taskQueue: 'q', updateTimeoutMs });
  const retries: UpdateRetry[] = [];
  agent.onUpdateRetry((r) => retries.push(r));
  return { agent, ids, retries };
}

describe('retryableUpdateRefusal', () => {
  it.each([
    [9, TASK_FAILED],
    [8, 'Workflow is closing.'],
    [14, 'workflow update was aborted'],
  ])('code %i "%s" is sent again', (code, details) => {
    expect(retryableUpdateRefusal(refusal(code, details))).toBe(details);
  });

  it.each([
    [9, 'Workflow Update is disabled'],
    [8, 'limit on number of concurrent in-flight updates has been reached'],
    [14, 'connection refused'],
    [3, TASK_FAILED],
  ])('code %i "%s" is not', (code, details) => {
    expect(retryableUpdateRefusal(refusal(code, details))).toBeUndefined();
  });

  it('nor is an error without a gRPC status', () => {
    expect(retryableUpdateRefusal(new Error(TASK_FAILED))).toBeUndefined();
  });
});

describe('AgentClient updates', () => {
  const decision = { toolUseId: 'toolu_1', decision: 'approve' as const, decidedBy: 'ops' };

  it('a decision refused for a failed workflow task is sent again with the same update id, and told', async () => {
    const { agent, ids, retries } = clientAnswering([
      () => Promise.reject(refusal(9, TASK_FAILED)),
      () => Promise.reject(refusal(8, 'Workflow is closing.')),
      () => Promise.resolve([{ toolUseId: 'toolu_1' }]),
    ]);
    await expect(agent.decide('wf', decision)).resolves.toEqual([{ toolUseId: 'toolu_1' }]);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
    expect(retries.map((r) => [r.operation, r.attempt, r.reason])).toEqual([
      ['decide', 1, TASK_FAILED],
      ['decide', 2, 'Workflow is closing.'],
    ]);
    expect(retries[0].updateId).toBe(ids[0]);
  });

  it('a message keeps its messageId as the update id across attempts', async () => {
    const { agent, ids } = clientAnswering([
      () => Promise.reject(refusal(9, TASK_FAILED)),
      () => Promise.resolve({ turn: 2 }),
    ]);
    await agent.sendMessage('wf', 'hello', { messageId: 'msg-1' });
    expect(ids).toEqual(['msg-1', 'msg-1']);
  });

  it('a lasting refusal fails at once, with no retry', async () => {
    const { agent, ids, retries } = clientAnswering([
      () => Promise.reject(refusal(9, 'Workflow Update is disabled')),
      () => Promise.resolve([]),
    ]);
    const failure = (await agent.decide('wf', decision).catch((e: unknown) => e)) as Error;
    expect(String(failure.cause)).toContain('disabled');
    expect(ids).toHaveLength(1);
    expect(retries).toEqual([]);
  });

  it('retries stop at the update deadline, and the last refusal is what the caller sees', async () => {
    const answers = Array.from({ length: 100 }, () => () => Promise.reject(refusal(9, TASK_FAILED)));
    const { agent, ids } = clientAnswering(answers, 700);
    const started = Date.now();
    const failure = await agent.decide('wf', decision).catch((e: unknown) => e);
    expect(failure).not.toBeInstanceOf(AgentError);
    expect(String((failure as Error).cause)).toContain('workflow task failure');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(ids.length).toBeGreaterThan(1);
    expect(new Set(ids).size).toBe(1);
  });
});

describe('an update no worker processed', () => {
  const decision = { toolUseId: 'toolu_1', decision: 'approve' as const, decidedBy: 'ops' };
  /** What the SDK throws when the server closed the update unprocessed (its failure, as the server writes it). */
  const unprocessed = () =>
    new WorkflowUpdateFailedError(
      'Workflow Update failed',
      ApplicationFailure.create({
        message: UNPROCESSED,
        type: 'UnprocessedUpdate',
        nonRetryable: true,
      }),
    );
  const UNPROCESSED =
    "Workflow Update is rejected because it wasn't processed by worker. Probably, Workflow Update is not supported by the worker.";

  it('is told apart from a workflow refusal', () => {
    expect(unprocessedUpdate(unprocessed())).toBe(UNPROCESSED);
    const refused = new WorkflowUpdateFailedError(
      'Workflow Update failed',
      ApplicationFailure.create({ message: 'already decided', type: 'refused', nonRetryable: true }),
    );
    expect(unprocessedUpdate(refused)).toBeUndefined();
    expect(unprocessedUpdate(refusal(9, TASK_FAILED))).toBeUndefined();
  });

  it('is sent again under a new update id (the first one is spent), and told', async () => {
    const { agent, ids, retries } = clientAnswering([
      () => Promise.reject(unprocessed()),
      () => Promise.reject(unprocessed()),
      () => Promise.resolve([{ toolUseId: 'toolu_1' }]),
    ]);
    await expect(agent.decide('wf', decision)).resolves.toEqual([{ toolUseId: 'toolu_1' }]);
    expect(ids).toEqual([ids[0], `${ids[0]}~2`, `${ids[0]}~3`]);
    expect(retries.map((r) => [r.attempt, r.updateId, r.reason])).toEqual([
      [1, ids[0], UNPROCESSED],
      [2, ids[1], UNPROCESSED],
    ]);
  });

  it('a workflow refusal is still refused at once', async () => {
    const { agent, ids } = clientAnswering([
      () =>
        Promise.reject(
          new WorkflowUpdateFailedError(
            'Workflow Update failed',
            ApplicationFailure.create({ message: 'already decided', nonRetryable: true }),
          ),
        ),
    ]);
    const failure = await agent.decide('wf', decision).catch((e: unknown) => e);
    expect((failure as AgentError).code).toBe('refused');
    expect(ids).toHaveLength(1);
  });

  it('at the deadline it is unavailable, not refused: the caller may send it again', async () => {
    const { agent } = clientAnswering(
      Array.from({ length: 50 }, () => () => Promise.reject(unprocessed())),
      300,
    );
    const failure = await agent.decide('wf', decision).catch((e: unknown) => e);
    expect((failure as AgentError).code).toBe('unavailable');
    expect((failure as AgentError).message).toMatch(/decide was not processed by a worker/);
  });
});

describe('a decision that cannot be sent', () => {
  it('nested past the bounds, at any depth, is invalid before anything is sent (no bare encoding error)', async () => {
    for (const levels of [65, 3000, 5000, 100_000]) {
      const { agent, ids } = clientAnswering([() => Promise.resolve([])]);
      let input: Record<string, unknown> = {};
      for (let i = 0; i < levels; i++) input = { a: input };
      const failure = await agent
        .decide('wf', { toolUseId: 'toolu_1', decision: 'edit', decidedBy: 'eve', input })
        .catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(AgentError);
      expect((failure as AgentError).code).toBe('invalid');
      expect((failure as AgentError).message).toMatch(/nested deeper than 64 levels/);
      expect(ids).toEqual([]);
    }
  });
});

describe('AgentClient state queries', () => {
  function queried(fail: () => Error, queryTimeoutMs = 5000) {
    const stub = {
      connection: { withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn() },
      workflow: { getHandle: () => ({ query: async () => Promise.reject(fail()) }) },
    } as unknown as Client;
    return new AgentClient({ client: stub, taskQueue: 'q', queryTimeoutMs }).getState('wf');
  }

  it.each([1, 2, 10, 13])('a query dropped on its way (code %i) is unavailable, to retry', async (code) => {
    const failure = await queried(() => refusal(code, 'Failed to query Workflow')).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AgentError);
    expect((failure as AgentError).code).toBe('unavailable');
  });

  it('a query that fails at its deadline, whatever its code, is no_worker', async () => {
    const failure = await queried(() => refusal(13, 'context deadline exceeded'), 0).catch((e: unknown) => e);
    expect((failure as AgentError).code).toBe('no_worker');
    expect((failure as AgentError).message).toMatch(/no worker answered/);
  });

  it("the workflow's own refusal stays what it was", async () => {
    const failure = await queried(() => refusal(3, 'cannot read its state')).catch((e: unknown) => e);
    expect(failure).not.toBeInstanceOf(AgentError);
  });
});
