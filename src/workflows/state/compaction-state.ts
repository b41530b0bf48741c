/**
 * What a conversation knows of its compactions: where this run starts in the whole transcript and
 * where its prompt starts, the compactions so far (the newest 20), the prompt's size after the last
 * call (for the threshold), and an operator's `compact` waiting for its safe point.
 */
import { log } from '@temporalio/workflow';
import type {
  CompactRequest,
  CompactionConfig,
  CompactionRecord,
  CompactionTrigger,
  CompactionView,
} from '../../api/conversation';
import { nowIso } from '../clock';

/** What continue-as-new carries of compaction. */
export interface CarriedCompaction {
  /** Index (in the whole transcript) of the first message carried. */
  firstIndex: number;
  /** The run that holds the messages before `firstIndex` (summarized, not carried). */
  earlierRunId?: string;
  count: number;
  recent: CompactionRecord[];
  /** The prompt's size after the last call (tokens), for the threshold. */
  contextTokens?: number;
  requested?: PendingCompaction;
}

/** An operator's compaction, waiting for its safe point. */
export interface PendingCompaction extends CompactRequest {
  at: string;
}

/** How one compaction came about and what it cost. */
export interface CompactionMark {
  trigger: CompactionTrigger;
  tokensBefore?: number;
  by?: string;
  inputTokens: number;
  outputTokens: number;
}

export class CompactionState {
  /** Index (in the whole transcript) of this run's first message: earlier runs hold the ones before. */
  readonly firstIndex: number;
  private readonly earlierRunId: string | undefined;
  private from = 0;
  private thisRun = false;
  private count: number;
  private readonly recent: CompactionRecord[];
  private tokens: number | undefined;
  private pending: PendingCompaction | undefined;
  private sinceAnswer = false;

  constructor(carried?: CarriedCompaction) {
    this.firstIndex = carried?.firstIndex ?? 0;
    this.earlierRunId = carried?.earlierRunId;
    this.count = carried?.count ?? 0;
    this.recent = carried?.recent ?? [];
    this.tokens = carried?.contextTokens;
    this.pending = carried?.requested;
  }

  /** Index (in this run's messages) where the prompt starts: the last compaction message, or 0. */
  get promptFrom(): number {
    return this.from;
  }

  /** A compaction happened in this run: it continues-as-new at the next turn's start. */
  get compactedThisRun(): boolean {
    return this.thisRun;
  }

  /** A full context window was compacted since the last answer (a second one parks). */
  get compactedSinceAnswer(): boolean {
    return this.sinceAnswer;
  }

  /** The prompt's size after the last model call (input + output tokens), for the threshold. */
  get contextTokens(): number | undefined {
    return this.tokens;
  }

  /** An operator's `compact`, until it happens. */
  get request(): PendingCompaction | undefined {
    return this.pending;
  }

  /** A fork's transcript holds a compaction message: its prompt starts there, as the origin's did. */
  startPromptAt(index: number): void {
    this.from = index;
  }

  /** An operator asked to compact (their instructions win over an earlier request's). */
  requested(request: CompactRequest, at: string): void {
    this.pending = { ...request, at };
  }

  /** The operator's request was carried out, failed, or had nothing to summarize. */
  dropRequest(): void {
    this.pending = undefined;
  }

  /** The API answered a model call: its prompt measured `tokens`, and a full window may compact again. */
  answered(tokens: number): void {
    this.sinceAnswer = false;
    this.tokens = tokens;
  }

  /** A full context window is being compacted (once per answer). */
  compactingForWindow(): void {
    this.sinceAnswer = true;
  }

  /**
   * A compaction message at `index` of this run: the prompt starts there. Answers the index of the
   * message in the whole transcript (the messages before it are summarized).
   */
  record(index: number, how: CompactionMark, turn: number): number {
    const summarized = this.firstIndex + index;
    this.from = index;
    this.thisRun = true;
    this.count++;
    this.recent.push({ at: nowIso(), turn, index: summarized, ...how });
    if (this.recent.length > 20) this.recent.shift();
    log.info('conversation compacted', { trigger: how.trigger, summarized, tokensBefore: how.tokensBefore });
    return summarized;
  }

  /** A client-side compaction's summary is the next prompt's start: its size, until the next answer. */
  summarized(outputTokens: number): void {
    this.tokens = outputTokens;
  }

  /** The compaction view of the state (absent before the first compaction or request). */
  get view(): CompactionView | undefined {
    if (this.count === 0 && !this.pending && this.firstIndex === 0) return undefined;
    return {
      count: this.count,
      recent: this.recent,
      promptFrom: this.firstIndex + this.from,
      ...(this.earlierRunId && { earlier: { runId: this.earlierRunId, firstIndex: this.firstIndex } }),
      ...(this.pending && {
        requested: { ...(this.pending.by && { by: this.pending.by }), at: this.pending.at },
      }),
    };
  }

  /** What the next run carries, when it starts at this run's message `start` (this run is `runId`). */
  snapshot(start: number, runId: string): CarriedCompaction | undefined {
    if (!this.view && this.tokens === undefined) return undefined;
    const earlierRunId = start > 0 ? runId : this.earlierRunId;
    return {
      firstIndex: this.firstIndex + start,
      ...(earlierRunId && { earlierRunId }),
      count: this.count,
      recent: this.recent,
      ...(this.tokens !== undefined && { contextTokens: this.tokens }),
      ...(this.pending && { requested: this.pending }),
    };
  }
}

/** Compaction settings with defaults: the agent's, under the conversation's. */
export interface ResolvedCompaction extends Omit<CompactionConfig, 'onContextWindow' | 'mode'> {
  onContextWindow: boolean;
  mode: 'client' | 'server';
}
