// @ts-check
/**
 * Ops page for the Claude agent worker: approval queue, conversation list and conversation view. Plain
 * ES modules, no build step, type-checked against the TypeScript contract (tsconfig.json here).
 * This module signs in and out, routes, and polls the open view.
 */
import {
  ApiError,
  authHeaders,
  getConversation,
  getSession,
  listApprovals,
  listConversations,
  onSessionExpired,
} from './api.js';
import { $, all, element } from './dom.js';
import { restartPolling, setRefresh, stopPolling } from './poll.js';
import { parseRoute } from './router.js';
import { app, clearSession, LAST_NAME_KEY, saveSession } from './state.js';
import { startClock } from './time.js';
import { clearQueue, renderQueue } from './views/approvals.js';
import { openConversation, renderConversation, renderNotFound } from './views/conversation.js';
import {
  clearList,
  invalidateList,
  renderConversationList,
  setStatusOptions,
  statusFilter,
} from './views/conversations.js';
import { stopLive, syncLive } from './views/live.js';

/** @typedef {import('../server').SessionInfo} SessionInfo */
/** @typedef {import('../server').ErrorResponse} ErrorResponse */

const loginName = () => element('login-name', HTMLInputElement);
const loginToken = () => element('login-token', HTMLInputElement);

// ---------- Login ----------

function loginError(/** @type {string | null} */ msg) {
  const el = $('login-error');
  el.textContent = msg || '';
  el.hidden = !msg;
}

/** @param {string} [msg] */
function showLogin(msg) {
  stopPolling();
  stopLive();
  $('app').hidden = true;
  $('login-view').hidden = false;
  loginName().value = loginName().value || sessionStorage.getItem(LAST_NAME_KEY) || '';
  loginError(msg ?? null);
  (loginName().value ? loginToken() : loginName()).focus();
}

/** @param {SubmitEvent} ev */
async function onLogin(ev) {
  ev.preventDefault();
  const name = loginName().value.trim();
  const token = loginToken().value.trim();
  if (!name || !token) return loginError('Enter your operator name and the access token.');
  if (name.length > 200) return loginError('The operator name is at most 200 characters.');
  loginError(null);
  const submit = element('login-submit', HTMLButtonElement);
  submit.disabled = true;
  try {
    const res = await fetch('/api/session', { headers: authHeaders({ name, token }), cache: 'no-store' });
    /** @type {Partial<SessionInfo & ErrorResponse> | null} */
    const data = await res.json().catch(() => null);
    if (res.status === 401)
      return loginError('The token was rejected' + (data && data.message ? `: ${data.message}` : '.'));
    if (!res.ok) return loginError((data && data.message) || `The server answered ${res.status}.`);
    app.session = { name, token };
    saveSession(app.session);
    loginToken().value = '';
    enterApp(data || {});
  } catch {
    loginError('Cannot reach the server.');
  } finally {
    submit.disabled = false;
  }
}

/** @param {string} [msg] */
function signOut(msg) {
  app.session = null;
  clearSession();
  app.decided.clear();
  app.conv = null;
  clearQueue();
  clearList();
  showLogin(msg);
}

/** @param {Partial<SessionInfo>} info */
function enterApp(info) {
  $('login-view').hidden = true;
  $('app').hidden = false;
  showSession(info);
  if (!/^#\/(approvals|conversations)/.test(location.hash)) location.hash = '#/approvals';
  else route();
}

/**
 * Who is signed in, where; the status filter's statuses.
 * @param {Partial<SessionInfo>} info
 */
function showSession(info) {
  const where = info.namespace ? ` · ${info.namespace}${info.taskQueue ? ' / ' + info.taskQueue : ''}` : '';
  $('who').textContent = `Signed in as ${app.session?.name}${where}`;
  if (info.statuses) setStatusOptions(info.statuses);
}

// ---------- Router & polling ----------

function route() {
  if (!app.session) return showLogin();
  const current = parseRoute(location.hash);
  app.route = current;
  all(document, '[data-view]').forEach((s) => {
    s.hidden = s.dataset.view !== current.view;
  });
  $('nav-approvals').classList.toggle('active', current.view === 'approvals');
  $('nav-conversations').classList.toggle('active', current.view !== 'approvals');
  if (current.view === 'conversation' && (!app.conv || app.conv.id !== current.id))
    app.conv = openConversation(current.id);
  if (current.view === 'conversations') invalidateList();
  syncLive();
  restartPolling();
}

/**
 * Reads the open view's data and renders it, unless the view changed meanwhile.
 * @param {() => boolean} isCurrent
 */
async function refresh(isCurrent) {
  const r = app.route;
  if (r.view === 'approvals') {
    const data = await listApprovals();
    if (isCurrent()) renderQueue(data.approvals || [], data.unreadable || []);
  } else if (r.view === 'conversations') {
    const data = await listConversations(statusFilter().value);
    if (isCurrent()) renderConversationList(data.conversations || []);
  } else {
    try {
      const state = await getConversation(r.id);
      if (isCurrent() && app.conv && app.conv.id === r.id) renderConversation(app.conv, state);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
      if (isCurrent() && app.conv) renderNotFound(app.conv, r.id);
    }
  }
}

// ---------- Start ----------

function start() {
  startClock();
  onSessionExpired(signOut);
  setRefresh(refresh);
  element('login-form', HTMLFormElement).addEventListener('submit', onLogin);
  $('sign-out').addEventListener('click', () => signOut());
  statusFilter().addEventListener('change', () => {
    invalidateList();
    restartPolling();
  });
  window.addEventListener('hashchange', route);
  if (!app.session) return showLogin();
  enterApp({});
  getSession()
    .then((info) => {
      if (app.session) showSession(info);
    })
    .catch(() => {});
}

start();
