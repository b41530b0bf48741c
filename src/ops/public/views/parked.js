// @ts-check
/**
 * What an operator does to a conversation that is not deciding a tool call: resume a parked one, end
 * one with a reason, compact it. Built once per conversation and status, so a reason being typed
 * survives the refreshes. Viewers see none of it (the server refuses them anyway).
 */
import { ApiError, postCompact, postEnd, postResume } from '../api.js';
import { $, flash, h, uid } from '../dom.js';
import { errorMessage } from '../format.js';
import { restartPolling } from '../poll.js';
import { app } from '../state.js';

/** @typedef {import('../../../api/conversation').ConversationStatus} ConversationStatus */

/** Whether the signed-in operator may act (approver or admin). */
export const canAct = () => app.session !== null && app.session.role !== 'viewer';

/**
 * The actions on conversation `workflowId`: Resume while parked, End (with a reason) while open,
 * Compact when asked for.
 * @param {string} workflowId
 * @param {{ status: ConversationStatus | 'unknown', flash: HTMLElement, compact?: boolean }} opts
 * @returns {HTMLElement | null} Nothing for a viewer or a conversation that is over.
 */
export function conversationActions(workflowId, opts) {
  const open = opts.status !== 'completed' && opts.status !== 'cancelled';
  if (!canAct() || !open) return null;
  const reasonId = uid('end-reason');
  const reason = h('textarea', {
    id: reasonId,
    testid: 'end-reason',
    rows: 2,
    placeholder: 'Why? It is kept as the conversation’s end reason.',
  });
  const error = h('p', { class: 'error', role: 'alert', testid: 'action-error', hidden: true });
  const endPanel = h(
    'div',
    { class: 'panel', hidden: true },
    h('label', { for: reasonId, text: 'Reason for ending it' }),
    reason,
    h(
      'div',
      { class: 'actions' },
      h('button', {
        type: 'button',
        class: 'btn danger',
        testid: 'end-confirm',
        text: 'End the conversation',
        onclick: () =>
          void act(
            () => postEnd(workflowId, reason.value.trim() ? { reason: reason.value.trim() } : {}),
            'Ended',
          ),
      }),
    ),
  );
  const box = h(
    'div',
    { class: 'parked-actions', data: { workflowId } },
    h(
      'div',
      { class: 'actions' },
      opts.status === 'needs_attention'
        ? h('button', {
            type: 'button',
            class: 'btn primary',
            testid: 'resume',
            text: 'Resume',
            onclick: () => void act(() => postResume(workflowId, {}), 'Resumed'),
          })
        : null,
      opts.compact
        ? h('button', {
            type: 'button',
            class: 'btn',
            testid: 'attention-compact',
            text: 'Compact',
            onclick: () => void act(() => postCompact(workflowId, {}), 'Compaction requested for'),
          })
        : null,
      h('button', {
        type: 'button',
        class: 'btn',
        testid: 'end',
        text: 'End…',
        onclick: () => {
          endPanel.hidden = !endPanel.hidden;
          if (!endPanel.hidden) reason.focus();
        },
      }),
    ),
    endPanel,
    error,
  );

  /**
   * @param {() => Promise<unknown>} call
   * @param {string} done
   */
  async function act(call, done) {
    const buttons = [...box.querySelectorAll('button')];
    buttons.forEach((b) => (b.disabled = true));
    error.hidden = true;
    try {
      const answer = /** @type {{ status?: string }} */ (await call());
      flash(opts.flash, `${done} ${workflowId}${answer.status ? ` (now ${answer.status})` : ''}.`);
      restartPolling();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      error.textContent = errorMessage(e);
      error.hidden = false;
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  }
  return box;
}

/** The actions panel of the conversation view, and what it was built for. */
let shown = { key: '' };

/**
 * The conversation view's actions (resume and end; its compaction and budget have their own sections).
 * @param {string} workflowId
 * @param {ConversationStatus} status
 */
export function renderConversationActions(workflowId, status) {
  const key = JSON.stringify([workflowId, status, app.session?.role]);
  if (key === shown.key) return;
  shown = { key };
  const panel = conversationActions(workflowId, { status, flash: $('conv-flash') });
  $('conv-actions').replaceChildren(...(panel ? [panel] : []));
  $('conv-actions').hidden = !panel;
}

export function clearConversationActions() {
  shown = { key: '' };
  $('conv-actions').replaceChildren();
  $('conv-actions').hidden = true;
}
