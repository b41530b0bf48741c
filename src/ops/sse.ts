/**
 * One server-sent event stream to one client: an `id:` per event (so a client that reconnects says
 * where it was with `Last-Event-ID`), heartbeats, and backpressure. The feeds send whole snapshots, so a
 * subscriber whose socket is not draining gets only the newest one when it drains (nothing piles up);
 * one that has not drained for `slowMs` is dropped and reconnects, picking up from its last event id.
 */
import type { ServerResponse } from 'node:http';

/** One event: its SSE `event:` name, `id:` and JSON data. */
export interface SseEvent {
  event: string;
  id: string;
  data: unknown;
}

export interface SseOptions {
  /** A comment line is sent this often so proxies and clients know the stream is alive (default 15 s). */
  heartbeatMs?: number;
  /** A subscriber whose socket has not drained for this long is dropped (default 30 s). */
  slowMs?: number;
  /** Bytes allowed in the socket's buffer before the subscriber counts as slow (default 256 KiB). */
  highWaterBytes?: number;
  /** What the client waits before reconnecting (the `retry:` field, default 2 s). */
  retryMs?: number;
  /** Called once the stream is over (the client left, or it was dropped). */
  onClose?: () => void;
}

/** The event ids are `<epoch>-<n>`: the epoch is this process's, so ids from before a restart never match. */
export const SSE_EPOCH = Date.now().toString(36);

export class SseStream {
  private pending: string | undefined;
  private blockedSince = 0;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  /** Events written, and events skipped because a newer snapshot replaced them before they could go. */
  readonly stats = { written: 0, coalesced: 0 };

  constructor(
    private readonly res: ServerResponse,
    private readonly options: SseOptions = {},
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
      // Proxies (nginx) must not buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${options.retryMs ?? 2000}\n\n`);
    res.on('drain', () => this.drained());
    res.on('close', () => this.close());
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatMs ?? 15_000);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends an event, or keeps it as the one to send when the socket drains (replacing an older one). */
  send(event: SseEvent): void {
    if (this.closed) return;
    const text = `id: ${event.id}\nevent: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
    if (this.blockedSince) {
      if (this.pending !== undefined) this.stats.coalesced++;
      this.pending = text;
      this.dropIfStuck();
      return;
    }
    this.write(text);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    if (!this.res.destroyed) this.res.end();
    this.options.onClose?.();
  }

  private write(text: string): void {
    this.res.write(text);
    this.stats.written++;
    if (this.res.writableLength > (this.options.highWaterBytes ?? 256 * 1024)) this.blockedSince = Date.now();
  }

  private drained(): void {
    if (this.closed || !this.blockedSince) return;
    this.blockedSince = 0;
    const next = this.pending;
    this.pending = undefined;
    if (next !== undefined) this.write(next);
  }

  private beat(): void {
    if (this.dropIfStuck() || this.blockedSince) return;
    this.res.write(': keep-alive\n\n');
  }

  /** Drops a subscriber that has not drained for `slowMs`: it reconnects with its last event id. */
  private dropIfStuck(): boolean {
    if (!this.blockedSince || Date.now() - this.blockedSince < (this.options.slowMs ?? 30_000)) return false;
    this.res.destroy();
    this.close();
    return true;
  }
}
