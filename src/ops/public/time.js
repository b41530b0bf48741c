// @ts-check
/** Relative times (`3 min ago`, `due in 2 h`) that stay current: a clock updates them every second. */
import { all, h } from './dom.js';

/** @typedef {'ago' | 'requested' | 'due'} TimeKind */

/** A duration in the largest unit that fits. */
function span(/** @type {number} */ ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hrs = Math.floor(m / 60);
  return hrs < 48 ? `${hrs} h` : `${Math.floor(hrs / 24)} d`;
}

/**
 * @param {string | undefined} kind
 * @param {string | undefined} iso
 */
function timeText(kind, iso) {
  const t = Date.parse(iso ?? '');
  if (Number.isNaN(t)) return iso || '—';
  const d = Date.now() - t;
  if (kind === 'due') return d >= 0 ? 'overdue' : `due in ${span(-d)}`;
  const ago = d < 5000 ? 'just now' : `${span(d)} ago`;
  return kind === 'requested' ? `requested ${ago}` : ago;
}

/**
 * A `<time>` that the clock keeps current.
 * @param {string} iso
 * @param {TimeKind} [kind]
 */
export function timeEl(iso, kind = 'ago') {
  const t = Date.parse(iso);
  const el = h('time', {
    datetime: iso,
    title: Number.isNaN(t) ? undefined : new Date(t).toLocaleString(),
    data: { time: iso, timeKind: kind },
  });
  updateTime(el);
  return el;
}

function updateTime(/** @type {HTMLElement} */ el) {
  el.textContent = timeText(el.dataset.timeKind, el.dataset.time);
  if (el.dataset.timeKind === 'due')
    el.classList.toggle('overdue', Date.parse(el.dataset.time ?? '') <= Date.now());
}

/** Updates every relative time on the page once a second. */
export function startClock() {
  window.setInterval(() => all(document, 'time[data-time]').forEach(updateTime), 1000);
}
