// @ts-check
/** The page's shared state: who is signed in, which view is open, what the open conversation shows. */

/** @typedef {import('../../api/conversation').ConversationStatus} ConversationStatus */
/** @typedef {import('./router.js').Route} Route */

/**
 * @typedef {object} Session
 * @property {string} name The operator's name: it becomes `decidedBy`.
 * @property {string} token The ops server's bearer token (OPS_TOKEN).
 */

/**
 * The open conversation view: what is already rendered.
 * @typedef {object} ConversationView
 * @property {string} id The workflow id.
 * @property {string[]} sigs The JSON of each rendered message.
 * @property {Map<string, string>} toolNames Tool names by tool_use id.
 * @property {Set<string>} decisionKeys The decisions rendered.
 * @property {string | null} headerSig The JSON of what the header shows.
 * @property {string | null} agentSig The JSON of what the agent panel shows.
 * @property {string | null} treeSig The JSON of the sub-agent runs the tree shows.
 * @property {Set<string>} expanded The sub-agent conversations whose own sub-agents are shown.
 * @property {ConversationStatus} [status] The status of the last state read.
 * @property {number} [terminalAt] When the view first saw it completed or cancelled with a call streaming.
 */

const SESSION_KEY = 'ops.session';
/** The last operator name, offered at the next login. */
export const LAST_NAME_KEY = 'ops.lastName';

/** @returns {Session | null} */
function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    return s && s.name && s.token ? s : null;
  } catch {
    return null;
  }
}

/** @param {Session} session */
export function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  sessionStorage.setItem(LAST_NAME_KEY, session.name);
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

export const app = {
  /** @type {Session | null} */
  session: loadSession(),
  /** @type {Route} */
  route: { view: 'approvals' },
  /**
   * Cards decided from this page, hidden even if a poll still lists them.
   * @type {Set<string>}
   */
  decided: new Set(),
  /** @type {ConversationView | null} */
  conv: null,
};
