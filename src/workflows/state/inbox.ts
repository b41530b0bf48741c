/**
 * The user's messages: the turn the conversation is in, and the messages accepted (by `sendMessage`
 * or with the start) waiting for theirs, first come first served.
 */
import type { UserContent } from '../../api/conversation';

/** A user message accepted by `sendMessage` (or the start input), waiting for its turn. */
export interface QueuedMessage {
  content: UserContent;
  turn: number;
}

/** What continue-as-new carries of the inbox. */
export interface CarriedInbox {
  turn: number;
  queue: QueuedMessage[];
}

export class Inbox {
  private current: number;
  private readonly waiting: QueuedMessage[];
  private firstQueued = false;

  constructor(carried?: Partial<CarriedInbox>) {
    this.current = carried?.turn ?? 0;
    this.waiting = carried?.queue ?? [];
  }

  /** The user turn the conversation is in (0 before the first). */
  get turn(): number {
    return this.current;
  }

  /** Messages waiting for their turn. */
  get length(): number {
    return this.waiting.length;
  }

  /** The start input's message, first in the queue (once, whenever it is called again). */
  queueFirst(content: UserContent | undefined): void {
    if (this.firstQueued) return;
    this.firstQueued = true;
    if (content) this.waiting.push({ content, turn: 1 });
  }

  /** A message accepted: queued for the turn after the ones before it. */
  enqueue(content: UserContent): { turn: number; queuedBehind: number } {
    const turn = this.current + this.waiting.length + 1;
    this.waiting.push({ content, turn });
    return { turn, queuedBehind: this.waiting.length - 1 };
  }

  /** The next message starts its turn. */
  take(): UserContent {
    const next = this.waiting.shift()!;
    this.current = next.turn;
    return next.content;
  }

  snapshot(): CarriedInbox {
    return { turn: this.current, queue: this.waiting };
  }
}
