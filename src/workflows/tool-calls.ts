/**
 * The tool calls of one model answer: through the approval gate, run concurrently, answered together
 * in one user message in the model's order. A tool's failure is data for the model (an `is_error`
 * result), never an exception of the conversation.
 */
import { ActivityCancellationType, condition, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CallClaudeResult, ToolCallInfo } from '../api/activity-contract';
import type { RecordedDecision } from '../api/approvals';
import type { ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages';
import { now, nowIso } from './clock';
import type { Conversation } from './conversation-state';
import { decoded, failureMessage } from './model-call';
import { notifyApprovalWaiting, type StopNotifying } from './notifications';
import { runSubAgent } from './sub-agents';
import { editedResult, failedResult, notRunResult, rejectedResult, toolResult } from './tool-results';

const { runTool } = proxyActivities<Activities>({
  // The tool's own timeout is enforced inside the activity; this only bounds a stuck worker.
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
  },
});

/**
 * Runs every tool call of `answer` and appends their results as one user message. Calls whose tool's
 * policy asks for approval wait for an operator's decision (until their deadline); the others run at
 * once. Throws {@link ConversationEnded} afterwards if the conversation was ended meanwhile (pending
 * calls are then rejected as "ended", so the transcript stays whole).
 */
export async function runTools(
  conversation: Conversation,
  answer: CallClaudeResult,
  maxTokens: number,
): Promise<void> {
  const deadline = new Date(now().getTime() + conversation.limits.approvalTimeoutMs);
  requestApprovals(conversation, answer, deadline);
  const results = await Promise.all(
    answer.toolCalls.map(async (call): Promise<ToolResultBlockParam> => {
      if (!call.runnable) return notRunResult(call, maxTokens);
      let input = toolInput(answer, call);
      let decision: RecordedDecision | undefined;
      if (call.needsApproval) {
        const stopNotifying = notifyWaiting(conversation, call.id); // a webhook, not awaited
        decision = await decisionFor(conversation, call.id, deadline).finally(stopNotifying);
        if (decision.decision === 'reject') return rejectedResult(decision);
        if (decision.decision === 'edit' && decision.input) input = decision.input;
      }
      if (call.subAgent) return runSubAgent(conversation, call, input);
      return conversation.runningTool({ toolUseId: call.id, name: call.name }, async () => {
        try {
          const { workflowId } = conversation;
          const { agent, tools, tenant } = conversation.config;
          const offered = conversation.listed?.tools.map((t) => t.name) ?? tools;
          const result = decoded(
            await runTool({
              ...(agent && { agent }),
              offered,
              workflowId,
              toolUseId: call.id,
              name: call.name,
              input,
              ...(tenant && { tenant }),
            }),
            `the ${call.name} call`,
          );
          return decision?.decision === 'edit'
            ? editedResult(decision, result)
            : toolResult(call.id, result.content, result.isError);
        } catch (err) {
          if (isCancellation(err)) throw err;
          return failedResult(call, failureMessage(err));
        }
      });
    }),
  );
  conversation.append({ role: 'user', content: results });
  conversation.throwIfEnding();
}

/** Tells people that a call waits for them (a webhook), until it is decided. */
function notifyWaiting(conversation: Conversation, toolUseId: string): StopNotifying {
  const pending = conversation.approvals.pending.find((p) => p.toolUseId === toolUseId);
  return pending ? notifyApprovalWaiting(conversation.origin, pending) : () => undefined;
}

/** Puts the calls that need an operator in the approval queue, all with one deadline. */
function requestApprovals(conversation: Conversation, answer: CallClaudeResult, deadline: Date): void {
  const requestedAt = nowIso();
  for (const call of answer.toolCalls) {
    if (!call.runnable || !call.needsApproval) continue;
    conversation.approvals.request({
      toolUseId: call.id,
      name: call.name,
      input: toolInput(answer, call),
      turn: conversation.turn,
      requestedAt,
      deadline: deadline.toISOString(),
      ...(call.effect && { effect: call.effect }),
      ...(call.inputSchema && { schema: call.inputSchema }),
      ...(call.approvers && { approvers: call.approvers }),
      ...(call.approvalsRequired && { approvalsRequired: call.approvalsRequired }),
    });
  }
  conversation.refreshApprovals();
}

/** The operator's decision on a call, or a rejection when the deadline passes or the conversation ends. */
async function decisionFor(
  conversation: Conversation,
  toolUseId: string,
  deadline: Date,
): Promise<RecordedDecision> {
  const { approvals } = conversation;
  const decided = () => approvals.decisionFor(toolUseId);
  if (!decided()) {
    const ending = () => conversation.endRequest !== undefined;
    await condition(
      () => decided() !== undefined || ending(),
      Math.max(1, deadline.getTime() - now().getTime()),
    );
  }
  const decision =
    decided() ??
    (conversation.endRequest
      ? approvals.expire(toolUseId, 'end', 'the conversation ended before a decision', nowIso())
      : approvals.expire(
          toolUseId,
          'deadline',
          `no decision before the deadline (${deadline.toISOString()})`,
          nowIso(),
        ));
  conversation.refreshApprovals();
  return decision;
}

/**
 * The input the model gave a tool call. The worker keeps every input as an object (one that did not
 * parse is wrapped), so anything else cannot come from it and runs as an empty input.
 */
function toolInput(answer: CallClaudeResult, call: ToolCallInfo): Record<string, unknown> {
  const block = answer.message.content[call.index];
  if (block?.type !== 'tool_use' || !isRecord(block.input)) return {};
  return block.input;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
