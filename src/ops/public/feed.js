// @ts-check
/**
 * Server push for the approval queue and the open conversation: one EventSource on the ops server's
 * feed (`/api/feed/approvals`, `/api/conversations/:id/feed`). The server reads each conversation once
 * per change for every open page, so an open page no longer costs workflow queries. The session cookie
 * authenticates (an EventSource cannot send headers; a GET needs no CSRF token). The browser reconnects
 * by itself with `Last-Event-ID` and the server resends only what is newer. When the stream fails
 * repeatedly without a single event, the page falls back to polling (poll.js) and tries the stream
 * again later. Other views (the conversation list) still poll.
 */
import { currentSession, sessionExpired } from './api.js';
import { $ } from './dom.js';
import { restartPolling, setPushActive, stopPolling } from './poll.js';
import { app } from './state.js';
import { renderQueue } from './views/approvals.js';
import { renderConversation, renderNotFound } from './views/conversation.js';

/** @typedef {import('../server').ApprovalsResponse} ApprovalsResponse */
/** @typedef {import('../state-feed').ConversationFeedData} ConversationFeedData */

/** Failed connections in a row, without an event, before the page polls instead. */
const MAX_FAILURES = 3;
/** How long the page polls before it tries the stream again. */
const RETRY_PUSH_MS = 30_000;

/** @type {EventSource | null} */
let source = null;
/** The feed's URL while one is open (or wanted). */
let url = '';
let failures = 0;
let polling = false;
/** @type {number | undefined} */
let retryTimer;

/** Whether the open view is fed by push (the queue, a conversation). */
function pushable() {
  return !!app.session && (app.route.view === 'approvals' || app.route.view === 'conversation');
}

function feedUrl() {
  const r = app.route;
  if (r.view === 'approvals') return '/api/feed/approvals';
  if (r.view === 'conversation') return `/api/conversations/${encodeURIComponent(r.id)}/feed`;
  return '';
}

setPushActive(() => pushable() && !polling);

/** Opens, keeps or closes the feed to match the open view; other views poll. */
export function syncFeed() {
  const wanted = pushable() ? feedUrl() : '';
  if (!wanted) {
    closeFeed();
    restartPolling();
    return;
  }
  if (wanted === url && (source || polling)) return;
  closeFeed();
  url = wanted;
  failures = 0;
  stopPolling();
  open();
}

/** Closes the feed (signing out, another view). */
export function closeFeed() {
  if (source) source.close();
  source = null;
  url = '';
  polling = false;
  window.clearTimeout(retryTimer);
}

function open() {
  const es = new EventSource(url);
  source = es;
  const current = () => source === es;
  es.addEventListener('queue', (ev) => {
    if (!current() || app.route.view !== 'approvals') return;
    received();
    /** @type {ApprovalsResponse} */
    const data = JSON.parse(ev.data);
    renderQueue(data.approvals || [], data.unreadable || []);
  });
  es.addEventListener('state', (ev) => {
    if (!current()) return;
    received();
    /** @type {ConversationFeedData} */
    const data = JSON.parse(ev.data);
    const r = app.route;
    if (data.type === 'state' && r.view === 'conversation' && app.conv && app.conv.id === r.id)
      renderConversation(app.conv, data.state);
  });
  es.addEventListener('error', (ev) => {
    if (!current()) return;
    // The server's own `error` event (the conversation cannot be read) carries data; a dropped
    // connection does not.
    if (ev instanceof MessageEvent && typeof ev.data === 'string') {
      received();
      /** @type {ConversationFeedData} */
      const data = JSON.parse(ev.data);
      const r = app.route;
      if (data.type === 'error' && data.code === 'not_found' && r.view === 'conversation' && app.conv)
        renderNotFound(app.conv, r.id);
      else if (data.type === 'error') connError(data.message);
      return;
    }
    void failed(es);
  });
}

function received() {
  failures = 0;
  connError(null);
}

/** A connection failed: the browser retries by itself unless it gave up (a 401, a 5xx). */
async function failed(/** @type {EventSource} */ es) {
  failures++;
  if (es.readyState !== EventSource.CLOSED && failures < MAX_FAILURES) return;
  // Was it the session? Then sign out, as any API call would.
  const info = await currentSession().catch(() => undefined);
  if (source !== es) return;
  if (info === null) return sessionExpired();
  if (failures < MAX_FAILURES) {
    es.close();
    return void (retryTimer = window.setTimeout(() => source === es && open(), 2000));
  }
  // The stream keeps failing (a proxy that buffers, say): poll for a while, then try again.
  es.close();
  polling = true;
  connError('Live updates unavailable; refreshing every few seconds.');
  restartPolling();
  retryTimer = window.setTimeout(() => {
    if (source !== es || !polling) return;
    polling = false;
    failures = 0;
    stopPolling();
    open();
  }, RETRY_PUSH_MS);
}

function connError(/** @type {string | null} */ msg) {
  $('conn-error').textContent = msg || '';
  $('conn-error').hidden = !msg;
}
