/**
 * The state query's answer: everything a reader needs of a conversation, with the newest messages of
 * the range it asked for that fit one answer (indexes are of the whole transcript).
 */
import type { ConversationState, StateQueryOptions } from '../../api/conversation';
import type { Conversation } from '../conversation-state';
import { spent } from '../next-step';

export function stateView(conversation: Conversation, options: StateQueryOptions): ConversationState {
  const { transcript, compactions, config, agent, budget, usage, output } = conversation;
  // This run holds the transcript from `firstIndex` on.
  const { firstIndex } = compactions;
  const total = firstIndex + transcript.length;
  const local = (index: number) => Math.max(0, index - firstIndex);
  const asked = local(clampIndex(options.from ?? 0, total));
  // The newest messages of the range that fit one answer: `from` says where they start.
  const { from, to } = transcript.fitting(
    asked,
    Math.max(asked, local(clampIndex(options.to ?? total, total))),
    'last',
  );
  const compaction = compactions.view;
  const subAgents = conversation.subAgents.runs;
  const container = conversation.container.current;
  const status = conversation.status;
  return {
    // 'starting' lasts only until the first workflow task sets a status, before any query is answered.
    status: status === 'starting' ? 'running' : status,
    attention: conversation.attention,
    model: conversation.model,
    ...(agent && { agent }),
    ...(config.parent && { parent: config.parent }),
    ...(config.fork && { forkedFrom: config.fork.from }),
    ...(subAgents.length > 0 && { subAgents: [...subAgents] }),
    ...(budget && { budget: { limit: budget, spent: spent(usage) } }),
    turn: conversation.turn,
    messageCount: total,
    messages: transcript.messages.slice(from, to),
    meta: transcript.meta.slice(from, to),
    from: firstIndex + from,
    ...(compaction && { compaction }),
    modelCallInFlight: conversation.modelCallInFlight,
    toolCallsInFlight: conversation.toolCallsInFlight,
    queuedMessages: conversation.inbox.length,
    pendingApprovals: conversation.approvals.pending,
    decisions: conversation.approvals.decisions,
    refusedDecisions: conversation.approvals.refused,
    usage,
    lastStop: conversation.lastStop,
    ...(output && { output }),
    ...(container && { container }),
    endReason: conversation.lifecycle.endedBecause,
    generation: conversation.generation,
    startedAt: conversation.startedAt,
    updatedAt: conversation.lifecycle.updatedAt,
  };
}

/** An index into a list of `length`, negative from the end, clamped to [0, length]. */
function clampIndex(index: number, length: number): number {
  const i = index < 0 ? length + index : index;
  return Math.min(Math.max(0, Math.trunc(i)), length);
}
