/**
 * One Claude conversation, made durable: the protocol, top to bottom. Wait for a user message, call
 * Claude, decide the next step from its answer (next-step.ts, pure), then run the tools through the
 * approval gate, continue, park for an operator, or end the turn; continue-as-new between turns when
 * history grows long. Everything with side effects happens in activities; this file only decides.
 *
 * Around it: the state and the ways it changes (conversation-state.ts), the queries, updates and
 * signals (handlers.ts), the model call (model-call.ts) and the tool calls (tool-calls.ts).
 */
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import {
  ConversationInputSchema,
  firstMessageProblem,
  type ConversationConfig,
  type ConversationInput,
  type ConversationResult,
} from '../api/conversation';
import { formatIssues } from '../api/issues';
import { isUndecodable } from '../api/payload-converter';
import { Conversation, type CarriedState } from './conversation-state';
import { ConversationEnded } from './ended';
import { registerHandlers } from './handlers';
import { PATCHES, rolledOut } from './patches';
import { prepareAgentRun } from './agent-run';
import { callModel } from './model-call';
import { compactBeforeCall, compactBetweenTurns, compactOnContextWindow } from './compaction';
import { countCall, nextStep, startTurn } from './next-step';
import { reportUsageToParent } from './sub-agents';
import { runTools } from './tool-calls';
import { askAgainForOutput } from './structured-output';

export type { CarriedState } from './conversation-state';

/** A durable Claude conversation: one workflow per conversation. */
export async function conversationWorkflow(
  input: ConversationInput,
  carried?: CarriedState,
): Promise<ConversationResult> {
  const config = parseInput(input, carried);
  const conversation = new Conversation(config, carried);
  registerHandlers(conversation);
  try {
    if (config.agent) {
      if (!carried) conversation.queueFirstMessage();
      await prepareAgentRun(conversation, config, !carried);
    }
    if (!carried && config.fork) conversation.seed(config.fork.messages);
    if (!carried) conversation.begin();
    for (;;) {
      if (continueAsNewDue(conversation)) {
        // Between turns nothing is in flight: let handlers finish, then carry on in a fresh run with
        // the same workflow id, handlers, transcript and queued messages.
        await condition(allHandlersFinished);
        return await continueAsNew<typeof conversationWorkflow>(input, conversation.carry());
      }
      await conversation.waitForWork(); // waits while idle; ends on end, timeout or limit
      // Compaction before the turn (the threshold, an operator): then a fresh run takes the message.
      if (await compactBetweenTurns(conversation)) continue;
      if (conversation.inbox.length === 0) continue; // woke for a compaction that had nothing to do
      conversation.takeMessage();
      await runTurn(conversation);
    }
  } catch (err) {
    if (err instanceof ConversationEnded) {
      const result = conversation.finish('completed', err.reason);
      // Ended on request: the `end` update is answered in this workflow task and the run closes in the
      // next. Closed in the same task, the server refuses the close when an event arrived meanwhile (a
      // notification's result: UnhandledCommand), and the update answered in that task fails with it.
      if (err.requested && rolledOut(PATCHES.closeAfterEnd))
        await CancellationScope.nonCancellable(() => sleep(1));
      return result;
    }
    if (isCancellation(err)) {
      // Record the end where operators look, then let the workflow show as cancelled.
      await CancellationScope.nonCancellable(async () => {
        conversation.finish('cancelled', 'cancelled');
        await reportUsageToParent(conversation); // a stopped sub-agent's spend, for its parent's totals
      });
    }
    throw err;
  }
}

/** One user turn: model calls until an answer ends it. */
async function runTurn(conversation: Conversation): Promise<void> {
  let turn = startTurn(conversation.config);
  let outputAttempts = 0; // structured output: final answers judged in this turn
  for (;;) {
    const counted = countCall(turn, conversation.limits, conversation.turn);
    if (counted.park) await conversation.park(counted.park);
    await conversation.withinBudget(); // parks at or past its budget, before the call
    await compactBeforeCall(conversation); // the threshold or an operator, within a long tool loop
    const container = await conversation.containerForNextCall(); // code execution (parks if expired)
    const answer = await callModel(conversation, counted.turn, container, () =>
      compactOnContextWindow(conversation, 'prompt_refused'),
    );
    if (
      answer.stopReason === 'model_context_window_exceeded' &&
      (await compactOnContextWindow(conversation, 'answer_cut'))
    ) {
      // The answer stopped where the window was full: dropped (its usage counted), asked again.
      conversation.countUsage(answer);
      turn = counted.turn;
      continue;
    }
    const step = nextStep(answer, counted.turn, conversation.limits, conversation.config);
    turn = step.turn;
    if (step.kind === 'retry') {
      log.info('tool input cut by max_tokens; retrying with more room', { maxTokens: turn.maxTokens });
      conversation.countUsage(answer);
      continue;
    }
    conversation.recordAnswer(answer);
    // Structured output: the final answer's verdict is kept; one that fails the schema is asked again.
    if (step.kind === 'endTurn' && askAgainForOutput(conversation, answer.output, ++outputAttempts)) continue;
    if (step.kind === 'runTools') await runTools(conversation, answer, turn.maxTokens);
    if (step.kind === 'park') await conversation.park(step.why);
    if (step.kind === 'endTurn' || (step.kind === 'park' && step.then === 'endTurn')) return;
  }
}

/** The workflow input, validated: bad input fails the run at once instead of a later turn. */
function parseInput(input: ConversationInput, carried: CarriedState | undefined): ConversationConfig {
  // Not the caller's mistake but the worker's (e.g. a missing decryption key): fail the task, so the
  // run starts once a worker can read it.
  if (isUndecodable(input)) {
    throw new Error(`the worker cannot decode the conversation input: ${input.error}`);
  }
  if (isUndecodable(carried)) {
    throw new Error(`the worker cannot decode the state carried from the last run: ${carried.error}`);
  }
  const invalid = (problem: string) =>
    ApplicationFailure.nonRetryable(`invalid conversation input: ${problem}`, 'InvalidConversationInput');
  const parsed = ConversationInputSchema.safeParse(input);
  if (!parsed.success) throw invalid(formatIssues(parsed.error));
  const firstMessage = !carried && rolledOut(PATCHES.firstMessageChecks) && firstMessageProblem(parsed.data);
  if (firstMessage) throw invalid(firstMessage);
  return parsed.data;
}

/**
 * Temporal suggests it (history is long), or the conversation's own event limit is reached, and what
 * the next run would carry fits one payload. A transcript past that (megabytes of tool output) stays in
 * this run, whose history grows instead; near Temporal's history limit the conversation ends (a run
 * the server terminates records no end), its transcript kept in history.
 */
function continueAsNewDue(conversation: Conversation): boolean {
  const info = workflowInfo();
  const { continueAsNewAfterEvents } = conversation.limits;
  const due =
    info.continueAsNewSuggested ||
    // After a compaction: the next run carries the transcript from the compaction message on.
    conversation.compactions.compactedThisRun ||
    (continueAsNewAfterEvents !== undefined && info.historyLength >= continueAsNewAfterEvents);
  if (!due || conversation.carryFits() || !rolledOut(PATCHES.carryFits)) return due;
  if (info.historySize > MAX_HISTORY_BYTES) {
    throw new ConversationEnded(
      `the transcript is too large to carry into a new run (${conversation.messages.length} messages) and this run's history is near Temporal's limit`,
    );
  }
  log.warn('continue-as-new skipped: the transcript is too large to carry', {
    messages: conversation.messages.length,
    historyBytes: info.historySize,
  });
  return false;
}

/** Where a run that cannot continue-as-new ends, below Temporal's default history limit (50 MB). */
const MAX_HISTORY_BYTES = 40 * 1024 * 1024;
