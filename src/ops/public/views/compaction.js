// @ts-check
/**
 * A conversation's compaction: how many, the last one, where the prompt starts and where the messages
 * summarized in earlier runs are; a button to compact now (not for server-side compaction, nor once
 * it has ended). The transcript marks each compaction message (conversation.js).
 */
import { ApiError, getEarlier, postCompact } from '../api.js';
import { $, flash, h } from '../dom.js';
import { errorMessage } from '../format.js';
import { restartPolling } from '../poll.js';

/** @typedef {import('../../server').ConversationResponse} ConversationResponse */
/** @typedef {import('../../server').EarlierResponse} EarlierResponse */

export function clearCompaction() {
  $('conv-compaction').replaceChildren();
  $('conv-compaction').hidden = true;
}

/**
 * @param {string} workflowId
 * @param {ConversationResponse} s
 */
export function renderCompaction(workflowId, s) {
  const section = $('conv-compaction');
  const open = s.status !== 'completed' && s.status !== 'cancelled';
  const view = s.compaction;
  if (!view && !open) return clearCompaction();
  const last = view?.recent.at(-1);
  const text = view
    ? [
        `Compacted ${view.count} time${view.count === 1 ? '' : 's'}`,
        last ? `last: ${last.trigger}${last.by ? ` by ${last.by}` : ''}` : null,
        `the prompt starts at message ${view.promptFrom}`,
        view.earlier ? `messages before ${view.earlier.firstIndex} are in an earlier run` : null,
        view.requested ? 'a compaction is requested' : null,
      ]
        .filter((part) => part !== null)
        .join(' · ')
    : 'Not compacted';
  let line = section.querySelector('[data-testid="compaction-summary"]');
  if (!line) section.prepend((line = h('div', { class: 'usage', testid: 'compaction-summary' })));
  line.textContent = text;
  let button = /** @type {HTMLButtonElement | null} */ (section.querySelector('button'));
  if (open && !button) {
    button = h('button', { type: 'button', class: 'btn', testid: 'compact-now', text: 'Compact now' });
    const target = button;
    button.addEventListener('click', () => void compactNow(workflowId, target));
    section.append(button);
  }
  if (!open) button?.remove();
  // The messages earlier runs hold: loaded on demand (each read replays a closed run on a worker).
  const earlier = view?.earlier;
  let more = /** @type {HTMLButtonElement | null} */ (section.querySelector('[data-testid="show-earlier"]'));
  if (earlier && !more && !section.querySelector('[data-testid="earlier-messages"]')) {
    more = h('button', {
      type: 'button',
      class: 'btn',
      testid: 'show-earlier',
      text: `Show the ${earlier.firstIndex} earlier messages`,
    });
    const target = more;
    more.addEventListener('click', () => void showEarlier(workflowId, target, earlier.firstIndex));
    section.append(more);
  }
  section.hidden = false;
}

/**
 * Loads the messages before `before` from the earlier runs and shows them, oldest first.
 * @param {string} workflowId
 * @param {HTMLButtonElement} button
 * @param {number} before
 */
async function showEarlier(workflowId, button, before) {
  button.disabled = true;
  try {
    const { messages } = await getEarlier(workflowId, before);
    const list = h(
      'details',
      { class: 'earlier', testid: 'earlier-messages' },
      h('summary', { text: `${messages.length} messages from earlier runs (summarized by compaction)` }),
      messages.map(({ index, message }) =>
        h(
          'div',
          {
            class: `msg msg-${message.role === 'assistant' ? 'assistant' : 'user'}`,
            testid: 'earlier-message',
          },
          h('div', { class: 'msg-head' }, h('span', { class: 'role', text: `#${index} ${message.role}` })),
          h('div', { class: 'text', text: textOf(message) }),
        ),
      ),
    );
    list.open = true;
    button.replaceWith(list);
  } catch (e) {
    button.disabled = false;
    if (e instanceof ApiError && e.status === 401) return;
    flash($('conv-flash'), errorMessage(e));
  }
}

/**
 * A message as text: its text blocks, and the other blocks by type.
 * @param {EarlierResponse['messages'][number]['message']} message
 */
function textOf(message) {
  if (typeof message.content === 'string') return message.content;
  return message.content.map((b) => (b.type === 'text' ? b.text : `[${b.type}]`)).join('\n');
}

/**
 * @param {string} workflowId
 * @param {HTMLButtonElement} button
 */
async function compactNow(workflowId, button) {
  button.disabled = true;
  try {
    await postCompact(workflowId, {});
    flash($('conv-flash'), `Compaction of ${workflowId} requested.`);
    restartPolling();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    flash($('conv-flash'), errorMessage(e));
  } finally {
    button.disabled = false;
  }
}
