/**
 * Model API failures: Temporal owns retries (the SDK makes none), retryable errors retry with the
 * server's delay, permanent ones park the conversation until an operator resumes or ends it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { endUpdate, resumeUpdate, stateQuery } from '../../src/api/conversation';
import { reply, type RecordedRequest } from '../../src/testing/fake-claude';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { expectRefused } from '../support/updates';

let t: AgentEnv;
beforeAll(async () => {
  t = await startAgentEnv();
});
afterAll(async () => {
  await t?.teardown();
});

const long = () =>
  reply.text('A long answer that streams slowly, word by word, so there is time to act.', { chunkSize: 3 });
const gaps = (requests: RecordedRequest[]) =>
  requests.slice(1).map((r, i) => r.receivedAt - requests[i].receivedAt);

/** Attempts of the callClaude activity, from the workflow history. */
async function callAttempts(workflowId: string): Promise<number[]> {
  const history = await t.env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.activityTaskStartedEventAttributes)
    .map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
}

describe('retryable errors', () => {
  it('429 with retry-after: one activity retry after the server delay, no SDK retry', async () => {
    const handle = await t.start({ message: 'Hi', singleTurn: true });
    t.fake.script(handle.workflowId, [
      reply.httpError(429, { 'retry-after': '2' }),
      reply.text('Now it works.'),
    ]);
    expect((await handle.result()).lastText).toBe('Now it works.');
    const requests = t.fake.requestsFor(handle.workflowId);
    expect(requests).toHaveLength(2);
    expect(requests.map((r) => r.headers['x-stainless-retry-count'])).toEqual(['0', '0']);
    expect(gaps(requests)[0]).toBeGreaterThanOrEqual(1900);
    expect(await callAttempts(handle.workflowId)).toEqual([2]);
  });

  it('retry-after-ms wins over retry-after', async () => {
    const handle = await t.start({ message: 'Hi', singleTurn: true });
    t.fake.script(handle.workflowId, [
      reply.httpError(429, { 'retry-after-ms': '300', 'retry-after': '30' }),
      reply.text('ok'),
    ]);
    await handle.result();
    const gap = gaps(t.fake.requestsFor(handle.workflowId))[0];
    expect(gap).toBeGreaterThanOrEqual(250);
    // The failure carries the server's delay to Temporal (which schedules the retry timer; the dev
    // server fires timers on a one-second tick, hence a gap of about a second here).
    const history = await t.env.client.workflow.getHandle(handle.workflowId).fetchHistory();
    const started = (history.events ?? []).find((e) => e.activityTaskStartedEventAttributes);
    const failure = started?.activityTaskStartedEventAttributes?.lastFailure?.applicationFailureInfo;
    expect(failure?.nextRetryDelay).toMatchObject({ nanos: 300_000_000 });
    expect(gap).toBeLessThan(5000);
  });

  it.each([
    [529, 'overloaded_error'],
    [500, 'api_error'],
  ])('%i %s is retried', async (status) => {
    const handle = await t.start({ message: 'Hi', singleTurn: true });
    t.fake.script(handle.workflowId, [reply.httpError(status), reply.text('Recovered.')]);
    expect((await handle.result()).lastText).toBe('Recovered.');
    expect(t.fake.requestsFor(handle.workflowId)).toHaveLength(2);
  });

  it('an error event in the middle of a stream is retried from scratch', async () => {
    const handle = await t.start({ message: 'Hi', singleTurn: true });
    t.fake.script(handle.workflowId, [reply.streamError(long(), 8), reply.text('Second try.')]);
    expect((await handle.result()).lastText).toBe('Second try.');
    const state = await handle.query(stateQuery, {});
    expect(state.messageCount).toBe(2);
    expect(state.usage.calls).toBe(1);
  });

  it('a connection dropped mid-stream is retried', async () => {
    const handle = await t.start({ message: 'Hi', singleTurn: true });
    t.fake.script(handle.workflowId, [reply.dropConnection(long(), 8), reply.text('Reconnected.')]);
    expect((await handle.result()).lastText).toBe('Reconnected.');
    expect(t.fake.requestsFor(handle.workflowId)).toHaveLength(2);
  });
});

describe('permanent errors park the conversation', () => {
  it('400 parks in needs_attention with the API error; resume retries and succeeds', async () => {
    const handle = await t.start({ message: 'Hi', singleTurn: true });
    t.fake.script(handle.workflowId, [
      reply.error(400, 'invalid_request_error', 'messages: something is off'),
      reply.text('After the fix.'),
    ]);
    const parked = await t.waitFor(handle, (s) => s.status === 'needs_attention');
    expect(parked.attention).toMatchObject({
      reason: 'api_error',
      status: 400,
      errorType: 'invalid_request_error',
      message: 'messages: something is off',
      requestId: expect.stringMatching(/^req_/),
    });
    // Parked means no retries meanwhile.
    await new Promise((r) => setTimeout(r, 1500));
    expect(t.fake.requestsFor(handle.workflowId)).toHaveLength(1);
    expect((await handle.describe()).searchAttributes.AgentStatus).toEqual(['needs_attention']);

    const status = await handle.executeUpdate(resumeUpdate, { args: [{ by: 'ops', note: 'fixed' }] });
    expect(status).toBe('running');
    expect((await handle.result()).lastText).toBe('After the fix.');
    const after = await handle.query(stateQuery, {});
    expect(after.attention).toBeUndefined();
    expect(after.messageCount).toBe(2);
  });

  it('401 parks; resume is refused unless parked; end finishes it with nothing lost', async () => {
    const handle = await t.start({ message: 'Keep this message' });
    t.fake.script(handle.workflowId, [reply.httpError(401)]);
    const parked = await t.waitFor(handle, (s) => s.status === 'needs_attention');
    expect(parked.attention).toMatchObject({ status: 401, errorType: 'authentication_error' });
    await handle.executeUpdate(endUpdate, { args: [{ by: 'ops', reason: 'key revoked' }] });
    expect(await handle.result()).toMatchObject({ status: 'completed', endReason: 'key revoked' });
    const state = await handle.query(stateQuery, {});
    expect(state.messages).toEqual([{ role: 'user', content: 'Keep this message' }]);
    await expectRefused(handle.executeUpdate(resumeUpdate, { args: [{}] }), /./);
  });

  it('resume is refused when the conversation is not parked', async () => {
    const handle = await t.start({ message: 'Hi' });
    t.fake.script(handle.workflowId, [reply.text('Hello')]);
    await t.waitFor(handle, (s) => s.status === 'idle');
    await expectRefused(
      handle.executeUpdate(resumeUpdate, { args: [{}] }),
      /only a conversation in needs_attention can be resumed; this one is idle/,
    );
    await handle.executeUpdate(endUpdate, { args: [{}] });
  });
});

describe('cancellation', () => {
  it('cancelling mid-stream aborts the HTTP stream and records the end', async () => {
    const handle = await t.start({ message: 'Tell me a long story' });
    t.fake.script(handle.workflowId, [{ ...long(), latency: { betweenEventsMs: 200 } }]);
    await t.waitFor(handle, (s) => s.modelCallInFlight && t.fake.requestsFor(handle.workflowId).length === 1);
    await new Promise((r) => setTimeout(r, 600));
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const [request] = t.fake.requestsFor(handle.workflowId);
    expect(request.clientClosed).toBe(true);
    const state = await handle.query(stateQuery, {});
    expect(state).toMatchObject({ status: 'cancelled', endReason: 'cancelled', messageCount: 1 });
  });
});

describe('determinism', () => {
  it('replays every history of this file', async () => {
    expect(await t.replayHistories()).toBeGreaterThanOrEqual(9);
  });
});
