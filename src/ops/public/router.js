// @ts-check
/** Hash routes: `#/approvals`, `#/attention`, `#/conversations`, `#/conversations/<workflow id>`. */

/** @typedef {{ view: 'approvals' } | { view: 'attention' } | { view: 'conversations' } | { view: 'conversation', id: string }} Route */

function safeDecode(/** @type {string} */ s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The route of a location hash (anything unknown is the approval queue).
 * @param {string} hash
 * @returns {Route}
 */
export function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/');
  if (parts[0] === 'conversations' && parts.length > 1 && parts[1]) {
    const raw = parts.slice(1).join('/');
    return { view: 'conversation', id: safeDecode(raw) };
  }
  if (parts[0] === 'attention') return { view: 'attention' };
  return { view: parts[0] === 'conversations' ? 'conversations' : 'approvals' };
}

/** The link to a conversation's view. */
export const conversationHref = (/** @type {string} */ id) => '#/conversations/' + encodeURIComponent(id);
