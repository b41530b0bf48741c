// @ts-check
/**
 * DOM helpers. The server's CSP forbids inline scripts and styles and eval, so the page builds its DOM
 * with createElement and textContent only (never innerHTML with data).
 */

/** An attribute's value: `true` sets it empty; `false`, null and undefined leave it out. */
/** @typedef {string | number | boolean | null | undefined} AttributeValue */

/**
 * What {@link h} takes: `class`, `text` (textContent), `testid` (data-testid), `data` (the dataset), the
 * event handlers and the attributes the page uses. A typo in an attribute name fails the type check.
 * @typedef {{
 *   class?: string,
 *   text?: string | number,
 *   testid?: string,
 *   data?: Record<string, string>,
 *   onclick?: (ev: MouseEvent) => void,
 *   onkeydown?: (ev: KeyboardEvent) => void,
 *   id?: AttributeValue,
 *   type?: AttributeValue,
 *   value?: AttributeValue,
 *   href?: AttributeValue,
 *   for?: AttributeValue,
 *   role?: AttributeValue,
 *   title?: AttributeValue,
 *   hidden?: AttributeValue,
 *   rows?: AttributeValue,
 *   placeholder?: AttributeValue,
 *   min?: AttributeValue,
 *   step?: AttributeValue,
 *   inputmode?: AttributeValue,
 *   spellcheck?: AttributeValue,
 *   tabindex?: AttributeValue,
 *   datetime?: AttributeValue,
 *   'aria-label'?: AttributeValue,
 *   'aria-expanded'?: AttributeValue,
 * }} Props
 */

/** A child of {@link h}: nodes and text; null, undefined and false are left out. */
/** @typedef {Node | string | number | false | null | undefined} Child */

/**
 * Builds an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props | null} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  /** @type {HTMLElement} */
  const el = node;
  const { class: className, text, testid, data, onclick, onkeydown, ...attributes } = props ?? {};
  if (className !== undefined) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  if (testid !== undefined) node.dataset.testid = testid;
  if (data !== undefined) Object.assign(node.dataset, data);
  if (onclick) el.addEventListener('click', onclick);
  if (onkeydown) el.addEventListener('keydown', onkeydown);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

/**
 * The element of index.html with this id, checked to be a `type` (a missing one is a bug of the page).
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
export function element(id, type) {
  const el = document.getElementById(id);
  if (el instanceof type) return el;
  throw new Error(`index.html has no ${type.name} #${id}`);
}

/** The element of index.html with this id. */
export const $ = (/** @type {string} */ id) => element(id, HTMLElement);

/**
 * The HTML elements under `root` that match `selector`.
 * @param {ParentNode} root
 * @param {string} selector
 */
export const all = (root, selector) =>
  [...root.querySelectorAll(selector)].filter((el) => el instanceof HTMLElement);

/** The element children of `parent` (all of the page's are HTML elements). */
export const childElements = (/** @type {ParentNode} */ parent) =>
  [...parent.children].filter((el) => el instanceof HTMLElement);

let uidSeq = 0;
/** A new element id with this prefix. */
export const uid = (/** @type {string} */ prefix) => `${prefix}-${++uidSeq}`;

/** @type {WeakMap<HTMLElement, number>} */
const flashTimers = new WeakMap();

/**
 * Shows `text` in `el` for 8 s.
 * @param {HTMLElement} el
 * @param {string} text
 */
export function flash(el, text) {
  el.textContent = text;
  el.hidden = false;
  window.clearTimeout(flashTimers.get(el));
  flashTimers.set(
    el,
    window.setTimeout(() => {
      el.hidden = true;
    }, 8000),
  );
}

/**
 * A conversation's status as a badge.
 * @param {string | undefined} status
 * @param {string} [testid]
 */
export function statusBadge(status, testid) {
  return h('span', { class: `badge status-${status || 'unknown'}`, testid, text: status || 'unknown' });
}
