// @ts-check
/** The approval queue: every tool call waiting for a decision, across conversations. */
import { $, h } from '../dom.js';
import { conversationHref } from '../router.js';
import { forgetDecided, reconcileCards } from './cards.js';

/** @typedef {import('../../../client').PendingApprovalItem} PendingApprovalItem */
/** @typedef {import('../../../client').UnreadableConversation} UnreadableConversation */

/**
 * @param {PendingApprovalItem[]} approvals
 * @param {UnreadableConversation[]} [unreadable] Waiting conversations whose calls could not be read.
 */
export function renderQueue(approvals, unreadable = []) {
  renderUnreadable(unreadable);
  forgetDecided(approvals);
  const n = reconcileCards($('queue'), approvals, {
    link: true,
    flash: $('queue-flash'),
    after: updateQueueCount,
  });
  updateQueueCount(n);
}

function updateQueueCount(n = $('queue').children.length) {
  $('approvals-empty').hidden = n > 0;
  $('queue-count').textContent = n ? `${n} pending` : '';
  $('nav-count').textContent = String(n);
  $('nav-count').hidden = !n;
  document.title = n ? `(${n}) Claude agent ops` : 'Claude agent ops';
}

/**
 * Names the conversations the server could not read, so a missing card is not mistaken for none.
 * @param {UnreadableConversation[]} unreadable
 */
function renderUnreadable(unreadable) {
  const box = $('queue-unreadable');
  box.hidden = unreadable.length === 0;
  box.replaceChildren(
    ...(unreadable.length
      ? [
          h('p', {
            text:
              unreadable.length === 1
                ? 'One waiting conversation could not be read; its calls are not shown:'
                : `${unreadable.length} waiting conversations could not be read; their calls are not shown:`,
          }),
          h(
            'ul',
            null,
            unreadable.map((u) =>
              h(
                'li',
                null,
                h('a', { href: conversationHref(u.workflowId), text: u.workflowId }),
                ` (${u.error})`,
              ),
            ),
          ),
        ]
      : []),
  );
}

export function clearQueue() {
  $('queue').replaceChildren();
  renderUnreadable([]);
}
