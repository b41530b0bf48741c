import type { LiveCall, LiveMessage, Published } from './protocol';

export interface HubOptions {
  /** Conversations whose live state is kept (least recently active dropped first). Default 1,000. */
  maxConversations?: number;
  /** Characters of streamed text kept per call; past it the snapshot is cut (live deltas still flow). Default 1 MiB. */
  maxCallChars?: number;
  /**
   * Messages kept per conversation so an observer that reconnects gets what it missed (from its
   * `Last-Event-ID`) instead of a snapshot: at most this many (default 2,000) and 256 KiB of text.
   */
  maxReplay?: number;
}

/** An observer gets each message with its event id (`<epoch>-<n>`, n counting per conversation). */
type Observer = (message: LiveMessage, eventId: string) => void;

/** A conversation's recent messages, by sequence number, for observers that reconnect. */
interface Replay {
  seq: number;
  ring: Array<{ seq: number; message: LiveMessage; chars: number }>;
  chars: number;
}

const MAX_REPLAY_CHARS = 256 * 1024;

/**
 * The live stream hub: receives what workers publish, keeps each conversation's current call (so an
 * observer that joins late gets the partial output so far), and fans messages out to observers.
 * Memory is bounded by {@link HubOptions}.
 */
export class StreamHub {
  private readonly calls = new Map<string, LiveCall & { chars: number }>();
  private readonly observers = new Map<string, Set<Observer>>();
  private readonly replays = new Map<string, Replay>();
  private readonly maxConversations: number;
  private readonly maxCallChars: number;
  private readonly maxReplay: number;
  /** This hub's event ids start with it: ids from another hub (before a restart) never match. */
  readonly epoch = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  readonly stats = { published: 0, delivered: 0, replayed: 0 };

  constructor(options: HubOptions = {}) {
    this.maxConversations = options.maxConversations ?? 1000;
    this.maxCallChars = options.maxCallChars ?? 1024 * 1024;
    this.maxReplay = options.maxReplay ?? 2000;
  }

  /** Applies one published item and tells the conversation's observers. */
  publish(item: Published): void {
    this.stats.published++;
    const id = item.workflowId;
    if (item.type === 'start') {
      this.calls.delete(id);
      this.calls.set(id, {
        workflowId: id,
        turn: item.turn,
        attempt: item.attempt,
        startedAt: item.at,
        blocks: [],
        ended: false,
        chars: 0,
      });
      this.evict();
      this.send(
        id,
        item.attempt > 1
          ? { type: 'reset', turn: item.turn, attempt: item.attempt }
          : { type: 'snapshot', call: this.snapshot(id) },
      );
      return;
    }
    const call = this.calls.get(id);
    if (!call) return; // A call that started before this hub did: nothing to attach its events to.
    if (item.type === 'end') {
      call.ended = true;
      call.ok = item.ok;
      if (item.error) call.error = item.error;
      this.send(id, {
        type: 'end',
        ok: item.ok,
        stopReason: call.stopReason,
        ...(item.error && { error: item.error }),
      });
      return;
    }
    const event = item.event;
    switch (event.type) {
      case 'content_block_start': {
        const block = event.content_block as { type: string; name?: string; id?: string; text?: string };
        call.blocks[event.index] = {
          index: event.index,
          type: block.type,
          ...(block.name && { name: block.name }),
          ...(block.id && { id: block.id }),
          text: block.text ?? '',
          done: false,
        };
        this.send(id, {
          type: 'block_start',
          index: event.index,
          blockType: block.type,
          ...(block.name && { name: block.name }),
          ...(block.id && { id: block.id }),
        });
        return;
      }
      case 'content_block_delta': {
        const { delta } = event;
        const [kind, text] =
          delta.type === 'text_delta'
            ? (['text', delta.text] as const)
            : delta.type === 'thinking_delta'
              ? (['thinking', delta.thinking] as const)
              : delta.type === 'input_json_delta'
                ? (['input_json', delta.partial_json] as const)
                : [undefined, ''];
        if (!kind) return;
        const block = call.blocks[event.index];
        if (block && call.chars + text.length <= this.maxCallChars) {
          block.text += text;
          call.chars += text.length;
        } else if (block) {
          call.truncated = true;
        }
        this.send(id, { type: 'delta', index: event.index, kind, text, at: item.at });
        return;
      }
      case 'content_block_stop': {
        const block = call.blocks[event.index];
        if (block) block.done = true;
        this.send(id, { type: 'block_stop', index: event.index });
        return;
      }
      case 'message_delta':
        call.stopReason = event.delta.stop_reason;
        return;
      default:
        return;
    }
  }

  /** The conversation's current (or last) call, or null. */
  snapshot(workflowId: string): LiveCall | null {
    const call = this.calls.get(workflowId);
    if (!call) return null;
    const { chars: _chars, ...rest } = call;
    return structuredClone(rest);
  }

  /**
   * Subscribes to a conversation: the first message is the current snapshot, or, given the
   * `lastEventId` an observer saw before it reconnected, the messages since (when this hub still has
   * them all). Returns the unsubscribe.
   */
  subscribe(workflowId: string, observer: Observer, lastEventId?: string): () => void {
    let set = this.observers.get(workflowId);
    if (!set) this.observers.set(workflowId, (set = new Set()));
    set.add(observer);
    const replay = this.replays.get(workflowId);
    const seq = replay?.seq ?? 0;
    const missed = this.missedSince(workflowId, lastEventId);
    if (missed) {
      for (const m of missed) observer(m.message, this.eventId(m.seq));
      this.stats.replayed += missed.length;
    } else observer({ type: 'snapshot', call: this.snapshot(workflowId) }, this.eventId(seq));
    return () => {
      set!.delete(observer);
      if (set!.size === 0) this.observers.delete(workflowId);
    };
  }

  get size(): { conversations: number; observers: number } {
    let observers = 0;
    for (const set of this.observers.values()) observers += set.size;
    return { conversations: this.calls.size, observers };
  }

  /** The messages after `lastEventId`, or undefined when they are not all here (a snapshot is due). */
  private missedSince(workflowId: string, lastEventId: string | undefined): Replay['ring'] | undefined {
    const match = /^(.+)-(\d{1,15})$/.exec(lastEventId ?? '');
    if (!match || match[1] !== this.epoch) return undefined;
    const seen = Number(match[2]);
    const replay = this.replays.get(workflowId);
    const seq = replay?.seq ?? 0;
    if (seen > seq) return undefined;
    if (seen === seq) return [];
    if (!replay || replay.ring.length === 0 || replay.ring[0].seq > seen + 1) return undefined;
    return replay.ring.filter((m) => m.seq > seen);
  }

  private eventId(seq: number): string {
    return `${this.epoch}-${seq}`;
  }

  private send(workflowId: string, message: LiveMessage): void {
    let replay = this.replays.get(workflowId);
    if (!replay) this.replays.set(workflowId, (replay = { seq: 0, ring: [], chars: 0 }));
    const seq = ++replay.seq;
    // A snapshot or a reset starts over: what came before it is no use to an observer catching up.
    if (message.type === 'snapshot' || message.type === 'reset') {
      replay.ring = [];
      replay.chars = 0;
    }
    const chars = message.type === 'delta' ? message.text.length : 0;
    replay.ring.push({ seq, message, chars });
    replay.chars += chars;
    while (replay.ring.length > this.maxReplay || replay.chars > MAX_REPLAY_CHARS) {
      replay.chars -= replay.ring.shift()!.chars;
    }
    const eventId = this.eventId(seq);
    for (const observer of this.observers.get(workflowId) ?? []) {
      try {
        observer(message, eventId);
        this.stats.delivered++;
      } catch {
        // An observer that fails (a closed connection) is dropped by its own unsubscribe.
      }
    }
  }

  private evict(): void {
    for (const id of this.calls.keys()) {
      if (this.calls.size <= this.maxConversations) return;
      this.calls.delete(id);
      this.replays.delete(id);
    }
  }
}

/** A stream observer that feeds a hub in the same process (a worker and an ops server in one process, tests). */
export function hubObserver(hub: StreamHub): import('../activities/call-claude').StreamObserver {
  return {
    onStart: (workflowId, info) =>
      hub.publish({ workflowId, type: 'start', turn: info.turn, attempt: info.attempt, at: Date.now() }),
    onEvent: (workflowId, event) => hub.publish({ workflowId, type: 'event', event, at: Date.now() }),
    onEnd: (workflowId, outcome) =>
      hub.publish({
        workflowId,
        type: 'end',
        ok: outcome.ok,
        ...(outcome.error && { error: outcome.error }),
        at: Date.now(),
      }),
  };
}
