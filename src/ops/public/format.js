// @ts-check
/** Text formatting: JSON, numbers, usage and cost. */

/** @typedef {import('../../api/conversation').UsageTotals} UsageTotals */

/** A value as indented JSON. */
export const pretty = (/** @type {unknown} */ v) => (v === undefined ? '(none)' : JSON.stringify(v, null, 2));

/** A value as JSON on one line, cut at 240 characters. */
export const compact = (/** @type {unknown} */ v) => {
  const s = JSON.stringify(v === undefined ? null : v);
  return s.length > 240 ? s.slice(0, 237) + '…' : s;
};

/** A number with the locale's grouping, or a dash. */
export const num = (/** @type {number | null | undefined} */ n) =>
  typeof n === 'number' ? n.toLocaleString() : '—';

/**
 * ` · $0.0123` (plus calls the worker had no price for), or nothing before any priced call.
 * @param {UsageTotals} u
 */
export const costText = (u) => {
  const unpriced = u.unpricedCalls ? ` (${num(u.unpricedCalls)} calls unpriced)` : '';
  return typeof u.costUsd === 'number' && u.calls > (u.unpricedCalls || 0)
    ? ` · $${u.costUsd.toFixed(4)}${unpriced}`
    : unpriced
      ? ` ·${unpriced}`
      : '';
};

/** What a caught value says. */
export const errorMessage = (/** @type {unknown} */ e) => (e instanceof Error ? e.message : String(e));
