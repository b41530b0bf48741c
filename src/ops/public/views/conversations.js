// @ts-check
/** The conversation list, with the status filter built from the contract's list of statuses. */
import { $, element, h, statusBadge } from '../dom.js';
import { num } from '../format.js';
import { conversationHref } from '../router.js';
import { timeEl } from '../time.js';

/** @typedef {import('../../../api/conversation').ConversationStatus} ConversationStatus */
/** @typedef {import('../../server').ConversationRow} ConversationRow */

/**
 * The JSON of the list shown: an unchanged list is not rebuilt.
 * @type {string | null}
 */
let lastListSig = null;

/** The status filter (its value: a status, or '' for all). */
export const statusFilter = () => element('status-filter', HTMLSelectElement);

/**
 * Puts the statuses after the filter's "All" option, keeping the selection.
 * @param {readonly ConversationStatus[]} statuses
 */
export function setStatusOptions(statuses) {
  const select = statusFilter();
  const selected = select.value;
  for (const option of [...select.options]) if (option.value) option.remove();
  select.append(...statuses.map((status) => h('option', { value: status, text: status })));
  if (statuses.some((status) => status === selected)) select.value = selected;
}

/** Rebuilds the list at the next render (another filter, or back on the view). */
export function invalidateList() {
  lastListSig = null;
}

export function clearList() {
  lastListSig = null;
  $('conv-rows').replaceChildren();
}

/** @param {ConversationRow[]} list */
export function renderConversationList(list) {
  const sig = JSON.stringify(list);
  if (sig === lastListSig) return;
  lastListSig = sig;
  $('conv-rows').replaceChildren(...list.map(renderRow));
  $('conv-empty').hidden = list.length > 0;
}

/** @param {ConversationRow} c */
function renderRow(c) {
  const href = conversationHref(c.workflowId);
  const u = c.usage;
  return h(
    'tr',
    {
      class: 'row-link',
      tabindex: '0',
      testid: 'conversation-row',
      data: { workflowId: c.workflowId },
      onclick: (ev) => {
        if (!(ev.target instanceof Element && ev.target.closest('a'))) location.hash = href;
      },
      onkeydown: (ev) => {
        if (ev.key === 'Enter') location.hash = href;
      },
    },
    h('td', { class: 'id-cell' }, h('a', { href, text: c.workflowId })),
    h('td', null, statusBadge(c.status)),
    h('td', { testid: 'conversation-agent', text: c.agent || '—' }),
    h('td', { text: c.model || '—' }),
    h('td', null, c.lastActivity ? timeEl(c.lastActivity) : '—'),
    h('td', { class: 'num', text: u ? `${num(u.inputTokens)} / ${num(u.outputTokens)}` : '—' }),
    h(
      'td',
      { class: 'num' },
      c.pendingApprovals
        ? h('span', { class: 'badge status-awaiting_approval', text: c.pendingApprovals })
        : '0',
    ),
  );
}
