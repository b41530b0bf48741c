// @ts-check
/**
 * Ops page for the Claude agent worker: approval queue, conversation list and conversation view. Plain
 * ES modules, no build step, type-checked against the TypeScript contract (tsconfig.json here).
 * This module signs in and out, routes, and polls the open view.
 */
import {
  ApiError,
  currentSession,
  getConversation,
  listApprovals,
  listAttention,
  listConversations,
  login,
  logout,
  onSessionExpired,
  signInMethods,
} from './api.js';
import { $, all, element } from './dom.js';
import { closeFeed, syncFeed } from './feed.js';
import { restartPolling, setRefresh, stopPolling } from './poll.js';
import { parseRoute } from './router.js';
import { app } from './state.js';
import { startClock } from './time.js';
import { clearQueue, renderQueue } from './views/approvals.js';
import { clearAttention, renderAttention } from './views/attention.js';
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
/** @typedef {import('../identity/auth').SignedIn} SignedIn */

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
  closeFeed();
  stopLive();
  $('app').hidden = true;
  $('login-view').hidden = false;
  // An identity provider sent back an error (`/#login-error=...`): shown once, as text.
  const failed = /^#login-error=(.*)$/.exec(location.hash);
  if (failed) history.replaceState(null, '', location.pathname);
  loginError(msg ?? (failed ? safeDecode(failed[1]) : null));
  loginToken().focus();
  signInMethods().then((m) => {
    $('login-oidc').hidden = !(m && m.oidc);
  });
}

/** @param {string} text */
function safeDecode(text) {
  try {
    return decodeURIComponent(text).slice(0, 300);
  } catch {
    return 'Sign-in failed.';
  }
}

/**
 * Keeps who is signed in (from the server: the name is never typed) and the CSRF token.
 * @param {SignedIn} signed
 */
function adopt(signed) {
  app.session = {
    name: signed.operator.label ?? signed.operator.name,
    decider: signed.operator.name,
    role: signed.operator.role,
    groups: signed.operator.groups,
    csrf: signed.csrfToken || '',
  };
}

/** @param {SubmitEvent} ev */
async function onLogin(ev) {
  ev.preventDefault();
  const token = loginToken().value.trim();
  if (!token) return loginError('Enter your operator token.');
  loginError(null);
  const submit = element('login-submit', HTMLButtonElement);
  submit.disabled = true;
  try {
    const { status, data } = await login(token);
    if (status === 401)
      return loginError('The token was rejected' + (data && data.message ? `: ${data.message}` : '.'));
    if (status !== 200 || !data || !data.operator)
      return loginError((data && data.message) || `The server answered ${status}.`);
    adopt(data);
    loginToken().value = '';
    const info = await currentSession();
    enterApp(info || {});
  } catch {
    loginError('Cannot reach the server.');
  } finally {
    submit.disabled = false;
  }
}

/**
 * Signs out: the sign-in form shows once the server has ended the session (or could not be reached), so
 * "signed out" on the screen means the old cookie no longer works.
 * @param {string} [msg]
 */
async function signOut(msg) {
  if (app.session && !msg) await logout(app.session);
  app.session = null;
  app.decided.clear();
  app.conv = null;
  clearQueue();
  clearAttention();
  clearList();
  showLogin(msg);
}

/** @param {Partial<SessionInfo>} info */
function enterApp(info) {
  $('login-view').hidden = true;
  $('app').hidden = false;
  showSession(info);
  if (!/^#\/(approvals|attention|conversations)/.test(location.hash)) location.hash = '#/approvals';
  else route();
}

/**
 * Who is signed in, where; the status filter's statuses.
 * @param {Partial<SessionInfo>} info
 */
function showSession(info) {
  const where = info.namespace ? ` · ${info.namespace}${info.taskQueue ? ' / ' + info.taskQueue : ''}` : '';
  const role = app.session ? ` (${app.session.role})` : '';
  $('who').textContent = `Signed in as ${app.session?.name}${role}${where}`;
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
  $('nav-attention').classList.toggle('active', current.view === 'attention');
  $('nav-conversations').classList.toggle(
    'active',
    current.view === 'conversations' || current.view === 'conversation',
  );
  if (current.view === 'conversation' && (!app.conv || app.conv.id !== current.id))
    app.conv = openConversation(current.id);
  if (current.view === 'conversations') invalidateList();
  syncLive();
  // The queue and a conversation come by server push (feed.js); the other views poll.
  syncFeed();
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
  } else if (r.view === 'attention') {
    const data = await listAttention();
    if (isCurrent()) renderAttention(data.conversations || [], data.unreadable || []);
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
  $('sign-out').addEventListener('click', () => void signOut());
  statusFilter().addEventListener('change', () => {
    invalidateList();
    restartPolling();
  });
  window.addEventListener('hashchange', route);
  // The session cookie outlives a reload: ask the server who it belongs to.
  currentSession()
    .then((info) => {
      if (!info || !info.operator) return showLogin();
      adopt(info);
      enterApp(info);
    })
    .catch(() => showLogin('Cannot reach the server.'));
}

start();
