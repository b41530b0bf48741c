/**
 * How the outside world reaches a conversation: queries read its state, updates and signals queue a
 * message, resume or end it, and decide tool calls. Handlers record (a decision also updates the
 * approval search attributes); the loop in conversation.ts acts on what they recorded. Updates refuse
 * bad input in their validator (nothing reaches history); a signal cannot be refused to its sender, so
 * one that cannot apply is logged and kept, never fatal. Validators do not run on replay, handlers do:
 * a handler applies by the rules its recorded inputs passed (see `PATCHES.boundedSignals`).
 */
import { ApplicationFailure, condition, log, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { agentReadyUpdate, subAgentUsageSignal } from '../api/agents';
import { decideToolCallSignal, decideToolCallUpdate, type RecordedDecision } from '../api/approvals';
import {
  CompactRequestSchema,
  compactUpdate,
  EndRequestSchema,
  RaiseBudgetSchema,
  ResumeRequestSchema,
  SendMessageSchema,
  messageSizeProblem,
  endSignal,
  endUpdate,
  messagesQuery,
  raiseBudgetUpdate,
  resumeUpdate,
  sendMessageUpdate,
  settingsQuery,
  stateQuery,
  type Budget,
  type ConversationStatus,
  type EndRequest,
  type ResumeRequest,
} from '../api/conversation';
import { MAX_REASON, quote } from '../api/bounds';
import { formatIssues } from '../api/issues';
import { AGENT_LAST_ACTIVITY } from '../api/search-attributes';
import { now, nowIso } from './clock';
import type { Conversation } from './conversation-state';
import { PATCHES, rolledOut } from './patches';
import { recordStoppedSubAgentUsage } from './sub-agents';

export function registerHandlers(conversation: Conversation): void {
  setHandler(stateQuery, (options) => conversation.state(options));
  setHandler(settingsQuery, () => {
    const { message: _message, fork: _fork, parent: _parent, ...settings } = conversation.config;
    return settings;
  });
  // As much of the range as fits one answer (at least one message): the reader asks again for the rest.
  setHandler(messagesQuery, ({ from, to }) => {
    const fits = conversation.fitting(from, Math.min(to, conversation.messages.length), 'first');
    return { messages: conversation.messages.slice(fits.from, fits.to) };
  });

  setHandler(
    sendMessageUpdate,
    ({ content }) => {
      const turn = conversation.turn + conversation.queue.length + 1;
      conversation.queue.push({ content, turn });
      return { turn, queuedBehind: conversation.queue.length - 1 };
    },
    {
      validator: (message) => {
        const result = SendMessageSchema.safeParse(message);
        if (!result.success) throw new Error(`invalid message: ${formatIssues(result.error)}`);
        // Read at each call: an agent's limits apply once its run is prepared.
        const { limits } = conversation;
        const tooLarge = messageSizeProblem(result.data.content, limits.maxMessageBytes);
        if (tooLarge) throw new Error(tooLarge);
        const { status, endRequest } = conversation;
        if (status === 'completed' || status === 'cancelled' || endRequest) {
          throw new Error(`the conversation is ${endRequest ? 'ending' : status}`);
        }
        if (conversation.turn + conversation.queue.length >= limits.maxTurns) {
          throw new Error(`the conversation reached its limit of ${limits.maxTurns} turns`);
        }
      },
    },
  );

  setHandler(
    resumeUpdate,
    (request): ConversationStatus => {
      log.info('resume requested', {
        by: request?.by,
        note: request?.note,
        reason: conversation.attention?.reason,
      });
      conversation.resumeRequested = true;
      return 'running';
    },
    {
      validator: (request: ResumeRequest) => {
        const parsed = ResumeRequestSchema.safeParse(request);
        if (!parsed.success) throw new Error(`invalid resume request: ${formatIssues(parsed.error)}`);
        if (conversation.status !== 'needs_attention') {
          throw new Error(
            `only a conversation in needs_attention can be resumed; this one is ${conversation.status}`,
          );
        }
      },
    },
  );

  setHandler(
    endUpdate,
    (request): ConversationStatus => {
      conversation.requestEnd(request ?? {});
      return 'completed';
    },
    {
      validator: (request: EndRequest) => {
        const parsed = EndRequestSchema.safeParse(request);
        if (!parsed.success) throw new Error(`invalid end request: ${formatIssues(parsed.error)}`);
        if (!conversation.endable) {
          throw new Error(`a ${conversation.status} conversation cannot be ended now (cancel it instead)`);
        }
      },
    },
  );
  setHandler(endSignal, (request) => {
    // Patched: signals that ended a conversation before the typed rules still do when replayed.
    if (!rolledOut(PATCHES.boundedSignals)) {
      if (conversation.endable) conversation.requestEnd(request ?? {});
      else log.warn('end signal ignored', { status: conversation.status });
      return;
    }
    const parsed = EndRequestSchema.safeParse(request);
    if (!parsed.success) log.warn('end signal ignored: invalid', { error: formatIssues(parsed.error) });
    else if (conversation.endable) conversation.requestEnd(parsed.data ?? {});
    else log.warn('end signal ignored', { status: conversation.status });
  });

  const agent = () => conversation.agent;
  const startRefusal = () => conversation.startRefusal;
  const attention = () => conversation.attention;
  // Answers once the agent is listed (or refused): clients call it right after start, so an unknown
  // agent is an error at start. The state carries the same view for later readers.
  setHandler(
    agentReadyUpdate,
    async () => {
      await condition(
        () => agent() !== undefined || startRefusal() !== undefined || attention() !== undefined,
      );
      const ready = agent();
      if (ready) return ready;
      const refusal = startRefusal() ?? {
        type: 'AgentNotReady',
        message: `the agent could not be listed (${attention()?.message}); the conversation waits for an operator to resume or end it`,
      };
      throw ApplicationFailure.create({ ...refusal, nonRetryable: true });
    },
    {
      validator: () => {
        if (!conversation.config.agent)
          throw new Error('this conversation has no agent (it was started with a model)');
      },
    },
  );

  setHandler(
    raiseBudgetUpdate,
    (request): Budget => {
      const { usd, tokens, by, note } = request;
      log.info('budget raised', { by, note, usd, tokens });
      return conversation.raiseBudget({
        ...(usd !== undefined && { usd }),
        ...(tokens !== undefined && { tokens }),
      })!;
    },
    {
      validator: (request) => {
        const parsed = RaiseBudgetSchema.safeParse(request);
        if (!parsed.success) throw new Error(`invalid budget: ${formatIssues(parsed.error)}`);
        if (parsed.data.usd === undefined && parsed.data.tokens === undefined)
          throw new Error('invalid budget: give usd and/or tokens');
        const { status } = conversation;
        if (status === 'completed' || status === 'cancelled')
          throw new Error(`the conversation is ${status}`);
      },
    },
  );

  setHandler(
    compactUpdate,
    (request) => {
      const { by, note } = request;
      log.info('compaction requested', { by, note });
      conversation.compactRequest = { ...request, at: nowIso() };
      // Parked because the window is full or a compaction failed: this is the way on.
      const reason = conversation.attention?.reason;
      if (reason === 'context_window_exceeded' || reason === 'compaction_failed') {
        conversation.resumeRequested = true;
      }
      return conversation.compactionView!;
    },
    {
      validator: (request) => {
        const parsed = CompactRequestSchema.safeParse(request);
        if (!parsed.success) throw new Error(`invalid compaction request: ${formatIssues(parsed.error)}`);
        const { status } = conversation;
        if (status === 'completed' || status === 'cancelled')
          throw new Error(`the conversation is ${status}`);
        if (conversation.compaction.mode === 'server')
          throw new Error('this conversation compacts server-side (context_management), at its threshold');
      },
    },
  );

  setHandler(subAgentUsageSignal, (report) => recordStoppedSubAgentUsage(conversation, report));

  // Approval: an update, so the operator learns at once whether the decision was taken (the validator
  // refuses unknown ids, conflicting repeats and edits that fail the tool's schema, and nothing is
  // written to history for a refused one); and a signal twin for systems that can only signal.
  const { approvals } = conversation;
  setHandler(
    decideToolCallUpdate,
    (input): RecordedDecision[] => {
      // The validator held it to the bounds and told people apart strictly; applied by the rules every
      // recorded decision passed (what the strict rules accept, the lenient ones do), so a decision
      // accepted before them replays the same way (validators do not run on replay).
      const recorded = approvals.apply(approvals.check(input, 'unbounded', 'legacy'), 'update', nowIso());
      decided();
      return recorded;
    },
    { validator: (input) => void approvals.check(input) },
  );
  setHandler(decideToolCallSignal, (input) => {
    try {
      const rules = rolledOut(PATCHES.boundedSignals) ? 'bounded' : 'unbounded';
      const persons = rolledOut(PATCHES.confusables)
        ? 'strict'
        : rolledOut(PATCHES.onePerson)
          ? 'lookalikes'
          : 'legacy';
      approvals.apply(approvals.check(input, rules, persons), 'signal', nowIso());
      decided();
    } catch (err) {
      // Kept in the state: bounded, whatever the signal carried.
      const error = quote(err instanceof Error ? err.message : String(err), MAX_REASON);
      const first = firstDecision(input);
      conversation.refuseDecision({
        at: nowIso(),
        ...first,
        error,
      });
      log.warn('decision signal refused', { error });
    }
  });

  /** After decisions are recorded: the time of the decision, the pending count and the status. */
  function decided(): void {
    // Patched: a decision that leaves the status unchanged (one of two parallel calls) still shows as
    // activity. Conversations that waited for approval across the deploy replay without it.
    if (rolledOut(PATCHES.decisionActivityTime)) {
      upsertSearchAttributes([{ key: AGENT_LAST_ACTIVITY, value: now() }]);
    }
    conversation.refreshApprovals();
  }
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
