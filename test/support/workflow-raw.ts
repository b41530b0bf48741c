/**
 * Raw Temporal calls for the workflow hostile suites: signals, updates and queries with argument
 * payloads as a hostile client would build them (no client-side converter or validation in between),
 * the check that a conversation never failed a workflow task, and the conversations they aim at.
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { reply } from '../../src/testing/fake-claude';
import type { AgentEnv } from './agent-env';

export type RawPayload = { metadata: Record<string, Uint8Array>; data: Uint8Array };

export const enc = (s: string) => new TextEncoder().encode(s);

/** A `json/plain` payload of `value`. */
export function json(value: unknown): RawPayload {
  return { metadata: { encoding: enc('json/plain') }, data: enc(JSON.stringify(value) ?? 'null') };
}

export async function signalRaw(
  client: Client,
  workflowId: string,
  signalName: string,
  payloads: RawPayload[],
): Promise<void> {
  await client.workflowService.signalWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId },
    signalName,
    input: { payloads },
    identity: 'hostile-test',
    requestId: randomUUID(),
  });
}

/** An update with raw argument payloads; resolves to the rejection's message, or undefined if accepted. */
export async function updateRaw(
  client: Client,
  workflowId: string,
  name: string,
  payloads: RawPayload[],
): Promise<string | undefined> {
  const response = await client.workflowService.updateWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId },
    request: {
      meta: { updateId: randomUUID(), identity: 'hostile-test' },
      input: { name, args: { payloads } },
    },
    waitPolicy: {
      lifecycleStage:
        temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage
          .UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED,
    },
  });
  return response.outcome?.failure?.message ?? undefined;
}

/** A query with raw argument payloads: `answered`, or `refused: why` (a refusal must harm nothing). */
export async function queryRaw(
  client: Client,
  workflowId: string,
  queryType: string,
  payloads: RawPayload[],
): Promise<string> {
  try {
    await client.workflowService.queryWorkflow({
      namespace: 'default',
      execution: { workflowId },
      query: { queryType, queryArgs: { payloads } },
    });
    return 'answered';
  } catch (err) {
    return `refused: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Workflow tasks that failed in the conversation's history (any is a wedge in the making). */
export async function taskFailures(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.workflowTaskFailedEventAttributes)
    .map((e) => e.workflowTaskFailedEventAttributes?.failure?.message ?? '(no message)');
}

/** A conversation idle after its first turn; its model answers `answers`, one a turn. */
export async function idleConversation(t: AgentEnv, answers: string[]): Promise<WorkflowHandle> {
  const handle = await t.start({ message: 'Hi' });
  t.fake.script(
    handle.workflowId,
    answers.map((answer) => reply.text(answer)),
  );
  await t.waitFor(handle, (s) => s.status === 'idle');
  return handle;
}

/** A conversation waiting for a decision on one save_article call. */
export async function awaitingApprovalConversation(
  t: AgentEnv,
): Promise<{ handle: WorkflowHandle; toolUseId: string }> {
  const handle = await t.start({ message: 'Save it.', tools: ['save_article'] });
  t.fake.script(handle.workflowId, [
    reply.toolUse({ name: 'save_article', input: { abstract: 'A', meta: { word_count: 1, review: 'ok' } } }),
    reply.text('Saved.'),
  ]);
  const state = await t.waitFor(handle, (s) => s.pendingApprovals.length === 1);
  return { handle, toolUseId: state.pendingApprovals[0].toolUseId };
}
