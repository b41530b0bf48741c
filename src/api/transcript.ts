/**
 * Transcript primitives shared by the workflow and the worker's transcript cache. Workflow-safe.
 *
 * The transcript always alternates user/assistant: a message of the same role as the last one is
 * merged into it (a `pause_turn` continuation extends the paused assistant message; a user message
 * after a turn that ended without an answer joins the previous user message), as the API itself
 * treats consecutive same-role messages as one turn. The one exception is a compaction message (one
 * `compaction` block): it stands alone, as the SDK's tool runner sends it.
 *
 * A digest chain (`digests[i]` covers messages 0..i) lets the model-call activity check that the
 * transcript it rebuilt from its cache is exactly the workflow's, without sending it through history.
 */
import type { ContentBlockParam, MessageParam } from '@anthropic-ai/sdk/resources/messages';

/** The digest of an empty transcript. */
export const EMPTY_DIGEST = '0000000000000000';

/**
 * Chains one message onto the digest of the messages before it: two 32-bit FNV-1a hashes with
 * different offsets over the previous digest and the message's JSON. Not cryptographic: it detects a
 * stale cache, it does not resist an adversary (who could not reach the cache anyway).
 */
export function chainDigest(previous: string, message: MessageParam): string {
  const text = previous + JSON.stringify(message);
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x01000193) + (h2 >>> 7);
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

/** The content of a message as an array of blocks. */
export function blocksOf(message: MessageParam): ContentBlockParam[] {
  return typeof message.content === 'string'
    ? [{ type: 'text', text: message.content }]
    : (message.content as ContentBlockParam[]);
}

/** One message holding both: `a`'s blocks, then `b`'s, with tool_result blocks first for user messages. */
export function mergeMessages(a: MessageParam, b: MessageParam): MessageParam {
  const content = [...blocksOf(a), ...blocksOf(b)];
  if (a.role === 'user') {
    // The API wants tool_result blocks before any other content of a user message.
    content.sort((x, y) => Number(y.type === 'tool_result') - Number(x.type === 'tool_result'));
  }
  return { role: a.role, content } as MessageParam;
}

/**
 * A message that is one `compaction` block: the prompt starts with it, and nothing merges into it or
 * it into anything (the API takes it as its own first message, whatever role comes next).
 */
export function isCompactionMessage(message: MessageParam | undefined): boolean {
  if (!message || typeof message.content === 'string' || message.content.length !== 1) return false;
  return (message.content[0] as { type: string }).type === 'compaction';
}

/** Whether a message starts with a `compaction` block (one the API put first in an answer, too). */
export function startsWithCompaction(message: MessageParam | undefined): boolean {
  if (!message || typeof message.content === 'string') return false;
  return (message.content[0] as { type: string } | undefined)?.type === 'compaction';
}

/**
 * Whether an assistant message holds tool calls made by code the model ran (programmatic tool calling:
 * a `caller` other than `direct`), whose results go back to the container the code waits in.
 */
export function hasProgrammaticCalls(message: MessageParam | undefined): boolean {
  if (message?.role !== 'assistant') return false;
  return blocksOf(message).some((block) => {
    const caller = (block as { caller?: { type?: string } }).caller?.type;
    return block.type === 'tool_use' && caller !== undefined && caller !== 'direct';
  });
}

/**
 * Appends `message` to `messages` and `digests` in place, merging it into the last message when the
 * roles match. Returns the index of the message it ended up in.
 */
export function appendMessage(messages: MessageParam[], digests: string[], message: MessageParam): number {
  const last = messages.length - 1;
  if (
    last >= 0 &&
    messages[last].role === message.role &&
    !isCompactionMessage(messages[last]) &&
    !isCompactionMessage(message)
  ) {
    messages[last] = mergeMessages(messages[last], message);
    digests[last] = chainDigest(last > 0 ? digests[last - 1] : EMPTY_DIGEST, messages[last]);
    return last;
  }
  messages.push(message);
  digests.push(chainDigest(last >= 0 ? digests[last] : EMPTY_DIGEST, message));
  return messages.length - 1;
}

/**
 * The assistant message a model answer enters the transcript as: its content, or a placeholder when
 * it has none (the API rejects an empty assistant message in the next request). The workflow appends
 * it; the worker's transcript cache appends the same, so the next call need not read it back.
 */
export function answerMessage(content: readonly unknown[]): MessageParam {
  return content.length > 0
    ? { role: 'assistant', content: content as ContentBlockParam[] }
    : { role: 'assistant', content: [{ type: 'text', text: '(no answer)' }] };
}

/**
 * Where the messages start that the worker cannot know from its own model calls: after the last
 * assistant message (tool results and user messages come after it). The workflow sends them with the
 * call, when they are small.
 */
export function tailStart(messages: readonly MessageParam[]): number {
  let from = messages.length;
  while (from > 0 && messages[from - 1].role !== 'assistant') from--;
  return from;
}

/** The digest chain of `messages`, continuing from `previous`. */
export function digestsOf(messages: readonly MessageParam[], previous = EMPTY_DIGEST): string[] {
  const out: string[] = [];
  for (const m of messages) {
    previous = chainDigest(previous, m);
    out.push(previous);
  }
  return out;
}
