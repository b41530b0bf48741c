import type { LiveCall, LiveMessage, Published } from './protocol';

export interface HubOptions {
  /** Conversations whose live state is kept (least recently active dropped first). Default 1,000. */
  maxConversations?: number;
  /** Characters of streamed text kept per call; past it the snapshot is cut (live deltas still flow). Default 1 MiB. */
  maxCallChars?: number;
}

type Observer = (message: LiveMessage) => void;

/**
 * The live stream hub: receives what workers publish, keeps each conversation's current call (so an
 * observer that joins late gets the partial output so far), and fans messages out to observers.
 * Memory is bounded by {@link HubOptions}.
 */
export class StreamHub {
  private readonly calls = new Map<string, LiveCall & { chars: number }>();
  private readonly observers = new Map<string, Set<Observer>>();
  private readonly maxConversations: number;
  private readonly maxCallChars: number;
  readonly stats = { published: 0, delivered: 0 };

  constructor(options: HubOptions = {}) {
    this.maxConversations = options.maxConversations ?? 1000;
    this.maxCallChars = options.maxCallChars ?? 1024 * 1024;
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

  /** Subscribes to a conversation: the first message is the current snapshot. Returns the unsubscribe. */
  subscribe(workflowId: string, observer: Observer): () => void {
    let set = this.observers.get(workflowId);
    if (!set) this.observers.set(workflowId, (set = new Set()));
    set.add(observer);
    observer({ type: 'snapshot', call: this.snapshot(workflowId) });
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

  private send(workflowId: string, message: LiveMessage): void {
    for (const observer of this.observers.get(workflowId) ?? []) {
      try {
        observer(message);
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
