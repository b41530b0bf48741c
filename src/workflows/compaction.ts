/**
 * Compaction in the conversation's protocol: when it happens (a token threshold before a turn or
 * before a call in a long tool loop, a full context window, an operator's `compact`) and how (a
 * compaction request whose block enters the transcript as its own message; the prompt starts there).
 * The run continues-as-new at the next turn's start (conversation.ts), carrying the transcript from
 * the compaction message on: what it summarized stays in this run's history, where the state of the
 * next run points (`compaction.earlier`).
 */
import { log } from '@temporalio/workflow';
import type { CompactionTrigger } from '../api/conversation';
import type { Attention } from '../api/conversation';
import type { Conversation } from './conversation-state';
import { requestCompaction } from './model-call';
import { PATCHES, rolledOut } from './patches';

/**
 * Before a turn takes its message (kept verbatim, after the summary): an operator's request, or the
 * threshold. True when the conversation compacted (the caller continues-as-new before the turn).
 */
export async function compactBetweenTurns(conversation: Conversation): Promise<boolean> {
  return compactIfDue(conversation);
}

/** Before a model call within a turn (after tool results): an operator's request, or the threshold. */
export async function compactBeforeCall(conversation: Conversation): Promise<void> {
  await compactIfDue(conversation);
}

/**
 * The context window is full (the API refused the prompt as too long, or an answer stopped with
 * `model_context_window_exceeded`): compact, so the call can be made again. False when compaction is
 * off for this conversation, server-side, not possible here, or already tried since the last answer
 * (the caller parks, as before compaction existed).
 */
export async function compactOnContextWindow(
  conversation: Conversation,
  cause: 'answer_cut' | 'prompt_refused',
): Promise<boolean> {
  const { compaction } = conversation;
  if (!compaction.onContextWindow || compaction.mode === 'server') return false;
  const { compactions, transcript } = conversation;
  if (compactions.compactedSinceAnswer || !conversation.compactable) return false;
  if (!rolledOut(PATCHES.compaction)) return false;
  compactions.compactingForWindow();
  // A refused prompt would be refused as a compaction request too: summarize what came before the
  // last exchange (which pushed it over), and keep that exchange verbatim after the summary.
  const upTo = cause === 'prompt_refused' ? transcript.lastExchangeStart(compactions.promptFrom) : undefined;
  return compact(conversation, 'context_window', upTo);
}

async function compactIfDue(conversation: Conversation): Promise<boolean> {
  const request = conversation.compactions.request;
  if (request) {
    if (conversation.compactable) return compact(conversation, 'operator');
    log.info('compaction requested with nothing new to summarize: dropped', { by: request.by });
    conversation.compactions.dropRequest();
    return false;
  }
  const { compaction } = conversation;
  const { contextTokens } = conversation.compactions;
  const due =
    compaction.mode === 'client' &&
    compaction.thresholdTokens !== undefined &&
    contextTokens !== undefined &&
    contextTokens >= compaction.thresholdTokens &&
    conversation.compactable;
  return due && rolledOut(PATCHES.compaction) && compact(conversation, 'threshold');
}

/**
 * One compaction. A failure parks the conversation with the API's error code; on resume a full
 * context window tries again (nothing else can go on), a threshold's or an operator's compaction is
 * skipped (the conversation goes on uncompacted). An operator's `compact` meanwhile brings its
 * instructions to the next attempt.
 */
async function compact(
  conversation: Conversation,
  trigger: CompactionTrigger,
  upTo?: number,
): Promise<boolean> {
  for (;;) {
    const request = conversation.compactions.request;
    const tokensBefore = conversation.compactions.contextTokens;
    const instructions = request?.instructions ?? conversation.compaction.instructions;
    const result = await requestCompaction(conversation, instructions, upTo);
    let why: Omit<Attention, 'at'>;
    if (result.ok) {
      const block = result.answer.message.content[0] as { type: string; content?: unknown } | undefined;
      if (block?.type === 'compaction' && typeof block.content === 'string' && block.content !== '') {
        conversation.compactions.dropRequest();
        conversation.recordCompaction(
          result.answer,
          {
            trigger: request ? 'operator' : trigger,
            ...(tokensBefore !== undefined && { tokensBefore }),
            ...(request?.by && { by: request.by }),
          },
          upTo,
        );
        return true;
      }
      // A compaction block without content is the API saying it could not summarize.
      conversation.countUsage(result.answer);
      why = {
        reason: 'compaction_failed',
        message: 'compaction failed: the API returned no summary (a compaction block without content)',
        errorType: 'compaction_empty',
      };
    } else {
      why = result.why;
    }
    if (request) conversation.compactions.dropRequest();
    await conversation.park(why);
    if (trigger !== 'context_window' && !conversation.compactions.request) return false;
  }
}
