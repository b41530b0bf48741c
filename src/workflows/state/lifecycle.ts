/**
 * Where a conversation is in its life: its status (and with it the search attributes operators list
 * by), an `end` or `resume` accepted and not yet acted on, why it is parked, why its start was refused,
 * why it ended, and when anything last changed. Not carried: each run starts it again.
 */
import { log, upsertSearchAttributes } from '@temporalio/workflow';
import type { Attention, ConversationStatus, EndRequest } from '../../api/conversation';
import { AGENT_LAST_ACTIVITY, AGENT_PENDING_APPROVALS, AGENT_STATUS } from '../../api/search-attributes';
import { now, nowIso } from '../clock';

/** Statuses in which `end` is accepted. */
const ENDABLE: readonly ConversationStatus[] = ['idle', 'refused', 'needs_attention', 'awaiting_approval'];

/** Why the worker refused to start a conversation: its failure type and message. */
export interface StartRefusal {
  type: string;
  message: string;
}

export class Lifecycle {
  private shown: ConversationStatus | 'starting' = 'starting';
  private updated = nowIso();
  private pendingCount = 0;
  private ending: EndRequest | undefined;
  private resuming = false;
  private parkedFor: Attention | undefined;
  private refusal: StartRefusal | undefined;
  private endReason: string | undefined;

  /**
   * `listing`: the agent is being listed (`prepareAgent`), or is about to be: `end` is accepted and
   * takes effect once it is. True from the construction for an agent's conversation, because an update
   * that reaches the server with the start arrives in the first activation, before the listing.
   */
  constructor(private listing: boolean) {}

  get status(): ConversationStatus | 'starting' {
    return this.shown;
  }

  /** When anything last changed. */
  get updatedAt(): string {
    return this.updated;
  }

  /** Why it is parked, while it is. */
  get attention(): Attention | undefined {
    return this.parkedFor;
  }

  get endRequest(): EndRequest | undefined {
    return this.ending;
  }

  get resumeRequested(): boolean {
    return this.resuming;
  }

  get startRefusal(): StartRefusal | undefined {
    return this.refusal;
  }

  /** Why it ended, once it did. */
  get endedBecause(): string | undefined {
    return this.endReason;
  }

  /** Whether it completed or was cancelled: nothing changes it any more. */
  get closed(): boolean {
    return this.shown === 'completed' || this.shown === 'cancelled';
  }

  /** Whether `end` is accepted now: while it waits, or while sub-agents work (they are stopped). */
  endable(subAgentsWorking: boolean): boolean {
    if (this.listing) return true;
    if (this.shown === 'running' && subAgentsWorking) return true;
    return this.shown !== 'starting' && ENDABLE.includes(this.shown);
  }

  /** Something changed (the transcript, the budget, a sub-agent). */
  touch(): void {
    this.updated = nowIso();
  }

  /** Moves the status; the search attributes follow (each upsert is a history event, so only on change). */
  setStatus(next: ConversationStatus): void {
    this.updated = nowIso();
    if (next === this.shown) return;
    this.shown = next;
    upsertSearchAttributes([
      { key: AGENT_STATUS, value: next },
      { key: AGENT_LAST_ACTIVITY, value: now() },
    ]);
  }

  /** The number of calls waiting for approval (a search attribute) changed, or may have: the status follows. */
  approvalsPending(count: number): void {
    if (count !== this.pendingCount) {
      this.pendingCount = count;
      upsertSearchAttributes([{ key: AGENT_PENDING_APPROVALS, value: count }]);
    }
    if (count > 0) this.setStatus('awaiting_approval');
    else if (this.shown === 'awaiting_approval') this.setStatus('running');
  }

  /** The agent is being listed (`end` is accepted meanwhile), or the listing is done. */
  listingAgent(listing: boolean): void {
    this.listing = listing;
  }

  refuseStart(refusal: StartRefusal): void {
    this.refusal = refusal;
  }

  requestEnd(request: EndRequest): void {
    this.ending = request;
  }

  requestResume(): void {
    this.resuming = true;
  }

  /** Parks, saying why; answers the attention as the state shows it. */
  park(why: Omit<Attention, 'at'>): Attention {
    this.parkedFor = { ...why, at: nowIso() };
    log.warn('conversation needs attention', { reason: why.reason, message: why.message });
    this.setStatus('needs_attention');
    return this.parkedFor;
  }

  /** Resumed or ended: no longer parked. */
  unpark(): void {
    this.resuming = false;
    this.parkedFor = undefined;
  }

  /** Ends with `final`, saying why. */
  finish(final: ConversationStatus, reason: string): void {
    this.endReason = reason;
    this.setStatus(final);
  }
}
