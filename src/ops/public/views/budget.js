// @ts-check
/**
 * A conversation's budget: what it spent against its ceilings and, while it is parked on its budget,
 * a form to raise them. The form is built once per parking and kept across polls (what the operator
 * types survives); it goes when the conversation goes on.
 */
import { ApiError, postBudget } from '../api.js';
import { $, flash, h, uid } from '../dom.js';
import { errorMessage, num } from '../format.js';
import { restartPolling } from '../poll.js';

/** @typedef {import('../../server').ConversationResponse} ConversationResponse */
/** @typedef {import('../../server').BudgetBody} BudgetBody */
/** @typedef {import('../../../api/conversation').Budget} Budget */

/** The raise form on the page, and the conversation it raises. */
/** @type {{ workflowId: string, el: HTMLElement } | null} */
let open = null;

export function clearBudget() {
  open = null;
  $('conv-budget').replaceChildren();
  $('conv-budget').hidden = true;
}

/**
 * Shows the budget of conversation `workflowId` (nothing without one), with the raise form while it
 * is parked on it.
 * @param {string} workflowId
 * @param {ConversationResponse} s
 */
export function renderBudget(workflowId, s) {
  const section = $('conv-budget');
  if (!s.budget) return clearBudget();
  const parked = s.status === 'needs_attention' && s.attention?.reason === 'budget_exceeded';
  if (!parked || open?.workflowId !== workflowId) open = null;
  if (parked && !open) open = { workflowId, el: raiseForm(workflowId, s.budget.limit) };
  // Updated in place, never re-attached: a moved input would lose the operator's focus at each poll.
  let line = section.querySelector('[data-testid="budget-spent"]');
  if (!line) section.prepend((line = h('div', { class: 'usage', testid: 'budget-spent' })));
  line.textContent = `Budget: ${spentText(s.budget)}`;
  for (const form of section.querySelectorAll('form')) if (form !== open?.el) form.remove();
  if (open && open.el.parentNode !== section) section.append(open.el);
  section.hidden = false;
}

/**
 * `$0.0123 of $0.50 · 1,234 of 100,000 tokens`.
 * @param {NonNullable<ConversationResponse['budget']>} budget
 */
export function spentText({ limit, spent }) {
  return [
    limit.usd !== undefined ? `$${spent.usd.toFixed(4)} of ${dollars(limit.usd)}` : null,
    limit.tokens !== undefined ? `${num(spent.tokens)} of ${num(limit.tokens)} tokens` : null,
  ]
    .filter((part) => part !== null)
    .join(' · ');
}

/** `$0.50`, `$0.125`: cents at least, and every digit the limit has. */
const dollars = (/** @type {number} */ usd) =>
  `$${Number(usd.toFixed(2)) === usd ? usd.toFixed(2) : String(usd)}`;

/**
 * The form that sets new ceilings (each one left empty keeps its value); also on the needs-attention
 * view (views/attention.js), which says what was done in its own flash.
 * @param {string} workflowId
 * @param {Budget} limit
 * @param {HTMLElement} [flashEl] Where it says what was set (default: the conversation view's).
 */
export function raiseForm(workflowId, limit, flashEl) {
  const usdId = uid('budget-usd');
  const tokensId = uid('budget-tokens');
  const usd = h('input', {
    id: usdId,
    testid: 'budget-usd',
    type: 'number',
    min: '0',
    step: 'any',
    inputmode: 'decimal',
    placeholder: limit.usd === undefined ? 'no limit' : String(limit.usd),
  });
  const tokens = h('input', {
    id: tokensId,
    testid: 'budget-tokens',
    type: 'number',
    min: '1',
    step: '1',
    inputmode: 'numeric',
    placeholder: limit.tokens === undefined ? 'no limit' : String(limit.tokens),
  });
  const error = h('p', { class: 'error', role: 'alert', testid: 'budget-error', hidden: true });
  const button = h('button', { type: 'submit', class: 'btn primary', testid: 'budget-raise', text: 'Raise' });
  const form = h(
    'form',
    { class: 'attention budget-form', testid: 'budget-form', 'aria-label': 'Raise the budget' },
    h('strong', { text: 'Spent its budget: set new ceilings to let it go on.' }),
    h('label', { for: usdId }, 'US dollars', usd),
    h('label', { for: tokensId }, 'Tokens', tokens),
    button,
    error,
  );
  form.noValidate = true;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void submit();
  });

  const showError = (/** @type {string | null} */ message) => {
    error.textContent = message ?? '';
    error.hidden = !message;
  };

  async function submit() {
    /** @type {BudgetBody} */
    const body = {};
    if (usd.value.trim()) body.usd = Number(usd.value);
    if (tokens.value.trim()) body.tokens = Number(tokens.value);
    if (body.usd === undefined && body.tokens === undefined)
      return showError('Give a new ceiling in dollars, tokens or both.');
    if (Object.values(body).some((v) => !(typeof v === 'number' && v > 0)))
      return showError('A ceiling is a positive number.');
    showError(null);
    button.disabled = true;
    try {
      const { budget } = await postBudget(workflowId, body);
      const raised = [
        budget.usd !== undefined ? dollars(budget.usd) : null,
        budget.tokens !== undefined ? `${num(budget.tokens)} tokens` : null,
      ].filter((part) => part !== null);
      flash(flashEl ?? $('conv-flash'), `Budget of ${workflowId} set to ${raised.join(' and ')}.`);
      restartPolling();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      showError(errorMessage(e));
    } finally {
      button.disabled = false;
    }
  }
  return form;
}
