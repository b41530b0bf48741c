import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import type { StreamObserver } from '../activities/call-claude';
import type { Published } from './protocol';

export interface PublisherOptions {
  /** The hub's base URL (the ops server), e.g. `http://ops:8787`. */
  url: string;
  /** The ops token (the hub's publish route is authenticated like the API). */
  token: string;
  /** Longest wait before a batch goes out, ms (default 5). */
  flushEveryMs?: number;
  /** Items held while the hub is slow or down; the oldest are dropped past it (default 10,000). */
  maxQueue?: number;
  /** Called at most once a minute when publishing fails (default: console.warn). */
  onError?: (message: string) => void;
}

/**
 * Publishes model streams to the hub from a worker. Never in the way of a conversation: publishing is
 * fire-and-forget, batched, with a bounded queue; if the hub is down, items are dropped and the
 * conversation goes on unharmed (observers then see the final transcript instead of the live stream).
 */
export class StreamPublisher implements StreamObserver {
  private queue: Published[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private lastErrorAt = 0;
  readonly stats = { sent: 0, dropped: 0, failedPosts: 0 };

  constructor(private readonly options: PublisherOptions) {}

  onStart(workflowId: string, info: { turn: number; attempt: number }): void {
    this.push({ workflowId, type: 'start', turn: info.turn, attempt: info.attempt, at: Date.now() });
  }

  onEvent(workflowId: string, event: RawMessageStreamEvent): void {
    // Pings carry nothing observers need.
    if (event.type === ('ping' as string)) return;
    this.push({ workflowId, type: 'event', event, at: Date.now() });
  }

  onEnd(workflowId: string, outcome: { ok: boolean; error?: string }): void {
    this.push({
      workflowId,
      type: 'end',
      ok: outcome.ok,
      ...(outcome.error && { error: outcome.error }),
      at: Date.now(),
    });
  }

  /** Sends what is queued now (tests, shutdown). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0 && !this.inFlight) await this.send();
  }

  private push(item: Published): void {
    this.queue.push(item);
    const max = this.options.maxQueue ?? 10_000;
    if (this.queue.length > max) {
      this.stats.dropped += this.queue.length - max;
      this.queue.splice(0, this.queue.length - max);
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.send();
    }, this.options.flushEveryMs ?? 5);
  }

  private async send(): Promise<void> {
    if (this.inFlight || this.queue.length === 0) return;
    this.inFlight = true;
    const batch = this.queue;
    this.queue = [];
    try {
      const res = await fetch(`${this.options.url.replace(/\/$/, '')}/stream/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.options.token}`, 'content-type': 'application/x-ndjson' },
        body: batch.map((item) => JSON.stringify(item)).join('\n'),
        signal: AbortSignal.timeout(5000),
      });
      if (!res.ok) throw new Error(`hub answered ${res.status}`);
      await res.arrayBuffer();
      this.stats.sent += batch.length;
    } catch (err) {
      this.stats.failedPosts++;
      this.stats.dropped += batch.length;
      if (Date.now() - this.lastErrorAt > 60_000) {
        this.lastErrorAt = Date.now();
        (this.options.onError ?? ((m: string) => console.warn(m)))(
          `live stream: cannot publish to ${this.options.url} (${(err as Error).message}); conversations go on, observers miss the live view`,
        );
      }
    } finally {
      this.inFlight = false;
      if (this.queue.length > 0)
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          void this.send();
        }, 0);
    }
  }
}
