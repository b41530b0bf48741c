/**
 * Workflow time, read one way. Inside the workflow sandbox `Date` is Temporal's: it reads the time of
 * the current workflow task, recorded in history, so replay sees the same value and it is deterministic.
 * Workflow code reads the clock only through these (lint bans `Date.now()` and `new Date()` elsewhere),
 * so a reader sees at once where time enters a decision.
 */

/** The time of the current workflow task. */
export function now(): Date {
  return new Date();
}

/** {@link now} as an ISO string, the form the contract records times in. */
export function nowIso(): string {
  return now().toISOString();
}
