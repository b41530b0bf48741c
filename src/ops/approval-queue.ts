/**
 * The approval queue as the ops server serves it: every pending tool call across conversations, read
 * without one state query per pending conversation per request.
 *
 * A refresh lists the waiting conversations from the visibility store (one call) and reads a
 * conversation's pending calls again only when its `AgentPendingApprovals` or `AgentLastActivityTime`
 * search attribute (or its run) changed since the last read: the workflow upserts one of them on every
 * change to its approval queue, so an unchanged pair means unchanged pending calls. Requests that
 * arrive while a refresh runs share the next one, so the cost follows time, not the number of open
 * pages; an entry is also read again after `maxAgeMs`, in case an upsert was missed.
 */
import type {
  AgentClient,
  ConversationPendingCalls,
  PendingApprovalItem,
  PendingConversationRow,
  UnreadableConversation,
} from '../client';
import { pendingCallsOf } from '../client';

export interface ApprovalQueueOptions {
  agent: AgentClient;
  /** Conversations read at most (default 200). */
  limit?: number;
  /** A conversation's pending calls are read again after this long even if nothing changed (default 60 s). */
  maxAgeMs?: number;
  /** A conversation whose state could not be read is tried again after this long (default 5 s). */
  retryUnreadableMs?: number;
  /**
   * Reads a conversation's pending calls (default: `agent.getState(id, {from: 0, to: 0})`); the ops
   * server passes its `ConversationGate`'s read, so the queue's queries never overlap its updates.
   */
  getState?: (workflowId: string) => ReturnType<AgentClient['getState']>;
}

/** The queue: what could be read, and the conversations that could not be. */
export interface ApprovalQueueSnapshot {
  approvals: PendingApprovalItem[];
  unreadable: UnreadableConversation[];
}

interface Entry {
  /** The run and search attributes the read was made for. */
  key: string;
  at: number;
  read: Promise<ConversationPendingCalls>;
  failed: boolean;
}

export class ApprovalQueue {
  private readonly entries = new Map<string, Entry>();
  private running?: Promise<ApprovalQueueSnapshot>;
  private queued?: Promise<ApprovalQueueSnapshot>;
  /** Refreshes run and conversations read (for tests and the benchmark). */
  readonly stats = { refreshes: 0, reads: 0 };

  constructor(private readonly options: ApprovalQueueOptions) {}

  /**
   * The queue as of a refresh that started after this call: the one running now is shared only by
   * requests that came before it, so an answer never predates its request (a decision made just
   * before is seen), and all the requests that arrive during one refresh share the next.
   */
  read(): Promise<ApprovalQueueSnapshot> {
    if (!this.running) return this.start();
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  /** Forgets what is known of a conversation (after a decision through the ops API). */
  invalidate(workflowId: string): void {
    this.entries.delete(workflowId);
  }

  private start(): Promise<ApprovalQueueSnapshot> {
    const run = this.refresh().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  private async refresh(): Promise<ApprovalQueueSnapshot> {
    this.stats.refreshes++;
    const listed = new Set<string>();
    const unreadable: UnreadableConversation[] = [];
    const approvals = await this.options.agent.listPendingApprovals({
      limit: this.options.limit,
      read: (row) => {
        listed.add(row.workflowId);
        return this.readConversation(row);
      },
      onUnreadable: (conversation) => unreadable.push(conversation),
    });
    // Conversations no longer waiting (decided, ended) leave the cache with the list.
    for (const id of this.entries.keys()) if (!listed.has(id)) this.entries.delete(id);
    return { approvals, unreadable };
  }

  /** A conversation's pending calls: from the cache while its search attributes are unchanged. */
  private readConversation(row: PendingConversationRow): Promise<ConversationPendingCalls> {
    const key = `${row.runId}|${row.pendingApprovals}|${row.lastActivity ?? ''}`;
    const now = Date.now();
    const cached = this.entries.get(row.workflowId);
    const ttl = cached?.failed ? (this.options.retryUnreadableMs ?? 5000) : (this.options.maxAgeMs ?? 60_000);
    if (cached && cached.key === key && now - cached.at < ttl) return cached.read;
    this.stats.reads++;
    const entry: Entry = {
      key,
      at: now,
      failed: false,
      read: (this.options.getState
        ? this.options.getState(row.workflowId)
        : this.options.agent.getState(row.workflowId, { from: 0, to: 0 })
      ).then(pendingCallsOf),
    };
    // A failed read is kept for retryUnreadableMs: a broken conversation costs a query now and then,
    // not one per refresh (its query may take the whole query timeout).
    entry.read.catch(() => {
      entry.failed = true;
      entry.at = Date.now();
    });
    this.entries.set(row.workflowId, entry);
    return entry.read;
  }
}
