// @ts-check
/**
 * The needs-attention view: every conversation parked in `needs_attention`, with why (the reason and
 * the message), and what to do about it: resume, end with a reason, compact, and for a spent budget
 * the raise form. A card stays while its conversation stays parked for the same reason (what the
 * operator types survives the refreshes).
 */
import { $, childElements, h } from '../dom.js';
import { conversationHref } from '../router.js';
import { timeEl } from '../time.js';
import { raiseForm } from './budget.js';
import { canAct, conversationActions } from './parked.js';

/** @typedef {import('../../conversation-actions').AttentionRow} AttentionRow */
/** @typedef {import('../../../client').UnreadableConversation} UnreadableConversation */

const keyOf = (/** @type {AttentionRow} */ row) =>
  JSON.stringify([row.workflowId, row.attention?.reason ?? null, row.attention?.at ?? null]);

/**
 * @param {AttentionRow[]} rows
 * @param {UnreadableConversation[]} unreadable
 */
export function renderAttention(rows, unreadable) {
  const list = $('attention-list');
  const keys = new Set(rows.map(keyOf));
  for (const card of childElements(list)) if (!keys.has(card.dataset.key ?? '')) card.remove();
  /** @type {HTMLElement | null} */
  let next = null;
  for (let i = rows.length - 1; i >= 0; i--) {
    const key = keyOf(rows[i]);
    let card = childElements(list).find((c) => c.dataset.key === key);
    if (!card) list.insertBefore((card = renderCard(rows[i], key)), next);
    next = card;
  }
  const n = rows.length;
  $('attention-empty').hidden = n > 0;
  $('attention-count').textContent = [
    n ? `${n} parked` : '',
    unreadable.length ? `${unreadable.length} could not be read` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  $('nav-attention-count').textContent = String(n);
  $('nav-attention-count').hidden = !n;
}

export function clearAttention() {
  $('attention-list').replaceChildren();
}

/**
 * @param {AttentionRow} row
 * @param {string} key
 */
function renderCard(row, key) {
  const a = row.attention;
  const flash = $('attention-flash');
  const budget =
    canAct() && a?.reason === 'budget_exceeded'
      ? raiseForm(row.workflowId, row.budgetLimit ?? {}, flash)
      : null;
  return h(
    'article',
    {
      class: 'card attention-card',
      testid: 'attention-card',
      data: { workflowId: row.workflowId, key },
      'aria-label': `Parked conversation ${row.workflowId}`,
    },
    h(
      'div',
      { class: 'card-head' },
      h(
        'div',
        { class: 'card-title' },
        h('a', { href: conversationHref(row.workflowId), testid: 'attention-link', text: row.workflowId }),
        row.agent ? h('span', { class: 'muted', text: `agent ${row.agent}` }) : null,
        row.model ? h('span', { class: 'muted', text: row.model }) : null,
      ),
      a ? h('div', { class: 'card-times' }, 'parked ', timeEl(a.at)) : null,
    ),
    a
      ? h(
          'div',
          { class: 'attention' },
          h('strong', { testid: 'attention-reason', text: a.reason }),
          h('div', { testid: 'attention-message', text: a.message }),
          a.errorType || a.status
            ? h('div', { class: 'muted', text: [a.errorType, a.status].filter(Boolean).join(' · ') })
            : null,
        )
      : h('p', { class: 'muted', text: 'Its state could not be read: open it for details.' }),
    budget,
    conversationActions(row.workflowId, { status: 'needs_attention', flash, compact: true }),
  );
}
