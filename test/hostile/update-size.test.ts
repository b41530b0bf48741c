/**
 * Updates too large for the worker to refuse, sent straight to Temporal by a client without the
 * retry interceptor (as a hostile one would). A worker's rejection echoes the whole request, and the
 * SDK will not send a rejection over the 2 MiB blob limit (`TMPRL1103`): without the server's cap on
 * in-flight update payloads (`history.maxInFlightUpdatePayloads`, which every dev server this project
 * starts sets, see DEV_SERVER_LIMITS) such an update failed every workflow task of its conversation
 * for as long as the server held it. With the cap the server refuses it at admission, at once, and the
 * largest update it admits is one the worker can refuse.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { decideToolCallUpdate } from '../../src/api/approvals';
import { endUpdate, sendMessageUpdate, stateQuery } from '../../src/api/conversation';
import { MAX_IN_FLIGHT_UPDATE_PAYLOADS } from '../../src/testing/temporal-env';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import {
  awaitingApprovalConversation,
  idleConversation,
  json,
  taskFailures,
  type RawPayload,
} from '../support/workflow-raw';

const MiB = 1024 * 1024;
/** gRPC's status code. */
const RESOURCE_EXHAUSTED = 8;
const LIMIT_MESSAGE =
  'limit on total payload size of in-flight updates has been reached ' +
  `(${MAX_IN_FLIGHT_UPDATE_PAYLOADS} bytes)`;

let t: AgentEnv;
let connection: Connection;
/** No retry interceptor: the default one retries RESOURCE_EXHAUSTED for ~40 s before giving up. */
let raw: Client;
let namespace: string;
beforeAll(async () => {
  t = await startAgentEnv();
  namespace = t.env.namespace ?? 'default';
  connection = await Connection.connect({ address: t.env.address, interceptors: [] });
  raw = new Client({ connection, namespace });
});
afterAll(async () => {
  await connection?.close();
  await t?.teardown();
});

/** An update request: ids, name, arguments (the server measures its encoded size at admission). */
function updateRequest(name: string, payloads: RawPayload[]): temporal.api.update.v1.IRequest {
  return {
    meta: { updateId: randomUUID(), identity: 'hostile-update-size' },
    input: { name, args: { payloads } },
  };
}
const requestBytes = (request: temporal.api.update.v1.IRequest) =>
  temporal.api.update.v1.Request.encode(request).finish().length;

/**
 * Sends `request` and waits for its outcome, 10 s at most (a wedged conversation would hold it far
 * longer): `refused: <gRPC code> <details>` at admission, else the validator's rejection or `accepted`.
 */
async function send(workflowId: string, request: temporal.api.update.v1.IRequest): Promise<string> {
  try {
    const response = await connection.withDeadline(Date.now() + 10_000, () =>
      raw.workflowService.updateWorkflowExecution({
        namespace,
        workflowExecution: { workflowId },
        request,
        waitPolicy: {
          lifecycleStage:
            temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage
              .UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED,
        },
      }),
    );
    const failure = response.outcome?.failure;
    return failure ? `rejected: ${failure.message}` : 'accepted';
  } catch (err) {
    const { code, details } = err as { code?: number; details?: string };
    return `refused: ${code} ${details}`;
  }
}

/** A sendMessage request of `bytes` encoded (the text's length settles it). */
function sendMessageOfSize(bytes: number): temporal.api.update.v1.IRequest {
  const at = (length: number) => updateRequest('sendMessage', [json({ content: 'm'.repeat(length) })]);
  let length = bytes - (requestBytes(at(bytes)) - bytes);
  while (requestBytes(at(length)) > bytes) length--;
  const request = at(length);
  expect(requestBytes(request)).toBe(bytes);
  return request;
}

const idle = () => idleConversation(t, ['Hello.', 'Still here.']);
const awaitingApproval = () => awaitingApprovalConversation(t);

/** Not wedged: the state query answers within 5 s (through the raw client: no retries) and no task failed. */
async function expectHealthy(handle: WorkflowHandle) {
  const state = await connection.withDeadline(Date.now() + 5_000, () =>
    raw.workflow.getHandle(handle.workflowId).query(stateQuery, {}),
  );
  expect(await taskFailures(handle)).toEqual([]);
  return state;
}

describe('an update over the in-flight payload cap is refused at admission, at once', () => {
  it('sendMessage of 2.5 and 1.9 MiB; then a message is answered and it ends, nothing lost', async () => {
    const handle = await idle();
    for (const size of [2.5 * MiB, 1.9 * MiB]) {
      const started = Date.now();
      const outcome = await send(
        handle.workflowId,
        updateRequest('sendMessage', [json({ content: 'm'.repeat(size) })]),
      );
      expect(outcome).toBe(`refused: ${RESOURCE_EXHAUSTED} ${LIMIT_MESSAGE}`);
      expect(Date.now() - started).toBeLessThan(2_000);
    }
    expect((await expectHealthy(handle)).status).toBe('idle');

    await handle.executeUpdate(sendMessageUpdate, { args: [{ content: 'And now?' }] });
    const state = await t.waitFor(handle, (s) => s.status === 'idle' && s.messageCount === 4);
    expect(JSON.stringify(state.messages.map((m) => m.content))).toMatch(
      /^\[.*Hi.*Hello\..*And now\?.*Still here\./,
    );
    expect(t.requests(handle.workflowId)).toHaveLength(2);
    await handle.executeUpdate(endUpdate, { args: [{ reason: 'test over' }] });
    expect(await handle.result()).toMatchObject({ status: 'completed', messageCount: 4 });
    expect(await taskFailures(handle)).toEqual([]);
  });

  it('decideToolCall with a 2.5 MiB toolUseId; the pending call is then decided as usual', async () => {
    const { handle, toolUseId } = await awaitingApproval();
    const started = Date.now();
    const outcome = await send(
      handle.workflowId,
      updateRequest('decideToolCall', [
        json({ toolUseId: 'y'.repeat(2.5 * MiB), decision: 'approve', decidedBy: 'eve' }),
      ]),
    );
    expect(outcome).toBe(`refused: ${RESOURCE_EXHAUSTED} ${LIMIT_MESSAGE}`);
    expect(Date.now() - started).toBeLessThan(2_000);
    const state = await expectHealthy(handle);
    expect(state.pendingApprovals.map((p) => p.toolUseId)).toEqual([toolUseId]);
    expect(state.refusedDecisions).toEqual([]);

    await handle.executeUpdate(decideToolCallUpdate, {
      args: [{ toolUseId, decision: 'approve', decidedBy: 'eve' }],
    });
    await t.waitFor(handle, (s) => s.status === 'idle');
    expect(t.toolResults(handle.workflowId)).toHaveLength(1);
    await handle.executeUpdate(endUpdate, { args: [{ reason: 'test over' }] });
    expect(await handle.result()).toMatchObject({ status: 'completed' });
    expect(await taskFailures(handle)).toEqual([]);
  });
});

describe('the largest update the server admits is one the worker can refuse', () => {
  it('sendMessage at the cap is refused; 1 KiB under it is admitted, then rejected', async () => {
    const handle = await idle();
    expect(await send(handle.workflowId, sendMessageOfSize(MAX_IN_FLIGHT_UPDATE_PAYLOADS))).toBe(
      `refused: ${RESOURCE_EXHAUSTED} ${LIMIT_MESSAGE}`,
    );
    // The server counts a few bytes more than this encoding (73 on server 1.32), hence the 1 KiB.
    const outcome = await send(handle.workflowId, sendMessageOfSize(MAX_IN_FLIGHT_UPDATE_PAYLOADS - 1024));
    expect(outcome).toMatch(/^rejected: message too large: \d+ bytes/);
    expect(outcome.length).toBeLessThan(300);
    expect((await expectHealthy(handle)).status).toBe('idle');
    await handle.executeUpdate(endUpdate, { args: [{ reason: 'test over' }] });
    expect(await handle.result()).toMatchObject({ status: 'completed', messageCount: 2 });
    expect(await taskFailures(handle)).toEqual([]);
  });

  it('decideToolCall with a 1.7 MiB toolUseId is admitted, rejected, and harms nothing', async () => {
    const { handle, toolUseId } = await awaitingApproval();
    const outcome = await send(
      handle.workflowId,
      updateRequest('decideToolCall', [
        json({ toolUseId: 'y'.repeat(1.7 * MiB), decision: 'approve', decidedBy: 'eve' }),
      ]),
    );
    expect(outcome).toMatch(/^rejected: invalid decision/);
    expect(outcome.length).toBeLessThan(2000);
    const state = await expectHealthy(handle);
    expect(state.pendingApprovals.map((p) => p.toolUseId)).toEqual([toolUseId]);
    await handle.executeUpdate(endUpdate, { args: [{ reason: 'test over' }] });
    expect(await handle.result()).toMatchObject({ status: 'completed' });
    expect(await taskFailures(handle)).toEqual([]);
  });
});
