// @ts-check
/** The approval queue: every tool call waiting for a decision, across conversations. */
import { $ } from '../dom.js';
import { forgetDecided, reconcileCards } from './cards.js';

/** @typedef {import('../../../client').PendingApprovalItem} PendingApprovalItem */

/** @param {PendingApprovalItem[]} approvals */
export function renderQueue(approvals) {
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

export function clearQueue() {
  $('queue').replaceChildren();
}
