/**
 * The ops page's live data without one workflow query per open page: one feed per watched
 * conversation (and one for the approval queue) reads the state once per change and sends it to every
 * subscriber (server-sent events, src/ops/sse.ts).
 *
 * What counts as a change, noticed by one reader for all open pages:
 * - the visibility store: every `pollMs`, one list call for all the watched conversations compares
 *   their run, execution status and search attributes (`AgentStatus`, `AgentLastActivityTime`,
 *   `AgentPendingApprovals`, which the workflow upserts on every status change and decision);
 * - the live stream hub: a model call that starts or ends means the transcript moved on;
 * - an update this server ran (a decision, a budget raise, a compaction).
 * A change triggers one state query (through the {@link ConversationGate}, so it never overlaps this
 * server's updates to that conversation); the answer is sent only if it differs from the last one. A
 * watched conversation that is still running is read again after `maxAgeMs` in case a change was missed.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { AGENT_LAST_ACTIVITY, AGENT_PENDING_APPROVALS, AGENT_STATUS } from '../api/search-attributes';
import { AgentError, type AgentClient } from '../client';
import type { StreamHub } from '../streaming/hub';
import type { ApprovalQueue } from './approval-queue';
import { ConversationGate } from './conversation-gate';
import { SSE_EPOCH, type SseEvent } from './sse';

/** What a conversation feed sends: the state, or why there is none. */
export type ConversationFeedData =
  | { type: 'state'; state: Awaited<ReturnType<AgentClient['getState']>> & { workflowId: string } }
  | { type: 'error'; code: string; message: string };

/** A subscriber: gets each new event (the current one first). */
export type FeedSubscriber = (event: SseEvent) => void;

/** What the visibility store says of a run, enough to notice a change. */
export interface VisibilityRow {
  workflowId: string;
  runId: string;
  startTime: Date;
  status: { name: string };
  typedSearchAttributes: { get: (key: never) => unknown };
}

export interface StateFeedOptions {
  agent: AgentClient;
  gate?: ConversationGate;
  hub?: StreamHub;
  queue?: ApprovalQueue;
  /** How often the visibility store is asked about the watched conversations (default 1 s). */
  pollMs?: number;
  /** A running conversation is read again after this long even if nothing changed (default 30 s). */
  maxAgeMs?: number;
  /** After a failed read, the next try waits this long, doubling up to 30 s (default 1 s). */
  retryMs?: number;
  /** After a hub event, the read waits this long for the workflow to record the change (default 300 ms). */
  hubDelayMs?: number;
  /** Lists the visibility rows of these ids (default: one `WorkflowId IN (...)` list call). */
  list?: (ids: string[]) => AsyncIterable<VisibilityRow>;
}

interface Watch {
  id: string;
  subscribers: Set<FeedSubscriber>;
  /** The visibility key last seen (undefined: not listed yet). */
  key?: string;
  running: boolean;
  version: number;
  event?: SseEvent;
  json?: string;
  reading: boolean;
  again: boolean;
  readAt: number;
  /** When the first read began (to judge the first listing against). */
  readStartedAt?: number;
  failures: number;
  retryAt: number;
  /** The last read said it does not exist: read again only when the visibility store lists it. */
  missing: boolean;
  timer?: NodeJS.Timeout;
  unhub?: () => void;
}

/** Ids safe to put between double quotes in a visibility query; others are described one by one. */
const LISTABLE_ID = /^[^"'\\\u0000-\u001f\u007f]{1,1000}$/;
const LIST_BATCH = 100;
/** Unlistable ids described at once. */
const DESCRIBE_BATCH = 8;

export class StateFeed {
  readonly gate: ConversationGate;
  private readonly watches = new Map<string, Watch>();
  private readonly queueSubscribers = new Set<FeedSubscriber>();
  private queueEvent?: SseEvent;
  private queueJson?: string;
  private queueVersion = 0;
  private queueReading = false;
  private queueAgain = false;
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private closed = false;
  /** Calls to Temporal under way: {@link close} waits for them. */
  private readonly calls = new Set<Promise<unknown>>();
  /** Visibility list calls, describes, state reads, events sent (to all subscribers), queue refreshes. */
  readonly stats = {
    lists: 0,
    describes: 0,
    reads: 0,
    failedReads: 0,
    versions: 0,
    delivered: 0,
    queueRefreshes: 0,
  };

  constructor(private readonly options: StateFeedOptions) {
    this.gate = options.gate ?? new ConversationGate();
  }

  /** State queries this server made (feeds, the queue, the API), for tests and the benchmark. */
  get queries(): number {
    return this.gate.stats.queries;
  }

  /** State reads under way: with nobody subscribed and none under way, `queries` stays as it is. */
  get readsInFlight(): number {
    return this.gate.readsInFlight;
  }

  /**
   * Follows a conversation: `subscriber` gets its state now if known (unless `lastEventId` is that
   * very event: the client is up to date), then every change. Returns the unsubscribe. `missing`: the
   * caller found that the conversation does not exist ({@link exists}); it is then not read until the
   * visibility store lists it (it may start later), and the subscriber is told so at once.
   */
  subscribe(
    workflowId: string,
    subscriber: FeedSubscriber,
    lastEventId?: string,
    missing = false,
  ): () => void {
    let watch = this.watches.get(workflowId);
    if (!watch) {
      watch = {
        id: workflowId,
        subscribers: new Set(),
        running: true,
        version: 0,
        reading: false,
        again: false,
        readAt: 0,
        failures: 0,
        retryAt: 0,
        missing: false,
      };
      this.watches.set(workflowId, watch);
      const w = watch;
      // The hub says when a model call starts or ends: the transcript has moved (or is about to).
      w.unhub = this.options.hub?.subscribe(workflowId, (message) => {
        if (message.type === 'reset' || message.type === 'end' || (message.type === 'snapshot' && w.event))
          this.changed(workflowId, this.options.hubDelayMs ?? 300);
      });
      if (missing) this.markMissing(watch);
      else void this.read(watch);
    }
    watch.subscribers.add(subscriber);
    if (watch.event && watch.event.id !== lastEventId) this.deliver(subscriber, watch.event);
    this.schedule();
    return () => {
      const w = this.watches.get(workflowId);
      if (!w) return;
      w.subscribers.delete(subscriber);
      if (w.subscribers.size > 0) return;
      clearTimeout(w.timer);
      w.unhub?.();
      this.watches.delete(workflowId);
    };
  }

  /** Whether this feed follows the conversation (someone is subscribed). */
  follows(workflowId: string): boolean {
    return this.watches.has(workflowId);
  }

  /**
   * Whether the conversation exists, as the server's record says (a describe: no worker involved, no
   * state read). When the server cannot say, it may: the feed's own reads tell the subscriber.
   */
  async exists(workflowId: string): Promise<boolean> {
    this.stats.describes++;
    try {
      await this.track(this.options.agent.client.workflow.getHandle(workflowId).describe());
      return true;
    } catch (err) {
      return !(err instanceof WorkflowNotFoundError);
    }
  }

  /** Follows the approval queue (needs `queue`): the current queue now, then every change. */
  subscribeQueue(subscriber: FeedSubscriber, lastEventId?: string): () => void {
    this.queueSubscribers.add(subscriber);
    if (this.queueEvent && this.queueEvent.id !== lastEventId) this.deliver(subscriber, this.queueEvent);
    else if (!this.queueEvent) void this.refreshQueue();
    this.schedule();
    return () => {
      this.queueSubscribers.delete(subscriber);
    };
  }

  /** Something changed in a conversation (an update answered, a hub event): read it (after `delayMs`). */
  changed(workflowId: string, delayMs = 0): void {
    const watch = this.watches.get(workflowId);
    if (watch) {
      clearTimeout(watch.timer);
      watch.timer = setTimeout(() => void this.read(watch), delayMs);
    }
    if (this.queueSubscribers.size > 0) {
      this.options.queue?.invalidate(workflowId);
      void this.refreshQueue();
    }
  }

  /**
   * The state for the JSON API (`GET /api/conversations/:id`): the feed's when it follows the
   * conversation, else one query shared by concurrent callers.
   */
  async state(workflowId: string): Promise<ConversationFeedData & { type: 'state' }> {
    const watch = this.watches.get(workflowId);
    if (watch?.event && (watch.event.data as ConversationFeedData).type === 'state' && !watch.reading)
      return watch.event.data as ConversationFeedData & { type: 'state' };
    const state = await this.gate.read(workflowId, () => this.options.agent.getState(workflowId));
    return { type: 'state', state: { workflowId, ...state } };
  }

  /** Runs an update of this server to a conversation: never alongside a query; a read follows it. */
  async update<T>(workflowId: string, run: () => Promise<T>): Promise<T> {
    try {
      return await this.gate.update(workflowId, run);
    } finally {
      this.changed(workflowId);
    }
  }

  /** Conversations followed and subscribers, for tests and the benchmark. */
  get size(): { conversations: number; subscribers: number; queueSubscribers: number } {
    let subscribers = 0;
    for (const w of this.watches.values()) subscribers += w.subscribers.size;
    return { conversations: this.watches.size, subscribers, queueSubscribers: this.queueSubscribers.size };
  }

  /**
   * Stops following everything, and waits for the calls to Temporal under way (a client closed with a
   * call still retrying would have its retry fail later, outside any caller).
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const w of this.watches.values()) {
      clearTimeout(w.timer);
      w.unhub?.();
    }
    this.watches.clear();
    this.queueSubscribers.clear();
    await Promise.allSettled([...this.calls]);
  }

  /** A call to Temporal: {@link close} waits for it. */
  private track<T>(call: Promise<T>): Promise<T> {
    this.calls.add(call);
    const done = () => void this.calls.delete(call);
    call.then(done, done);
    return call;
  }

  /** Polls while anyone follows anything. */
  private schedule(): void {
    if (this.closed || this.timer) return;
    if (this.watches.size === 0 && this.queueSubscribers.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick().finally(() => this.schedule());
    }, this.options.pollMs ?? 1000);
  }

  /** One round: one list call for the watched conversations, one queue refresh, reads where changed. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      // Not awaited: a queue read stuck on a conversation without a worker must not hold the others.
      if (this.queueSubscribers.size > 0) void this.refreshQueue();
      if (this.watches.size === 0) return;
      const rows = await this.track(this.listRows([...this.watches.keys()]));
      if (this.closed) return;
      const now = Date.now();
      for (const watch of this.watches.values()) {
        const row = rows.get(watch.id);
        const key = row ? keyOf(row) : 'absent';
        // The first listing of a conversation is its baseline: if it shows activity from after the
        // first read began (less a margin for clocks), that read may have missed it: read once more.
        // (One known not to exist has changed once it is listed.)
        const changed =
          watch.key === undefined
            ? watch.missing
              ? row !== undefined
              : watch.readStartedAt === undefined ||
                lastActivity(row) >= watch.readStartedAt - CLOCK_MARGIN_MS
            : key !== watch.key;
        watch.key = key;
        if (row) watch.running = row.status.name === 'RUNNING';
        if (watch.reading) {
          if (changed) watch.again = true;
        } else if (changed && (watch.missing || now >= watch.retryAt)) void this.read(watch);
        else if (watch.missing) continue;
        else if (watch.failures > 0 && now >= watch.retryAt) void this.read(watch);
        else if (watch.running && now - watch.readAt >= (this.options.maxAgeMs ?? 30_000))
          void this.read(watch);
      }
    } catch {
      // The visibility store did not answer: the next round asks again; subscribers keep the last state.
    } finally {
      this.ticking = false;
    }
  }

  private async listRows(ids: string[]): Promise<Map<string, VisibilityRow>> {
    const rows = new Map<string, VisibilityRow>();
    const keep = (row: VisibilityRow) => {
      const seen = rows.get(row.workflowId);
      if (!seen || row.startTime.getTime() >= seen.startTime.getTime()) rows.set(row.workflowId, row);
    };
    const listable = ids.filter((id) => LISTABLE_ID.test(id));
    const list = this.options.list ?? ((batch: string[]) => this.listByIds(batch));
    for (let i = 0; i < listable.length; i += LIST_BATCH) {
      this.stats.lists++;
      for await (const row of list(listable.slice(i, i + LIST_BATCH))) keep(row);
    }
    // Ids with quotes or backslashes are never pasted into a query: described (no worker involved), a
    // few at a time; one that does not exist less and less often (up to every 30 s). Each caller holds a
    // bounded number of feeds.
    const now = Date.now();
    const unlistable = ids.filter((x) => {
      const watch = this.watches.get(x);
      return !LISTABLE_ID.test(x) && !(watch?.missing && now < watch.retryAt);
    });
    for (let i = 0; i < unlistable.length; i += DESCRIBE_BATCH) {
      const batch = unlistable.slice(i, i + DESCRIBE_BATCH);
      this.stats.describes += batch.length;
      const described = await Promise.all(
        batch.map((id) =>
          this.options.agent.client.workflow
            .getHandle(id)
            .describe()
            .catch(() => undefined),
        ),
      );
      for (const [j, description] of described.entries()) {
        if (description) keep(description as unknown as VisibilityRow);
        else this.backOff(this.watches.get(batch[j]));
      }
    }
    return rows;
  }

  private listByIds(ids: string[]): AsyncIterable<VisibilityRow> {
    const query = `WorkflowId IN (${ids.map((id) => `"${id}"`).join(', ')})`;
    return this.options.agent.client.workflow.list({ query, pageSize: 1000 }) as AsyncIterable<VisibilityRow>;
  }

  /** Reads a watched conversation (once at a time; a change meanwhile means one more read). */
  private async read(watch: Watch): Promise<void> {
    if (this.closed) return;
    if (watch.reading) {
      watch.again = true;
      return;
    }
    watch.reading = true;
    watch.again = false;
    watch.readStartedAt ??= Date.now();
    clearTimeout(watch.timer);
    let data: ConversationFeedData | undefined;
    try {
      this.stats.reads++;
      const state = await this.track(this.gate.read(watch.id, () => this.options.agent.getState(watch.id)));
      data = { type: 'state', state: { workflowId: watch.id, ...state } };
      watch.failures = 0;
      watch.retryAt = 0;
      watch.missing = false;
    } catch (err) {
      this.stats.failedReads++;
      watch.missing = err instanceof AgentError && err.code === 'not_found';
      this.backOff(watch);
      // A conversation that does not exist is said so; a passing failure (no worker while one restarts)
      // keeps the last state on the pages, which show they are out of date only if nothing was read yet.
      if (err instanceof AgentError && (err.code === 'not_found' || !watch.event))
        data = { type: 'error', code: err.code, message: err.message };
      else if (!watch.event)
        data = { type: 'error', code: 'failed', message: err instanceof Error ? err.message : String(err) };
    } finally {
      watch.readAt = Date.now();
      watch.reading = false;
    }
    if (data && this.watches.get(watch.id) === watch) this.publish(watch, data);
    if (watch.again && this.watches.get(watch.id) === watch) void this.read(watch);
  }

  /** After a failed read (or a describe that found nothing): the next try waits, doubling up to 30 s. */
  private backOff(watch: Watch | undefined): void {
    if (!watch) return;
    watch.failures++;
    const base = this.options.retryMs ?? 1000;
    watch.retryAt = Date.now() + Math.min(30_000, base * 2 ** (watch.failures - 1));
  }

  /** A conversation found not to exist: said so, and not read until the visibility store lists it. */
  private markMissing(watch: Watch): void {
    watch.missing = true;
    watch.readAt = Date.now();
    this.backOff(watch);
    this.publish(watch, {
      type: 'error',
      code: 'not_found',
      message: `no conversation with id ${watch.id}`,
    });
  }

  private publish(watch: Watch, data: ConversationFeedData): void {
    const json = JSON.stringify(data);
    if (json === watch.json) return;
    watch.json = json;
    watch.version++;
    this.stats.versions++;
    watch.event = { event: data.type, id: `${SSE_EPOCH}-${watch.version}`, data };
    for (const subscriber of watch.subscribers) this.deliver(subscriber, watch.event);
  }

  private async refreshQueue(): Promise<void> {
    const queue = this.options.queue;
    if (!queue || this.closed) return;
    if (this.queueReading) {
      this.queueAgain = true;
      return;
    }
    this.queueReading = true;
    try {
      do {
        this.queueAgain = false;
        this.stats.queueRefreshes++;
        const snapshot = await this.track(queue.read()).catch(() => undefined);
        if (!snapshot) continue;
        const json = JSON.stringify(snapshot);
        if (json === this.queueJson) continue;
        this.queueJson = json;
        this.queueVersion++;
        this.queueEvent = { event: 'queue', id: `${SSE_EPOCH}-${this.queueVersion}`, data: snapshot };
        for (const subscriber of this.queueSubscribers) this.deliver(subscriber, this.queueEvent);
      } while (this.queueAgain);
    } finally {
      this.queueReading = false;
    }
  }

  private deliver(subscriber: FeedSubscriber, event: SseEvent): void {
    try {
      subscriber(event);
      this.stats.delivered++;
    } catch {
      // A subscriber that fails (a closed connection) is dropped by its own unsubscribe.
    }
  }
}

/** How far the workers' clocks (which stamp AgentLastActivityTime) may be off this server's. */
const CLOCK_MARGIN_MS = 2000;

/** When the conversation last did something, as its search attribute says (0 when unknown). */
function lastActivity(row: VisibilityRow | undefined): number {
  const activity = row?.typedSearchAttributes.get(AGENT_LAST_ACTIVITY as never) as Date | undefined;
  return activity?.getTime() ?? (row ? Number.MAX_SAFE_INTEGER : 0);
}

/** What must stay the same for the state to be unchanged, as far as the visibility store knows. */
function keyOf(row: VisibilityRow): string {
  const get = (key: unknown) => row.typedSearchAttributes.get(key as never);
  const activity = get(AGENT_LAST_ACTIVITY) as Date | undefined;
  return [
    row.runId,
    row.status.name,
    get(AGENT_STATUS) ?? '',
    activity?.toISOString() ?? '',
    get(AGENT_PENDING_APPROVALS) ?? '',
  ].join('|');
}
