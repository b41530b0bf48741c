/**
 * The state of one conversation and the few ways it changes: the transcript grows, the status moves
 * (and with it the search attributes), the conversation parks for an operator or waits for a message,
 * and it ends. The workflow (conversation.ts) drives it; the handlers (handlers.ts) read it and record
 * what arrives.
 */
import {
  CancellationScope,
  condition,
  log,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CallClaudeResult } from '../api/activity-contract';
import type { AgentSnapshot, AgentView, SubAgentRun } from '../api/agents';
import type { RefusedDecision } from '../api/approvals';
import {
  EMPTY_USAGE,
  USAGE_FIELDS,
  resolveLimits,
  type Attention,
  type Budget,
  type CompactionConfig,
  type CompactionRecord,
  type CompactionTrigger,
  type CompactionView,
  type CompactRequest,
  type ConversationConfig,
  type ConversationResult,
  type ConversationState,
  type ConversationStatus,
  type EndRequest,
  type LastStop,
  type MessageMeta,
  type ResolvedLimits,
  type StateQueryOptions,
  type ToolCallInFlight,
  type UsageTotals,
  type UserContent,
} from '../api/conversation';
import {
  AGENT_LAST_ACTIVITY,
  AGENT_MODEL,
  AGENT_NAME,
  AGENT_PENDING_APPROVALS,
  AGENT_STATUS,
} from '../api/search-attributes';
import type { ContentBlockParam, MessageParam } from '@anthropic-ai/sdk/resources/messages';
import {
  EMPTY_DIGEST,
  chainDigest,
  answerMessage,
  appendMessage,
  blocksOf,
  digestsOf,
  hasProgrammaticCalls,
  isCompactionMessage,
  startsWithCompaction,
} from '../api/transcript';
import { MAX_QUERY_MESSAGES_BYTES, MAX_UPDATE_BYTES, utf8Bytes } from '../api/bounds';
import type { StructuredOutput } from '../api/structured-output';
import { ApprovalBook } from './approvals';
import { now, nowIso } from './clock';
import { notifyNeedsAttention } from './notifications';
import { budgetProblem, spent, type ParkReason } from './next-step';

/** A user message accepted by `sendMessage` (or the start input), waiting for its turn. */
export interface QueuedMessage {
  content: UserContent;
  turn: number;
}

/** What a conversation carries across continue-as-new. */
export interface CarriedState {
  messages: MessageParam[];
  meta: MessageMeta[];
  digests: string[];
  turn: number;
  queue: QueuedMessage[];
  usage: UsageTotals;
  lastStop?: LastStop;
  generation: number;
  startedAt: string;
  approvals: ReturnType<ApprovalBook['snapshot']>;
  refusedDecisions: RefusedDecision[];
  /** Agent conversations: the fingerprint changes seen so far. */
  agentChanges?: AgentView['changes'];
  /** The fingerprint the last model call used. */
  agentFingerprint?: string;
  /** Budget ceilings an operator set (`raiseBudget`). */
  budgetOverride?: Budget;
  subAgents?: SubAgentRun[];
  /** Compaction: where this run's transcript starts in the whole one, and what came before. */
  compaction?: CarriedCompaction;
  /** The last turn's structured output. */
  output?: StructuredOutput;
  /** The code execution container of the last answer that ran in one. */
  container?: { id: string; expiresAt: string };
}

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

/** Compaction settings with defaults: the agent's, under the conversation's. */
export interface ResolvedCompaction extends Omit<CompactionConfig, 'onContextWindow' | 'mode'> {
  onContextWindow: boolean;
  mode: 'client' | 'server';
}

/**
 * Thrown to end the conversation from wherever the end is noticed (an idle wait, a park, after a round
 * of tool calls, a limit); the workflow catches it once and completes with `reason`.
 */
export class ConversationEnded extends Error {
  constructor(
    readonly reason: string,
    /** Someone asked for it (the `end` update or signal), rather than a limit or the idle timeout. */
    readonly requested = false,
  ) {
    super(reason);
    this.name = 'ConversationEnded';
  }

  /** The end an operator or client asked for (`end` update or signal). */
  static requested(request: EndRequest): ConversationEnded {
    return new ConversationEnded(request.reason ?? `ended${request.by ? ` by ${request.by}` : ''}`, true);
  }
}

/** Statuses in which `end` is accepted. */
const ENDABLE: readonly ConversationStatus[] = ['idle', 'refused', 'needs_attention', 'awaiting_approval'];

export class Conversation {
  readonly workflowId = workflowInfo().workflowId;
  /** The input, with the agent's model, `maxTokens`, caching and limits once its run is prepared. */
  config: ConversationConfig;
  limits: ResolvedLimits;
  readonly messages: MessageParam[];
  readonly meta: MessageMeta[];
  readonly digests: string[];
  /** Bytes of JSON of each message (for answers that must stay under the payload limit). */
  private readonly sizes: number[];
  readonly queue: QueuedMessage[];
  readonly usage: UsageTotals;
  readonly approvals: ApprovalBook;
  /** Signal-borne decisions that could not apply (the newest 50). */
  readonly refusedDecisions: RefusedDecision[];
  readonly toolCallsInFlight = new Map<string, ToolCallInFlight>();
  readonly generation: number;
  readonly startedAt: string;
  turn: number;
  lastStop: LastStop | undefined;
  modelCallInFlight = false;
  /** Set by `end`: the conversation ends at the next point that waits (idle, parked, approval). */
  endRequest: EndRequest | undefined;
  /** Set by `resume`: a parked conversation goes on. */
  resumeRequested = false;
  /** Why it is parked, while it is. */
  attention: Attention | undefined;
  /** The agent as this run listed it (agent conversations). */
  agent: AgentView | undefined;
  /** Why the worker refused to start this conversation (an unknown agent, say): its failure type and message. */
  startRefusal: { type: string; message: string } | undefined;
  /** Sub-agent conversations started, newest last (the newest 100). */
  readonly subAgents: SubAgentRun[];
  /** Sub-agent calls in flight, by tool_use_id: cancelled when the conversation is ended. */
  readonly subAgentScopes = new Map<string, CancellationScope>();
  private readonly agentChanges: AgentView['changes'];
  /** Budget ceilings an operator set, over the input's and the agent's. */
  private budgetOverride: Budget | undefined;
  private agentFingerprint: string | undefined;
  private shownStatus: ConversationStatus | 'starting' = 'starting';
  private firstMessageQueued = false;
  /**
   * The agent is being listed (`prepareAgent`), or is about to be: `end` is accepted and takes effect
   * once it is. Set from the construction for an agent's conversation, because an update that reaches
   * the server with the start arrives in the first activation, before the run reaches the listing.
   */
  preparing: boolean;
  private endReason: string | undefined;
  /** Index (in the whole transcript) of `messages[0]`: earlier runs hold the messages before it. */
  readonly firstIndex: number;
  private readonly earlierRunId: string | undefined;
  /** Index (in this run's `messages`) where the prompt starts: the last compaction message, or 0. */
  promptFrom = 0;
  /** A compaction happened in this run: it continues-as-new at the next turn's start. */
  compactedThisRun = false;
  private compactionCount: number;
  private readonly compactions: CompactionRecord[];
  /** The prompt's size after the last model call (input + output tokens), for the threshold. */
  contextTokens: number | undefined;
  /** An operator's `compact`, until it happens. */
  compactRequest: PendingCompaction | undefined;
  /** A full context window was compacted since the last answer (a second one parks). */
  compactedSinceAnswer = false;
  private pendingCount = 0;
  private updatedAt = nowIso();
  /** The code execution container of the last answer that ran in one (its id and expiry). */
  container: { id: string; expiresAt: string } | undefined;
  /** The last turn's structured output (conversations with an output schema). */
  output: StructuredOutput | undefined;

  constructor(config: ConversationConfig, carried?: CarriedState) {
    this.config = config;
    this.preparing = config.agent !== undefined;
    this.limits = resolveLimits(config.limits);
    this.agentChanges = carried?.agentChanges ?? [];
    this.agentFingerprint = carried?.agentFingerprint;
    this.budgetOverride = carried?.budgetOverride;
    this.subAgents = carried?.subAgents ?? [];
    this.messages = carried?.messages ?? [];
    this.meta = carried?.meta ?? [];
    this.digests = carried?.digests ?? [];
    this.sizes = this.messages.map(jsonBytes);
    this.queue = carried?.queue ?? [];
    // Spread over the defaults: a run continued from an older version carries fewer fields.
    this.usage = { ...EMPTY_USAGE, ...carried?.usage };
    this.turn = carried?.turn ?? 0;
    this.lastStop = carried?.lastStop;
    this.approvals = new ApprovalBook(carried?.approvals);
    this.refusedDecisions = carried?.refusedDecisions ?? [];
    this.generation = carried?.generation ?? 0;
    this.startedAt = carried?.startedAt ?? nowIso();
    this.firstIndex = carried?.compaction?.firstIndex ?? 0;
    this.earlierRunId = carried?.compaction?.earlierRunId;
    this.compactionCount = carried?.compaction?.count ?? 0;
    this.compactions = carried?.compaction?.recent ?? [];
    this.contextTokens = carried?.compaction?.contextTokens;
    this.compactRequest = carried?.compaction?.requested;
    this.output = carried?.output;
    this.container = carried?.container;
  }

  /**
   * A fork's first run: the transcript it starts from, appended as it is (a compaction message in it
   * starts the prompt, as it did in the origin).
   */
  seed(messages: readonly MessageParam[]): void {
    for (const message of messages) {
      const index = this.messages.length;
      // Pushed, not merged: the origin's transcript is already as the API takes it.
      this.messages.push(message);
      this.digests.push(chainDigest(index > 0 ? this.digests[index - 1] : EMPTY_DIGEST, message));
      this.meta.push({ turn: 0, at: nowIso() });
      this.sizes.push(jsonBytes(message));
      if (isCompactionMessage(message)) this.promptFrom = index;
    }
  }

  /** The first run of a conversation: its model (and agent) for search, its first message in the queue. */
  begin(): void {
    upsertSearchAttributes([
      { key: AGENT_MODEL, value: this.model },
      ...(this.agent ? [{ key: AGENT_NAME, value: this.agent.name }] : []),
    ]);
    this.queueFirstMessage();
  }

  /**
   * The start input's message, first in the queue (once): an agent's conversation queues it before
   * its agent is listed, so a message sent meanwhile comes after it.
   */
  queueFirstMessage(): void {
    if (this.firstMessageQueued) return;
    this.firstMessageQueued = true;
    if (this.config.message) this.queue.push({ content: this.config.message, turn: 1 });
  }

  /** The model: the agent's, or the input's for an ad-hoc conversation. */
  get model(): string {
    return this.config.model ?? '';
  }

  /**
   * The agent as the worker listed it for this run: its model, `maxTokens`, caching and limits apply
   * (the conversation's own limits win), its tools are offered.
   */
  applyAgent(snapshot: AgentSnapshot, input: ConversationConfig): void {
    this.config = {
      ...input,
      model: snapshot.model,
      maxTokens: snapshot.maxTokens,
      promptCaching: snapshot.promptCaching,
      limits: { ...snapshot.limits, ...input.limits },
    };
    this.limits = resolveLimits(this.config.limits);
    this.snapshot = snapshot;
    this.agent = {
      name: snapshot.name,
      fingerprint: this.agentFingerprint ?? snapshot.fingerprint,
      changes: this.agentChanges,
      tools: snapshot.tools,
      ...(snapshot.unavailable && { unavailable: snapshot.unavailable }),
    };
  }

  /** The agent's listing for this run (agent conversations). */
  snapshot: AgentSnapshot | undefined;

  get status(): ConversationStatus | 'starting' {
    return this.shownStatus;
  }

  /** Moves the status; the search attributes follow (each upsert is a history event, so only on change). */
  setStatus(next: ConversationStatus): void {
    this.updatedAt = nowIso();
    if (next === this.shownStatus) return;
    this.shownStatus = next;
    upsertSearchAttributes([
      { key: AGENT_STATUS, value: next },
      { key: AGENT_LAST_ACTIVITY, value: now() },
    ]);
  }

  /** Whether `end` is accepted now: while waiting, or while sub-agents work (they are stopped). */
  get endable(): boolean {
    if (this.preparing) return true;
    if (this.shownStatus === 'running' && this.subAgentScopes.size > 0) return true;
    return this.shownStatus !== 'starting' && ENDABLE.includes(this.shownStatus);
  }

  /** `end` accepted: the conversation ends at its next waiting point; sub-agents at work are stopped. */
  requestEnd(request: EndRequest): void {
    this.endRequest = request;
    for (const scope of this.subAgentScopes.values()) scope.cancel();
  }

  // ── The transcript ───────────────────────────────────────────────────────────────────────────────
  append(message: MessageParam): void {
    const index = appendMessage(this.messages, this.digests, message);
    this.meta[index] = { turn: this.turn, at: nowIso() };
    this.sizes[index] = jsonBytes(this.messages[index]);
    this.updatedAt = nowIso();
  }

  /**
   * Puts a compaction message before the last exchange (the only insertion: a summary of what came
   * before it, when the whole would not fit the window). The digests from there on are chained again.
   */
  private insert(at: number, message: MessageParam): void {
    this.messages.splice(at, 0, message);
    this.meta.splice(at, 0, { turn: this.turn, at: nowIso() });
    this.sizes.splice(at, 0, jsonBytes(message));
    const chain = digestsOf(this.messages.slice(at), at > 0 ? this.digests[at - 1] : EMPTY_DIGEST);
    this.digests.splice(at, this.digests.length - at, ...chain);
    this.updatedAt = nowIso();
  }

  /**
   * Where a compaction that keeps the last exchange verbatim ends: before the trailing user message
   * and the tool calls it answers. Undefined when there is nothing before it to summarize.
   */
  get lastExchangeStart(): number | undefined {
    let cut = this.messages.length;
    if (this.messages[cut - 1]?.role !== 'user') return undefined;
    cut--;
    const answered = this.messages[cut - 1];
    if (answered?.role === 'assistant' && blocksOf(answered).some((b) => b.type === 'tool_use')) cut--;
    const start = this.promptFrom + (isCompactionMessage(this.messages[this.promptFrom]) ? 1 : 0);
    return cut - start >= 2 ? cut : undefined;
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

  /** Whether what continue-as-new would carry fits one payload (a transcript can outgrow it). */
  carryFits(): boolean {
    return jsonBytes(this.carry()) <= MAX_UPDATE_BYTES;
  }

  /** The digest of the transcript as it stands. */
  get digest(): string {
    return this.digests[this.digests.length - 1] ?? EMPTY_DIGEST;
  }

  /** A model answer enters the transcript: its message, its usage, how it stopped. */
  recordAnswer(answer: CallClaudeResult): void {
    this.append(answerMessage(answer.message.content));
    if (answer.agent) this.noteFingerprint(answer.agent.fingerprint);
    this.countUsage(answer);
    this.compactedSinceAnswer = false;
    if (answer.container) this.container = answer.container;
    if (answer.appliedEdits) {
      const index = this.messages.length - 1;
      this.meta[index] = { ...this.meta[index], appliedEdits: answer.appliedEdits };
    }
    const { usage } = answer;
    const compaction = usage.compaction ?? { inputTokens: 0, outputTokens: 0 };
    this.contextTokens =
      usage.inputTokens +
      usage.cacheCreationInputTokens +
      usage.cacheReadInputTokens +
      usage.outputTokens -
      compaction.inputTokens -
      compaction.outputTokens;
    const index = this.messages.length - 1;
    if (startsWithCompaction(this.messages[index]) && index !== this.promptFrom) {
      // Server-side compaction: the API compacted as part of this answer; the prompt starts here.
      this.markCompaction(index, { trigger: 'server', ...compaction });
    }
    this.lastStop = {
      reason: answer.stopReason,
      at: nowIso(),
      ...(answer.stopDetails != null && { details: answer.stopDetails }),
      ...(answer.stopSequence != null && { stopSequence: answer.stopSequence }),
      ...(answer.stopReason === 'max_tokens' && { truncated: true }),
    };
  }

  // ── Compaction ───────────────────────────────────────────────────────────────────────────────────
  /** The compaction settings: the agent's, under the conversation's own (field by field). */
  get compaction(): ResolvedCompaction {
    const merged = { ...this.snapshot?.compaction, ...this.config.compaction };
    return { ...merged, onContextWindow: merged.onContextWindow ?? true, mode: merged.mode ?? 'client' };
  }

  /**
   * A compaction's block enters the transcript as its own message (never merged): the prompt starts
   * there; what came before stays in the transcript for people, marked as summarized.
   */
  recordCompaction(
    answer: CallClaudeResult,
    how: { trigger: CompactionTrigger; tokensBefore?: number; by?: string },
    at = this.messages.length,
  ): void {
    this.countUsage(answer);
    const block = answer.message.content.find((b) => (b as { type: string }).type === 'compaction');
    const message: MessageParam = { role: 'assistant', content: [block as unknown as ContentBlockParam] };
    if (at === this.messages.length) this.append(message);
    else this.insert(at, message);
    const usage = answer.usage.compaction ?? { inputTokens: 0, outputTokens: 0 };
    this.markCompaction(at, { ...how, ...usage });
    // The next call's prompt is the summary and what follows it; the next answer measures it again.
    this.contextTokens = usage.outputTokens;
  }

  private markCompaction(
    index: number,
    how: {
      trigger: CompactionTrigger;
      tokensBefore?: number;
      by?: string;
      inputTokens: number;
      outputTokens: number;
    },
  ): void {
    const summarized = this.firstIndex + index;
    this.meta[index] = { ...this.meta[index], compaction: { trigger: how.trigger, summarized } };
    this.promptFrom = index;
    this.compactedThisRun = true;
    this.compactionCount++;
    this.compactions.push({ at: nowIso(), turn: this.turn, index: summarized, ...how });
    if (this.compactions.length > 20) this.compactions.shift();
    log.info('conversation compacted', { trigger: how.trigger, summarized, tokensBefore: how.tokensBefore });
  }

  /** The compaction view of the state (absent before the first compaction or request). */
  get compactionView(): CompactionView | undefined {
    if (this.compactionCount === 0 && !this.compactRequest && this.firstIndex === 0) return undefined;
    return {
      count: this.compactionCount,
      recent: this.compactions,
      promptFrom: this.firstIndex + this.promptFrom,
      ...(this.earlierRunId && { earlier: { runId: this.earlierRunId, firstIndex: this.firstIndex } }),
      ...(this.compactRequest && {
        requested: {
          ...(this.compactRequest.by && { by: this.compactRequest.by }),
          at: this.compactRequest.at,
        },
      }),
    };
  }

  /**
   * Whether the transcript can be compacted now: it holds something new to summarize, and it does not
   * end on an unfinished assistant turn (a tool call without its result, a paused turn), which the API
   * refuses to compact.
   */
  get compactable(): boolean {
    const start = this.promptFrom + (isCompactionMessage(this.messages[this.promptFrom]) ? 1 : 0);
    const last = this.messages.at(-1);
    if (!last || this.messages.length - start < 2) return false;
    if (last.role === 'user') return true;
    return this.lastStop?.reason !== 'pause_turn' && !blocksOf(last).some((b) => b.type === 'tool_use');
  }

  // ── Code execution ───────────────────────────────────────────────────────────────────────────────
  /** The container the next call runs in: the last one, until it expires (workflow time). */
  get liveContainer(): string | undefined {
    const container = this.container;
    return container && Date.parse(container.expiresAt) > now().getTime() ? container.id : undefined;
  }

  /**
   * Programmatic tool calls (a `caller` other than `direct`) wait in their container for the results.
   * If it expired meanwhile (an approval took longer than its life), the API would refuse the answer:
   * park, saying so. Resumed, the call is made with the last container all the same.
   */
  async withLiveContainer(): Promise<void> {
    const { container } = this;
    const waiting = this.messages.at(-1)?.role === 'user' && hasProgrammaticCalls(this.messages.at(-2));
    if (waiting && container && !this.liveContainer) {
      await this.park({
        reason: 'container_expired',
        message: `the code execution container ${container.id} expired (${container.expiresAt}) while its programmatic tool calls waited; resume to send the results anyway, or end the conversation`,
      });
      this.containerForCall = container.id;
      return;
    }
    this.containerForCall = this.liveContainer;
  }

  /** The container the next model call names (set before each call by {@link withLiveContainer}). */
  containerForCall: string | undefined;

  // ── Budget ───────────────────────────────────────────────────────────────────────────────────────
  /** The budget: the agent's, under the conversation's own, under an operator's raise. */
  get budget(): Budget | undefined {
    const budget = { ...this.snapshot?.budget, ...this.config.budget, ...this.budgetOverride };
    return budget.usd === undefined && budget.tokens === undefined ? undefined : budget;
  }

  /** Before a model call: parks while the spend is at or past the budget (never mid-stream). */
  async withinBudget(): Promise<void> {
    for (let problem = budgetProblem(this.budget, this.usage); problem;) {
      await this.park({ reason: 'budget_exceeded', message: problem });
      problem = budgetProblem(this.budget, this.usage);
    }
  }

  /** An operator's new ceilings; a conversation parked on its budget goes on if it is now under it. */
  raiseBudget(ceilings: Budget): Budget | undefined {
    this.budgetOverride = { ...this.budgetOverride, ...ceilings };
    if (this.attention?.reason === 'budget_exceeded' && !budgetProblem(this.budget, this.usage)) {
      this.resumeRequested = true;
    }
    this.updatedAt = nowIso();
    return this.budget;
  }

  /** A model call used this definition of the agent: a change (a deploy) is kept, the newest 20. */
  private noteFingerprint(fingerprint: string): void {
    const previous = this.agentFingerprint ?? this.snapshot?.fingerprint;
    this.agentFingerprint = fingerprint;
    if (this.agent) this.agent.fingerprint = fingerprint;
    if (previous === undefined || previous === fingerprint) return;
    this.agentChanges.push({ from: previous, to: fingerprint, at: nowIso(), turn: this.turn });
    if (this.agentChanges.length > 20) this.agentChanges.shift();
  }

  /** A sub-agent's usage joins this conversation's totals (its own sub-agents' included). */
  private addUsage(usage: UsageTotals): void {
    for (const key of USAGE_FIELDS) if (key !== 'costUsd') this.usage[key] += usage[key] ?? 0;
    this.usage.costUsd = Math.round((this.usage.costUsd + (usage.costUsd ?? 0)) * 1e6) / 1e6;
  }

  /**
   * A sub-agent conversation started or ended (kept in the state, the newest 100). Its usage, the
   * first time it is known (its result, or its report when it was stopped), joins the totals.
   */
  trackSubAgent(run: SubAgentRun): void {
    const index = this.subAgents.findIndex((r) => r.toolUseId === run.toolUseId);
    const known = index >= 0 ? this.subAgents[index] : undefined;
    if (run.usage && !known?.usage) this.addUsage(run.usage);
    const merged = { ...known, ...run, ...(known?.usage && { usage: known.usage }) };
    if (index >= 0) this.subAgents[index] = merged;
    else this.subAgents.push(merged);
    if (this.subAgents.length > 100) this.subAgents.shift();
    this.updatedAt = nowIso();
  }

  /** Adds a call's tokens and cost to the totals (also for an answer that is dropped and retried). */
  countUsage({ usage }: CallClaudeResult): void {
    this.usage.calls++;
    this.usage.inputTokens += usage.inputTokens;
    this.usage.outputTokens += usage.outputTokens;
    this.usage.cacheCreationInputTokens += usage.cacheCreationInputTokens;
    this.usage.cacheReadInputTokens += usage.cacheReadInputTokens;
    if (usage.costUsd === undefined) this.usage.unpricedCalls++;
    // Rounded to micro-dollars so the sum of many calls does not drift into float noise.
    else this.usage.costUsd = Math.round((this.usage.costUsd + usage.costUsd) * 1e6) / 1e6;
  }

  // ── Waiting ──────────────────────────────────────────────────────────────────────────────────────
  /**
   * Waits while idle for the next queued message (or an operator's `compact`). Ends the conversation
   * (throws {@link ConversationEnded}) after a single-turn run, at the turn limit, on `end`, or when no
   * message comes within the idle timeout.
   */
  async waitForWork(): Promise<void> {
    if (this.queue.length > 0) return;
    if (this.config.singleTurn && this.turn > 0) throw new ConversationEnded('single turn done');
    if (this.turn >= this.limits.maxTurns)
      throw new ConversationEnded(`reached ${this.limits.maxTurns} turns`);
    this.setStatus(this.lastStop?.reason === 'refusal' ? 'refused' : 'idle');
    // An operator's `compact` wakes it too: an idle conversation compacts at once.
    const woke = await condition(
      () => this.queue.length > 0 || this.endRequest !== undefined || this.compactRequest !== undefined,
      this.limits.idleTimeoutMs,
    );
    this.throwIfEnding();
    if (!woke) throw new ConversationEnded('idle timeout');
  }

  /** Starts the next user turn with the next queued message (after {@link waitForWork}). */
  takeMessage(): void {
    const next = this.queue.shift()!;
    this.turn = next.turn;
    this.append({ role: 'user', content: next.content });
  }

  /** Parks the conversation until an operator resumes it; throws {@link ConversationEnded} if they end it. */
  async park(why: ParkReason | Omit<Attention, 'at'>): Promise<void> {
    this.attention = { ...why, at: nowIso() };
    log.warn('conversation needs attention', { reason: why.reason, message: why.message });
    this.setStatus('needs_attention');
    const stopNotifying = notifyNeedsAttention(this, this.attention); // a webhook, not awaited
    await condition(() => this.resumeRequested || this.endRequest !== undefined).finally(stopNotifying);
    this.resumeRequested = false;
    this.attention = undefined;
    this.throwIfEnding();
  }

  /** Ends the conversation here if `end` was accepted. */
  throwIfEnding(): void {
    if (this.endRequest) throw ConversationEnded.requested(this.endRequest);
  }

  // ── Approvals ────────────────────────────────────────────────────────────────────────────────────
  /** After the approval queue changed: the pending count (a search attribute) and the status. */
  refreshApprovals(): void {
    const count = this.approvals.pending.length;
    if (count !== this.pendingCount) {
      this.pendingCount = count;
      upsertSearchAttributes([{ key: AGENT_PENDING_APPROVALS, value: count }]);
    }
    if (count > 0) this.setStatus('awaiting_approval');
    else if (this.shownStatus === 'awaiting_approval') this.setStatus('running');
  }

  /** Keeps a signal-borne decision that could not apply, so operators see why (the newest 50). */
  refuseDecision(refused: RefusedDecision): void {
    this.refusedDecisions.push(refused);
    if (this.refusedDecisions.length > 50) this.refusedDecisions.shift();
  }

  // ── Views ────────────────────────────────────────────────────────────────────────────────────────
  /** The answer of the state query: everything but the transcript outside `[from, to)`. */
  state(options: StateQueryOptions = {}): ConversationState {
    // Indexes are of the whole transcript; this run holds it from `firstIndex` on.
    const total = this.firstIndex + this.messages.length;
    const local = (index: number) => Math.max(0, index - this.firstIndex);
    const asked = local(clampIndex(options.from ?? 0, total));
    // The newest messages of the range that fit one answer: `from` says where they start.
    const { from, to } = this.fitting(
      asked,
      Math.max(asked, local(clampIndex(options.to ?? total, total))),
      'last',
    );
    const compaction = this.compactionView;
    return {
      // 'starting' lasts only until the first workflow task sets a status, before any query is answered.
      status: this.shownStatus === 'starting' ? 'running' : this.shownStatus,
      attention: this.attention,
      model: this.model,
      ...(this.agent && { agent: this.agent }),
      ...(this.config.parent && { parent: this.config.parent }),
      ...(this.config.fork && { forkedFrom: this.config.fork.from }),
      ...(this.subAgents.length > 0 && { subAgents: this.subAgents }),
      ...(this.budget && { budget: { limit: this.budget, spent: spent(this.usage) } }),
      turn: this.turn,
      messageCount: total,
      messages: this.messages.slice(from, to),
      meta: this.meta.slice(from, to),
      from: this.firstIndex + from,
      ...(compaction && { compaction }),
      modelCallInFlight: this.modelCallInFlight,
      toolCallsInFlight: [...this.toolCallsInFlight.values()],
      queuedMessages: this.queue.length,
      pendingApprovals: this.approvals.pending,
      decisions: this.approvals.decisions,
      refusedDecisions: this.refusedDecisions,
      usage: this.usage,
      lastStop: this.lastStop,
      ...(this.output && { output: this.output }),
      ...(this.container && { container: this.container }),
      endReason: this.endReason,
      generation: this.generation,
      startedAt: this.startedAt,
      updatedAt: this.updatedAt,
    };
  }

  /** What the next run gets from continue-as-new. */
  carry(): CarriedState {
    // After a compaction the next run starts at its message: what it summarized stays in this run.
    const start = this.promptFrom;
    const messages = start > 0 ? this.messages.slice(start) : this.messages;
    const compaction: CarriedCompaction | undefined =
      !this.compactionView && this.contextTokens === undefined
        ? undefined
        : ({
            firstIndex: this.firstIndex + start,
            ...(start > 0
              ? { earlierRunId: workflowInfo().runId }
              : this.earlierRunId && { earlierRunId: this.earlierRunId }),
            count: this.compactionCount,
            recent: this.compactions,
            ...(this.contextTokens !== undefined && { contextTokens: this.contextTokens }),
            ...(this.compactRequest && { requested: this.compactRequest }),
          } as CarriedCompaction);
    return {
      messages,
      meta: start > 0 ? this.meta.slice(start) : this.meta,
      digests: start > 0 ? digestsOf(messages) : this.digests,
      turn: this.turn,
      queue: this.queue,
      usage: this.usage,
      lastStop: this.lastStop,
      generation: this.generation + 1,
      startedAt: this.startedAt,
      approvals: this.approvals.snapshot(),
      refusedDecisions: this.refusedDecisions,
      ...(this.agent && { agentChanges: this.agentChanges, agentFingerprint: this.agentFingerprint }),
      ...(this.subAgents.length > 0 && { subAgents: this.subAgents }),
      ...(this.budgetOverride && { budgetOverride: this.budgetOverride }),
      ...(compaction && { compaction }),
      ...(this.output && { output: this.output }),
      ...(this.container && { container: this.container }),
    };
  }

  /** Ends it: the final status and reason, recorded where operators look, and the workflow's result. */
  finish(final: ConversationResult['status'], reason: string): ConversationResult {
    this.endReason = reason;
    this.setStatus(final);
    return {
      status: final,
      endReason: reason,
      turns: this.turn,
      messageCount: this.firstIndex + this.messages.length,
      lastText: lastAssistantText(this.messages),
      usage: this.usage,
      ...(this.output && {
        outputStatus: this.output.status,
        ...(this.output.status === 'ok'
          ? { output: this.output.value }
          : { outputReason: this.output.reason }),
      }),
    };
  }
}

/** The text of the last assistant message, or '' before the first answer. */
function lastAssistantText(messages: readonly MessageParam[]): string {
  const last = [...messages].reverse().find((m) => m.role === 'assistant' && !isCompactionMessage(m));
  if (!last) return '';
  return blocksOf(last)
    .filter((b): b is Extract<ContentBlockParam, { type: 'text' }> => b.type === 'text')
    .map((b) => b.text)
    .join('');
}

/** Bytes of a value's JSON, as a payload carries it (UTF-8). */
function jsonBytes(value: unknown): number {
  return utf8Bytes(JSON.stringify(value) ?? '');
}

/** An index into a list of `length`, negative from the end, clamped to [0, length]. */
function clampIndex(index: number, length: number): number {
  const i = index < 0 ? length + index : index;
  return Math.min(Math.max(0, Math.trunc(i)), length);
}
