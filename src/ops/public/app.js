/*
 * Ops page for the Claude agent worker: approval queue, conversation list and transcript viewer.
 * Plain ES2020, no build step. The server's CSP forbids inline scripts/styles and eval, so the DOM is
 * built with createElement/textContent only (never innerHTML with data).
 */
'use strict';
(() => {
  const POLL_MS = 2000;
  const SESSION_KEY = 'ops.session';
  const LAST_NAME_KEY = 'ops.lastName';
  const VERBS = { approve: 'Approved', reject: 'Rejected', edit: 'Approved (edited)' };

  const $ = (id) => document.getElementById(id);
  let session = loadSession();
  let current = { view: 'approvals' };
  let pollTimer = null;
  let pollGen = 0;
  let uidSeq = 0;
  /** Cards decided from this page, hidden even if a poll still lists them. */
  const decided = new Set();
  /** The open conversation view: what is already rendered. */
  let conv = null;
  let lastListSig = null;

  // ---------- DOM helpers ----------

  /** Builds an element. props: class, text, testid, data {}, on<event> handlers, other attributes. */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = String(v);
      else if (k === 'testid') node.dataset.testid = v;
      else if (k === 'data') Object.assign(node.dataset, v);
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }
  const uid = (p) => `${p}-${++uidSeq}`;
  const pretty = (v) => (v === undefined ? '(none)' : JSON.stringify(v, null, 2));
  const compact = (v) => {
    const s = JSON.stringify(v === undefined ? null : v);
    return s.length > 240 ? s.slice(0, 237) + '…' : s;
  };
  const num = (n) => (typeof n === 'number' ? n.toLocaleString() : '—');
  /** ` · $0.0123` (plus calls the worker had no price for), or nothing before any priced call. */
  const costText = (u) => {
    const unpriced = u.unpricedCalls ? ` (${num(u.unpricedCalls)} calls unpriced)` : '';
    return typeof u.costUsd === 'number' && u.calls > (u.unpricedCalls || 0)
      ? ` · $${u.costUsd.toFixed(4)}${unpriced}`
      : unpriced
        ? ` ·${unpriced}`
        : '';
  };
  const convHref = (id) => '#/conversations/' + encodeURIComponent(id);
  const keyOf = (a) => JSON.stringify([a.workflowId, a.toolUseId]);

  function statusBadge(status, testid) {
    return h('span', { class: `badge status-${status || 'unknown'}`, testid, text: status || 'unknown' });
  }

  // ---------- Time ----------

  function span(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min`;
    const hrs = Math.floor(m / 60);
    return hrs < 48 ? `${hrs} h` : `${Math.floor(hrs / 24)} d`;
  }
  function timeText(kind, iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return iso || '—';
    const d = Date.now() - t;
    if (kind === 'due') return d >= 0 ? 'overdue' : `due in ${span(-d)}`;
    const ago = d < 5000 ? 'just now' : `${span(d)} ago`;
    return kind === 'requested' ? `requested ${ago}` : ago;
  }
  function timeEl(iso, kind = 'ago') {
    const t = Date.parse(iso);
    const el = h('time', {
      datetime: iso,
      title: Number.isNaN(t) ? undefined : new Date(t).toLocaleString(),
      data: { time: iso, timeKind: kind },
    });
    updateTime(el);
    return el;
  }
  function updateTime(el) {
    el.textContent = timeText(el.dataset.timeKind, el.dataset.time);
    if (el.dataset.timeKind === 'due')
      el.classList.toggle('overdue', Date.parse(el.dataset.time) <= Date.now());
  }
  setInterval(() => document.querySelectorAll('time[data-time]').forEach(updateTime), 1000);

  // ---------- Session & API ----------

  function loadSession() {
    try {
      const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
      return s && s.name && s.token ? s : null;
    } catch {
      return null;
    }
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function authHeaders(s) {
    return { Authorization: 'Bearer ' + s.token, 'x-ops-operator': s.name, Accept: 'application/json' };
  }

  /** Calls the JSON API; throws ApiError; a 401 anywhere signs out. */
  async function api(path, { method = 'GET', body } = {}) {
    if (!session) throw new ApiError(401, 'unauthorized', 'Not signed in.');
    const headers = authHeaders(session);
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'network', 'Cannot reach the server (' + e.message + ').');
    }
    const data = await res.json().catch(() => null);
    if (res.status === 401) {
      signOut('Your session is no longer valid. Sign in again.');
      throw new ApiError(401, 'unauthorized', (data && data.message) || 'Unauthorized.');
    }
    if (!res.ok) {
      const message = (data && (data.message || data.error)) || `${res.status} ${res.statusText}`;
      throw new ApiError(res.status, (data && data.error) || `http_${res.status}`, message);
    }
    return data || {};
  }

  // ---------- Login ----------

  function loginError(msg) {
    const el = $('login-error');
    el.textContent = msg || '';
    el.hidden = !msg;
  }

  function showLogin(msg) {
    stopPolling();
    stopLive();
    $('app').hidden = true;
    $('login-view').hidden = false;
    $('login-name').value = $('login-name').value || sessionStorage.getItem(LAST_NAME_KEY) || '';
    loginError(msg);
    ($('login-name').value ? $('login-token') : $('login-name')).focus();
  }

  async function onLogin(ev) {
    ev.preventDefault();
    const name = $('login-name').value.trim();
    const token = $('login-token').value.trim();
    if (!name || !token) return loginError('Enter your operator name and the access token.');
    if (!/^[\x20-\x7e]+$/.test(name)) return loginError('Use plain ASCII characters in the operator name.');
    loginError(null);
    $('login-submit').disabled = true;
    try {
      const res = await fetch('/api/session', { headers: authHeaders({ name, token }), cache: 'no-store' });
      const data = await res.json().catch(() => null);
      if (res.status === 401)
        return loginError('The token was rejected' + (data && data.message ? `: ${data.message}` : '.'));
      if (!res.ok) return loginError((data && data.message) || `The server answered ${res.status}.`);
      session = { name, token };
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
      sessionStorage.setItem(LAST_NAME_KEY, name);
      $('login-token').value = '';
      enterApp(data || {});
    } catch (e) {
      loginError('Cannot reach the server.');
    } finally {
      $('login-submit').disabled = false;
    }
  }

  function signOut(msg) {
    session = null;
    sessionStorage.removeItem(SESSION_KEY);
    decided.clear();
    conv = null;
    lastListSig = null;
    $('queue').replaceChildren();
    $('conv-rows').replaceChildren();
    showLogin(msg);
  }

  function enterApp(info) {
    $('login-view').hidden = true;
    $('app').hidden = false;
    showWho(info);
    if (!/^#\/(approvals|conversations)/.test(location.hash)) location.hash = '#/approvals';
    else route();
  }

  function showWho(info) {
    const where = info.namespace ? ` · ${info.namespace}${info.taskQueue ? ' / ' + info.taskQueue : ''}` : '';
    $('who').textContent = `Signed in as ${session.name}${where}`;
  }

  // ---------- Router & polling ----------

  function safeDecode(s) {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  }
  function parseRoute() {
    const parts = location.hash.replace(/^#\/?/, '').split('/');
    if (parts[0] === 'conversations' && parts.length > 1 && parts[1]) {
      const raw = parts.slice(1).join('/');
      return { view: 'conversation', id: safeDecode(raw) };
    }
    return { view: parts[0] === 'conversations' ? 'conversations' : 'approvals' };
  }

  function route() {
    if (!session) return showLogin();
    current = parseRoute();
    document.querySelectorAll('[data-view]').forEach((s) => {
      s.hidden = s.dataset.view !== current.view;
    });
    $('nav-approvals').classList.toggle('active', current.view === 'approvals');
    $('nav-conversations').classList.toggle('active', current.view !== 'approvals');
    if (current.view === 'conversation' && (!conv || conv.id !== current.id)) openConversation(current.id);
    if (current.view === 'conversations') lastListSig = null;
    syncLive();
    restartPolling();
  }

  function stopPolling() {
    clearTimeout(pollTimer);
    pollGen++;
  }
  function restartPolling() {
    stopPolling();
    poll(pollGen);
  }
  async function poll(gen) {
    try {
      await refresh(gen);
      if (gen === pollGen) connError(null);
    } catch (e) {
      if (gen === pollGen && e.status !== 401) connError(e.message);
    }
    if (gen === pollGen && session) pollTimer = setTimeout(() => poll(gen), POLL_MS);
  }
  function connError(msg) {
    $('conn-error').textContent = msg ? `${msg} Retrying…` : '';
    $('conn-error').hidden = !msg;
  }

  async function refresh(gen) {
    const r = current;
    if (r.view === 'approvals') {
      const data = await api('/api/approvals');
      if (gen === pollGen) renderQueue(data.approvals || []);
    } else if (r.view === 'conversations') {
      const q = new URLSearchParams({ limit: '50' });
      if ($('status-filter').value) q.set('status', $('status-filter').value);
      const data = await api('/api/conversations?' + q);
      if (gen === pollGen) renderConversationList(data.conversations || []);
    } else {
      try {
        const state = await api('/api/conversations/' + encodeURIComponent(r.id));
        if (gen === pollGen && conv && conv.id === r.id) renderConversation(state);
      } catch (e) {
        if (e.status !== 404) throw e;
        if (gen === pollGen) renderNotFound(r.id);
      }
    }
  }

  // ---------- Approval cards ----------

  /** Adds new cards and removes decided ones, never touching cards that stay (open editors survive). */
  function reconcileCards(list, approvals, opts) {
    const want = approvals.filter((a) => !decided.has(keyOf(a)));
    const keys = new Set(want.map(keyOf));
    for (const card of [...list.children]) {
      if (!keys.has(card.dataset.key) && card.dataset.busy !== '1') card.remove();
    }
    let next = null;
    for (let i = want.length - 1; i >= 0; i--) {
      const key = keyOf(want[i]);
      let card = [...list.children].find((c) => c.dataset.key === key);
      if (!card) {
        card = renderCard(want[i], opts);
        list.insertBefore(card, next);
      }
      next = card;
    }
    return want.length;
  }

  function renderQueue(approvals) {
    const all = new Set(approvals.map(keyOf));
    for (const k of decided) if (!all.has(k)) decided.delete(k);
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

    function toggle(panel) {
      for (const [p, b] of [
        [rejectPanel, rejectBtn],
        [editPanel, editBtn],
      ]) {
        const open = p === panel && p.hidden;
        p.hidden = !open;
        b.setAttribute('aria-expanded', String(open));
        b.classList.toggle('active', open);
        if (open) p.querySelector('textarea').focus();
      }
      cardError(card, null);
    }
    rejectBtn.addEventListener('click', () => toggle(rejectPanel));
    editBtn.addEventListener('click', () => toggle(editPanel));

    function onReject() {
      const why = reason.value.trim();
      if (!why) return cardError(card, 'A reason is required to reject a tool call.');
      decide(card, a, { decision: 'reject', reason: why }, opts);
    }
    function onEdit() {
      let input;
      try {
        input = JSON.parse(editor.value);
      } catch (e) {
        return cardError(card, 'Invalid JSON: ' + e.message);
      }
      if (!input || typeof input !== 'object' || Array.isArray(input))
        return cardError(card, 'The input must be a JSON object.');
      decide(card, a, { decision: 'edit', input }, opts);
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
              h('a', { href: convHref(a.workflowId), text: a.workflowId }),
              a.model ? ` · ${a.model}` : '',
            )
          : null,
        h('div', { class: 'muted small', text: a.toolUseId }),
        h('pre', { class: 'json', text: pretty(a.input) }),
        h(
          'div',
          { class: 'actions' },
          h('button', {
            type: 'button',
            class: 'btn primary',
            testid: 'approve',
            text: 'Approve',
            onclick: () => decide(card, a, { decision: 'approve' }, opts),
          }),
          editBtn,
          rejectBtn,
        ),
        rejectPanel,
        editPanel,
        h('div', { class: 'card-error-slot' }),
      ].filter(Boolean),
    );
    return card;
  }

  function cardError(card, msg) {
    const slot = card.querySelector('.card-error-slot');
    slot.replaceChildren(
      msg ? h('p', { class: 'error', role: 'alert', testid: 'card-error', text: msg }) : '',
    );
  }

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

  async function decide(card, a, body, opts) {
    if (card.dataset.busy === '1') return;
    cardError(card, null);
    setBusy(card, true);
    try {
      await api(`/api/conversations/${encodeURIComponent(a.workflowId)}/decisions`, {
        method: 'POST',
        body: { toolUseId: a.toolUseId, ...body },
      });
      decided.add(keyOf(a));
      card.remove();
      flash(opts.flash, `${VERBS[body.decision]} ${a.name} (${a.toolUseId}) in ${a.workflowId}.`);
      if (opts.after) opts.after();
      if (current.view === 'conversation') restartPolling();
    } catch (e) {
      if (e.status === 401) return;
      setBusy(card, false);
      cardError(card, e.status === 404 ? `Conversation ${a.workflowId} not found: ${e.message}` : e.message);
    }
  }

  function flash(el, text) {
    el.textContent = text;
    el.hidden = false;
    clearTimeout(el.flashTimer);
    el.flashTimer = setTimeout(() => {
      el.hidden = true;
    }, 8000);
  }

  // ---------- Conversation list ----------

  function renderConversationList(list) {
    const sig = JSON.stringify(list);
    if (sig === lastListSig) return;
    lastListSig = sig;
    $('conv-rows').replaceChildren(...list.map(renderRow));
    $('conv-empty').hidden = list.length > 0;
  }

  function renderRow(c) {
    const href = convHref(c.workflowId);
    const u = c.usage;
    return h(
      'tr',
      {
        class: 'row-link',
        tabindex: '0',
        testid: 'conversation-row',
        data: { workflowId: c.workflowId },
        onclick: (ev) => {
          if (!ev.target.closest('a')) location.hash = href;
        },
        onkeydown: (ev) => {
          if (ev.key === 'Enter') location.hash = href;
        },
      },
      h('td', { class: 'id-cell' }, h('a', { href, text: c.workflowId })),
      h('td', null, statusBadge(c.status)),
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

  // ---------- Conversation view ----------

  function openConversation(id) {
    conv = { id, sigs: [], toolNames: new Map(), decisionKeys: new Set(), headerSig: null };
    $('conv-header').replaceChildren(
      h('h1', { class: 'conv-title' }, 'Conversation ', h('code', { text: id })),
      h('p', { class: 'muted', text: 'Loading…' }),
    );
    $('conv-cards').replaceChildren();
    $('conv-pending').hidden = true;
    $('conv-flash').hidden = true;
    $('transcript').replaceChildren();
    $('transcript-empty').hidden = true;
    $('orphan-list').replaceChildren();
    $('conv-orphans').hidden = true;
    stopLive();
    liveIdle();
  }

  function renderNotFound(id) {
    conv.headerSig = null;
    $('conv-header').replaceChildren(
      h('h1', { class: 'conv-title' }, 'Conversation ', h('code', { text: id })),
      h('p', { class: 'error', role: 'alert', text: 'This conversation was not found.' }),
    );
  }

  function renderConversation(s) {
    conv.status = s.status;
    renderConvHeader(s);
    const pending = (s.pendingApprovals || []).map((p) => ({ ...p, workflowId: conv.id }));
    const after = () => {
      $('conv-pending').hidden = $('conv-cards').children.length === 0;
    };
    reconcileCards($('conv-cards'), pending, { link: false, flash: $('conv-flash'), after });
    after();
    renderTranscript(s.messages || [], s.meta || []);
    renderDecisions(s.decisions || []);
    const ids = new Set(pending.map((p) => p.toolUseId));
    $('transcript')
      .querySelectorAll('.tool-call')
      .forEach((box) => {
        box.querySelector('.pending-flag').hidden = !ids.has(box.dataset.toolUseId);
      });
    syncLive();
  }

  function renderConvHeader(s) {
    const { messages, meta, decisions, pendingApprovals, ...rest } = s;
    const sig = JSON.stringify(rest);
    if (sig === conv.headerSig) return;
    conv.headerSig = sig;
    const u = s.usage;
    const a = s.attention;
    $('conv-header').replaceChildren(
      ...[
        h('h1', { class: 'conv-title' }, 'Conversation ', h('code', { text: conv.id })),
        h(
          'div',
          { class: 'conv-meta' },
          statusBadge(s.status, 'conversation-status'),
          h('span', { text: s.model || '' }),
          h('span', { text: `turn ${s.turn ?? '—'}` }),
          h('span', { text: `${num(s.messageCount)} messages` }),
          s.startedAt ? h('span', null, 'started ', timeEl(s.startedAt)) : null,
          s.updatedAt ? h('span', null, 'updated ', timeEl(s.updatedAt)) : null,
        ),
        a
          ? h(
              'div',
              { class: 'attention', role: 'alert' },
              h('strong', { text: `Needs attention (${a.reason})` }),
              h('div', { text: a.message }),
              a.errorType || a.status
                ? h('div', { class: 'muted', text: [a.errorType, a.status].filter(Boolean).join(' · ') })
                : null,
            )
          : null,
        s.endReason ? h('div', { class: 'note' }, h('strong', { text: 'Ended: ' }), s.endReason) : null,
        s.lastStop
          ? h(
              'div',
              { class: 'muted' },
              `Last stop: ${s.lastStop.reason}`,
              s.lastStop.details ? ` — ${compact(s.lastStop.details)}` : '',
              s.lastStop.at ? ' · ' : '',
              s.lastStop.at ? timeEl(s.lastStop.at) : '',
            )
          : null,
        u
          ? h('div', {
              class: 'usage muted',
              text: `Usage: ${num(u.calls)} calls · ${num(u.inputTokens)} in · ${num(u.outputTokens)} out · cache ${num(u.cacheCreationInputTokens)} write / ${num(u.cacheReadInputTokens)} read${costText(u)}`,
            })
          : null,
      ].filter(Boolean),
    );
  }

  /** Appends new messages; re-renders from scratch only if earlier messages changed. */
  function renderTranscript(messages, meta) {
    const t = $('transcript');
    const sigs = messages.map((m) => JSON.stringify(m));
    const same = conv.sigs.length <= sigs.length && conv.sigs.every((s, i) => s === sigs[i]);
    if (!same) {
      t.replaceChildren();
      $('orphan-list').replaceChildren();
      $('conv-orphans').hidden = true;
      conv.sigs = [];
      conv.decisionKeys.clear();
    }
    for (let i = conv.sigs.length; i < messages.length; i++) {
      t.append(renderMessage(messages[i], meta[i], i));
      conv.sigs.push(sigs[i]);
    }
    $('transcript-empty').hidden = messages.length > 0;
  }

  function renderMessage(m, meta, index) {
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const blocks = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content || [];
    const onlyResults = blocks.length > 0 && blocks.every((b) => b.type === 'tool_result');
    const label = role === 'assistant' ? 'Assistant' : onlyResults ? 'Tool results' : 'User';
    return h(
      'div',
      {
        class: `msg msg-${role}${onlyResults ? ' msg-results' : ''}`,
        testid: `msg-${role}`,
        data: { index: String(index) },
      },
      h(
        'div',
        { class: 'msg-head' },
        h('span', { class: 'role', text: label }),
        meta ? h('span', { class: 'muted' }, `turn ${meta.turn} · `, timeEl(meta.at)) : null,
      ),
      blocks.map(renderBlock),
    );
  }

  function renderBlock(b) {
    switch (b && b.type) {
      case 'text':
        return h('div', { class: 'text', text: b.text });
      case 'thinking':
        return h(
          'details',
          { class: 'thinking' },
          h('summary', { text: 'Thinking' }),
          h('div', { class: 'text', text: b.thinking }),
        );
      case 'redacted_thinking':
        return h('div', { class: 'compact muted', text: 'Redacted thinking' });
      case 'tool_use':
        return renderToolCall(b);
      case 'tool_result':
        return renderToolResult(b);
      case 'image':
      case 'document':
        return h('div', {
          class: 'compact muted',
          text: `[${b.type}${b.source && b.source.media_type ? ' ' + b.source.media_type : ''}]`,
        });
      case 'server_tool_use':
      case 'mcp_tool_use':
        return h(
          'div',
          { class: 'compact server-tool', data: { toolUseId: b.id } },
          h('span', { class: 'tag', text: b.type === 'mcp_tool_use' ? 'mcp tool' : 'server tool' }),
          h('strong', { text: b.name }),
          h('code', { text: compact(b.input) }),
        );
      default:
        if (b && /_tool_result$/.test(b.type)) return renderServerResult(b);
        return h(
          'details',
          { class: 'compact' },
          h('summary', { text: `[${(b && b.type) || 'unknown'} block]` }),
          h('pre', { class: 'json', text: pretty(b) }),
        );
    }
  }

  function renderToolCall(b) {
    conv.toolNames.set(b.id, b.name);
    return h(
      'div',
      { class: 'tool-call', testid: 'tool-call', data: { toolUseId: b.id } },
      h(
        'div',
        { class: 'tool-head' },
        h('span', { class: 'tag', text: 'tool call' }),
        h('strong', { text: b.name }),
        h('code', { class: 'muted small', text: b.id }),
        h('span', {
          class: 'badge status-awaiting_approval pending-flag',
          text: 'awaiting approval',
          hidden: true,
        }),
      ),
      h('pre', { class: 'json', text: pretty(b.input) }),
      h('div', { class: 'decisions' }),
    );
  }

  function renderToolResult(b) {
    const name = conv.toolNames.get(b.tool_use_id);
    const content = b.content;
    const parts =
      content === undefined || content === ''
        ? [h('div', { class: 'muted', text: '(empty)' })]
        : typeof content === 'string'
          ? [h('pre', { class: 'result', text: content })]
          : (Array.isArray(content) ? content : [content]).map((c) =>
              c && c.type === 'text' ? h('pre', { class: 'result', text: c.text }) : renderBlock(c),
            );
    return h(
      'div',
      {
        class: `tool-result${b.is_error ? ' is-error' : ''}`,
        testid: 'tool-result',
        data: { toolUseId: b.tool_use_id },
      },
      h(
        'div',
        { class: 'tool-head' },
        h('span', { class: 'tag', text: b.is_error ? 'tool error' : 'tool result' }),
        name ? h('strong', { text: name }) : null,
        h('code', { class: 'muted small', text: b.tool_use_id }),
        name
          ? h('button', {
              type: 'button',
              class: 'link small',
              text: '↑ call',
              onclick: () => scrollToCall(b.tool_use_id),
            })
          : null,
      ),
      parts,
    );
  }

  function scrollToCall(id) {
    const box = [...$('transcript').querySelectorAll('.tool-call')].find((el) => el.dataset.toolUseId === id);
    if (!box) return;
    box.scrollIntoView({ behavior: 'smooth', block: 'center' });
    box.classList.add('highlight');
    setTimeout(() => box.classList.remove('highlight'), 1500);
  }

  function renderServerResult(b) {
    const c = b.content;
    let body;
    if (Array.isArray(c)) {
      body = h(
        'ul',
        { class: 'server-results' },
        c
          .slice(0, 10)
          .map((r) =>
            h(
              'li',
              null,
              (r && (r.title || r.url)) || compact(r),
              r && r.title && r.url ? h('span', { class: 'muted', text: ` — ${r.url}` }) : null,
            ),
          ),
        c.length > 10 ? h('li', { class: 'muted', text: `… ${c.length - 10} more` }) : null,
      );
    } else if (c && c.error_code) {
      body = h('span', { class: 'error-text', text: `error: ${c.error_code}` });
    } else {
      body = h('code', { text: compact(c) });
    }
    return h(
      'div',
      { class: 'compact server-tool', data: { toolUseId: b.tool_use_id } },
      h('span', { class: 'tag', text: b.type.replace(/_/g, ' ') }),
      h('code', { class: 'muted small', text: b.tool_use_id }),
      body,
    );
  }

  function renderDecisions(decisions) {
    const calls = [...$('transcript').querySelectorAll('.tool-call')];
    for (const d of decisions) {
      const key = [d.toolUseId, d.decidedAt, d.decision].join('|');
      if (conv.decisionKeys.has(key)) continue;
      const box = calls.find((el) => el.dataset.toolUseId === d.toolUseId);
      (box ? box.querySelector('.decisions') : $('orphan-list')).append(renderDecision(d, !box));
      if (!box) $('conv-orphans').hidden = false;
      conv.decisionKeys.add(key);
    }
  }

  function renderDecision(d, orphan) {
    return h(
      'div',
      { class: `decision decision-${d.decision}`, testid: 'decision', data: { toolUseId: d.toolUseId } },
      h(
        'div',
        { class: 'decision-head' },
        h('strong', { text: VERBS[d.decision] || d.decision }),
        orphan ? h('span', { text: ` ${d.name} (${d.toolUseId})` }) : null,
        ' by ',
        h('span', { class: 'who', text: d.decidedBy || 'unknown' }),
        ' · ',
        timeEl(d.decidedAt),
        d.via && d.via !== 'update' ? h('span', { class: 'muted', text: ` · via ${d.via}` }) : null,
      ),
      d.reason
        ? h('div', { class: 'reason' }, h('span', { class: 'muted', text: 'Reason: ' }), d.reason)
        : null,
      d.decision === 'edit'
        ? h(
            'div',
            { class: 'diff' },
            h(
              'div',
              null,
              h('div', { class: 'label', text: 'Original input' }),
              h('pre', { class: 'json', text: pretty(d.originalInput) }),
            ),
            h(
              'div',
              null,
              h('div', { class: 'label', text: 'Edited input (ran)' }),
              h('pre', { class: 'json', text: pretty(d.input) }),
            ),
          )
        : null,
    );
  }

  // ---------- Live model stream ----------
  //
  // While a conversation view is open and the conversation is not completed/cancelled, one streaming
  // fetch of GET /api/conversations/:id/live (server-sent events; fetch because EventSource cannot send
  // the Authorization header) renders the model call being written. Deltas are queued per block and
  // appended as text nodes once per animation frame, so a fast stream never rebuilds the panel.

  const LIVE_RETRY_MS = 2000;
  /** How long a stream may go on once the conversation is completed/cancelled. */
  const LIVE_GRACE_MS = 15000;
  const TERMINAL = new Set(['completed', 'cancelled']);
  /** The stream connection: which conversation, its abort controller, the reconnect timer. */
  let liveId = null;
  let liveCtrl = null;
  let liveTimer = null;
  let liveGen = 0;
  /** The panel: blocks by index ({ el, body, pending: string[] }), the status shown, the pending frame. */
  const lv = { blocks: new Map(), dirty: new Set(), frame: 0, status: 'idle' };

  function liveWanted(id) {
    return (
      !!session &&
      current.view === 'conversation' &&
      !!conv &&
      conv.id === id &&
      conv.status !== undefined &&
      !TERMINAL.has(conv.status)
    );
  }

  /** Opens, keeps or closes the stream to match the view and the conversation's status. */
  function syncLive() {
    const id = conv && conv.id;
    if (id && liveWanted(id)) {
      if (liveId === id && (liveCtrl || liveTimer)) return;
      connectLive(id);
      return;
    }
    if (id && current.view === 'conversation' && session && TERMINAL.has(conv.status)) {
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

  function stopLive() {
    liveGen++;
    if (liveCtrl) liveCtrl.abort();
    clearTimeout(liveTimer);
    liveCtrl = null;
    liveTimer = null;
  }

  async function connectLive(id) {
    stopLive();
    const gen = liveGen;
    const ctrl = new AbortController();
    liveId = id;
    liveCtrl = ctrl;
    try {
      const res = await fetch('/api/conversations/' + encodeURIComponent(id) + '/live', {
        headers: { ...authHeaders(session), Accept: 'text/event-stream' },
        cache: 'no-store',
        signal: ctrl.signal,
      });
      if (gen !== liveGen) return;
      if (res.status === 401) {
        ctrl.abort();
        liveCtrl = null;
        signOut('Your session is no longer valid. Sign in again.');
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      await readSse(res.body, (msg) => {
        if (gen === liveGen) onLive(msg);
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
      liveTimer = setTimeout(() => {
        liveTimer = null;
        if (gen === liveGen) syncLive();
      }, LIVE_RETRY_MS);
    }
  }

  /** Reads a server-sent event stream, calling onMessage with each event's parsed JSON data. */
  async function readSse(body, onMessage) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    let event = '';
    let data = [];
    const line = (l) => {
      if (l === '') {
        if (data.length) {
          let msg = null;
          try {
            msg = JSON.parse(data.join('\n'));
          } catch {
            msg = null;
          }
          if (msg && typeof msg === 'object') {
            if (!msg.type) msg.type = event || 'message';
            onMessage(msg);
          }
        }
        event = '';
        data = [];
        return;
      }
      if (l[0] === ':') return; // A comment (`: keep-alive`).
      const colon = l.indexOf(':');
      const field = colon < 0 ? l : l.slice(0, colon);
      let value = colon < 0 ? '' : l.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let pos = 0;
        for (;;) {
          let i = pos;
          while (i < buf.length && buf[i] !== '\n' && buf[i] !== '\r') i++;
          if (i >= buf.length) break;
          if (buf[i] === '\r' && i === buf.length - 1) break; // Maybe half of a \r\n: wait for more.
          line(buf.slice(pos, i));
          pos = i + (buf[i] === '\r' && buf[i + 1] === '\n' ? 2 : 1);
        }
        buf = buf.slice(pos);
      }
    } finally {
      try {
        reader.releaseLock();
      } catch {
        /* still reading: the abort ends it */
      }
    }
  }

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

  /** The block at `index`, created (in index order) if new. */
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
    const next = [...text.children].find((c) => Number(c.dataset.index) > index);
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

  function liveEmpty(text) {
    $('live-empty').textContent = text;
    $('live-empty').hidden = false;
    $('live-text').hidden = true;
  }

  function liveIdle() {
    liveClear();
    liveEmpty('No model call in progress.');
    setLiveStatus('idle');
  }

  function liveNote(text, title, error) {
    const el = $('live-note');
    el.textContent = text || '';
    el.hidden = !text;
    el.title = title || '';
    el.classList.toggle('error-text', !!error);
  }

  function setLiveStatus(status) {
    lv.status = status;
    const el = $('live-status');
    el.textContent = status;
    const state = `state-${status.split(' ')[0]}`;
    el.className = `live-status ${state}`;
    $('live').className = `live-panel ${state}`;
  }

  // ---------- Start ----------

  function start() {
    $('login-form').addEventListener('submit', onLogin);
    $('sign-out').addEventListener('click', () => signOut());
    $('status-filter').addEventListener('change', () => {
      lastListSig = null;
      restartPolling();
    });
    window.addEventListener('hashchange', route);
    if (!session) return showLogin();
    enterApp({});
    api('/api/session')
      .then((info) => {
        if (session) showWho(info);
      })
      .catch(() => {});
  }

  start();
})();
