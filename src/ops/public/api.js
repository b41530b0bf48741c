// @ts-check
/** The ops server's JSON API, typed by the routes' answers in src/ops/server.ts. */
import { errorMessage } from './format.js';
import { app } from './state.js';

/** @typedef {import('./state.js').Session} Session */
/** @typedef {import('../server').SessionInfo} SessionInfo */
/** @typedef {import('../server').ApprovalsResponse} ApprovalsResponse */
/** @typedef {import('../server').ConversationsResponse} ConversationsResponse */
/** @typedef {import('../server').ConversationResponse} ConversationResponse */
/** @typedef {import('../server').DecisionBody} DecisionBody */
/** @typedef {import('../server').DecisionResponse} DecisionResponse */
/** @typedef {import('../server').BudgetBody} BudgetBody */
/** @typedef {import('../server').BudgetResponse} BudgetResponse */
/** @typedef {import('../server').CompactBody} CompactBody */
/** @typedef {import('../server').CompactResponse} CompactResponse */
/** @typedef {import('../server').EarlierResponse} EarlierResponse */
/** @typedef {import('../conversation-actions').AttentionResponse} AttentionResponse */
/** @typedef {import('../conversation-actions').ResumeBody} ResumeBody */
/** @typedef {import('../conversation-actions').EndBody} EndBody */
/** @typedef {import('../conversation-actions').ForkBody} ForkBody */
/** @typedef {import('../conversation-actions').ForkResponse} ForkResponse */
/** @typedef {import('../conversation-actions').StatusResponse} StatusResponse */
/** @typedef {import('../identity/auth').SignedIn} SignedIn */
/** @typedef {import('../identity/auth').SignInMethods} SignInMethods */

/** An API call that failed: the HTTP status (0 when the server cannot be reached) and the error code. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * The headers of every API call. The session cookie goes by itself (HttpOnly: this page never reads
 * it); the CSRF token proves a POST comes from this page. Who decides is the server's business.
 * @param {Session} s
 * @returns {Record<string, string>}
 */
export function authHeaders(s) {
  return { 'x-csrf-token': s.csrf, Accept: 'application/json' };
}

/**
 * Signs in with an operator token: the server sets the session cookie.
 * @param {string} token
 * @returns {Promise<{ status: number, data: (SignedIn & { message?: string }) | null }>}
 */
export async function login(token) {
  const res = await fetch('/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ token }),
    cache: 'no-store',
  });
  return { status: res.status, data: await res.json().catch(() => null) };
}

/**
 * Ends the session (the server forgets it and clears the cookie).
 * @param {Session} s
 */
export async function logout(s) {
  await fetch('/auth/logout', { method: 'POST', headers: authHeaders(s), cache: 'no-store' }).catch(() => {});
}

/** @returns {Promise<SignInMethods | null>} */
export async function signInMethods() {
  const res = await fetch('/auth/methods', { cache: 'no-store' }).catch(() => null);
  return res && res.ok ? res.json() : null;
}

/**
 * Who the session cookie belongs to, or null when there is none (or it ended).
 * @returns {Promise<SessionInfo | null>}
 */
export async function currentSession() {
  const res = await fetch('/api/session', { headers: { Accept: 'application/json' }, cache: 'no-store' });
  return res.ok ? res.json() : null;
}

/** @type {(message: string) => void} */
let onExpired = () => {};

/**
 * Who hears that the server refused the token (the page signs out).
 * @param {(message: string) => void} handler
 */
export function onSessionExpired(handler) {
  onExpired = handler;
}

/** The server refused the token: sign out. */
export function sessionExpired() {
  onExpired('Your session is no longer valid. Sign in again.');
}

/**
 * Calls the JSON API; throws ApiError; a 401 anywhere signs out.
 * @template T
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [init]
 * @returns {Promise<T>}
 */
async function api(path, { method = 'GET', body } = {}) {
  if (!app.session) throw new ApiError(401, 'unauthorized', 'Not signed in.');
  const headers = authHeaders(app.session);
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'Cannot reach the server (' + errorMessage(e) + ').');
  }
  const data = await res.json().catch(() => null);
  if (res.status === 401) {
    sessionExpired();
    throw new ApiError(401, 'unauthorized', (data && data.message) || 'Unauthorized.');
  }
  if (!res.ok) {
    const message = (data && (data.message || data.error)) || `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, (data && data.error) || `http_${res.status}`, message);
  }
  return data || {};
}

/** @returns {Promise<SessionInfo>} */
export const getSession = () => api('/api/session');

/** @returns {Promise<ApprovalsResponse>} */
export const listApprovals = () => api('/api/approvals');

/**
 * @param {string} status A status, or '' for all.
 * @returns {Promise<ConversationsResponse>}
 */
export const listConversations = (status) => {
  const q = new URLSearchParams({ limit: '50' });
  if (status) q.set('status', status);
  return api('/api/conversations?' + q);
};

/**
 * @param {string} id
 * @returns {Promise<ConversationResponse>}
 */
export const getConversation = (id) => api('/api/conversations/' + encodeURIComponent(id));

/**
 * @param {string} workflowId
 * @param {DecisionBody} body
 * @returns {Promise<DecisionResponse>}
 */
export const postDecision = (workflowId, body) =>
  api(`/api/conversations/${encodeURIComponent(workflowId)}/decisions`, { method: 'POST', body });

/**
 * Sets new budget ceilings (the operator raising it is the signed-in one).
 * @param {string} workflowId
 * @param {BudgetBody} body
 * @returns {Promise<BudgetResponse>}
 */
export const postBudget = (workflowId, body) =>
  api(`/api/conversations/${encodeURIComponent(workflowId)}/budget`, { method: 'POST', body });

/**
 * The messages earlier runs hold (summarized by compaction), oldest first, before index `before`.
 * @param {string} workflowId
 * @param {number} [before]
 * @returns {Promise<EarlierResponse>}
 */
export const getEarlier = (workflowId, before) =>
  api(
    `/api/conversations/${encodeURIComponent(workflowId)}/earlier${before === undefined ? '' : `?before=${before}`}`,
  );

/**
 * Asks for a compaction (the operator asking is the signed-in one).
 * @param {string} workflowId
 * @param {CompactBody} body
 * @returns {Promise<CompactResponse>}
 */
export const postCompact = (workflowId, body) =>
  api(`/api/conversations/${encodeURIComponent(workflowId)}/compact`, { method: 'POST', body });

/** @returns {Promise<AttentionResponse>} The conversations parked in needs_attention, with why. */
export const listAttention = () => api('/api/attention');

/**
 * Resumes a parked conversation (the operator resuming it is the signed-in one).
 * @param {string} workflowId
 * @param {ResumeBody} body
 * @returns {Promise<StatusResponse>}
 */
export const postResume = (workflowId, body) =>
  api(`/api/conversations/${encodeURIComponent(workflowId)}/resume`, { method: 'POST', body });

/**
 * Ends a conversation, with a reason.
 * @param {string} workflowId
 * @param {EndBody} body
 * @returns {Promise<StatusResponse>}
 */
export const postEnd = (workflowId, body) =>
  api(`/api/conversations/${encodeURIComponent(workflowId)}/end`, { method: 'POST', body });

/**
 * Starts a new conversation from this one's transcript up to message `at`.
 * @param {string} workflowId
 * @param {ForkBody} body
 * @returns {Promise<ForkResponse>}
 */
export const postFork = (workflowId, body) =>
  api(`/api/conversations/${encodeURIComponent(workflowId)}/fork`, { method: 'POST', body });
