// @ts-check
/** The page's shared state: who is signed in, which view is open, what the open conversation shows. */

/** @typedef {import('../../api/conversation').ConversationStatus} ConversationStatus */
/** @typedef {import('./router.js').Route} Route */

/**
 * Who is signed in. The credential is the HttpOnly session cookie, which this page never sees; the
 * CSRF token goes back in a header on every POST.
 * @typedef {object} Session
 * @property {string} name The operator's name as shown, from the server.
 * @property {string} decider What their decisions record as `decidedBy` (for single sign-on
 *   `oidc:<subject>/<name>`).
 * @property {import('../identity/identity').Role} role
 * @property {string[]} groups
 * @property {string} csrf The CSRF token of the session.
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

export const app = {
  /** @type {Session | null} (read from GET /api/session at start: the cookie outlives a reload) */
  session: null,
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
