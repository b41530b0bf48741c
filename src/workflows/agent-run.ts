/**
 * A conversation with an agent: at the start of each run (the conversation's start and every
 * continue-as-new) the `prepareAgent` activity lists the agent on a worker — its model, limits and
 * tools, MCP servers' included — and the listing is recorded in history, so the run's tool set is
 * stable and replays. The prompt is not listed: each model call takes it from the deployed definition.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  isCancellation,
  proxyActivities,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { CONFIGURATION_ERROR } from '../api/activity-contract';
import { UNKNOWN_AGENT, type AgentSnapshot } from '../api/agents';
import type { ConversationConfig } from '../api/conversation';
import type { Conversation } from './conversation-state';
import { decoded, failureMessage } from './model-call';

const { prepareAgent } = proxyActivities<Activities>({
  // Listing MCP servers may start their processes: give them time, then retry a few times.
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '10 seconds',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [UNKNOWN_AGENT, CONFIGURATION_ERROR],
  },
});

/** Failures that refuse a new conversation rather than park it: a mistake no retry fixes. */
const REFUSED_AT_START: readonly string[] = [UNKNOWN_AGENT, CONFIGURATION_ERROR];

/**
 * Lists the conversation's agent for this run. An agent no worker serves (or one whose tools cannot be
 * offered) refuses a new conversation: the run fails with the worker's reason, e.g. naming the agents
 * it serves, and `agentReady` answers the client with it. A later run whose agent a deploy removed
 * parks until an operator resumes it.
 */
export async function prepareAgentRun(
  conversation: Conversation,
  input: ConversationConfig,
  firstRun: boolean,
): Promise<void> {
  const agent = input.agent!;
  for (;;) {
    let snapshot: AgentSnapshot | undefined;
    let failure: unknown;
    try {
      snapshot = await conversation.listingAgent(async () =>
        decoded(await prepareAgent({ workflowId: conversation.workflowId, agent }), `listing agent ${agent}`),
      );
    } catch (err) {
      if (isCancellation(err)) throw err;
      failure = err;
    }
    if (snapshot) {
      conversation.applyAgent(snapshot, input);
      conversation.throwIfEnding(); // ended while it was listed
      return;
    }
    const message = failureMessage(failure);
    const cause = failure instanceof ActivityFailure ? failure.cause : failure;
    // At the start nothing is lost by refusing: the client learns why at once (see `agentReadyUpdate`).
    if (firstRun && cause instanceof ApplicationFailure && REFUSED_AT_START.includes(cause.type ?? '')) {
      const refusal = { type: cause.type ?? UNKNOWN_AGENT, message };
      conversation.lifecycle.refuseStart(refusal);
      await condition(allHandlersFinished);
      throw ApplicationFailure.create({ ...refusal, nonRetryable: true });
    }
    conversation.throwIfEnding();
    await conversation.park({ reason: 'configuration', message: `cannot list agent ${agent}: ${message}` });
  }
}
