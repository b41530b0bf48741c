// @ts-check
/**
 * Approval cards, in the queue and in a conversation view: approve, reject with a reason, or edit the
 * input in a JSON editor. Polls add new cards and remove decided ones, never touching cards that stay.
 */
import { ApiError, postDecision } from '../api.js';
import { childElements, flash, h, uid } from '../dom.js';
import { errorMessage, pretty } from '../format.js';
import { restartPolling } from '../poll.js';
import { conversationHref } from '../router.js';
import { app } from '../state.js';
import { timeEl } from '../time.js';
import { canAct } from './parked.js';

/** @typedef {import('../../../api/approvals').PendingApproval} PendingApproval */
/** @typedef {import('../../../api/agents').ParentLink} ParentLink */
/** @typedef {import('../../../api/approvals').RecordedDecision} RecordedDecision */
/** @typedef {import('../../server').DecisionBody} DecisionBody */

/**
 * A card's tool call: a pending approval with its conversation (the queue also knows the model, the
 * agent, and for a sub-agent's call the conversation it works for).
 * @typedef {PendingApproval & { workflowId: string, model?: string, agent?: string, parent?: ParentLink }} CardApproval
 */

/**
 * Where the cards are: with a link to the conversation or not; where decisions are confirmed; what to
 * do after one.
 * @typedef {{ link: boolean, flash: HTMLElement, after?: () => void }} CardOptions
 */

/**
 * A decision in words.
 * @type {Record<RecordedDecision['decision'], string>}
 */
export const VERBS = { approve: 'Approved', reject: 'Rejected', edit: 'Approved (edited)' };

const keyOf = (/** @type {CardApproval} */ a) => JSON.stringify([a.workflowId, a.toolUseId]);

/**
 * Forgets the page's decisions on calls no longer listed (the queue lists them all).
 * @param {CardApproval[]} approvals
 */
export function forgetDecided(approvals) {
  const listed = new Set(approvals.map(keyOf));
  for (const k of app.decided) if (!listed.has(k)) app.decided.delete(k);
}

/**
 * Adds new cards and removes decided ones, never touching cards that stay (open editors survive).
 * @param {HTMLElement} list
 * @param {CardApproval[]} approvals
 * @param {CardOptions} opts
 * @returns {number} The cards shown.
 */
export function reconcileCards(list, approvals, opts) {
  const want = approvals.filter((a) => !app.decided.has(keyOf(a)));
  const keys = new Set(want.map(keyOf));
  for (const card of childElements(list)) {
    if (!keys.has(card.dataset.key ?? '') && card.dataset.busy !== '1') card.remove();
  }
  /** @type {HTMLElement | null} */
  let next = null;
  for (let i = want.length - 1; i >= 0; i--) {
    const key = keyOf(want[i]);
    let card = childElements(list).find((c) => c.dataset.key === key);
    if (!card) {
      card = renderCard(want[i], opts);
      list.insertBefore(card, next);
    } else showProgress(card, want[i]);
    next = card;
  }
  return want.length;
}

/**
 * @param {CardApproval} a
 * @param {CardOptions} opts
 */
function renderCard(a, opts) {
  const card = h('article', {
    class: 'card',
    testid: 'approval-card',
    data: { toolUseId: a.toolUseId, workflowId: a.workflowId, key: keyOf(a) },
    'aria-label': `Tool call ${a.name}`,
  });
  const rejectId = uid('reject');
  const editId = uid('edit');
  const reason = h('textarea', {
    id: rejectId,
    testid: 'reject-reason',
    rows: 3,
    placeholder: 'Why? The model will see this.',
  });
  const editor = h('textarea', {
    id: editId,
    testid: 'edit-input',
    class: 'code',
    rows: 10,
    spellcheck: 'false',
  });
  editor.value = pretty(a.input || {});
  const rejectBtn = h('button', {
    type: 'button',
    class: 'btn',
    testid: 'reject',
    'aria-expanded': 'false',
    text: 'Reject',
  });
  const editBtn = h('button', {
    type: 'button',
    class: 'btn',
    testid: 'edit',
    'aria-expanded': 'false',
    text: 'Edit',
  });
  const rejectPanel = h(
    'div',
    { class: 'panel', hidden: true },
    h('label', { for: rejectId, text: 'Reason for rejecting (required)' }),
    reason,
    h(
      'div',
      { class: 'actions' },
      h('button', {
        type: 'button',
        class: 'btn danger',
        testid: 'reject-confirm',
        text: 'Confirm reject',
        onclick: () => onReject(),
      }),
      h('button', { type: 'button', class: 'btn ghost', text: 'Cancel', onclick: () => toggle(null) }),
    ),
  );
  const editPanel = h(
    'div',
    { class: 'panel', hidden: true },
    h('label', { for: editId, text: 'Edited input (JSON)' }),
    editor,
    h(
      'div',
      { class: 'actions' },
      h('button', {
        type: 'button',
        class: 'btn primary',
        testid: 'edit-confirm',
        text: 'Approve edited',
        onclick: () => onEdit(),
      }),
      h('button', { type: 'button', class: 'btn ghost', text: 'Cancel', onclick: () => toggle(null) }),
    ),
  );

  /** Opens `panel` (or closes it if open), closing the other. */
  function toggle(/** @type {HTMLElement | null} */ panel) {
    for (const [p, b] of [
      [rejectPanel, rejectBtn],
      [editPanel, editBtn],
    ]) {
      const open = p === panel && p.hidden;
      p.hidden = !open;
      b.setAttribute('aria-expanded', String(open));
      b.classList.toggle('active', open);
      if (open) p.querySelector('textarea')?.focus();
    }
    cardError(card, null);
  }
  rejectBtn.addEventListener('click', () => toggle(rejectPanel));
  editBtn.addEventListener('click', () => toggle(editPanel));

  function onReject() {
    const why = reason.value.trim();
    if (!why) return cardError(card, 'A reason is required to reject a tool call.');
    void decide(card, a, { decision: 'reject', reason: why }, opts);
  }
  function onEdit() {
    let input;
    try {
      input = JSON.parse(editor.value);
    } catch (e) {
      return cardError(card, 'Invalid JSON: ' + errorMessage(e));
    }
    if (!input || typeof input !== 'object' || Array.isArray(input))
      return cardError(card, 'The input must be a JSON object.');
    void decide(card, a, { decision: 'edit', input }, opts);
  }

  card.append(
    ...[
      h(
        'div',
        { class: 'card-head' },
        h(
          'div',
          { class: 'card-title' },
          h('strong', { class: 'tool-name', text: a.name }),
          a.effect ? h('span', { class: `badge effect-${a.effect}`, text: a.effect }) : null,
          typeof a.turn === 'number' ? h('span', { class: 'muted', text: `turn ${a.turn}` }) : null,
        ),
        h(
          'div',
          { class: 'card-times' },
          timeEl(a.requestedAt, 'requested'),
          ' · ',
          timeEl(a.deadline, 'due'),
        ),
      ),
      opts.link
        ? h(
            'div',
            { class: 'card-conv muted' },
            'Conversation ',
            h('a', { href: conversationHref(a.workflowId), text: a.workflowId }),
            a.model ? ` · ${a.model}` : '',
            a.agent ? ' · agent ' : '',
            a.agent ? h('strong', { testid: 'card-agent', text: a.agent }) : null,
            a.parent ? ' · sub-agent of ' : '',
            a.parent
              ? h('a', {
                  href: conversationHref(a.parent.workflowId),
                  testid: 'card-parent',
                  title: `Tool call ${a.parent.toolUseId} of agent ${a.parent.agent}`,
                  text: a.parent.workflowId,
                })
              : null,
          )
        : null,
      h('div', { class: 'muted small', text: a.toolUseId }),
      a.approvers?.length
        ? h('div', { class: 'muted', testid: 'card-approvers', text: `Approvers: ${a.approvers.join(', ')}` })
        : null,
      h('div', { class: 'approval-progress', testid: 'card-progress', hidden: true }),
      h('pre', { class: 'json', text: pretty(a.input) }),
      // A viewer reads the queue; deciding is an approver's (the server refuses a viewer anyway).
      canAct() &&
        h(
          'div',
          { class: 'actions' },
          h('button', {
            type: 'button',
            class: 'btn primary',
            testid: 'approve',
            text: 'Approve',
            onclick: () => void decide(card, a, { decision: 'approve' }, opts),
          }),
          editBtn,
          rejectBtn,
        ),
      canAct() && rejectPanel,
      canAct() && editPanel,
      h('div', { class: 'card-error-slot' }),
    ].filter((el) => el !== null && el !== false),
  );
  showProgress(card, a);
  return card;
}

/**
 * Four-eyes: `1 of 2 approvals (alice)`, updated in place as approvals come in; hidden for a call one
 * person decides. Someone who already approved is not offered Approve again (the same person counts once).
 * @param {HTMLElement} card
 * @param {Pick<CardApproval, 'approvalsRequired' | 'approvals'>} a
 */
function showProgress(card, a) {
  const line = card.querySelector('[data-testid="card-progress"]');
  if (!(line instanceof HTMLElement)) return;
  const required = a.approvalsRequired ?? 1;
  const by = (a.approvals ?? []).filter((s) => !s.superseded).map((s) => s.decidedBy);
  line.hidden = required <= 1;
  line.textContent =
    required > 1 ? `${by.length} of ${required} approvals${by.length ? ` (${by.join(', ')})` : ''}` : '';
  const me = app.session?.decider.trim().toLowerCase();
  const approved = by.some((name) => name.trim().toLowerCase() === me);
  const approve = card.querySelector('[data-testid="approve"]');
  if (approve instanceof HTMLElement) approve.hidden = approved;
}

/**
 * Shows an error on a card, or clears it.
 * @param {HTMLElement} card
 * @param {string | null} msg
 */
function cardError(card, msg) {
  card
    .querySelector('.card-error-slot')
    ?.replaceChildren(msg ? h('p', { class: 'error', role: 'alert', testid: 'card-error', text: msg }) : '');
}

/**
 * @param {HTMLElement} card
 * @param {boolean} busy
 */
function setBusy(card, busy) {
  card.dataset.busy = busy ? '1' : '';
  card.classList.toggle('busy', busy);
  card.setAttribute('aria-busy', String(busy));
  card.querySelectorAll('button').forEach((b) => {
    b.disabled = busy;
  });
  card.querySelectorAll('textarea').forEach((t) => {
    t.readOnly = busy;
  });
}

/**
 * Sends a decision; on success the card goes and a flash says what was decided.
 * @param {HTMLElement} card
 * @param {CardApproval} a
 * @param {Omit<DecisionBody, 'toolUseId'>} body
 * @param {CardOptions} opts
 */
async function decide(card, a, body, opts) {
  if (card.dataset.busy === '1') return;
  cardError(card, null);
  setBusy(card, true);
  try {
    const { decision } = await postDecision(a.workflowId, { toolUseId: a.toolUseId, ...body });
    if (decision.awaiting) {
      // Four-eyes: counted, not decided; the card stays until enough others approve.
      setBusy(card, false);
      showProgress(card, { approvalsRequired: decision.awaiting.required, approvals: decision.approvals });
      flash(
        opts.flash,
        `${VERBS[body.decision]} ${a.name} (${a.toolUseId}): ${decision.awaiting.approvals} of ${decision.awaiting.required} approvals, waiting for another approver.`,
      );
      return;
    }
    app.decided.add(keyOf(a));
    card.remove();
    flash(opts.flash, `${VERBS[body.decision]} ${a.name} (${a.toolUseId}) in ${a.workflowId}.`);
    if (opts.after) opts.after();
    if (app.route.view === 'conversation') restartPolling();
  } catch (e) {
    const status = e instanceof ApiError ? e.status : undefined;
    if (status === 401) return;
    setBusy(card, false);
    cardError(
      card,
      status === 404 ? `Conversation ${a.workflowId} not found: ${errorMessage(e)}` : errorMessage(e),
    );
  }
}
