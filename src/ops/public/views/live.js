// @ts-check
/**
 * The live panel of the conversation view. While a conversation view is open and the conversation is
 * not completed/cancelled, one streaming fetch of GET /api/conversations/:id/live (server-sent events;
 * fetch because EventSource cannot send the Authorization header) renders the model call being
 * written. Deltas are queued per block and appended as text nodes once per animation frame, so a fast
 * stream never rebuilds the panel.
 */
import { authHeaders, sessionExpired } from '../api.js';
import { $, childElements, h } from '../dom.js';
import { readSse } from '../sse.js';
import { app } from '../state.js';

/** @typedef {import('../../../streaming/protocol').LiveMessage} LiveMessage */
/** @typedef {import('../../../streaming/protocol').LiveCall} LiveCall */
/** @typedef {import('../../../api/conversation').ConversationStatus} ConversationStatus */

/**
 * One block of the call on screen: its element, where its text goes, the deltas not yet shown.
 * @typedef {{ el: HTMLElement, body: HTMLElement, pending: string[] }} LiveBlockView
 */

const LIVE_RETRY_MS = 2000;
/** How long a stream may go on once the conversation is completed/cancelled. */
const LIVE_GRACE_MS = 15000;
/** @type {ReadonlySet<ConversationStatus | undefined>} */
const TERMINAL = new Set(['completed', 'cancelled']);
/** The stream connection: which conversation, its abort controller, the reconnect timer. */
/** @type {string | null} */
let liveId = null;
/** @type {AbortController | null} */
let liveCtrl = null;
/** @type {number | undefined} */
let liveTimer;
let liveGen = 0;
/** The last event id of the stream of `liveId`: a reconnect resumes from it (`Last-Event-ID`). */
let liveLastId = '';
/**
 * The panel: blocks by index, the blocks with deltas to show, the pending frame, the status shown.
 * @type {{ blocks: Map<number, LiveBlockView>, dirty: Set<LiveBlockView>, frame: number, status: string }}
 */
const lv = { blocks: new Map(), dirty: new Set(), frame: 0, status: 'idle' };

function liveWanted(/** @type {string} */ id) {
  const conv = app.conv;
  return (
    !!app.session &&
    app.route.view === 'conversation' &&
    !!conv &&
    conv.id === id &&
    conv.status !== undefined &&
    !TERMINAL.has(conv.status)
  );
}

/** Opens, keeps or closes the stream to match the view and the conversation's status. */
export function syncLive() {
  const conv = app.conv;
  const id = conv && conv.id;
  if (id && liveWanted(id)) {
    if (liveId === id && (liveCtrl || liveTimer)) return;
    void connectLive(id);
    return;
  }
  if (conv && id && app.route.view === 'conversation' && app.session && TERMINAL.has(conv.status)) {
    // Let a call still being written finish (its `end` calls back here), for a while (a cancelled
    // conversation's call may never end); then close for good.
    if (liveId === id && liveCtrl && lv.status === 'streaming') {
      if (!conv.terminalAt) conv.terminalAt = Date.now();
      if (Date.now() - conv.terminalAt < LIVE_GRACE_MS) return;
    }
    stopLive();
    if (lv.status !== 'idle' && lv.status !== 'complete') liveIdle();
    return;
  }
  stopLive();
}

export function stopLive() {
  liveGen++;
  if (liveCtrl) liveCtrl.abort();
  window.clearTimeout(liveTimer);
  liveCtrl = null;
  liveTimer = undefined;
}

async function connectLive(/** @type {string} */ id) {
  stopLive();
  const gen = liveGen;
  const ctrl = new AbortController();
  if (liveId !== id) liveLastId = '';
  liveId = id;
  liveCtrl = ctrl;
  try {
    if (!app.session) throw new Error('signed out');
    const res = await fetch('/api/conversations/' + encodeURIComponent(id) + '/live', {
      headers: {
        ...authHeaders(app.session),
        Accept: 'text/event-stream',
        ...(liveLastId && { 'Last-Event-ID': liveLastId }),
      },
      cache: 'no-store',
      signal: ctrl.signal,
    });
    if (gen !== liveGen) return;
    if (res.status === 401) {
      ctrl.abort();
      liveCtrl = null;
      sessionExpired();
      return;
    }
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    await readSse(res.body, (msg, lastEventId) => {
      if (gen !== liveGen) return;
      liveLastId = lastEventId;
      onLive(msg);
    });
  } catch {
    // Aborted, network error or an error status: handled below like any drop.
  }
  ctrl.abort();
  if (gen !== liveGen) return;
  liveCtrl = null;
  liveFlush();
  setLiveStatus('disconnected');
  if (lv.blocks.size === 0) liveEmpty('Not connected to the live stream.');
  if (liveWanted(id)) {
    liveTimer = window.setTimeout(() => {
      liveTimer = undefined;
      if (gen === liveGen) syncLive();
    }, LIVE_RETRY_MS);
  }
}

/** @param {LiveMessage} m */
function onLive(m) {
  switch (m.type) {
    case 'snapshot':
      return liveSnapshot(m.call);
    case 'reset':
      liveClear();
      liveNote(`retrying (attempt ${m.attempt})`);
      liveEmpty('Waiting for the model…');
      return setLiveStatus(`retrying (attempt ${m.attempt})`);
    case 'block_start':
      liveBlock(m.index, m.blockType, m.name);
      return liveActive();
    case 'delta': {
      if (typeof m.text !== 'string' || !m.text) return;
      const type = m.kind === 'thinking' ? 'thinking' : m.kind === 'input_json' ? 'tool_use' : 'text';
      const b = liveBlock(m.index, type);
      b.pending.push(m.text);
      lv.dirty.add(b);
      if (!lv.frame) lv.frame = requestAnimationFrame(liveFlush);
      return liveActive();
    }
    case 'block_stop': {
      const b = lv.blocks.get(m.index);
      if (b) b.el.classList.add('done');
      return;
    }
    case 'end':
      liveFlush();
      $('live-empty').hidden = true;
      $('live-text').hidden = lv.blocks.size === 0;
      liveNote(
        m.ok === false ? `call failed${m.error ? ': ' + m.error : ''}` : 'answer complete',
        m.stopReason ? `stop reason: ${m.stopReason}` : undefined,
        m.ok === false,
      );
      setLiveStatus('complete');
      return syncLive();
    default:
      return undefined;
  }
}

/** @param {LiveCall | null} call */
function liveSnapshot(call) {
  liveClear();
  if (!call || call.ended) {
    liveIdle();
    return syncLive();
  }
  for (const b of call.blocks || []) {
    if (!b || typeof b.index !== 'number') continue;
    const block = liveBlock(b.index, b.type, b.name);
    if (b.text) block.body.append(document.createTextNode(b.text));
    if (b.done) block.el.classList.add('done');
  }
  const notes = [];
  if (call.attempt > 1) notes.push(`retrying (attempt ${call.attempt})`);
  if (call.truncated) notes.push('earlier output cut short');
  liveNote(notes.join(' · '));
  setLiveStatus('streaming');
  if (lv.blocks.size === 0) {
    liveEmpty('Waiting for the model…');
  } else {
    $('live-empty').hidden = true;
    $('live-text').hidden = false;
    scrollLiveToEnd();
  }
}

/** Something was streamed: the call is being written. */
function liveActive() {
  if (lv.status !== 'streaming') setLiveStatus('streaming');
  if (!$('live-empty').hidden) {
    $('live-empty').hidden = true;
    $('live-text').hidden = false;
  }
}

/**
 * The block at `index`, created (in index order) if new.
 * @param {number} index
 * @param {string | undefined} type
 * @param {string} [name]
 * @returns {LiveBlockView}
 */
function liveBlock(index, type, name) {
  let b = lv.blocks.get(index);
  if (b) return b;
  let el;
  let body;
  if (type === 'thinking' || type === 'redacted_thinking') {
    el = body = h('div', { class: 'live-block live-thinking' });
  } else if (type === 'text') {
    el = body = h('div', { class: 'live-block live-block-text' });
  } else if (/tool_use$/.test(type || '')) {
    body = h('pre', { class: 'live-json' });
    el = h(
      'div',
      { class: 'live-block live-tool' },
      h('div', { class: 'live-tool-head', text: `>>> Tool Call: "${name || '?'}"` }),
      body,
    );
  } else {
    body = h('span');
    el = h(
      'div',
      { class: 'live-block live-other' },
      h('span', { class: 'tag', text: `[${type || 'block'}]` }),
      body,
    );
  }
  el.dataset.index = String(index);
  b = { el, body, pending: [] };
  lv.blocks.set(index, b);
  const text = $('live-text');
  const next = childElements(text).find((c) => Number(c.dataset.index) > index);
  text.insertBefore(el, next || null);
  return b;
}

/** Appends the queued deltas as text nodes, keeping the view pinned to the end if it was there. */
function liveFlush() {
  if (lv.frame) cancelAnimationFrame(lv.frame);
  lv.frame = 0;
  if (!lv.dirty.size) return;
  const text = $('live-text');
  const atEnd = text.scrollHeight - text.scrollTop - text.clientHeight < 24;
  for (const b of lv.dirty) {
    b.body.append(document.createTextNode(b.pending.join('')));
    b.pending = [];
  }
  lv.dirty.clear();
  if (atEnd) scrollLiveToEnd();
}

function scrollLiveToEnd() {
  const text = $('live-text');
  text.scrollTop = text.scrollHeight;
}

function liveClear() {
  if (lv.frame) cancelAnimationFrame(lv.frame);
  lv.frame = 0;
  lv.dirty.clear();
  lv.blocks.clear();
  $('live-text').replaceChildren();
  liveNote('');
}

function liveEmpty(/** @type {string} */ text) {
  $('live-empty').textContent = text;
  $('live-empty').hidden = false;
  $('live-text').hidden = true;
}

/** No call in progress. */
export function liveIdle() {
  liveClear();
  liveEmpty('No model call in progress.');
  setLiveStatus('idle');
}

/**
 * @param {string} text
 * @param {string} [title]
 * @param {boolean} [error]
 */
function liveNote(text, title, error) {
  const el = $('live-note');
  el.textContent = text || '';
  el.hidden = !text;
  el.title = title || '';
  el.classList.toggle('error-text', !!error);
}

function setLiveStatus(/** @type {string} */ status) {
  lv.status = status;
  const el = $('live-status');
  el.textContent = status;
  const state = `state-${status.split(' ')[0]}`;
  el.className = `live-status ${state}`;
  $('live').className = `live-panel ${state}`;
}
