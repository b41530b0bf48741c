// @ts-check
/**
 * One conversation: header (status, usage, attention), its agent and sub-agents, its pending approvals,
 * the transcript with tool calls, results and decisions. Polls append new messages; earlier ones are
 * re-rendered only if changed.
 */
import { $, all, h, statusBadge } from '../dom.js';
import { compact, costText, num, pretty } from '../format.js';
import { conversationHref } from '../router.js';
import { timeEl } from '../time.js';
import { clearAgent, renderAgent } from './agent.js';
import { clearBudget, renderBudget } from './budget.js';
import { clearCompaction, renderCompaction } from './compaction.js';
import { reconcileCards, VERBS } from './cards.js';
import { forkControl } from './fork.js';
import { clearConversationActions, renderConversationActions } from './parked.js';
import { liveIdle, stopLive, syncLive } from './live.js';

/** @typedef {import('../state.js').ConversationView} ConversationView */
/** @typedef {import('../../server').ConversationResponse} ConversationResponse */
/** @typedef {import('../../../api/conversation').MessageParam} MessageParam */
/** @typedef {import('../../../api/conversation').MessageMeta} MessageMeta */
/** @typedef {import('../../../api/conversation').ContentBlockParam} ContentBlockParam */
/** @typedef {import('../../../api/approvals').RecordedDecision} RecordedDecision */
/** @typedef {import('@anthropic-ai/sdk/resources/messages').ToolUseBlockParam} ToolUseBlockParam */
/** @typedef {import('@anthropic-ai/sdk/resources/messages').ToolResultBlockParam} ToolResultBlockParam */
/** @typedef {import('@anthropic-ai/sdk/resources/beta/messages/messages').BetaMCPToolUseBlockParam} BetaMCPToolUseBlockParam */

/**
 * What a tool result holds besides text.
 * @typedef {Exclude<ToolResultBlockParam['content'], string | undefined>[number]} ToolResultContent
 */
/**
 * What the transcript renders: the contract's content blocks, what a tool result holds, and the beta
 * API's MCP tool call (conversations with `betas` record it).
 * @typedef {ContentBlockParam | ToolResultContent | BetaMCPToolUseBlockParam} Block
 */
/**
 * A server tool's result (web search, web fetch, code execution, tool search).
 * @typedef {Extract<Block, { type: `${string}_tool_result` }>} ServerToolResult
 */

/**
 * A new view of conversation `id`, loading.
 * @param {string} id
 * @returns {ConversationView}
 */
export function openConversation(id) {
  const conv = {
    id,
    sigs: [],
    toolNames: new Map(),
    decisionKeys: new Set(),
    headerSig: null,
    agentSig: null,
    treeSig: null,
    expanded: new Set(),
  };
  $('conv-header').replaceChildren(
    h('h1', { class: 'conv-title' }, 'Conversation ', h('code', { text: id })),
    h('p', { class: 'muted', text: 'Loading…' }),
  );
  clearAgent();
  clearBudget();
  clearCompaction();
  clearConversationActions();
  $('conv-cards').replaceChildren();
  $('conv-pending').hidden = true;
  $('conv-flash').hidden = true;
  $('transcript').replaceChildren();
  $('transcript-empty').hidden = true;
  $('orphan-list').replaceChildren();
  $('conv-orphans').hidden = true;
  stopLive();
  liveIdle();
  return conv;
}

/**
 * @param {ConversationView} conv
 * @param {string} id
 */
export function renderNotFound(conv, id) {
  conv.headerSig = null;
  conv.agentSig = null;
  conv.treeSig = null;
  clearAgent();
  clearBudget();
  clearCompaction();
  clearConversationActions();
  $('conv-header').replaceChildren(
    h('h1', { class: 'conv-title' }, 'Conversation ', h('code', { text: id })),
    h('p', { class: 'error', role: 'alert', text: 'This conversation was not found.' }),
  );
}

/**
 * @param {ConversationView} conv
 * @param {ConversationResponse} s
 */
export function renderConversation(conv, s) {
  conv.status = s.status;
  renderConvHeader(conv, s);
  renderConversationActions(conv.id, s.status);
  renderAgent(conv, s);
  renderBudget(conv.id, s);
  renderCompaction(conv.id, s);
  const pending = (s.pendingApprovals || []).map((p) => ({ ...p, workflowId: conv.id }));
  const after = () => {
    $('conv-pending').hidden = $('conv-cards').children.length === 0;
  };
  reconcileCards($('conv-cards'), pending, { link: false, flash: $('conv-flash'), after });
  after();
  renderTranscript(conv, s.messages || [], s.meta || [], s.from ?? 0);
  renderDecisions(conv, s.decisions || []);
  const ids = new Set(pending.map((p) => p.toolUseId));
  all($('transcript'), '.tool-call').forEach((box) => {
    const flag = box.querySelector('.pending-flag');
    if (flag instanceof HTMLElement) flag.hidden = !ids.has(box.dataset.toolUseId ?? '');
  });
  linkSubAgentCalls(s.subAgents || []);
  syncLive();
}

/**
 * Links each tool call that ran a sub-agent to the sub-agent's conversation (the run is listed once
 * it has started, after the call is rendered).
 * @param {NonNullable<ConversationResponse['subAgents']>} runs
 */
function linkSubAgentCalls(runs) {
  if (runs.length === 0) return;
  const byCall = new Map(runs.map((run) => [run.toolUseId, run]));
  all($('transcript'), '.tool-call').forEach((box) => {
    const run = byCall.get(box.dataset.toolUseId ?? '');
    const slot = box.querySelector('.sub-agent-slot');
    if (!run || !slot || slot.childElementCount > 0) return;
    slot.replaceChildren(
      h('a', {
        href: conversationHref(run.workflowId),
        class: 'small',
        testid: 'call-subagent-link',
        text: `sub-agent ${run.agent} →`,
      }),
    );
  });
}

/**
 * @param {ConversationView} conv
 * @param {ConversationResponse} s
 */
function renderConvHeader(conv, s) {
  const { messages: _messages, meta: _meta, decisions: _decisions, pendingApprovals: _pending, ...rest } = s;
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
      s.forkedFrom
        ? h(
            'div',
            { class: 'note', testid: 'forked-from' },
            'Forked from ',
            h('a', { href: conversationHref(s.forkedFrom.workflowId), text: s.forkedFrom.workflowId }),
            ` at message ${s.forkedFrom.index}`,
            s.forkedFrom.by ? ` by ${s.forkedFrom.by}` : '',
            s.forkedFrom.at ? ' · ' : '',
            s.forkedFrom.at ? timeEl(s.forkedFrom.at) : '',
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
    ].filter((el) => el !== null),
  );
}

/**
 * Appends new messages; re-renders from scratch only if earlier messages changed.
 * @param {ConversationView} conv
 * @param {MessageParam[]} messages
 * @param {MessageMeta[]} meta
 * @param {number} from The index of the first message in the whole transcript (earlier ones were compacted).
 */
function renderTranscript(conv, messages, meta, from) {
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
    t.append(renderMessage(conv, messages[i], meta[i], from + i));
    conv.sigs.push(sigs[i]);
  }
  $('transcript-empty').hidden = messages.length > 0;
}

/**
 * @param {ConversationView} conv
 * @param {MessageParam} m
 * @param {MessageMeta | undefined} meta
 * @param {number} index Its index in the whole transcript.
 */
function renderMessage(conv, m, meta, index) {
  const role = m.role === 'assistant' ? 'assistant' : 'user';
  /** @type {Block[]} */
  const blocks = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content || [];
  const onlyResults = blocks.length > 0 && blocks.every((b) => b.type === 'tool_result');
  // A compaction message: the messages before it are summarized in it (the prompt starts here).
  const compaction = meta?.compaction;
  const label = compaction
    ? `Compaction (${compaction.trigger}): the ${num(compaction.summarized)} messages before are summarized`
    : role === 'assistant'
      ? 'Assistant'
      : onlyResults
        ? 'Tool results'
        : 'User';
  return h(
    'div',
    {
      class: `msg msg-${role}${onlyResults ? ' msg-results' : ''}${compaction ? ' msg-compaction' : ''}`,
      testid: compaction ? 'msg-compaction' : `msg-${role}`,
      data: { index: String(index) },
    },
    h(
      'div',
      { class: 'msg-head' },
      h('span', { class: 'role', text: label }),
      meta ? h('span', { class: 'muted' }, `turn ${meta.turn} · `, timeEl(meta.at)) : null,
    ),
    blocks.map((b) => renderBlock(conv, b)),
    forkControl(conv.id, m, index),
  );
}

/**
 * @param {Block} b
 * @returns {b is ServerToolResult}
 */
const isServerToolResult = (b) => /_tool_result$/.test(b.type);

/**
 * @param {ConversationView} conv
 * @param {Block} b
 * @returns {HTMLElement}
 */
function renderBlock(conv, b) {
  switch (b?.type) {
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
      return renderToolCall(conv, b);
    case 'tool_result':
      return renderToolResult(conv, b);
    case 'image':
    case 'document':
      return h('div', {
        class: 'compact muted',
        text: `[${b.type}${b.source && 'media_type' in b.source && b.source.media_type ? ' ' + b.source.media_type : ''}]`,
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
      if (b && isServerToolResult(b)) return renderServerResult(b);
      if (b && /** @type {{ type: string }} */ (b).type === 'compaction') {
        const summary = /** @type {{ content?: string | null }} */ (b).content;
        return h(
          'details',
          { class: 'compact compaction' },
          h('summary', { text: 'Summary' }),
          h('div', { class: 'text', text: summary ?? '(no summary)' }),
        );
      }
      return h(
        'details',
        { class: 'compact' },
        h('summary', { text: `[${(b && b.type) || 'unknown'} block]` }),
        h('pre', { class: 'json', text: pretty(b) }),
      );
  }
}

/**
 * @param {ConversationView} conv
 * @param {ToolUseBlockParam} b
 */
function renderToolCall(conv, b) {
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
      h('span', { class: 'sub-agent-slot' }),
    ),
    h('pre', { class: 'json', text: pretty(b.input) }),
    h('div', { class: 'decisions' }),
  );
}

/**
 * @param {ConversationView} conv
 * @param {ToolResultBlockParam} b
 */
function renderToolResult(conv, b) {
  const name = conv.toolNames.get(b.tool_use_id);
  const content = b.content;
  const parts =
    content === undefined || content === ''
      ? [h('div', { class: 'muted', text: '(empty)' })]
      : typeof content === 'string'
        ? [h('pre', { class: 'result', text: content })]
        : (Array.isArray(content) ? content : [content]).map((c) =>
            c && c.type === 'text' ? h('pre', { class: 'result', text: c.text }) : renderBlock(conv, c),
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

function scrollToCall(/** @type {string} */ id) {
  const box = all($('transcript'), '.tool-call').find((el) => el.dataset.toolUseId === id);
  if (!box) return;
  box.scrollIntoView({ behavior: 'smooth', block: 'center' });
  box.classList.add('highlight');
  window.setTimeout(() => box.classList.remove('highlight'), 1500);
}

/** @param {ServerToolResult} b */
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
  } else if (c && typeof c === 'object' && 'error_code' in c && c.error_code) {
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

/**
 * Puts each new decision under its tool call (or under "Other decisions").
 * @param {ConversationView} conv
 * @param {RecordedDecision[]} decisions
 */
function renderDecisions(conv, decisions) {
  const calls = all($('transcript'), '.tool-call');
  for (const d of decisions) {
    const key = [d.toolUseId, d.decidedAt, d.decision].join('|');
    if (conv.decisionKeys.has(key)) continue;
    const box = calls.find((el) => el.dataset.toolUseId === d.toolUseId);
    (box?.querySelector('.decisions') ?? $('orphan-list')).append(renderDecision(d, !box));
    if (!box) $('conv-orphans').hidden = false;
    conv.decisionKeys.add(key);
  }
}

/**
 * @param {RecordedDecision} d
 * @param {boolean} orphan
 */
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
