/**
 * Changes to the conversation workflow, rolled out with `patched()`.
 *
 * Conversations live for days (an approval can wait 24 h or more), so a deploy meets conversations
 * started by the old code. A change that alters what the workflow does (its commands: activities,
 * timers, search-attribute upserts, ...) must go behind `rolledOut(PATCH)`: replaying an old history,
 * it answers false where the old code ran, and true from the first point the new code reaches live.
 * When no run started before the change is open any more, replace it with `deprecatePatch(id)`, then
 * remove it (PATCH_HISTORY says when each came in and what lets it go). Lint allows `patched()` only
 * here. See README, "Changing the workflow safely".
 */
import { patched } from '@temporalio/workflow';

export const PATCHES = {
  /** Every approval decision updates AgentLastActivityTime (before, only status changes did). */
  decisionActivityTime: 'decision-activity-time',
  /** A new conversation's first message is held to what `sendMessage` accepts (blocks, size). */
  firstMessageChecks: 'first-message-checks',
  /** Decision and end signals are held to the bounded, typed rules (before: applied more leniently). */
  boundedSignals: 'bounded-signals',
  /**
   * Continue-as-new is skipped while what it would carry does not fit one payload (before: attempted,
   * and a carry over the limit failed every workflow task). Consulted only when the carry is too big.
   */
  carryFits: 'carry-fits',
  /** A sub-agent's conversation that is stopped reports its usage to its parent before it closes. */
  stoppedSubAgentUsage: 'stopped-sub-agent-usage',
  /**
   * A full context window (`model_context_window_exceeded`, "prompt is too long") compacts and calls
   * again (before: parked); the token threshold compacts too. Consulted only when one of them is due.
   */
  compaction: 'compaction',
  /**
   * A tool call that starts waiting for approval, and a park in `needs_attention`, schedule the
   * `notify` activity (webhooks; not awaited, see src/workflows/notifications.ts).
   */
  webhookNotifications: 'webhook-notifications',
  /**
   * A decision signal tells people apart strictly (src/api/person.ts: one credential one person,
   * compatibility forms, invisible characters, look-alike letters); before, trimmed and case-folded.
   */
  onePerson: 'one-person',
  /**
   * A decision signal tells look-alike names apart by Unicode's confusables data (TR39), not only the
   * hand table of one-person.
   */
  confusables: 'confusables',
  /**
   * A conversation ended on request closes one workflow task after the one that answers the `end`
   * update (a 1 ms timer), so a close the server refuses (an activity's result arrived meanwhile) no
   * longer fails the update.
   */
  closeAfterEnd: 'close-after-end',
} as const;

/** When a patch came in, and what lets it go. */
export interface PatchHistory {
  /** The day it landed and its commit (the package's version then: 0.1.0 for every patch so far). */
  since: string;
  commit: string;
  /**
   * What must be true before `deprecatePatch(id)` replaces it (then, once no run of that step is open,
   * the patch and its old branch go). For every patch so far: no run started before `since` is still
   * open, which `agent list` or the visibility query
   * `WorkflowType = "conversationWorkflow" AND ExecutionStatus = "Running" AND StartTime < "<since>"`
   * answers; a run that continued-as-new since then started on the new code and does not count.
   */
  removeWhen: string;
}

const OPEN_RUNS_FROM_BEFORE = 'no conversation run started before `since` is still open';

/** Each patch's history: a patch without one does not compile. */
export const PATCH_HISTORY: Record<keyof typeof PATCHES, PatchHistory> = {
  decisionActivityTime: { since: '2026-11-21', commit: 'be4dbc5', removeWhen: OPEN_RUNS_FROM_BEFORE },
  firstMessageChecks: { since: '2026-12-01', commit: 'd4dee73', removeWhen: OPEN_RUNS_FROM_BEFORE },
  boundedSignals: { since: '2026-12-01', commit: '9629cd0', removeWhen: OPEN_RUNS_FROM_BEFORE },
  carryFits: { since: '2026-12-01', commit: '36df82d', removeWhen: OPEN_RUNS_FROM_BEFORE },
  stoppedSubAgentUsage: { since: '2026-12-01', commit: '36df82d', removeWhen: OPEN_RUNS_FROM_BEFORE },
  compaction: { since: '2026-12-01', commit: 'ffeb843', removeWhen: OPEN_RUNS_FROM_BEFORE },
  webhookNotifications: { since: '2026-12-01', commit: '6d2ccfa', removeWhen: OPEN_RUNS_FROM_BEFORE },
  onePerson: { since: '2026-12-07', commit: 'e66f0b2', removeWhen: OPEN_RUNS_FROM_BEFORE },
  confusables: { since: '2026-12-07', commit: '1008c8c', removeWhen: OPEN_RUNS_FROM_BEFORE },
  closeAfterEnd: { since: '2026-12-07', commit: 'ee22330', removeWhen: OPEN_RUNS_FROM_BEFORE },
};

/**
 * Whether this run takes the patched path: the one way workflow code calls `patched()` (lint forbids
 * it anywhere else, so every patch is in PATCHES with its history).
 */
export function rolledOut(id: (typeof PATCHES)[keyof typeof PATCHES]): boolean {
  return patched(id);
}
