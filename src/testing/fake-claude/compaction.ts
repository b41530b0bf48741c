/**
 * Compaction for the fake Messages API: the rules a request holding `compaction` blocks must follow, the
 * refusals of a compaction request (`compaction: {type: 'summarize'}`), and the deterministic summary the
 * fake writes in place of a model's.
 *
 * Wire decisions the types leave open were made to accept exactly what the SDK's own helpers send:
 * - the block comes back first in `messages`, in an `assistant` message of its own
 *   (`BetaToolRunner#_compact` sends `[{role: 'assistant', content: [compactionBlock]}, ...appended]`), so a
 *   conversation may start with that assistant message, and in strict-alternation mode another assistant
 *   message may follow it (the API merges consecutive same-role messages);
 * - a streamed block carries its `signature` and `tool_changes` in `content_block_start` and its `content`
 *   and `encrypted_content` in one `compaction_delta`: `BetaMessageStream` assigns only those two fields
 *   from the delta and applies `signature_delta` to `thinking` blocks only.
 */
import type { CompactionOrigin, SignedCompactionBlock, Signer } from './signatures';
import { estimateTokens } from './basics';

type Obj = Record<string, unknown>;

/** A refusal: the API's message, and the `error.details.error_code` the SDK picks its error class by. */
export interface CodedProblem {
  message: string;
  errorCode?: string;
}

/** Default `trigger` of a `compact_20260112` edit (the SDK's docs: 150000 input tokens). */
export const DEFAULT_COMPACT_TRIGGER = 150_000;
/** Characters of each user text quoted in a summary. */
const QUOTE_CHARS = 120;
/** User texts quoted in a summary (the last ones). */
const QUOTED_TEXTS = 3;

const isObject = (value: unknown): value is Obj =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A message's content as blocks (string content is one text block); malformed content is no blocks. */
function blocksOf(message: unknown): Obj[] {
  if (!isObject(message)) return [];
  const { content } = message;
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  return Array.isArray(content) ? content.filter(isObject) : [];
}

const messagesOf = (body: Obj): unknown[] => (Array.isArray(body.messages) ? body.messages : []);

export const isCompactionBlock = (block: unknown): block is Obj & { type: 'compaction' } =>
  isObject(block) && block.type === 'compaction';

/** A compaction block that stands for something: `content: null` marks a failed compaction, a no-op. */
const hasSummary = (block: Obj): boolean => isCompactionBlock(block) && block.content != null;

/**
 * Whether the conversation starts with an assistant message whose first block is a compaction block: the
 * shape the SDK's runner sends after compacting, allowed to open a conversation and to be followed by
 * another assistant message.
 */
export function startsWithCompaction(messages: unknown[]): boolean {
  const first = messages[0];
  return isObject(first) && first.role === 'assistant' && isCompactionBlock(blocksOf(first)[0]);
}

/**
 * Where compaction blocks may be: more than one block with a summary is ambiguous (which one holds?); the
 * one with a summary must be the first block of the first message, and none may be in a `system` message.
 * Blocks with `content: null` are no-ops wherever they are (but not in a `system` message).
 */
export function compactionPlacementProblem(body: Obj): CodedProblem | undefined {
  const found: Array<{ i: number; j: number; block: Obj; role: unknown }> = [];
  messagesOf(body).forEach((message, i) =>
    blocksOf(message).forEach((block, j) => {
      if (isCompactionBlock(block)) found.push({ i, j, block, role: (message as Obj).role });
    }),
  );
  const inSystem = found.find(({ role }) => role === 'system');
  if (inSystem) {
    return {
      message: `messages.${inSystem.i}.content.${inSystem.j}: a \`compaction\` block cannot be in a \`system\` message`,
      errorCode: 'compaction_block_misplaced',
    };
  }
  const summaries = found.filter(({ block }) => hasSummary(block));
  if (summaries.length > 1) {
    const second = summaries[1];
    return {
      message:
        `messages.${second.i}.content.${second.j}: \`messages\` holds more than one \`compaction\` block with content; ` +
        'send only the block the conversation returned last',
      errorCode: 'compaction_block_ambiguous',
    };
  }
  const misplaced = summaries.find(({ i, j }) => i !== 0 || j !== 0);
  if (misplaced) {
    return {
      message:
        `messages.${misplaced.i}.content.${misplaced.j}: a \`compaction\` block must be the first block of the ` +
        'first message, in place of the messages it summarizes',
      errorCode: 'compaction_block_misplaced',
    };
  }
  return undefined;
}

/**
 * The signed blocks of a request: each compaction block with a summary must carry the signature the fake
 * gave it, over the same `content` and `tool_changes`; each `thinking` signature and `redacted_thinking`
 * `data` must be one the fake issued. A compaction block made by a `compaction` request cannot come with a
 * `compact_20260112` edit (the SDK's `rejectCompactionEdit`: "the API doesn't accept a compaction block
 * together with one").
 */
export function signedBlocksProblem(body: Obj, signer: Signer): CodedProblem | undefined {
  const compactEditSet = compactEdit(body) !== undefined;
  for (const [i, message] of messagesOf(body).entries()) {
    for (const [j, block] of blocksOf(message).entries()) {
      const at = `messages.${i}.content.${j}`;
      if (hasSummary(block)) {
        const verdict = signer.verifyCompaction(block as never);
        if (!verdict.ok) return { message: compactionRefusal(at, verdict.code), errorCode: verdict.code };
        if (compactEditSet && verdict.record.origin === 'summarize') {
          return {
            message:
              `${at}: a \`compaction\` block from a \`compaction\` request cannot be sent with a ` +
              '`compact_20260112` edit in `context_management`',
          };
        }
      } else if (block.type === 'thinking' && typeof block.thinking === 'string') {
        if (typeof block.signature !== 'string' || !signer.verifyThinking(block.thinking, block.signature))
          return { message: `${at}: Invalid \`signature\` in \`thinking\` block` };
      } else if (block.type === 'redacted_thinking' && typeof block.data === 'string') {
        if (!signer.verifyRedacted(block.data))
          return { message: `${at}: Invalid \`data\` in \`redacted_thinking\` block` };
      }
    }
  }
  return undefined;
}

function compactionRefusal(at: string, code: string): string {
  switch (code) {
    case 'compaction_content_mismatch':
      return `${at}: the \`compaction\` block's \`content\` differs from the text its \`signature\` recorded`;
    case 'compaction_tool_changes_mismatch':
      return `${at}: the \`compaction\` block's \`tool_changes\` differs from what was returned with the block`;
    default:
      return `${at}: Invalid \`signature\` in \`compaction\` block`;
  }
}

/**
 * What refuses a compaction request (`compaction` set, route `messages`): `context_management` beside it;
 * nothing to summarize (no user or assistant content besides failed compaction blocks); a conversation that
 * ends on an assistant turn with a `tool_use` still unanswered.
 */
export function compactionRequestProblem(body: Obj): CodedProblem | undefined {
  if (body.context_management != null) {
    return {
      message:
        'compaction: a compaction request cannot be combined with `context_management`; send it without `context_management`',
    };
  }
  const messages = messagesOf(body).filter(
    (m) => isObject(m) && (m.role === 'user' || m.role === 'assistant'),
  ) as Obj[];
  const content = messages.flatMap((m) => blocksOf(m).filter((b) => !isCompactionBlock(b) || hasSummary(b)));
  if (content.length === 0) {
    return {
      message: 'messages: holds no `user` or `assistant` content to summarize',
      errorCode: 'compaction_nothing_to_summarize',
    };
  }
  // The last turn: the trailing run of assistant messages (the API merges them).
  let start = messages.length;
  while (start > 0 && messages[start - 1].role === 'assistant') start--;
  const pending = messages
    .slice(start)
    .flatMap((m) => blocksOf(m))
    .filter((b) => b.type === 'tool_use');
  if (pending.length > 0) {
    const last = messagesOf(body).lastIndexOf(messages[messages.length - 1]);
    return {
      message:
        `messages.${last}: the conversation ends on an unfinished \`assistant\` turn: \`tool_use\` ` +
        `${pending.map((b) => String(b.id)).join(', ')} has no \`tool_result\`; send the results before compacting`,
      errorCode: 'compaction_incomplete_turn',
    };
  }
  return undefined;
}

/** The text of a user message (its text blocks; tool results are not what the user said). */
function userText(message: Obj): string {
  return blocksOf(message)
    .filter((b) => b.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text as string)
    .join(' ');
}

const clip = (text: string): string => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > QUOTE_CHARS ? `${flat.slice(0, QUOTE_CHARS)}…` : flat;
};

/**
 * The fake's summary of a conversation: deterministic and short (a few hundred tokens at most), so a test
 * can predict it. It names how much it summarized, quotes the start of the previous summary (if the
 * conversation opens with one) and of the last few user texts, and says when custom instructions were used.
 */
export function summarize(messages: unknown[], promptTokens: number, instructions?: string | null): string {
  const parts: string[] = [];
  const first = blocksOf(messages[0])[0];
  if (first && hasSummary(first)) parts.push(`earlier: ${clip(String(first.content))}`);
  const texts = messages
    .filter((m): m is Obj => isObject(m) && m.role === 'user')
    .map(userText)
    .filter((t) => t.trim() !== '')
    .slice(-QUOTED_TEXTS);
  for (const text of texts) parts.push(`user: ${clip(text)}`);
  const custom = instructions && instructions.trim() !== '' ? ' [custom instructions]' : '';
  return (
    `Summary of ${messages.length} messages (${promptTokens} tokens)${custom}: ` +
    (parts.length > 0 ? parts.join(' | ') : '(no user text)')
  );
}

/** A `compact_20260112` edit of the request, if any. */
export function compactEdit(
  body: Obj,
): { trigger: number; pause: boolean; instructions?: string | null } | undefined {
  const edits = isObject(body.context_management) ? body.context_management.edits : undefined;
  const edit = Array.isArray(edits)
    ? edits.find((e) => isObject(e) && e.type === 'compact_20260112')
    : undefined;
  if (!isObject(edit)) return undefined;
  const trigger =
    isObject(edit.trigger) && typeof edit.trigger.value === 'number' ? edit.trigger.value : undefined;
  return {
    trigger: trigger ?? DEFAULT_COMPACT_TRIGGER,
    pause: edit.pause_after_compaction === true,
    instructions: typeof edit.instructions === 'string' ? edit.instructions : null,
  };
}

/** A compaction block, signed, summarizing `messages` whose prompt counts `promptTokens`. */
export function compactionBlock(
  signer: Signer,
  messages: unknown[],
  promptTokens: number,
  origin: CompactionOrigin,
  instructions?: string | null,
): SignedCompactionBlock {
  return signer.signCompaction(summarize(messages, promptTokens, instructions), [], origin);
}

/** Tokens of a compaction block as a prompt counts them: its summary only (`null`: a no-op, none). */
export function compactionTokens(block: Obj): number {
  return typeof block.content === 'string' ? estimateTokens(block.content) : 0;
}
