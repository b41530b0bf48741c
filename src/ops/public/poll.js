// @ts-check
/**
 * Views without server push (the conversation list), and the queue or a conversation when their feed
 * keeps failing (feed.js), refresh every 2 s. Each (re)start begins a new generation: an answer that
 * arrives for an older one is dropped.
 */
import { ApiError } from './api.js';
import { $ } from './dom.js';
import { errorMessage } from './format.js';
import { app } from './state.js';

const POLL_MS = 2000;

/** @typedef {(isCurrent: () => boolean) => Promise<void>} Refresh */

/** @type {number | undefined} */
let pollTimer;
let pollGen = 0;
/** @type {Refresh} */
let refresh = async () => {};

/**
 * What a poll does: reads the open view's data and renders it if `isCurrent()` still holds.
 * @param {Refresh} fn
 */
export function setRefresh(fn) {
  refresh = fn;
}

export function stopPolling() {
  window.clearTimeout(pollTimer);
  pollGen++;
}

/** @type {() => boolean} */
let pushActive = () => false;

/**
 * Who says the open view is fed by server push (feed.js): then a restart does not poll, since the
 * server sends what changed (a decision made here included).
 * @param {() => boolean} fn
 */
export function setPushActive(fn) {
  pushActive = fn;
}

export function restartPolling() {
  stopPolling();
  if (pushActive()) return;
  void poll(pollGen);
}

async function poll(/** @type {number} */ gen) {
  try {
    await refresh(() => gen === pollGen);
    if (gen === pollGen) connError(null);
  } catch (e) {
    if (gen === pollGen && !(e instanceof ApiError && e.status === 401)) connError(errorMessage(e));
  }
  if (gen === pollGen && app.session) pollTimer = window.setTimeout(() => poll(gen), POLL_MS);
}

function connError(/** @type {string | null} */ msg) {
  $('conn-error').textContent = msg ? `${msg} Retrying…` : '';
  $('conn-error').hidden = !msg;
}
