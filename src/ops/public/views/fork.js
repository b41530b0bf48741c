// @ts-check
/**
 * "Fork from here" on a message of the conversation view: a new conversation from the transcript up to
 * that message, linked to its origin (AgentClient.fork). Offered where a fork can start: a user's own
 * message (the fork answers it again) or a finished answer (the fork takes a new message, optional);
 * never inside a tool round (a tool call or its results), nor on a compaction message.
 */
import { ApiError, postFork } from '../api.js';
import { h, uid } from '../dom.js';
import { errorMessage } from '../format.js';
import { conversationHref } from '../router.js';
import { canAct } from './parked.js';

/** @typedef {import('../../../api/conversation').MessageParam} MessageParam */

/**
 * Where a fork may start, and what it does there.
 * @param {MessageParam} m
 * @returns {'answer-again' | 'new-message' | null}
 */
export function forkKind(m) {
  const blocks = typeof m.content === 'string' ? [] : m.content;
  const types = new Set(blocks.map((b) => /** @type {{ type: string }} */ (b).type));
  if (types.has('compaction')) return null;
  if (m.role === 'user') return types.has('tool_result') ? null : 'answer-again';
  return types.has('tool_use') || types.has('server_tool_use') || types.has('mcp_tool_use')
    ? null
    : 'new-message';
}

/**
 * The "Fork from here" control of message `at` of conversation `workflowId` (null where none applies).
 * @param {string} workflowId
 * @param {MessageParam} m
 * @param {number} at The message's index in the whole transcript.
 */
export function forkControl(workflowId, m, at) {
  const kind = forkKind(m);
  if (!kind || !canAct()) return null;
  const messageId = uid('fork-message');
  const message = h('textarea', {
    id: messageId,
    testid: 'fork-message',
    rows: 2,
    placeholder: 'The fork’s next message (optional: it can be sent later)',
  });
  const error = h('p', { class: 'error', role: 'alert', testid: 'fork-error', hidden: true });
  const go = h('button', {
    type: 'button',
    class: 'btn primary small',
    testid: 'fork-confirm',
    text: 'Fork',
  });
  const panel = h(
    'div',
    { class: 'panel', hidden: true },
    kind === 'answer-again'
      ? h('p', {
          class: 'muted',
          text: `A new conversation with messages 0–${at}: it answers this message again.`,
        })
      : h('label', { for: messageId, text: `A new conversation with messages 0–${at}; its next message:` }),
    kind === 'new-message' ? message : null,
    h('div', { class: 'actions' }, go),
    error,
  );
  go.addEventListener('click', async () => {
    go.disabled = true;
    error.hidden = true;
    try {
      const text = message.value.trim();
      const { workflowId: fork } = await postFork(workflowId, {
        at,
        ...(kind === 'new-message' && text && { message: text }),
      });
      location.hash = conversationHref(fork);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      error.textContent = errorMessage(e);
      error.hidden = false;
    } finally {
      go.disabled = false;
    }
  });
  return h(
    'div',
    { class: 'fork', testid: 'fork' },
    h('button', {
      type: 'button',
      class: 'link small',
      testid: 'fork-from-here',
      text: 'Fork from here',
      onclick: () => {
        panel.hidden = !panel.hidden;
        if (!panel.hidden && kind === 'new-message') message.focus();
      },
    }),
    panel,
  );
}
