/**
 * Sub-agents: an agent offers other agents as tools; a call runs the other agent as a child
 * conversation whose first message is the task, and its final answer is the tool's result. The child's
 * id derives from the parent's id and the tool_use_id, so it is the same on every replay and a second
 * start of the same call finds the same child. Its approvals join the same queue; ending the parent
 * stops it; its usage joins the parent's totals.
 */
import {
  CancellationScope,
  ChildWorkflowCancellationType,
  ChildWorkflowFailure,
  ParentClosePolicy,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  log,
} from '@temporalio/workflow';
import type { ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages';
import type { ToolCallInfo } from '../api/activity-contract';
import { subAgentUsageSignal, type SubAgentRun } from '../api/agents';
import {
  CONVERSATION_WORKFLOW,
  USAGE_FIELDS,
  type ConversationInput,
  type ConversationResult,
  type UsageTotals,
} from '../api/conversation';
import { nowIso } from './clock';
import { PATCHES, rolledOut } from './patches';
import type { Conversation } from './conversation-state';
import { failureMessage } from './model-call';
import { toolResult } from './tool-results';

/** Temporal's default limit on a workflow id's length. */
const MAX_WORKFLOW_ID = 1000;

/** Runs a sub-agent call as a child conversation; its outcome is the call's tool_result. */
export async function runSubAgent(
  conversation: Conversation,
  call: ToolCallInfo,
  input: Record<string, unknown>,
): Promise<ToolResultBlockParam> {
  const agent = call.subAgent!;
  const placed = placeInTree(conversation, agent);
  if (typeof placed === 'string')
    return toolResult(call.id, `Agent ${agent} was not called: ${placed}`, true);
  const { self, depth, ancestry } = placed;
  // The worker's input check (judged in the model call) does not run for a call the model could not
  // be offered; a task must be text either way.
  const task = typeof input.task === 'string' ? input.task.trim() : '';
  if (!task) {
    return toolResult(call.id, `Agent ${agent} was not called: give it the task as text in "task".`, true);
  }
  const run: SubAgentRun = {
    toolUseId: call.id,
    workflowId: childWorkflowId(conversation.workflowId, call.id),
    agent,
    status: 'running',
    startedAt: nowIso(),
  };
  conversation.trackSubAgent(run);
  const childInput: ConversationInput = {
    agent,
    message: task,
    singleTurn: true,
    parent: { workflowId: conversation.workflowId, toolUseId: call.id, agent: self, depth, ancestry },
    // A sub-agent works for the same tenant (its own memory, say, is kept under that tenant too).
    ...(conversation.config.tenant && { tenant: conversation.config.tenant }),
  };
  const scope = new CancellationScope();
  conversation.subAgents.started(call.id, scope);
  try {
    const result = await scope.run(() =>
      executeChild<(input: ConversationInput) => Promise<ConversationResult>>(CONVERSATION_WORKFLOW, {
        workflowId: run.workflowId,
        args: [childInput],
        // The child answers its parent: when the parent closes (completes, fails, is terminated) the
        // child is cancelled, and a cancel of the parent reaches it and is waited for.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
      }),
    );
    conversation.trackSubAgent({ ...run, status: result.status, endedAt: nowIso(), usage: result.usage });
    const text = result.lastText.trim();
    if (result.status === 'cancelled') return toolResult(call.id, `Agent ${agent} was stopped.`, true);
    return toolResult(
      call.id,
      text || `Agent ${agent} ended without an answer (${result.endReason}).`,
      text === '',
    );
  } catch (err) {
    // The conversation itself is cancelled: let it go; ended (its sub-agents stopped): answer the call.
    if (isCancellation(err) && CancellationScope.current().consideredCancelled) throw err;
    const stopped = conversation.endRequest !== undefined;
    conversation.trackSubAgent({ ...run, status: stopped ? 'cancelled' : 'failed', endedAt: nowIso() });
    const why =
      err instanceof ChildWorkflowFailure && err.cause ? failureMessage(err.cause) : failureMessage(err);
    return toolResult(
      call.id,
      stopped
        ? `Agent ${agent} was stopped: the conversation ended.`
        : `Agent ${agent} could not finish the task: ${why}`,
      true,
    );
  } finally {
    conversation.subAgents.ended(call.id);
  }
}

/**
 * Where a call of `agent` would sit in the tree of sub-agents: its depth and the agents above it, or
 * why it may not be called (it would call itself, or nest deeper than the agent allows).
 */
function placeInTree(
  conversation: Conversation,
  agent: string,
): { self: string; depth: number; ancestry: string[] } | string {
  const self = conversation.config.agent!;
  const parent = conversation.config.parent;
  const ancestry = [...(parent?.ancestry ?? []), self];
  const depth = (parent?.depth ?? 0) + 1;
  const maxDepth = conversation.listed?.maxSubAgentDepth ?? 3;
  if (ancestry.includes(agent)) return `it would call itself (${[...ancestry, agent].join(' → ')}).`;
  if (depth > maxDepth)
    return `sub-agents may nest ${maxDepth} deep, and this call would be level ${depth}. Do the task here.`;
  return { self, depth, ancestry };
}

/**
 * `parent.toolUseId`: stable across replays and retries. Kept under Temporal's id limit with a hash
 * when the parent's id is very long.
 */
export function childWorkflowId(parentId: string, toolUseId: string): string {
  const id = `${parentId}.${toolUseId}`;
  if (id.length <= MAX_WORKFLOW_ID) return id;
  return `${parentId.slice(0, MAX_WORKFLOW_ID - toolUseId.length - 12)}~${fnv1a(parentId)}.${toolUseId}`;
}

/** 32-bit FNV-1a, hex: deterministic and workflow-safe. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * A stopped sub-agent's report of what it spent (see `subAgentUsageSignal`): counted once, for a run
 * this conversation started, with sane numbers; anything else is ignored.
 */
export function recordStoppedSubAgentUsage(
  conversation: Conversation,
  report: { toolUseId?: unknown; usage?: unknown },
): void {
  const run = conversation.subAgents.find(report?.toolUseId);
  const usage = report?.usage as Partial<UsageTotals> | undefined;

  const sane =
    usage &&
    USAGE_FIELDS.every((f) => typeof usage[f] === 'number' && Number.isFinite(usage[f]) && usage[f] >= 0);
  if (!run || run.usage || !sane) {
    log.warn('sub-agent usage report ignored', { toolUseId: String(report?.toolUseId).slice(0, 100) });
    return;
  }
  conversation.trackSubAgent({ ...run, usage: usage as UsageTotals });
}

/** A stopped sub-agent tells its parent what it spent (a cancelled run returns no result). */
export async function reportUsageToParent(conversation: Conversation): Promise<void> {
  const parent = conversation.config.parent;
  if (!parent || !rolledOut(PATCHES.stoppedSubAgentUsage)) return;
  try {
    await getExternalWorkflowHandle(parent.workflowId).signal(subAgentUsageSignal, {
      toolUseId: parent.toolUseId,
      usage: conversation.usage,
    });
  } catch (err) {
    log.warn('could not report usage to the parent', { error: failureMessage(err) });
  }
}
