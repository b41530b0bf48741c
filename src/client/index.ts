/**
 * A small typed client for conversations, on `@temporalio/client` and the shared contract: what the
 * CLI, the ops server and users' own scripts use.
 */
import { randomUUID } from 'node:crypto';
import {
  Client,
  Connection,
  WorkflowNotFoundError,
  type ConnectionOptions,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { PayloadConverterError, ValueError, type PayloadCodec } from '@temporalio/common';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { codecFromEnv } from '../codec';
import { temporalConnectOptions } from '../connection';
import type { LiveMessage } from '../streaming/protocol';
import { MAX_UPDATE_BYTES, quote } from '../api/bounds';
import { subscribeLive } from '../streaming/subscribe';
import type { Config } from '../config';
import {
  DecideToolCallSchema,
  decideToolCallUpdate,
  type DecisionRequest,
  type PendingApproval,
  type RecordedDecision,
} from '../api/approvals';
import {
  CONVERSATION_STATUSES,
  CONVERSATION_WORKFLOW,
  endUpdate,
  raiseBudgetUpdate,
  compactUpdate,
  resumeUpdate,
  sendMessageUpdate,
  settingsQuery,
  stateQuery,
  type Budget,
  type CompactionView,
  type CompactRequest,
  type ConversationInput,
  type ConversationState,
  type MessageMeta,
  type ConversationStatus,
  type RaiseBudgetRequest,
  type SendMessageInput,
  type SendMessageResult,
  type StateQueryOptions,
  type UsageTotals,
} from '../api/conversation';
import {
  AGENT_LAST_ACTIVITY,
  AGENT_MODEL,
  AGENT_NAME,
  AGENT_PENDING_APPROVALS,
  AGENT_STATUS,
} from '../api/search-attributes';
import type { conversationWorkflow } from '../workflows/conversation';
import { AGENT_NAME_PATTERN, agentReadyUpdate, type AgentView, type ParentLink } from '../api/agents';
import {
  AgentError,
  grpcErrorOf,
  GRPC_STATUS,
  retryableUpdateRefusal,
  unprocessedUpdate,
  type AgentErrorCode,
} from './errors';
import { formatIssues } from '../api/issues';
import { checkConversationInput } from './input';
import { ConversationSchedules } from './schedules';
import { auditRowsOf, inWindow, type AuditOptions, type AuditResult, type AuditRow } from './audit';
import { forkPlan } from './fork-plan';
import { inPool } from './pool';

export { AgentError, retryableUpdateRefusal, type AgentErrorCode } from './errors';
export { toCsv, toJsonLines, type AuditOptions, type AuditResult, type AuditRow } from './audit';
export type {
  ConversationSchedule,
  CreateScheduleOptions,
  ScheduleDetails,
  ScheduleRun,
  TriggerResult,
  UpdateScheduleOptions,
} from './schedules';
export { SCHEDULE_OVERLAPS, type ScheduleOverlap } from './schedule-spec';

/** One row of a conversation list. */
export interface ConversationSummary {
  workflowId: string;
  status: ConversationStatus | 'unknown';
  /** Its agent (the AgentName search attribute); null for an ad-hoc conversation. */
  agent: string | null;
  model: string | null;
  lastActivity: string | null;
  startedAt: string;
  pendingApprovals: number;
  /** From the state query; null when the summary was built from search attributes alone. */
  usage: UsageTotals | null;
}

/** A pending approval with its conversation. */
export interface PendingApprovalItem extends PendingApproval {
  workflowId: string;
  model: string;
  /** The conversation's agent, if it has one. */
  agent?: string;
  /** A sub-agent's call: the conversation (and tool call) it works for. */
  parent?: ParentLink;
}

/** A conversation the visibility store lists as waiting for approval: enough to tell if it changed. */
export interface PendingConversationRow {
  workflowId: string;
  runId: string;
  /** Its `AgentPendingApprovals` search attribute. */
  pendingApprovals: number;
  /** Its `AgentLastActivityTime` search attribute (ISO), or null. */
  lastActivity: string | null;
}

/** A listed conversation's pending calls, as its state query answers them. */
export type ConversationPendingCalls = Pick<ConversationState, 'pendingApprovals' | 'model' | 'parent'> & {
  agent?: string;
};

/** A conversation listed as waiting whose pending calls could not be read. */
export interface UnreadableConversation {
  workflowId: string;
  /** The {@link AgentError} code (`no_worker` and `unavailable` may pass), or `failed`. */
  code: AgentErrorCode | 'failed';
  /** Why, in at most a few hundred characters. */
  error: string;
}

/** Options of {@link AgentClient.listPendingApprovals}. */
export interface ListPendingApprovalsOptions {
  /** How many waiting conversations to read at most (default 200). */
  limit?: number;
  /**
   * Reads one listed conversation's pending calls (default: its state query). The ops server passes
   * a cache here that queries a conversation again only when its search attributes changed.
   */
  read?: (row: PendingConversationRow) => Promise<ConversationPendingCalls>;
  /**
   * Hears about each listed conversation whose state could not be read (a query that failed or timed
   * out); those are left out of the answer, which lists what could be read.
   */
  onUnreadable?: (conversation: UnreadableConversation) => void;
}

/** An update sent again after a refusal that a later attempt can get past. */
export interface UpdateRetry {
  workflowId: string;
  /** The client method: `decide`, `sendMessage`, `resume`, `end`, `raiseBudget`, `compact`, `agentReady`. */
  operation: string;
  /** The same for every attempt (Temporal deduplicates by it). */
  updateId: string;
  /** The attempt that was refused (1 for the first). */
  attempt: number;
  /** Why it was refused, in the server's words. */
  reason: string;
}

export interface AgentClientOptions {
  client: Client;
  taskQueue: string;
  /** How long a query may wait for a worker before {@link AgentError} `no_worker` (default 5 s). */
  queryTimeoutMs?: number;
  /**
   * How long an update (send, decide, resume, end) may wait for its answer (default 30 s). An update
   * sent as a worker dies can go unanswered: a decision may be sent again as it is (see `decide`), a
   * message with the same `messageId` (see `sendMessage`).
   */
  updateTimeoutMs?: number;
}

type Handle = WorkflowHandle<typeof conversationWorkflow>;

/** What the approval queue keeps of a conversation's state. */
export function pendingCallsOf(state: ConversationState): ConversationPendingCalls {
  const { pendingApprovals, model, agent, parent } = state;
  return { pendingApprovals, model, ...(agent && { agent: agent.name }), ...(parent && { parent }) };
}

/** A conversation just started. */
export interface StartedConversation {
  workflowId: string;
  runId: string;
  /** With `agent`: the agent as a worker listed it (absent if no worker answered in time). */
  agent?: AgentView;
}

export class AgentClient {
  readonly client: Client;
  readonly taskQueue: string;
  private readonly queryTimeoutMs: number;
  private readonly updateTimeoutMs: number;
  private readonly retryListeners = new Set<(retry: UpdateRetry) => void>();
  /** Scheduled conversations: Temporal Schedules that start a conversation on this task queue. */
  readonly schedules: ConversationSchedules;

  constructor(options: AgentClientOptions) {
    this.client = options.client;
    this.taskQueue = options.taskQueue;
    this.queryTimeoutMs = options.queryTimeoutMs ?? 5000;
    this.updateTimeoutMs = options.updateTimeoutMs ?? 30_000;
    this.schedules = new ConversationSchedules(options.client, options.taskQueue);
  }

  /** Connects to Temporal (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`); fails with what to start if unreachable. */
  static async connect(options: {
    address: string;
    namespace: string;
    taskQueue: string;
    codec?: PayloadCodec;
    /** TLS, API key, gRPC metadata (see `temporalConnectOptions`). */
    connectionOptions?: Omit<ConnectionOptions, 'address'>;
  }): Promise<AgentClient> {
    let connection: Connection;
    try {
      connection = await Connection.connect({
        ...options.connectionOptions,
        address: options.address,
        connectTimeout: '3 seconds',
      });
    } catch (err) {
      throw new AgentError(
        'unavailable',
        `cannot reach the Temporal server at ${options.address}: start it (\`npm start\` runs one) or set TEMPORAL_ADDRESS`,
        { cause: err },
      );
    }
    const dataConverter = options.codec ? { payloadCodecs: [options.codec] } : undefined;
    return new AgentClient({
      client: new Client({ connection, namespace: options.namespace, dataConverter }),
      taskQueue: options.taskQueue,
    });
  }

  /** Connects as configured by the environment (address, namespace, task queue, encryption keys). */
  static fromConfig(config: Config): Promise<AgentClient> {
    const { connectionOptions, namespace } = temporalConnectOptions(config);
    const { address, tls, apiKey, metadata } = connectionOptions;
    return AgentClient.connect({
      address,
      namespace,
      connectionOptions: { tls, apiKey, metadata } as Omit<ConnectionOptions, 'address'>,
      taskQueue: config.AGENT_TASK_QUEUE,
      codec: codecFromEnv(config.AGENT_ENCRYPTION_KEYS, config.AGENT_ENCRYPTION_KEY_ID),
    });
  }

  /** Starts a conversation; the input is validated here first, so mistakes fail before anything starts. */
  async startConversation(
    input: ConversationInput,
    options: { workflowId?: string } = {},
  ): Promise<StartedConversation> {
    const checked = checkConversationInput(input);
    const workflowId = options.workflowId ?? `conversation-${randomUUID()}`;
    const handle = await this.client.workflow.start<typeof conversationWorkflow>(CONVERSATION_WORKFLOW, {
      taskQueue: this.taskQueue,
      workflowId,
      args: [input],
    });
    const started = { workflowId, runId: handle.firstExecutionRunId };
    return checked.agent ? { ...started, agent: await this.agentOf(workflowId) } : started;
  }

  /**
   * The agent a new conversation runs, once a worker listed it; an agent no worker serves is an
   * `invalid` error naming the agents they serve (the conversation has ended: nothing is left running).
   * Undefined when no worker answers within the update timeout: the conversation starts when one does.
   */
  private async agentOf(workflowId: string): Promise<AgentView | undefined> {
    try {
      return await this.update(workflowId, 'agentReady', (updateId) =>
        this.handle(workflowId).executeUpdate(agentReadyUpdate, { updateId }),
      );
    } catch (err) {
      if (err instanceof AgentError && err.code === 'no_worker') return undefined;
      if (err instanceof AgentError && err.code === 'refused') {
        // Refused at start: the run failed, and its failure says why (an update that arrived after it
        // failed only hears "ended"). Parked instead (its agent could not be listed): say so.
        const handle = this.handle(workflowId);
        const { status } = await handle.describe();
        if (status.name === 'RUNNING') throw err;
        const failure = await handle.result().then(
          () => undefined,
          (e: unknown) => (e instanceof Error && e.cause instanceof Error ? e.cause.message : undefined),
        );
        throw new AgentError('invalid', failure ?? err.message, { cause: err });
      }
      throw err;
    }
  }

  /**
   * Sends a user message; answers with the turn it starts. Give a `messageId` to make it safe to send
   * again after a timeout: it is the update id, which Temporal deduplicates (the message is queued once).
   */
  sendMessage(
    workflowId: string,
    content: SendMessageInput['content'],
    options: { messageId?: string } = {},
  ): Promise<SendMessageResult> {
    // Past Temporal's payload limit the worker cannot even refuse it (the SDK echoes the request in its
    // refusal, which is then too large to send): say so here, before anything leaves.
    const bytes = Buffer.byteLength(JSON.stringify({ content }));
    if (bytes > MAX_UPDATE_BYTES) {
      return Promise.reject(
        new AgentError(
          'invalid',
          `message too large: ${bytes} bytes of JSON, past the ${MAX_UPDATE_BYTES} bytes an update may carry (Temporal's payload limit, less room for the reply)`,
        ),
      );
    }
    return this.update(
      workflowId,
      'sendMessage',
      (updateId) =>
        this.handle(workflowId).executeUpdate(sendMessageUpdate, { args: [{ content }], updateId }),
      options.messageId,
    );
  }

  /**
   * Approves, rejects or edits pending tool calls (one or several); answers with the recorded
   * decisions. Safe to retry: an identical repeat is answered with the recorded decision, not applied twice.
   */
  decide(workflowId: string, decisions: DecisionRequest | DecisionRequest[]): Promise<RecordedDecision[]> {
    // Where it came from, unless the caller says (the CLI, the ops server): this client.
    const withChannel = (d: DecisionRequest): DecisionRequest => ({ channel: 'client', ...d });
    const input = Array.isArray(decisions)
      ? { decisions: decisions.map(withChannel) }
      : withChannel(decisions);
    // Held here to the rules the workflow holds it to, so a decision too deep or too large to even send
    // gets the same clear answer as one the workflow refuses.
    const checked = DecideToolCallSchema.safeParse(input);
    if (!checked.success)
      return Promise.reject(new AgentError('invalid', `invalid decision: ${formatIssues(checked.error)}`));
    return this.update(workflowId, 'decide', (updateId) =>
      this.handle(workflowId).executeUpdate(decideToolCallUpdate, { args: [input], updateId }),
    );
  }

  resume(workflowId: string, by?: string, note?: string): Promise<ConversationStatus> {
    return this.update(workflowId, 'resume', (updateId) =>
      this.handle(workflowId).executeUpdate(resumeUpdate, { args: [{ by, note }], updateId }),
    );
  }

  end(workflowId: string, by?: string, reason?: string): Promise<ConversationStatus> {
    return this.update(workflowId, 'end', (updateId) =>
      this.handle(workflowId).executeUpdate(endUpdate, { args: [{ by, reason }], updateId }),
    );
  }

  /**
   * Sets new budget ceilings (each one given replaces its old value; `by` and `note` go to the log);
   * a conversation parked on its budget goes on if it is now under it. Answers with the new budget.
   * Refused (`refused`, with the reason) without `usd` or `tokens`, or once the conversation has ended.
   */
  raiseBudget(workflowId: string, request: RaiseBudgetRequest): Promise<Budget> {
    return this.update(workflowId, 'raiseBudget', (updateId) =>
      this.handle(workflowId).executeUpdate(raiseBudgetUpdate, { args: [request], updateId }),
    );
  }

  /**
   * Compacts the conversation at its next safe point (at once when idle or parked on its context
   * window; before the next model call when running): the API summarizes it, the prompt starts at the
   * summary, the transcript keeps everything. `instructions` replace the summarization prompt for this
   * compaction. Refused (`refused`) once ended, or when the conversation compacts server-side.
   */
  compact(workflowId: string, request: CompactRequest = {}): Promise<CompactionView> {
    return this.update(workflowId, 'compact', (updateId) =>
      this.handle(workflowId).executeUpdate(compactUpdate, { args: [request], updateId }),
    );
  }

  /**
   * The messages before `before` that earlier runs hold (compacted and not carried into the current
   * run), oldest first, each with its index in the whole transcript: read from those runs' histories
   * (a query on a closed run replays it on a worker). Stops at `limit` messages (default 1000).
   */
  async earlierMessages(
    workflowId: string,
    options: { before?: number; limit?: number } = {},
  ): Promise<Array<{ index: number; message: MessageParam; meta?: MessageMeta }>> {
    const limit = options.limit ?? 1000;
    const state = await this.getState(workflowId, { from: 0, to: 0 });
    let earlier = state.compaction?.earlier;
    const found: Array<{ index: number; message: MessageParam; meta?: MessageMeta }> = [];
    while (earlier && found.length < limit) {
      const runId = earlier.runId;
      const run = this.client.workflow.getHandle<typeof conversationWorkflow>(workflowId, runId);
      const to = Math.min(earlier.firstIndex, options.before ?? earlier.firstIndex);
      let from = to;
      let older: ConversationState | undefined;
      // One run's messages, newest pages first (each answer fits one payload).
      while (found.length < limit) {
        const page = await this.call(workflowId, () => run.query(stateQuery, { from: 0, to: from }));
        older ??= page;
        if (page.messages.length === 0 || page.from >= from) break;
        found.unshift(
          ...page.messages.map((message, i) => ({ index: page.from + i, message, meta: page.meta[i] })),
        );
        from = page.from;
      }
      earlier = older?.compaction?.earlier;
    }
    return found.slice(-limit);
  }

  /**
   * Starts a new conversation from another's transcript up to message `at` (an index of the whole
   * transcript, as `state.from` counts), linked to it (`state.forkedFrom`): to replay a turn with a
   * different decision, say. Fork at a user message and the new conversation answers it again; at a
   * finished answer and it waits for `message` (or for `sendMessage`). A point inside a tool round (a
   * tool call or its results) is refused: the API needs both or neither. The fork takes the origin's
   * agent (or model) unless `input` says otherwise; an ad-hoc origin's system prompt and tools must be
   * given again in `input`. The messages start at the origin's last compaction before `at`, as its
   * prompt did. `by` names who forked it: the fork keeps it with the time (`state.forkedFrom`), and
   * the audit shows it as an operator action.
   */
  async fork(
    workflowId: string,
    options: {
      at: number;
      message?: ConversationInput['message'];
      input?: Partial<ConversationInput>;
      workflowId?: string;
      by?: string;
    },
  ): Promise<StartedConversation> {
    const { at } = options;
    if (!Number.isInteger(at) || at < 0)
      throw new AgentError('invalid', `at must be a message index, not ${at}`);
    const state = await this.getState(workflowId, { from: 0 });
    const earlier =
      at < state.from && at < state.messageCount
        ? await this.earlierMessages(workflowId, { before: state.from })
        : [];
    const { messages, message: first } = forkPlan(state, earlier, at, options.message);
    const settings = await this.forkSettings(workflowId, state, options.input);
    const from = {
      workflowId,
      index: at,
      ...(options.by !== undefined && { by: options.by }),
      at: new Date().toISOString(),
    };
    const input: ConversationInput = {
      ...settings,
      ...(first !== undefined && { message: first }),
      fork: { from, messages },
    };
    const bytes = Buffer.byteLength(JSON.stringify(input));
    if (bytes > MAX_UPDATE_BYTES)
      throw new AgentError(
        'invalid',
        `the fork's transcript is ${bytes} bytes, past what a start may carry (${MAX_UPDATE_BYTES}): compact the conversation first`,
      );
    return this.startConversation(input, { workflowId: options.workflowId ?? forkId(workflowId) });
  }

  /**
   * What a fork runs with: the origin's settings (its tenant, agent or model, tools, system prompt,
   * limits), what is left of its budget, and the caller's `overrides`. Refused where the fork could not
   * keep what scopes the origin: another tenant, a budget above what is left, a budget already spent.
   */
  private async forkSettings(
    workflowId: string,
    state: ConversationState,
    overrides: Partial<ConversationInput> = {},
  ): Promise<ConversationInput> {
    const settings = await this.call(workflowId, () => this.handle(workflowId).query(settingsQuery)).catch(
      (err: unknown) => {
        if (err instanceof AgentError && err.code !== 'refused') throw err;
        throw new AgentError(
          'unavailable',
          `${quote(workflowId)} did not say what it runs with (a worker older than forks that keep their tenant?): update its workers, then fork`,
          { cause: err },
        );
      },
    );
    const tenant = settings.tenant ?? 'default';
    if (overrides.tenant !== undefined && overrides.tenant !== tenant)
      throw new AgentError(
        'invalid',
        `a fork works for its origin's tenant (${tenant}), not ${quote(overrides.tenant)}: start a new conversation for another tenant`,
      );
    const left = state.budget && budgetLeft(state.budget);
    if (left && ((left.usd ?? 1) <= 0 || (left.tokens ?? 1) <= 0))
      throw new AgentError(
        'refused',
        `${quote(workflowId)} has spent its budget: raise it (raiseBudget) before forking, or the fork would spend past it`,
      );
    const over =
      left &&
      (['usd', 'tokens'] as const).find(
        (k) => left[k] !== undefined && overrides.budget?.[k] !== undefined && overrides.budget[k] > left[k],
      );
    if (left && over)
      throw new AgentError(
        'invalid',
        `a fork's budget stays within what its origin has left (${over}: ${left[over]}): raise the origin's budget first`,
      );
    return { ...settings, ...overrides, ...(left && { budget: { ...left, ...overrides.budget } }) };
  }

  /** Cancels a conversation (aborting the model stream in flight). */
  async cancel(workflowId: string): Promise<void> {
    await this.call(workflowId, () => this.handle(workflowId).cancel());
  }

  /**
   * The conversation's live model stream (text, thinking and tool input as they are written), from the
   * ops server's hub: a snapshot first, then every change; ends when `signal` aborts.
   */
  watch(
    workflowId: string,
    options: { opsUrl: string; opsToken: string; signal?: AbortSignal },
  ): AsyncGenerator<LiveMessage> {
    return subscribeLive({
      url: options.opsUrl,
      token: options.opsToken,
      workflowId,
      signal: options.signal,
    });
  }

  /** The conversation's state (the whole transcript, or a range). */
  getState(workflowId: string, range: StateQueryOptions = {}): Promise<ConversationState> {
    return this.call(workflowId, async () => {
      const deadline = Date.now() + this.queryTimeoutMs;
      try {
        return await this.client.connection.withDeadline(deadline, () =>
          this.handle(workflowId).query(stateQuery, range),
        );
      } catch (err) {
        throw passingQueryFailure(err, deadline, workflowId, this.taskQueue) ?? err;
      }
    });
  }

  /**
   * Conversations, newest first, from the visibility store (`status` filters by AgentStatus; `limit`,
   * 1 to 1000, default 50). Throws {@link AgentError} `invalid` for a status not in
   * `CONVERSATION_STATUSES` or a bad limit.
   */
  async listConversations(
    options: { status?: ConversationStatus; agent?: string; limit?: number; withUsage?: boolean } = {},
  ): Promise<ConversationSummary[]> {
    // The visibility query is built from our own constants only: the status is looked up in the list
    // (a caller's string is never pasted in, so `idle" OR WorkflowType = "x` cannot widen the query).
    const status =
      options.status === undefined ? undefined : CONVERSATION_STATUSES.find((s) => s === options.status);
    if (options.status !== undefined && status === undefined) {
      const given = String(options.status);
      throw new AgentError(
        'invalid',
        `unknown status ${JSON.stringify(given.length > 40 ? `${given.slice(0, 40)}…` : given)}: one of ${CONVERSATION_STATUSES.join(', ')}`,
      );
    }
    const limit = options.limit ?? 50;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000)
      throw new AgentError('invalid', `limit must be a positive integer up to 1000, not ${String(limit)}`);
    // An agent name has no quote, space or operator in it (AGENT_NAME_PATTERN): safe in the query.
    if (options.agent !== undefined && !AGENT_NAME_PATTERN.test(options.agent)) {
      throw new AgentError('invalid', `not an agent name: ${quote(String(options.agent), 80)}`);
    }
    const clauses = [`WorkflowType = "${CONVERSATION_WORKFLOW}"`];
    if (status) clauses.push(`${AGENT_STATUS.name} = "${status}"`);
    if (options.agent !== undefined) clauses.push(`${AGENT_NAME.name} = "${options.agent}"`);
    const rows: ConversationSummary[] = [];
    for await (const wf of this.client.workflow.list({ query: clauses.join(' AND '), pageSize: limit })) {
      const attrs = wf.typedSearchAttributes;
      rows.push({
        workflowId: wf.workflowId,
        status: (attrs.get(AGENT_STATUS) as ConversationStatus | undefined) ?? 'unknown',
        agent: attrs.get(AGENT_NAME) ?? null,
        model: attrs.get(AGENT_MODEL) ?? null,
        lastActivity: attrs.get(AGENT_LAST_ACTIVITY)?.toISOString() ?? null,
        startedAt: wf.startTime.toISOString(),
        pendingApprovals: attrs.get(AGENT_PENDING_APPROVALS) ?? 0,
        usage: null,
      });
      if (rows.length >= limit) break;
    }
    if (options.withUsage) {
      await inPool(rows, 16, async (row) => {
        try {
          row.usage = (await this.getState(row.workflowId, { from: 0, to: 0 })).usage;
        } catch {
          // A closed conversation whose worker is gone, say: the row stays without usage.
        }
      });
    }
    return rows;
  }

  /**
   * Every tool call waiting for a decision, across running conversations, oldest first: as far as they
   * can be read. A conversation whose state cannot be read (its query fails or times out) is left out
   * and reported to `onUnreadable`, so one broken conversation does not hide every other one; one that
   * is gone by the time it is read is left out silently. Fails only when the list itself cannot be read.
   */
  async listPendingApprovals(options: ListPendingApprovalsOptions = {}): Promise<PendingApprovalItem[]> {
    const query = `WorkflowType = "${CONVERSATION_WORKFLOW}" AND ${AGENT_PENDING_APPROVALS.name} > 0 AND ExecutionStatus = "Running"`;
    const limit = options.limit ?? 200;
    const rows = await this.call(undefined, async () => {
      const listed: PendingConversationRow[] = [];
      for await (const wf of this.client.workflow.list({ query, pageSize: limit })) {
        const attrs = wf.typedSearchAttributes;
        listed.push({
          workflowId: wf.workflowId,
          runId: wf.runId,
          pendingApprovals: attrs.get(AGENT_PENDING_APPROVALS) ?? 0,
          lastActivity: attrs.get(AGENT_LAST_ACTIVITY)?.toISOString() ?? null,
        });
        if (listed.length >= limit) break;
      }
      return listed;
    });
    const read =
      options.read ??
      ((row: PendingConversationRow) =>
        this.getState(row.workflowId, { from: 0, to: 0 }).then(pendingCallsOf));
    const items: PendingApprovalItem[] = [];
    // A bounded number of state queries at once: a long queue must not flood the worker with queries.
    await inPool(rows, 16, async (row) => {
      try {
        const { pendingApprovals, model, agent, parent } = await read(row);
        const workflowId = row.workflowId;
        const owner = { workflowId, model, ...(agent && { agent }), ...(parent && { parent }) };
        for (const p of pendingApprovals) items.push({ ...p, ...owner });
      } catch (err) {
        if (err instanceof AgentError && err.code === 'not_found') return;
        const message = err instanceof Error ? err.message : String(err);
        options.onUnreadable?.({
          workflowId: row.workflowId,
          code: err instanceof AgentError ? err.code : 'failed',
          error: message.length > 300 ? `${message.slice(0, 300)}…` : message,
        });
      }
    });
    return items.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  }

  /**
   * Every decision taken in `[since, until)` (the agent's conversations with `agent`), oldest first:
   * read from the states of the conversations the visibility store lists as running or closed since
   * `since` (a closed one is read by replaying it on a worker; a continued-as-new one's last run
   * carries its earlier runs' decisions). Conversations that cannot be read are named in `unreadable`.
   */
  async audit(options: AuditOptions): Promise<AuditResult> {
    const { since, until, agent } = options;
    if (!(since instanceof Date) || Number.isNaN(since.getTime()))
      throw new AgentError('invalid', 'since must be a valid time');
    if (until !== undefined && (!(until instanceof Date) || Number.isNaN(until.getTime())))
      throw new AgentError('invalid', 'until must be a valid time');
    if (agent !== undefined && !AGENT_NAME_PATTERN.test(agent))
      throw new AgentError('invalid', `not an agent name: ${quote(String(agent), 80)}`);
    const limit = options.limit ?? 1000;
    // Built from ISO times we formatted and a checked agent name: nothing a caller wrote is pasted in.
    const clauses = [
      `WorkflowType = "${CONVERSATION_WORKFLOW}"`,
      `(ExecutionStatus = "Running" OR CloseTime >= "${since.toISOString()}")`,
    ];
    if (until) clauses.push(`StartTime < "${until.toISOString()}"`);
    if (agent !== undefined) clauses.push(`${AGENT_NAME.name} = "${agent}"`);
    const ids = await this.call(undefined, async () => {
      const seen = new Set<string>();
      for await (const wf of this.client.workflow.list({ query: clauses.join(' AND ') })) {
        seen.add(wf.workflowId); // each run is listed: the latest run carries them all
        if (seen.size >= limit) break;
      }
      return [...seen];
    });
    const rows: AuditRow[] = [];
    const unreadable: AuditResult['unreadable'] = [];
    await inPool(ids, 8, async (id) => {
      try {
        rows.push(...auditRowsOf(id, await this.getState(id, { from: 0, to: 0 })));
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        unreadable.push({ workflowId: id, error: clipped(message, 300) });
      }
    });
    return { rows: inWindow(rows, since, until), unreadable };
  }

  private handle(workflowId: string): Handle {
    return this.client.workflow.getHandle<typeof conversationWorkflow>(workflowId);
  }

  /**
   * Runs an update until its deadline. One update id for every attempt, so Temporal applies it once
   * however often it is sent. Refusals the server gives for a passing state of the run are sent again
   * after a short, jittered pause: a workflow task that failed while the update waited (a worker that
   * died or faulted mid-task; `FAILED_PRECONDITION`), a run that is closing into its successor
   * (continue-as-new; `RESOURCE_EXHAUSTED` "Workflow is closing", the new run takes it) and an update the
   * server aborted (`UNAVAILABLE`). An update the server closed because no worker processed it
   * (`UnprocessedUpdate`: nothing was applied, but its id is spent) is sent again under a new id, the
   * first one with a suffix (`<id>~2`, ...). Each retry is told to the {@link onUpdateRetry} listeners.
   * A validator's refusal becomes an {@link AgentError} `refused` that carries its reason.
   */
  private update<T>(
    workflowId: string,
    operation: string,
    run: (updateId: string) => Promise<T>,
    firstUpdateId: string = randomUUID(),
  ): Promise<T> {
    return this.call(workflowId, async () => {
      const deadline = Date.now() + this.updateTimeoutMs;
      let updateId = firstUpdateId;
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.client.connection.withDeadline(deadline, () => run(updateId));
        } catch (err) {
          // What the data converter cannot encode never left: the caller's input is at fault.
          if (err instanceof PayloadConverterError || err instanceof ValueError)
            throw new AgentError('invalid', `${operation}: the request cannot be sent (${err.message})`, {
              cause: err,
            });
          const unprocessed = unprocessedUpdate(err);
          if (unprocessed === undefined && err instanceof WorkflowUpdateFailedError) {
            const reason = err.cause instanceof Error ? err.cause.message : err.message;
            throw new AgentError('refused', reason, { cause: err });
          }
          const reason = unprocessed ?? retryableUpdateRefusal(err);
          const pause = Math.min(1000, 100 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
          if (!reason || Date.now() + pause >= deadline) {
            if (unprocessed === undefined) throw err;
            throw new AgentError(
              'unavailable',
              `${operation} was not processed by a worker: ${unprocessed}`,
              {
                cause: err,
              },
            );
          }
          for (const listener of this.retryListeners)
            listener({ workflowId, operation, updateId, attempt, reason });
          if (unprocessed !== undefined) updateId = `${firstUpdateId}~${attempt + 1}`;
          await new Promise((resolve) => setTimeout(resolve, pause));
        }
      }
    });
  }

  /**
   * Hears every update this client sends again (see {@link update}'s rules): the CLI prints it, the ops
   * server reports it on the request that caused it. Listeners run in the caller's async context.
   * Returns the function that removes the listener.
   */
  onUpdateRetry(listener: (retry: UpdateRetry) => void): () => void {
    this.retryListeners.add(listener);
    return () => this.retryListeners.delete(listener);
  }

  /**
   * Runs a call to Temporal and says what went wrong as an {@link AgentError}: by the gRPC status code,
   * wherever it sits in the cause chain (the SDK wraps it: a query that timed out is a `ServiceError`
   * whose `cause` carries DEADLINE_EXCEEDED), never by the wording of a message. `workflowId` is
   * undefined for calls about no one conversation (the visibility list).
   */
  private async call<T>(workflowId: string | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof AgentError) throw err;
      // Ids are up to 1,000 characters: messages quote the start of one, not all of it.
      const id = workflowId === undefined ? '' : clipped(workflowId);
      if (workflowId !== undefined && err instanceof WorkflowNotFoundError) {
        // Updates to a closed workflow say "not found" too: tell an ended conversation from a missing one.
        const ended = await this.handle(workflowId)
          .describe()
          .then((d) => d.status.name)
          .catch(() => undefined);
        if (ended)
          throw new AgentError('refused', `the conversation ${id} has ended (${ended.toLowerCase()})`, {
            cause: err,
          });
        throw new AgentError('not_found', `no conversation with id ${id}`, { cause: err });
      }
      const grpc = grpcErrorOf(err);
      if (grpc?.code === GRPC_STATUS.DEADLINE_EXCEEDED && workflowId !== undefined) {
        throw new AgentError(
          'no_worker',
          `no worker answered for ${id} on task queue ${this.taskQueue} in time (none is running, or it is overloaded): ` +
            'start one (`npm run worker`, or `npm start`), or try again. ' +
            'An update may or may not have been applied: a decision can be sent again safely; a message only with the same messageId.',
          { cause: err },
        );
      }
      if (grpc?.code === GRPC_STATUS.DEADLINE_EXCEEDED)
        throw new AgentError('unavailable', 'the Temporal server did not answer in time', { cause: err });
      if (grpc?.code === GRPC_STATUS.UNAVAILABLE)
        throw new AgentError(
          'unavailable',
          `the Temporal server is not reachable: ${clipped(grpc.details)}`,
          {
            cause: err,
          },
        );
      if (grpc?.code === GRPC_STATUS.RESOURCE_EXHAUSTED)
        throw new AgentError('unavailable', `the Temporal server is busy: ${clipped(grpc.details)}`, {
          cause: err,
        });
      throw err;
    }
  }
}

/**
 * A query failure that says nothing about the conversation, as an {@link AgentError} a caller can retry:
 * one that came at its deadline, however the server or the channel worded it (the server may answer
 * first with its own timeout), is `no_worker`; a query the server or the channel dropped on the way
 * (`CANCELLED`, `UNKNOWN`, `ABORTED`, `INTERNAL`: seen while a worker is killed mid-query) is
 * `unavailable`. Undefined for the rest (a workflow's own refusal, a missing conversation: `call` says).
 */
function passingQueryFailure(
  err: unknown,
  deadline: number,
  workflowId: string,
  taskQueue: string,
): AgentError | undefined {
  if (err instanceof AgentError || err instanceof WorkflowNotFoundError) return undefined;
  const grpc = grpcErrorOf(err);
  if (!grpc) return undefined;
  if (grpc.code === GRPC_STATUS.DEADLINE_EXCEEDED || Date.now() >= deadline - 50)
    return new AgentError(
      'no_worker',
      `no worker answered for ${clipped(workflowId)} on task queue ${taskQueue} in time (none is running, or it is overloaded): ` +
        'start one (`npm run worker`, or `npm start`), or try again.',
      { cause: err },
    );
  if (PASSING_QUERY_CODES.has(grpc.code))
    return new AgentError(
      'unavailable',
      `the query was dropped on its way (${clipped(grpc.details)}): try again`,
      {
        cause: err,
      },
    );
  return undefined;
}

/** gRPC statuses of a query lost in transit: CANCELLED, UNKNOWN, ABORTED, INTERNAL. */
const PASSING_QUERY_CODES = new Set([1, 2, 10, 13]);

/** A value quoted in an error message: its start when it is long. */
function clipped(text: string, max = 100): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

/** Most characters of a workflow id (Temporal's default limit). */
const MAX_WORKFLOW_ID_CHARS = 1000;
const FORK_SUFFIX = /(\.fork-[0-9a-f]{8})+$/;

/**
 * A new fork's id: its origin's id without earlier fork suffixes, then `.fork-` and 8 random hex
 * digits, so a chain of forks does not grow its ids (and the origin's own part is cut to fit).
 */
export function forkId(origin: string): string {
  const suffix = `.fork-${randomUUID().slice(0, 8)}`;
  return `${origin.replace(FORK_SUFFIX, '').slice(0, MAX_WORKFLOW_ID_CHARS - suffix.length)}${suffix}`;
}

/** What is left of a budget, per ceiling it has. */
function budgetLeft(budget: NonNullable<ConversationState['budget']>): Budget {
  return {
    ...(budget.limit.usd !== undefined && { usd: Math.max(0, budget.limit.usd - budget.spent.usd) }),
    ...(budget.limit.tokens !== undefined && {
      tokens: Math.max(0, budget.limit.tokens - budget.spent.tokens),
    }),
  };
}
