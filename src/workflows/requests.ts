/**
 * What the outside world asks of a conversation, checked and applied: the updates' validators (bad
 * input and requests the status does not allow are refused there, and nothing reaches history), and
 * what each update or signal does once accepted. handlers.ts registers them, one line each.
 *
 * The status rules, in one place: nothing changes a closed conversation (completed or cancelled); a
 * message is refused once an end is accepted, and past the turn limit; only a parked conversation
 * resumes; `end` is accepted while the conversation waits (see `Conversation.endable`).
 *
 * Validators do not run on replay, handlers do: a handler applies by the rules its recorded inputs
 * passed (see `PATCHES.boundedSignals`). A signal cannot be refused to its sender: one that cannot
 * apply is logged and kept, never fatal.
 */
import { log, upsertSearchAttributes } from '@temporalio/workflow';
import type { z } from 'zod';
import type { DecideToolCallInput, RecordedDecision } from '../api/approvals';
import {
  CompactRequestSchema,
  EndRequestSchema,
  RaiseBudgetSchema,
  ResumeRequestSchema,
  SendMessageSchema,
  messageSizeProblem,
  type Budget,
  type CompactRequest,
  type CompactionView,
  type ConversationStatus,
  type EndRequest,
  type RaiseBudgetRequest,
  type ResumeRequest,
  type SendMessageInput,
} from '../api/conversation';
import { MAX_REASON, quote } from '../api/bounds';
import { formatIssues } from '../api/issues';
import { AGENT_LAST_ACTIVITY } from '../api/search-attributes';
import type { PersonRule } from './approver-rules';
import { now, nowIso } from './clock';
import type { Conversation } from './conversation-state';
import { PATCHES, rolledOut } from './patches';

// ── The status rules ─────────────────────────────────────────────────────────────────────────────────
/** Nothing changes a closed conversation. */
function refuseIfClosed(conversation: Conversation): void {
  if (conversation.lifecycle.closed) throw new Error(`the conversation is ${conversation.status}`);
}

/** Parses `input` with `schema`, or throws saying what is wrong with `what`. */
function parsed<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new Error(`invalid ${what}: ${formatIssues(result.error)}`);
  return result.data;
}

// ── Validators ───────────────────────────────────────────────────────────────────────────────────────
export function checkMessage(conversation: Conversation, message: SendMessageInput): void {
  const { content } = parsed(SendMessageSchema, message, 'message');
  // Read at each call: an agent's limits apply once its run is prepared.
  const { limits, endRequest } = conversation;
  const tooLarge = messageSizeProblem(content, limits.maxMessageBytes);
  if (tooLarge) throw new Error(tooLarge);
  if (endRequest) throw new Error('the conversation is ending');
  refuseIfClosed(conversation);
  if (conversation.turn + conversation.inbox.length >= limits.maxTurns) {
    throw new Error(`the conversation reached its limit of ${limits.maxTurns} turns`);
  }
}

export function checkResume(conversation: Conversation, request: ResumeRequest): void {
  parsed(ResumeRequestSchema, request, 'resume request');
  if (conversation.status !== 'needs_attention') {
    throw new Error(
      `only a conversation in needs_attention can be resumed; this one is ${conversation.status}`,
    );
  }
}

export function checkEnd(conversation: Conversation, request: EndRequest): void {
  parsed(EndRequestSchema, request, 'end request');
  if (!conversation.endable) {
    throw new Error(`a ${conversation.status} conversation cannot be ended now (cancel it instead)`);
  }
}

export function checkHasAgent(conversation: Conversation): void {
  if (!conversation.config.agent)
    throw new Error('this conversation has no agent (it was started with a model)');
}

export function checkRaise(conversation: Conversation, request: RaiseBudgetRequest): void {
  const { usd, tokens } = parsed(RaiseBudgetSchema, request, 'budget');
  if (usd === undefined && tokens === undefined) throw new Error('invalid budget: give usd and/or tokens');
  refuseIfClosed(conversation);
}

export function checkCompact(conversation: Conversation, request: CompactRequest): void {
  parsed(CompactRequestSchema, request, 'compaction request');
  refuseIfClosed(conversation);
  if (conversation.compaction.mode === 'server')
    throw new Error('this conversation compacts server-side (context_management), at its threshold');
}

// ── What accepted requests do ────────────────────────────────────────────────────────────────────────
export function resume(conversation: Conversation, request: ResumeRequest): ConversationStatus {
  log.info('resume requested', {
    by: request?.by,
    note: request?.note,
    reason: conversation.attention?.reason,
  });
  return conversation.resume();
}

export function compact(conversation: Conversation, request: CompactRequest): CompactionView {
  log.info('compaction requested', { by: request.by, note: request.note });
  return conversation.askToCompact(request);
}

export function raiseBudget(conversation: Conversation, request: RaiseBudgetRequest): Budget {
  const { usd, tokens, by, note } = request;
  log.info('budget raised', { by, note, usd, tokens });
  return conversation.raiseBudget({
    ...(usd !== undefined && { usd }),
    ...(tokens !== undefined && { tokens }),
  })!;
}

/** The `end` signal: ended as the update would be, or logged when it cannot apply. */
export function endBySignal(conversation: Conversation, request: EndRequest | undefined): void {
  // Patched: signals that ended a conversation before the typed rules still do when replayed.
  if (!rolledOut(PATCHES.boundedSignals)) {
    if (conversation.endable) conversation.requestEnd(request ?? {});
    else log.warn('end signal ignored', { status: conversation.status });
    return;
  }
  const result = EndRequestSchema.safeParse(request);
  if (!result.success) log.warn('end signal ignored: invalid', { error: formatIssues(result.error) });
  else if (conversation.endable) conversation.requestEnd(result.data ?? {});
  else log.warn('end signal ignored', { status: conversation.status });
}

/**
 * A decision by update. The validator held it to the bounds and told people apart strictly; applied by
 * the rules every recorded decision passed (what the strict rules accept, the lenient ones do), so a
 * decision accepted before them replays the same way (validators do not run on replay).
 */
export function decideByUpdate(conversation: Conversation, input: DecideToolCallInput): RecordedDecision[] {
  const { approvals } = conversation;
  const recorded = approvals.apply(approvals.check(input, 'unbounded', 'legacy'), 'update', nowIso());
  decided(conversation);
  return recorded;
}

/** A decision by signal: applied by the rules of the code that recorded it, or kept as refused. */
export function decideBySignal(conversation: Conversation, input: DecideToolCallInput): void {
  const { approvals } = conversation;
  try {
    const rules = rolledOut(PATCHES.boundedSignals) ? 'bounded' : 'unbounded';
    approvals.apply(approvals.check(input, rules, personRule()), 'signal', nowIso());
    decided(conversation);
  } catch (err) {
    // Kept in the state: bounded, whatever the signal carried.
    const error = quote(err instanceof Error ? err.message : String(err), MAX_REASON);
    approvals.refuse({ at: nowIso(), ...firstDecision(input), error });
    log.warn('decision signal refused', { error });
  }
}

/** How a signal's decider is told apart from the call's earlier approvers, by the code that recorded it. */
function personRule(): PersonRule {
  if (rolledOut(PATCHES.confusables)) return 'strict';
  return rolledOut(PATCHES.onePerson) ? 'lookalikes' : 'legacy';
}

/** After decisions are recorded: the time of the decision, the pending count and the status. */
function decided(conversation: Conversation): void {
  // Patched: a decision that leaves the status unchanged (one of two parallel calls) still shows as
  // activity. Conversations that waited for approval across the deploy replay without it.
  if (rolledOut(PATCHES.decisionActivityTime)) {
    upsertSearchAttributes([{ key: AGENT_LAST_ACTIVITY, value: now() }]);
  }
  conversation.refreshApprovals();
}

/** Who and what a refused signal was about, as far as its (possibly malformed) input says. */
function firstDecision(input: unknown): { toolUseId?: string; decidedBy?: string } | undefined {
  if (!input || typeof input !== 'object') return undefined;
  const first: unknown = 'decisions' in input && Array.isArray(input.decisions) ? input.decisions[0] : input;
  if (!first || typeof first !== 'object') return undefined;
  const field = (key: string) => {
    const value: unknown = Reflect.get(first, key);
    return typeof value === 'string' ? quote(value) : undefined;
  };
  return { toolUseId: field('toolUseId'), decidedBy: field('decidedBy') };
}
