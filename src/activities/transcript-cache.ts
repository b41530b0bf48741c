import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { answerMessage, appendMessage, digestsOf, EMPTY_DIGEST } from '../api/transcript';

/** Reads a range `[from, to)` of a conversation's transcript, with its digests, from the workflow. */
export type TranscriptReader = (
  workflowId: string,
  from: number,
  to: number,
) => Promise<{ messages: MessageParam[] }>;

interface Entry {
  messages: MessageParam[];
  digests: string[];
  bytes: number[];
  totalBytes: number;
}

/**
 * A worker-side copy of each conversation's transcript, so a model call's activity input carries only
 * `{messageCount, digest}` and the messages since the last answer, and workflow history grows linearly
 * with the conversation (the transcript never enters it again).
 *
 * The cache appends each answer it returns (as the workflow does), and the call after it brings the
 * tool results and user messages that followed (`tail`): on the happy path nothing is read from the
 * workflow. Otherwise (another worker had the conversation, a restart, a tail too big to send) it
 * reads what it lacks with a query (which writes nothing to history): the messages after the ones it
 * holds, plus its last one again (a `pause_turn` continuation may have extended it). Every path checks
 * the digest chain against the workflow's; on any mismatch it reads the whole transcript again.
 *
 * Bounded: least-recently-used conversations are dropped past `maxBytes`.
 */
export class TranscriptCache {
  private readonly entries = new Map<string, Entry>();
  private totalBytes = 0;
  /** Counters, for tests and benchmarks. */
  readonly stats = { hits: 0, tailHits: 0, partialReads: 0, fullReads: 0, messagesRead: 0 };

  constructor(
    private readonly read: TranscriptReader,
    private readonly maxBytes = 128 * 1024 * 1024,
    /** Messages per query, so one answer stays well under gRPC's 4 MiB. */
    private readonly pageSize = 64,
  ) {}

  /** The first `count` messages of the conversation, as the workflow has them (`digest` covers them). */
  async messages(
    workflowId: string,
    count: number,
    digest: string,
    tail?: { from: number; messages: MessageParam[] },
  ): Promise<MessageParam[]> {
    const entry = this.touch(workflowId);
    if (
      entry &&
      entry.messages.length >= count &&
      (count === 0 ? EMPTY_DIGEST : entry.digests[count - 1]) === digest
    ) {
      this.stats.hits++;
      return entry.messages.slice(0, count);
    }
    // What the cache holds up to `tail.from`, then the tail: right if the chain ends on the digest.
    if (
      tail &&
      tail.from + tail.messages.length === count &&
      (tail.from === 0 || (entry && entry.messages.length >= tail.from))
    ) {
      const head =
        entry && tail.from > 0
          ? { messages: entry.messages.slice(0, tail.from), digests: entry.digests.slice(0, tail.from) }
          : { messages: [], digests: [] };
      const chain = digestsOf(tail.messages, head.digests.at(-1) ?? EMPTY_DIGEST);
      if ((chain.at(-1) ?? head.digests.at(-1) ?? EMPTY_DIGEST) === digest) {
        this.stats.tailHits++;
        this.store(workflowId, [...head.messages, ...tail.messages], [...head.digests, ...chain]);
        return this.entries.get(workflowId)!.messages.slice(0, count);
      }
    }
    if (entry && entry.messages.length > 0) {
      const from = Math.min(entry.messages.length, count) - 1;
      const tail = await this.readRange(workflowId, Math.max(0, from), count);
      const previous = from > 0 ? entry.digests[from - 1] : EMPTY_DIGEST;
      const chain = digestsOf(tail.messages, previous);
      if (chain.at(-1) === digest) {
        this.stats.partialReads++;
        this.store(
          workflowId,
          [...entry.messages.slice(0, Math.max(0, from)), ...tail.messages],
          [...entry.digests.slice(0, Math.max(0, from)), ...chain],
        );
        return this.entries.get(workflowId)!.messages.slice(0, count);
      }
    }
    const all = await this.readRange(workflowId, 0, count);
    const chain = digestsOf(all.messages);
    if ((chain.at(-1) ?? EMPTY_DIGEST) !== digest) {
      throw new Error(
        `transcript of ${workflowId} read from the workflow does not match its digest (${count} messages)`,
      );
    }
    this.stats.fullReads++;
    this.store(workflowId, all.messages, chain);
    return all.messages;
  }

  /**
   * Appends the answer of a model call made on the first `count` messages, as the workflow will, so
   * the next call finds it here. If the workflow does not keep it (a retried call), the digests of the
   * next call tell, and the cache reads instead.
   */
  recordAnswer(workflowId: string, count: number, content: readonly unknown[]): void {
    const entry = this.entries.get(workflowId);
    if (!entry || entry.messages.length < count) return;
    const messages = entry.messages.slice(0, count);
    const digests = entry.digests.slice(0, count);
    appendMessage(messages, digests, answerMessage(content));
    this.store(workflowId, messages, digests);
  }

  /** Forgets a conversation. */
  forget(workflowId: string): void {
    const entry = this.entries.get(workflowId);
    if (!entry) return;
    this.totalBytes -= entry.totalBytes;
    this.entries.delete(workflowId);
  }

  get size(): { conversations: number; bytes: number } {
    return { conversations: this.entries.size, bytes: this.totalBytes };
  }

  private async readRange(
    workflowId: string,
    from: number,
    to: number,
  ): Promise<{ messages: MessageParam[] }> {
    const messages: MessageParam[] = [];
    // The workflow answers as much of a page as fits one answer (long messages: fewer): ask again
    // from where it stopped.
    for (let start = from; start < to;) {
      const page = await this.read(workflowId, start, Math.min(to, start + this.pageSize));
      if (page.messages.length === 0)
        throw new Error(`no messages from ${start} in the transcript of ${workflowId}`);
      messages.push(...page.messages);
      start += page.messages.length;
    }
    this.stats.messagesRead += messages.length;
    return { messages };
  }

  private touch(workflowId: string): Entry | undefined {
    const entry = this.entries.get(workflowId);
    if (entry) {
      // Map keeps insertion order: re-inserting marks it most recently used.
      this.entries.delete(workflowId);
      this.entries.set(workflowId, entry);
    }
    return entry;
  }

  private store(workflowId: string, messages: MessageParam[], digests: string[]): void {
    // Sizes of messages kept from the entry are known: measure only the new ones (a long transcript
    // would otherwise be serialized on every call).
    const previous = this.entries.get(workflowId);
    const bytes = messages.map((m, i) =>
      previous?.messages[i] === m ? previous.bytes[i] : JSON.stringify(m).length,
    );
    this.forget(workflowId);
    const totalBytes = bytes.reduce((a, b) => a + b, 0);
    this.entries.set(workflowId, { messages, digests, bytes, totalBytes });
    this.totalBytes += totalBytes;
    for (const [id, entry] of this.entries) {
      if (this.totalBytes <= this.maxBytes || id === workflowId) break;
      this.totalBytes -= entry.totalBytes;
      this.entries.delete(id);
    }
  }
}
