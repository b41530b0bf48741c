/**
 * How the outside world reaches a conversation: queries read its state, updates and signals queue a
 * message, resume or end it, raise its budget, compact it and decide tool calls. Each handler hands
 * the request to the conversation (conversation-state.ts) or to requests.ts, which holds the checks,
 * the status rules and what a signal does that cannot apply; the loop in conversation.ts acts on what
 * they recorded.
 */
import { setHandler } from '@temporalio/workflow';
import { agentReadyUpdate, subAgentUsageSignal } from '../api/agents';
import { decideToolCallSignal, decideToolCallUpdate } from '../api/approvals';
import {
  compactUpdate,
  endSignal,
  endUpdate,
  messagesQuery,
  raiseBudgetUpdate,
  resumeUpdate,
  sendMessageUpdate,
  settingsQuery,
  stateQuery,
} from '../api/conversation';
import type { Conversation } from './conversation-state';
import * as requests from './requests';
import { stateView } from './state/view';
import { recordStoppedSubAgentUsage } from './sub-agents';

export function registerHandlers(conversation: Conversation): void {
  const c = conversation;
  setHandler(stateQuery, (options) => stateView(c, options ?? {}));
  setHandler(settingsQuery, () => c.settings);
  setHandler(messagesQuery, (range) => ({ messages: c.messagesIn(range) }));

  setHandler(sendMessageUpdate, (message) => c.enqueue(message.content), {
    validator: (message) => requests.checkMessage(c, message),
  });
  setHandler(resumeUpdate, (request) => requests.resume(c, request), {
    validator: (request) => requests.checkResume(c, request),
  });
  setHandler(endUpdate, (request) => c.requestEnd(request ?? {}), {
    validator: (request) => requests.checkEnd(c, request),
  });
  setHandler(endSignal, (request) => requests.endBySignal(c, request));
  // Answers once the agent is listed (or refused): clients call it right after start, so an unknown
  // agent is an error at start. The state carries the same view for later readers.
  setHandler(agentReadyUpdate, () => c.agentReady(), { validator: () => requests.checkHasAgent(c) });
  setHandler(raiseBudgetUpdate, (request) => requests.raiseBudget(c, request), {
    validator: (request) => requests.checkRaise(c, request),
  });
  setHandler(compactUpdate, (request) => requests.compact(c, request), {
    validator: (request) => requests.checkCompact(c, request),
  });
  setHandler(subAgentUsageSignal, (report) => recordStoppedSubAgentUsage(c, report));

  // Approval: an update, so the operator learns at once whether the decision was taken (the validator
  // refuses unknown ids, conflicting repeats and edits that fail the tool's schema, and nothing is
  // written to history for a refused one); and a signal twin for systems that can only signal.
  setHandler(decideToolCallUpdate, (input) => requests.decideByUpdate(c, input), {
    validator: (input) => void c.approvals.check(input),
  });
  setHandler(decideToolCallSignal, (input) => requests.decideBySignal(c, input));
}
