/**
 * The transcript this run holds: the messages as the API takes them and, beside each, its meta (turn,
 * time, marks), its chained digest (the worker rebuilds the prompt from it) and its size as a payload
 * carries it. Indexes are this run's; the conversation knows where the run starts in the whole.
 */
import type { ContentBlockParam, MessageParam } from '@anthropic-ai/sdk/resources/messages';
import type { MessageMeta } from '../../api/conversation';
import { MAX_QUERY_MESSAGES_BYTES, utf8Bytes } from '../../api/bounds';
import {
  EMPTY_DIGEST,
  appendMessage,
  blocksOf,
  chainDigest,
  digestsOf,
  isCompactionMessage,
} from '../../api/transcript';
import { nowIso } from '../clock';

/** What continue-as-new carries of the transcript. */
export interface CarriedTranscript {
  messages: MessageParam[];
  meta: MessageMeta[];
  digests: string[];
}

export class Transcript {
  private readonly list: MessageParam[];
  private readonly marks: MessageMeta[];
  private readonly chain: string[];
  /** Bytes of JSON of each message (for answers that must stay under the payload limit). */
  private readonly sizes: number[];

  constructor(carried?: Partial<CarriedTranscript>) {
    this.list = carried?.messages ?? [];
    this.marks = carried?.meta ?? [];
    this.chain = carried?.digests ?? [];
    this.sizes = this.list.map(jsonBytes);
  }

  get messages(): readonly MessageParam[] {
    return this.list;
  }

  get meta(): readonly MessageMeta[] {
    return this.marks;
  }

  get length(): number {
    return this.list.length;
  }

  /** The digest of the transcript as it stands. */
  get digest(): string {
    return this.chain[this.chain.length - 1] ?? EMPTY_DIGEST;
  }

  /** The digest of the first `count` messages. */
  digestOf(count: number): string {
    return this.chain[count - 1];
  }

  /**
   * A fork's transcript, pushed as it is (the origin's is already as the API takes it). Answers the
   * index of its last compaction message, where the prompt starts, if it has one.
   */
  seed(messages: readonly MessageParam[]): number | undefined {
    let promptFrom: number | undefined;
    for (const message of messages) {
      const index = this.list.length;
      this.list.push(message);
      this.chain.push(chainDigest(index > 0 ? this.chain[index - 1] : EMPTY_DIGEST, message));
      this.marks.push({ turn: 0, at: nowIso() });
      this.sizes.push(jsonBytes(message));
      if (isCompactionMessage(message)) promptFrom = index;
    }
    return promptFrom;
  }

  /** Appends a message of `turn` (merged into the last one when it has the same role). Its index. */
  append(message: MessageParam, turn: number): number {
    const index = appendMessage(this.list, this.chain, message);
    this.marks[index] = { turn, at: nowIso() };
    this.sizes[index] = jsonBytes(this.list[index]);
    return index;
  }

  /**
   * Puts a compaction message before the last exchange (the only insertion: a summary of what came
   * before it, when the whole would not fit the window). The digests from there on are chained again.
   */
  insert(at: number, message: MessageParam, turn: number): void {
    this.list.splice(at, 0, message);
    this.marks.splice(at, 0, { turn, at: nowIso() });
    this.sizes.splice(at, 0, jsonBytes(message));
    const chain = digestsOf(this.list.slice(at), at > 0 ? this.chain[at - 1] : EMPTY_DIGEST);
    this.chain.splice(at, this.chain.length - at, ...chain);
  }

  /** Adds marks to a message's meta (a compaction, applied edits, an output correction). */
  mark(index: number, marks: Omit<Partial<MessageMeta>, 'turn' | 'at'>): void {
    this.marks[index] = { ...this.marks[index], ...marks };
  }

  /**
   * Where a compaction that keeps the last exchange verbatim ends: before the trailing user message
   * and the tool calls it answers. Undefined when there is nothing after `promptFrom` to summarize.
   */
  lastExchangeStart(promptFrom: number): number | undefined {
    let cut = this.list.length;
    if (this.list[cut - 1]?.role !== 'user') return undefined;
    cut--;
    const answered = this.list[cut - 1];
    if (answered?.role === 'assistant' && blocksOf(answered).some((b) => b.type === 'tool_use')) cut--;
    const start = this.promptStart(promptFrom);
    return cut - start >= 2 ? cut : undefined;
  }

  /**
   * Whether the prompt from `promptFrom` holds something new to summarize and does not end on an
   * unfinished assistant turn (a tool call without its result, a paused turn), which the API refuses to
   * compact.
   */
  compactable(promptFrom: number, paused: boolean): boolean {
    const last = this.list.at(-1);
    if (!last || this.list.length - this.promptStart(promptFrom) < 2) return false;
    if (last.role === 'user') return true;
    return !paused && !blocksOf(last).some((b) => b.type === 'tool_use');
  }

  /** The first message after the compaction message the prompt starts with, if any. */
  private promptStart(promptFrom: number): number {
    return promptFrom + (isCompactionMessage(this.list[promptFrom]) ? 1 : 0);
  }

  /**
   * Messages of `[from, to)` that fit one query answer ({@link MAX_QUERY_MESSAGES_BYTES}), at least one:
   * from the start of the range (`first`) or from its end (`last`, the newest, for people).
   */
  fitting(from: number, to: number, keep: 'first' | 'last'): { from: number; to: number } {
    let bytes = 0;
    if (keep === 'first') {
      let end = from;
      while (end < to && (end === from || bytes + this.sizes[end] <= MAX_QUERY_MESSAGES_BYTES))
        bytes += this.sizes[end++];
      return { from, to: end };
    }
    let start = to;
    while (start > from && (start === to || bytes + this.sizes[start - 1] <= MAX_QUERY_MESSAGES_BYTES))
      bytes += this.sizes[--start];
    return { from: start, to };
  }

  /** What the next run carries: the messages from `start` on (after a compaction, from its message). */
  snapshot(start: number): CarriedTranscript {
    if (start === 0) return { messages: this.list, meta: this.marks, digests: this.chain };
    const messages = this.list.slice(start);
    return { messages, meta: this.marks.slice(start), digests: digestsOf(messages) };
  }

  /** The text of the last assistant message, or '' before the first answer. */
  get lastText(): string {
    const last = [...this.list].reverse().find((m) => m.role === 'assistant' && !isCompactionMessage(m));
    if (!last) return '';
    return blocksOf(last)
      .filter((b): b is Extract<ContentBlockParam, { type: 'text' }> => b.type === 'text')
      .map((b) => b.text)
      .join('');
  }
}

/** Bytes of a value's JSON, as a payload carries it (UTF-8). */
export function jsonBytes(value: unknown): number {
  return utf8Bytes(JSON.stringify(value) ?? '');
}
