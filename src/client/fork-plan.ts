/**
 * What a fork starts from, by the transcript's rules alone (no Temporal: unit-tested as it is): the
 * messages up to `at`, from the origin's last compaction before it (what that summarized is not sent,
 * in the origin either), and the first message of the fork. A point inside a tool round (a tool call,
 * or the results that answer it) is refused: the API needs both or neither.
 */
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import type { ConversationInput, ConversationState, MessageMeta } from '../api/conversation';
import { AgentError } from './errors';

/** A message of the whole transcript, with its index there. */
export interface IndexedMessage {
  index: number;
  message: MessageParam;
  meta?: MessageMeta;
}

export interface ForkPlan {
  /** The transcript the fork starts with. */
  messages: MessageParam[];
  /** Its first message: the caller's, or the user message forked at (answered again). */
  message?: ConversationInput['message'];
}

/**
 * The fork at message `at` of a conversation whose state (`from: 0`) is `state`, with `earlier` the
 * messages before `state.from` that earlier runs hold (needed only when `at` is before it). `message`:
 * the fork's first message, for a fork at an answer. Throws an {@link AgentError} `invalid` saying why
 * a point cannot be forked at.
 */
export function forkPlan(
  state: Pick<ConversationState, 'from' | 'messages' | 'meta' | 'messageCount'>,
  earlier: readonly IndexedMessage[],
  at: number,
  message?: ConversationInput['message'],
): ForkPlan {
  if (!Number.isInteger(at) || at < 0)
    throw new AgentError('invalid', `at must be a message index, not ${at}`);
  if (at >= state.messageCount)
    throw new AgentError(
      'invalid',
      `message ${at} does not exist: the conversation has ${state.messageCount}`,
    );
  const held = state.messages.map((m, i) => ({ index: state.from + i, message: m, meta: state.meta[i] }));
  const taken = [...earlier, ...held].filter((m) => m.index <= at);
  if (taken.at(-1)?.index !== at)
    throw new AgentError(
      'invalid',
      `message ${at} could not be read (the state answered from ${state.from})`,
    );
  // From the last compaction message on: what it summarized is not sent, in the origin either.
  const lastCompaction = taken.map((m) => Boolean(m.meta?.compaction)).lastIndexOf(true);
  const messages = taken.slice(Math.max(0, lastCompaction)).map((m) => m.message);
  const last = messages.at(-1)!;
  const blocks = typeof last.content === 'string' ? [] : (last.content as Array<{ type: string }>);
  if (last.role === 'user') {
    if (blocks.some((b) => b.type === 'tool_result'))
      throw new AgentError(
        'invalid',
        `message ${at} holds tool results: fork at the user message before the tool round, or at the answer after it`,
      );
    if (message !== undefined)
      throw new AgentError(
        'invalid',
        `message ${at} is a user message, answered again: give no other message`,
      );
    messages.pop();
    return { messages, message: last.content as ConversationInput['message'] };
  }
  if (blocks.some((b) => b.type === 'tool_use'))
    throw new AgentError(
      'invalid',
      `message ${at} calls tools: fork at the user message before it, or at the answer after its results`,
    );
  return { messages, ...(message !== undefined && { message }) };
}
