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
import type { PayloadCodec } from '@temporalio/common';
import { codecFromEnv } from '../codec';
import { temporalConnectOptions } from '../connection';
import type { LiveMessage } from '../streaming/protocol';
import { formatIssues } from '../api/issues';
import { subscribeLive } from '../streaming/subscribe';
import type { Config } from '../config';
import {
  decideToolCallUpdate,
  type DecisionRequest,
  type PendingApproval,
  type RecordedDecision,
} from '../api/approvals';
import {
  CONVERSATION_WORKFLOW,
  ConversationInputSchema,
  endUpdate,
  resumeUpdate,
  sendMessageUpdate,
  stateQuery,
  type ConversationInput,
  type ConversationState,
  type ConversationStatus,
  type SendMessageInput,
  type SendMessageResult,
  type StateQueryOptions,
  type UsageTotals,
} from '../api/conversation';
import {
  AGENT_LAST_ACTIVITY,
  AGENT_MODEL,
  AGENT_PENDING_APPROVALS,
  AGENT_STATUS,
} from '../api/search-attributes';
import type { conversationWorkflow } from '../workflows/conversation';

/** Why a client call failed, for exit codes and HTTP statuses. */
export type AgentErrorCode = 'invalid' | 'refused' | 'not_found' | 'unavailable' | 'no_worker';

/** A failure with a code and a message that says what to do. */
export class AgentError extends Error {
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AgentError';
  }
}

/** One row of a conversation list. */
export interface ConversationSummary {
  workflowId: string;
  status: ConversationStatus | 'unknown';
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

export class AgentClient {
  readonly client: Client;
  readonly taskQueue: string;
  private readonly queryTimeoutMs: number;
  private readonly updateTimeoutMs: number;

  constructor(options: AgentClientOptions) {
    this.client = options.client;
    this.taskQueue = options.taskQueue;
    this.queryTimeoutMs = options.queryTimeoutMs ?? 5000;
    this.updateTimeoutMs = options.updateTimeoutMs ?? 30_000;
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
  ): Promise<{ workflowId: string; runId: string }> {
    const parsed = ConversationInputSchema.safeParse(input);
    if (!parsed.success) {
      throw new AgentError('invalid', `invalid conversation input: ${formatIssues(parsed.error)}`);
    }
    const workflowId = options.workflowId ?? `conversation-${randomUUID()}`;
    const handle = await this.client.workflow.start<typeof conversationWorkflow>(CONVERSATION_WORKFLOW, {
      taskQueue: this.taskQueue,
      workflowId,
      args: [input],
    });
    return { workflowId, runId: handle.firstExecutionRunId };
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
    return this.update(workflowId, () =>
      this.handle(workflowId).executeUpdate(sendMessageUpdate, {
        args: [{ content }],
        ...(options.messageId && { updateId: options.messageId }),
      }),
    );
  }

  /**
   * Approves, rejects or edits pending tool calls (one or several); answers with the recorded
   * decisions. Safe to retry: an identical repeat is answered with the recorded decision, not applied twice.
   */
  decide(workflowId: string, decisions: DecisionRequest | DecisionRequest[]): Promise<RecordedDecision[]> {
    const input = Array.isArray(decisions) ? { decisions } : decisions;
    return this.update(workflowId, () =>
      this.handle(workflowId).executeUpdate(decideToolCallUpdate, { args: [input] }),
    );
  }

  resume(workflowId: string, by?: string, note?: string): Promise<ConversationStatus> {
    return this.update(workflowId, () =>
      this.handle(workflowId).executeUpdate(resumeUpdate, { args: [{ by, note }] }),
    );
  }

  end(workflowId: string, by?: string, reason?: string): Promise<ConversationStatus> {
    return this.update(workflowId, () =>
      this.handle(workflowId).executeUpdate(endUpdate, { args: [{ by, reason }] }),
    );
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
    return this.call(workflowId, () =>
      this.client.connection.withDeadline(Date.now() + this.queryTimeoutMs, () =>
        this.handle(workflowId).query(stateQuery, range),
      ),
    );
  }

  /** Conversations, newest first, from the visibility store (`status` filters by AgentStatus). */
  async listConversations(
    options: { status?: ConversationStatus; limit?: number; withUsage?: boolean } = {},
  ): Promise<ConversationSummary[]> {
    const clauses = [`WorkflowType = "${CONVERSATION_WORKFLOW}"`];
    if (options.status) clauses.push(`${AGENT_STATUS.name} = "${options.status}"`);
    const rows: ConversationSummary[] = [];
    for await (const wf of this.client.workflow.list({
      query: clauses.join(' AND '),
      pageSize: options.limit ?? 50,
    })) {
      const attrs = wf.typedSearchAttributes;
      rows.push({
        workflowId: wf.workflowId,
        status: (attrs.get(AGENT_STATUS) as ConversationStatus | undefined) ?? 'unknown',
        model: attrs.get(AGENT_MODEL) ?? null,
        lastActivity: attrs.get(AGENT_LAST_ACTIVITY)?.toISOString() ?? null,
        startedAt: wf.startTime.toISOString(),
        pendingApprovals: attrs.get(AGENT_PENDING_APPROVALS) ?? 0,
        usage: null,
      });
      if (rows.length >= (options.limit ?? 50)) break;
    }
    if (options.withUsage) {
      await Promise.all(
        rows.map(async (row) => {
          try {
            row.usage = (await this.getState(row.workflowId, { from: 0, to: 0 })).usage;
          } catch {
            // A closed conversation whose worker is gone, say: the row stays without usage.
          }
        }),
      );
    }
    return rows;
  }

  /** Every tool call waiting for a decision, across running conversations, oldest first. */
  async listPendingApprovals(options: { limit?: number } = {}): Promise<PendingApprovalItem[]> {
    const query = `WorkflowType = "${CONVERSATION_WORKFLOW}" AND ${AGENT_PENDING_APPROVALS.name} > 0 AND ExecutionStatus = "Running"`;
    const ids: string[] = [];
    for await (const wf of this.client.workflow.list({ query })) {
      ids.push(wf.workflowId);
      if (ids.length >= (options.limit ?? 200)) break;
    }
    const states = await Promise.all(
      ids.map((id) => this.getState(id, { from: 0, to: 0 }).then((s) => [id, s] as const)),
    );
    return states
      .flatMap(([workflowId, state]) =>
        state.pendingApprovals.map((p) => ({ ...p, workflowId, model: state.model })),
      )
      .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  }

  private handle(workflowId: string): Handle {
    return this.client.workflow.getHandle<typeof conversationWorkflow>(workflowId);
  }

  /** Runs an update, turning a validator's refusal into an {@link AgentError} that carries its reason. */
  private update<T>(workflowId: string, run: () => Promise<T>): Promise<T> {
    return this.call(workflowId, async () => {
      try {
        return await this.client.connection.withDeadline(Date.now() + this.updateTimeoutMs, run);
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) {
          const reason = err.cause instanceof Error ? err.cause.message : err.message;
          throw new AgentError('refused', reason, { cause: err });
        }
        throw err;
      }
    });
  }

  private async call<T>(workflowId: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof AgentError) throw err;
      if (err instanceof WorkflowNotFoundError) {
        // Updates to a closed workflow say "not found" too: tell an ended conversation from a missing one.
        const ended = await this.handle(workflowId)
          .describe()
          .then((d) => d.status.name)
          .catch(() => undefined);
        if (ended)
          throw new AgentError(
            'refused',
            `the conversation ${workflowId} has ended (${ended.toLowerCase()})`,
            { cause: err },
          );
        throw new AgentError('not_found', `no conversation with id ${workflowId}`, { cause: err });
      }
      const message = err instanceof Error ? err.message : String(err);
      if (/deadline|DEADLINE_EXCEEDED|no poller|timed? ?out/i.test(message)) {
        throw new AgentError(
          'no_worker',
          `no worker answered for ${workflowId} on task queue ${this.taskQueue} in time: start one (\`npm run worker\`, or \`npm start\`). ` +
            'The update may or may not have been applied: a decision can be sent again safely; a message only with the same messageId.',
          { cause: err },
        );
      }
      if (/UNAVAILABLE|ECONNREFUSED|connect/i.test(message)) {
        throw new AgentError('unavailable', `the Temporal server is not reachable: ${message}`, {
          cause: err,
        });
      }
      throw err;
    }
  }
}
