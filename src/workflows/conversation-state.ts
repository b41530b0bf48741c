/**
 * One conversation's state, made of small parts, each with its own fields and a `snapshot()` of what
 * continue-as-new carries (state/: the inbox, the transcript, compaction, the spend, the agent's
 * listing, sub-agents, the code container, the lifecycle; approvals.ts: the approval queue). The class
 * says what happens to the conversation as a whole, where a step touches several parts: an answer or a
 * compaction recorded, a park, a wait for the next message, the carry into the next run, the end.
 * The workflow (conversation.ts) drives it; the handlers (handlers.ts) delegate to it.
 */
import { ApplicationFailure, condition, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { CallClaudeResult } from '../api/activity-contract';
import type { AgentSnapshot, AgentView, SubAgentRun } from '../api/agents';
import {
  resolveLimits,
  type Attention,
  type Budget,
  type CompactRequest,
  type CompactionView,
  type ConversationConfig,
  type ConversationResult,
  type ConversationStatus,
  type EndRequest,
  type LastStop,
  type ResolvedLimits,
  type ToolCallInFlight,
  type UsageTotals,
  type UserContent,
} from '../api/conversation';
import { AGENT_MODEL, AGENT_NAME } from '../api/search-attributes';
import type { ContentBlockParam, MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { answerMessage, hasProgrammaticCalls, startsWithCompaction } from '../api/transcript';
import { MAX_UPDATE_BYTES } from '../api/bounds';
import type { OutputVerdict, StructuredOutput } from '../api/structured-output';
import { ApprovalBook } from './approvals';
import { nowIso } from './clock';
import { notifyNeedsAttention, type NotificationOrigin } from './notifications';
import { budgetProblem, type ParkReason } from './next-step';
import { AgentListing } from './state/agent-listing';
import { CodeContainer } from './state/code-container';
import { CompactionState, type CompactionMark, type ResolvedCompaction } from './state/compaction-state';
import { Inbox } from './state/inbox';
import { Lifecycle, type StartRefusal } from './state/lifecycle';
import { Spend } from './state/spend';
import { SubAgentRuns } from './state/sub-agent-runs';
import { Transcript, jsonBytes } from './state/transcript';
import { carriedState, type CarriedState } from './state/carried';
import { ConversationEnded } from './ended';

export type { CarriedState } from './state/carried';

export class Conversation {
  readonly workflowId = workflowInfo().workflowId;
  /** The input, with the agent's model, `maxTokens`, caching and limits once its run is prepared. */
  config: ConversationConfig;
  limits: ResolvedLimits;
  readonly lifecycle: Lifecycle;
  readonly inbox: Inbox;
  readonly transcript: Transcript;
  readonly compactions: CompactionState;
  readonly spend: Spend;
  readonly agentListing: AgentListing;
  readonly subAgents: SubAgentRuns;
  readonly container: CodeContainer;
  readonly approvals: ApprovalBook;
  readonly generation: number;
  readonly startedAt: string;
  private stop: LastStop | undefined;
  private verdict: StructuredOutput | undefined;
  private readonly toolsRunning = new Map<string, ToolCallInFlight>();
  private callingModel = false;

  constructor(config: ConversationConfig, carried?: CarriedState) {
    this.config = config;
    this.lifecycle = new Lifecycle(config.agent !== undefined);
    this.limits = resolveLimits(config.limits);
    this.agentListing = new AgentListing(carried);
    this.subAgents = new SubAgentRuns(carried?.subAgents);
    this.transcript = new Transcript(carried);
    this.inbox = new Inbox(carried);
    this.spend = new Spend(carried);
    this.stop = carried?.lastStop;
    this.approvals = new ApprovalBook(carried?.approvals, carried?.refusedDecisions);
    this.generation = carried?.generation ?? 0;
    this.startedAt = carried?.startedAt ?? nowIso();
    this.compactions = new CompactionState(carried?.compaction);
    this.verdict = carried?.output;
    this.container = new CodeContainer(carried?.container);
  }

  // ── What it is (the parts answer; these are the questions asked everywhere) ──────────────────────
  get turn(): number {
    return this.inbox.turn;
  }
  get status(): ConversationStatus | 'starting' {
    return this.lifecycle.status;
  }
  get endRequest(): EndRequest | undefined {
    return this.lifecycle.endRequest;
  }
  get attention(): Attention | undefined {
    return this.lifecycle.attention;
  }
  get lastStop(): LastStop | undefined {
    return this.stop;
  }
  get messages(): readonly MessageParam[] {
    return this.transcript.messages;
  }
  get usage(): UsageTotals {
    return this.spend.usage;
  }
  get modelCallInFlight(): boolean {
    return this.callingModel;
  }
  get toolCallsInFlight(): ToolCallInFlight[] {
    return [...this.toolsRunning.values()];
  }
  /** The last turn's structured output (conversations with an output schema). */
  get output(): StructuredOutput | undefined {
    return this.verdict;
  }
  /** The agent as this run listed it, and its listing (agent conversations). */
  get agent(): AgentView | undefined {
    return this.agentListing.view;
  }
  get listed(): AgentSnapshot | undefined {
    return this.agentListing.current;
  }
  /** The model: the agent's, or the input's for an ad-hoc conversation. */
  get model(): string {
    return this.config.model ?? '';
  }
  /** The compaction settings: the agent's, under the conversation's own (field by field). */
  get compaction(): ResolvedCompaction {
    const merged = { ...this.listed?.compaction, ...this.config.compaction };
    return { ...merged, onContextWindow: merged.onContextWindow ?? true, mode: merged.mode ?? 'client' };
  }
  /** The budget: the agent's, under the conversation's own, under an operator's raise. */
  get budget(): Budget | undefined {
    return this.spend.budget({ ...this.listed?.budget, ...this.config.budget });
  }
  /** Whether the transcript can be compacted now (see {@link Transcript.compactable}). */
  get compactable(): boolean {
    return this.transcript.compactable(this.compactions.promptFrom, this.stop?.reason === 'pause_turn');
  }
  /** Whether `end` is accepted now: while it waits, or while sub-agents work (they are stopped). */
  get endable(): boolean {
    return this.lifecycle.endable(this.subAgents.working);
  }
  /** The settings query's answer: the input without its message, fork and parent. */
  get settings(): Omit<ConversationConfig, 'message' | 'fork' | 'parent'> {
    const { message: _message, fork: _fork, parent: _parent, ...settings } = this.config;
    return settings;
  }
  /** Who notifications are about. */
  get origin(): NotificationOrigin {
    const { agent, tenant } = this.config;
    return {
      workflowId: this.workflowId,
      ...(agent !== undefined && { agent }),
      ...(tenant !== undefined && { tenant }),
    };
  }

  /** As much of `[from, to)` as fits one answer (at least one message): the reader asks again for the rest. */
  messagesIn({ from, to }: { from: number; to: number }): MessageParam[] {
    const fits = this.transcript.fitting(from, Math.min(to, this.transcript.length), 'first');
    return this.transcript.messages.slice(fits.from, fits.to);
  }

  // ── The start ────────────────────────────────────────────────────────────────────────────────────
  /** A fork's first run: the transcript it starts from (a compaction message in it starts the prompt). */
  seed(messages: readonly MessageParam[]): void {
    const promptFrom = this.transcript.seed(messages);
    if (promptFrom !== undefined) this.compactions.startPromptAt(promptFrom);
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
    this.inbox.queueFirst(this.config.message);
  }

  /** Lists the agent (`list`, the activity): `end` is accepted meanwhile and takes effect after. */
  async listingAgent<T>(list: () => Promise<T>): Promise<T> {
    this.lifecycle.listingAgent(true);
    try {
      return await list();
    } finally {
      this.lifecycle.listingAgent(false);
    }
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
    this.agentListing.listedAs(snapshot);
  }

  /** Answers once the agent is listed, or fails with why it could not be (see `agentReadyUpdate`). */
  async agentReady(): Promise<AgentView> {
    const { lifecycle } = this;
    await condition(
      () =>
        this.agent !== undefined || lifecycle.startRefusal !== undefined || lifecycle.attention !== undefined,
    );
    if (this.agent) return this.agent;
    throw agentNotReady(lifecycle.startRefusal, lifecycle.attention);
  }

  // ── Requests from outside ────────────────────────────────────────────────────────────────────────
  /** A user message accepted: queued for its turn. */
  enqueue(content: UserContent): { turn: number; queuedBehind: number } {
    return this.inbox.enqueue(content);
  }

  /** `end` accepted: the conversation ends at its next waiting point; sub-agents at work are stopped. */
  requestEnd(request: EndRequest): ConversationStatus {
    this.lifecycle.requestEnd(request);
    this.subAgents.stopAll();
    return 'completed';
  }

  /** `resume` accepted: a parked conversation goes on. */
  resume(): ConversationStatus {
    this.lifecycle.requestResume();
    return 'running';
  }

  /** An operator's new ceilings; a conversation parked on its budget goes on if it is now under it. */
  raiseBudget(ceilings: Budget): Budget | undefined {
    this.spend.raise(ceilings);
    if (this.attention?.reason === 'budget_exceeded' && !budgetProblem(this.budget, this.usage)) {
      this.lifecycle.requestResume();
    }
    this.lifecycle.touch();
    return this.budget;
  }

  /** An operator's `compact`: at the next safe point; a conversation parked on a full window goes on. */
  askToCompact(request: CompactRequest): CompactionView {
    this.compactions.requested(request, nowIso());
    // Parked because the window is full or a compaction failed: this is the way on.
    const reason = this.attention?.reason;
    if (reason === 'context_window_exceeded' || reason === 'compaction_failed')
      this.lifecycle.requestResume();
    return this.compactions.view!;
  }

  // ── The turn ─────────────────────────────────────────────────────────────────────────────────────
  append(message: MessageParam): number {
    const index = this.transcript.append(message, this.turn);
    this.lifecycle.touch();
    return index;
  }

  /** Starts the next user turn with the next queued message (after {@link waitForWork}). */
  takeMessage(): void {
    const content = this.inbox.take();
    this.append({ role: 'user', content });
  }

  /** Makes a model call (`call`), shown in the state while it runs. */
  async callingModelWith<T>(call: () => Promise<T>): Promise<T> {
    this.callingModel = true;
    try {
      return await call();
    } finally {
      this.callingModel = false;
    }
  }

  /** A model answer enters the transcript: its message, its usage, how it stopped. */
  recordAnswer(answer: CallClaudeResult): void {
    const index = this.append(answerMessage(answer.message.content));
    if (answer.agent) this.agentListing.used(answer.agent.fingerprint, this.turn);
    this.spend.count(answer);
    if (answer.container) this.container.ranIn(answer.container);
    if (answer.appliedEdits) this.transcript.mark(index, { appliedEdits: answer.appliedEdits });
    const { inputTokens, outputTokens, cacheCreationInputTokens, cacheReadInputTokens } = answer.usage;
    const compaction = answer.usage.compaction ?? { inputTokens: 0, outputTokens: 0 };
    const prompt = inputTokens + cacheCreationInputTokens + cacheReadInputTokens + outputTokens;
    this.compactions.answered(prompt - compaction.inputTokens - compaction.outputTokens);
    if (startsWithCompaction(this.messages[index]) && index !== this.compactions.promptFrom) {
      // Server-side compaction: the API compacted as part of this answer; the prompt starts here.
      this.markCompaction(index, { trigger: 'server', ...compaction });
    }
    this.stop = {
      reason: answer.stopReason,
      at: nowIso(),
      ...(answer.stopDetails != null && { details: answer.stopDetails }),
      ...(answer.stopSequence != null && { stopSequence: answer.stopSequence }),
      ...(answer.stopReason === 'max_tokens' && { truncated: true }),
    };
  }

  /** Adds a call's tokens and cost to the totals (also for an answer that is dropped and retried). */
  countUsage(answer: CallClaudeResult): void {
    this.spend.count(answer);
  }

  /** The verdict on the turn's final answer (structured output), `attempts` answers judged this turn. */
  recordOutput(verdict: OutputVerdict, attempts: number): void {
    this.verdict = { ...verdict, turn: this.turn, attempts };
  }

  /** Asks the model again, saying why its answer failed the output schema. */
  correctOutput(text: string): void {
    const index = this.append({ role: 'user', content: text });
    this.transcript.mark(index, { outputCorrection: true });
  }

  /**
   * A compaction's block enters the transcript as its own message (never merged) at `at`: the prompt
   * starts there; what came before stays in the transcript for people, marked as summarized.
   */
  recordCompaction(
    answer: CallClaudeResult,
    how: Omit<CompactionMark, 'inputTokens' | 'outputTokens'>,
    at = this.transcript.length,
  ): void {
    this.spend.count(answer);
    const block = answer.message.content.find((b) => (b as { type: string }).type === 'compaction');
    const message: MessageParam = { role: 'assistant', content: [block as unknown as ContentBlockParam] };
    if (at === this.transcript.length) this.append(message);
    else {
      this.transcript.insert(at, message, this.turn);
      this.lifecycle.touch();
    }
    const usage = answer.usage.compaction ?? { inputTokens: 0, outputTokens: 0 };
    this.markCompaction(at, { ...how, ...usage });
    // The next call's prompt is the summary and what follows it; the next answer measures it again.
    this.compactions.summarized(usage.outputTokens);
  }

  private markCompaction(index: number, how: CompactionMark): void {
    const summarized = this.compactions.record(index, how, this.turn);
    this.transcript.mark(index, { compaction: { trigger: how.trigger, summarized } });
  }

  /** Runs a tool (`run`), shown in the state while it runs. */
  async runningTool<T>(call: Omit<ToolCallInFlight, 'startedAt'>, run: () => Promise<T>): Promise<T> {
    this.toolsRunning.set(call.toolUseId, { ...call, startedAt: nowIso() });
    try {
      return await run();
    } finally {
      this.toolsRunning.delete(call.toolUseId);
    }
  }

  /** A sub-agent conversation started or ended; its usage, once known, joins the totals. */
  trackSubAgent(run: SubAgentRun): void {
    const usage = this.subAgents.track(run);
    if (usage) this.spend.add(usage);
    this.lifecycle.touch();
  }

  /** After the approval queue changed: the pending count (a search attribute) and the status. */
  refreshApprovals(): void {
    this.lifecycle.approvalsPending(this.approvals.pending.length);
  }

  // ── Waiting ──────────────────────────────────────────────────────────────────────────────────────
  setStatus(next: ConversationStatus): void {
    this.lifecycle.setStatus(next);
  }

  /**
   * Waits while idle for the next queued message (or an operator's `compact`). Ends the conversation
   * (throws {@link ConversationEnded}) after a single-turn run, at the turn limit, on `end`, or when no
   * message comes within the idle timeout.
   */
  async waitForWork(): Promise<void> {
    if (this.inbox.length > 0) return;
    if (this.config.singleTurn && this.turn > 0) throw new ConversationEnded('single turn done');
    if (this.turn >= this.limits.maxTurns)
      throw new ConversationEnded(`reached ${this.limits.maxTurns} turns`);
    this.setStatus(this.stop?.reason === 'refusal' ? 'refused' : 'idle');
    // An operator's `compact` wakes it too: an idle conversation compacts at once.
    const woke = await condition(
      () => this.inbox.length > 0 || this.endRequest !== undefined || this.compactions.request !== undefined,
      this.limits.idleTimeoutMs,
    );
    this.throwIfEnding();
    if (!woke) throw new ConversationEnded('idle timeout');
  }

  /** Parks the conversation until an operator resumes it; throws {@link ConversationEnded} if they end it. */
  async park(why: ParkReason | Omit<Attention, 'at'>): Promise<void> {
    const attention = this.lifecycle.park(why);
    const stopNotifying = notifyNeedsAttention(this.origin, attention); // a webhook, not awaited
    const { lifecycle } = this;
    await condition(() => lifecycle.resumeRequested || lifecycle.endRequest !== undefined).finally(
      stopNotifying,
    );
    lifecycle.unpark();
    this.throwIfEnding();
  }

  /** Before a model call: parks while the spend is at or past the budget (never mid-stream). */
  async withinBudget(): Promise<void> {
    for (let problem = budgetProblem(this.budget, this.usage); problem;) {
      await this.park({ reason: 'budget_exceeded', message: problem });
      problem = budgetProblem(this.budget, this.usage);
    }
  }

  /**
   * The container the next model call runs in: the last one, until it expires. Programmatic tool calls
   * (a `caller` other than `direct`) wait in their container for the results: if it expired meanwhile
   * (an approval took longer than its life), the API would refuse the answer, so it parks, saying so;
   * resumed, the call is made with the last container all the same.
   */
  async containerForNextCall(): Promise<string | undefined> {
    const container = this.container.current;
    const waiting = this.messages.at(-1)?.role === 'user' && hasProgrammaticCalls(this.messages.at(-2));
    if (waiting && container && !this.container.live) {
      await this.park({
        reason: 'container_expired',
        message: `the code execution container ${container.id} expired (${container.expiresAt}) while its programmatic tool calls waited; resume to send the results anyway, or end the conversation`,
      });
      return container.id;
    }
    return this.container.live;
  }

  /** Ends the conversation here if `end` was accepted. */
  throwIfEnding(): void {
    if (this.endRequest) throw ConversationEnded.requested(this.endRequest);
  }

  // ── The next run, and the end ────────────────────────────────────────────────────────────────────
  /** Whether what continue-as-new would carry fits one payload (a transcript can outgrow it). */
  carryFits(): boolean {
    return jsonBytes(this.carry()) <= MAX_UPDATE_BYTES;
  }

  /** What the next run gets from continue-as-new: the parts' snapshots, in one shape. */
  carry(): CarriedState {
    return carriedState(this, workflowInfo().runId);
  }

  /** Ends it: the final status and reason, recorded where operators look, and the workflow's result. */
  finish(final: ConversationResult['status'], reason: string): ConversationResult {
    this.lifecycle.finish(final, reason);
    return {
      status: final,
      endReason: reason,
      turns: this.turn,
      messageCount: this.compactions.firstIndex + this.transcript.length,
      lastText: this.transcript.lastText,
      usage: this.usage,
      ...(this.verdict && {
        outputStatus: this.verdict.status,
        ...(this.verdict.status === 'ok'
          ? { output: this.verdict.value }
          : { outputReason: this.verdict.reason }),
      }),
    };
  }
}

/** Why `agentReady` fails: the worker refused the start, or the listing failed and the run parked. */
function agentNotReady(refusal: StartRefusal | undefined, parked: Attention | undefined) {
  return ApplicationFailure.create({
    ...(refusal ?? {
      type: 'AgentNotReady',
      message: `the agent could not be listed (${parked?.message}); the conversation waits for an operator to resume or end it`,
    }),
    nonRetryable: true,
  });
}
