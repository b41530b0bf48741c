// @ts-check
/**
 * A conversation's agent: its name and fingerprint (with the changes a deploy made), its tools (MCP
 * servers that could not be listed, and why), the conversation a sub-agent works for, and the
 * sub-agents it ran as a tree: each child links to its conversation; opening a node reads the child's
 * state and lists its own sub-agents beneath.
 */
import { getConversation } from '../api.js';
import { $, h, statusBadge } from '../dom.js';
import { errorMessage } from '../format.js';
import { conversationHref } from '../router.js';
import { timeEl } from '../time.js';

/** @typedef {import('../state.js').ConversationView} ConversationView */
/** @typedef {import('../../server').ConversationResponse} ConversationResponse */
/** @typedef {import('../../../api/agents').AgentView} AgentView */
/** @typedef {import('../../../api/agents').AgentToolInfo} AgentToolInfo */
/** @typedef {import('../../../api/agents').ParentLink} ParentLink */
/** @typedef {import('../../../api/agents').SubAgentRun} SubAgentRun */

/** Empties the agent panel and the sub-agent tree (another conversation is opening). */
export function clearAgent() {
  $('conv-agent').replaceChildren();
  $('conv-agent').hidden = true;
  $('subagent-tree').replaceChildren();
  $('conv-subagents').hidden = true;
}

/**
 * Renders the agent panel and the sub-agent tree, each only when what it shows changed (an open tree
 * node stays open).
 * @param {ConversationView} conv
 * @param {ConversationResponse} s
 */
export function renderAgent(conv, s) {
  const agentSig = JSON.stringify([s.agent ?? null, s.parent ?? null]);
  if (agentSig !== conv.agentSig) {
    conv.agentSig = agentSig;
    const box = $('conv-agent');
    box.hidden = !s.agent && !s.parent;
    box.replaceChildren(
      ...(s.parent ? [parentLine(s.parent)] : []),
      ...(s.agent ? [agentBlock(s.agent)] : []),
    );
  }
  const runs = s.subAgents || [];
  const treeSig = JSON.stringify(runs);
  if (treeSig !== conv.treeSig) {
    conv.treeSig = treeSig;
    $('conv-subagents').hidden = runs.length === 0;
    $('subagent-tree').replaceChildren(...(runs.length ? [treeList(conv, runs)] : []));
  }
}

/** @param {ParentLink} p */
function parentLine(p) {
  return h(
    'div',
    { class: 'parent-line', testid: 'parent' },
    'Sub-agent of ',
    h('a', { href: conversationHref(p.workflowId), testid: 'parent-link', text: p.workflowId }),
    h('span', {
      class: 'muted',
      text: ` (tool call ${p.toolUseId} · called by agent ${p.agent} · depth ${p.depth})`,
    }),
  );
}

/** @param {AgentView} a */
function agentBlock(a) {
  return h(
    'div',
    { class: 'agent-block' },
    h(
      'div',
      { class: 'agent-line' },
      h('span', { class: 'tag', text: 'agent' }),
      h('strong', { testid: 'agent-name', text: a.name }),
      h('span', { class: 'muted', text: 'fingerprint' }),
      h('code', {
        testid: 'agent-fingerprint',
        title: 'The definition the latest model call used',
        text: a.fingerprint,
      }),
    ),
    a.changes.length
      ? h(
          'ul',
          { class: 'agent-changes', testid: 'agent-changes' },
          a.changes.map((c) =>
            h(
              'li',
              null,
              `Agent changed at turn ${c.turn}: `,
              h('code', { text: c.from }),
              ' → ',
              h('code', { text: c.to }),
              ' · ',
              timeEl(c.at),
            ),
          ),
        )
      : null,
    (a.unavailable || []).map((u) =>
      h(
        'div',
        { class: 'attention', role: 'status', testid: 'mcp-unavailable' },
        h('strong', { text: `MCP server ${u.server} unavailable` }),
        h('span', { text: ` (its tools are missing from this run): ${u.error}` }),
      ),
    ),
    a.tools.length ? toolTable(a.tools) : h('p', { class: 'muted', text: 'No tools.' }),
  );
}

/** @param {AgentToolInfo[]} tools */
function toolTable(tools) {
  return h(
    'table',
    { class: 'table tool-table', testid: 'agent-tools' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['Tool', 'Source', 'Effect'].map((c) => h('th', { text: c })),
      ),
    ),
    h(
      'tbody',
      null,
      tools.map((t) =>
        h(
          'tr',
          { testid: 'agent-tool', data: { tool: t.name } },
          h('td', null, h('code', { text: t.name })),
          h('td', { text: t.source === 'mcp' && t.server ? `mcp · ${t.server}` : t.source }),
          h('td', null, t.effect ? h('span', { class: `badge effect-${t.effect}`, text: t.effect }) : '—'),
        ),
      ),
    ),
  );
}

/**
 * @param {ConversationView} conv
 * @param {SubAgentRun[]} runs
 */
function treeList(conv, runs) {
  return h(
    'ul',
    { class: 'agent-tree' },
    runs.map((run) => treeNode(conv, run)),
  );
}

/**
 * A sub-agent run: a link to its conversation, its agent and status; its toggle opens the child's
 * own sub-agents (read when opened, and again whenever the tree is rebuilt while it stays open).
 * @param {ConversationView} conv
 * @param {SubAgentRun} run
 */
function treeNode(conv, run) {
  const children = h('div', { class: 'tree-children', testid: 'subagent-children', hidden: true });
  const toggle = h('button', {
    type: 'button',
    class: 'link tree-toggle',
    testid: 'subagent-toggle',
    'aria-expanded': 'false',
    'aria-label': `Sub-agents of ${run.workflowId}`,
    text: '▸',
  });
  /** Which read is current: a slow answer for a node closed meanwhile is dropped. */
  let reading = 0;
  const setOpen = (/** @type {boolean} */ open) => {
    toggle.setAttribute('aria-expanded', String(open));
    toggle.textContent = open ? '▾' : '▸';
    children.hidden = !open;
    const read = ++reading;
    if (!open) {
      conv.expanded.delete(run.workflowId);
      return;
    }
    conv.expanded.add(run.workflowId);
    children.replaceChildren(h('p', { class: 'muted small', text: 'Loading…' }));
    getConversation(run.workflowId).then(
      (child) => {
        if (read !== reading) return;
        const grandchildren = child.subAgents || [];
        children.replaceChildren(
          grandchildren.length
            ? treeList(conv, grandchildren)
            : h('p', { class: 'muted small', text: 'No sub-agents.' }),
        );
      },
      (e) => {
        if (read === reading) children.replaceChildren(h('p', { class: 'error', text: errorMessage(e) }));
      },
    );
  };
  toggle.addEventListener('click', () => setOpen(toggle.getAttribute('aria-expanded') !== 'true'));
  const node = h(
    'li',
    { class: 'tree-node', testid: 'subagent-node', data: { workflowId: run.workflowId } },
    h(
      'div',
      { class: 'tree-row' },
      toggle,
      h('a', { href: conversationHref(run.workflowId), testid: 'subagent-link', text: run.workflowId }),
      h('span', { class: 'agent-tag', testid: 'subagent-agent', text: run.agent }),
      statusBadge(run.status, 'subagent-status'),
      h('span', { class: 'muted small' }, 'started ', timeEl(run.startedAt)),
      run.endedAt ? h('span', { class: 'muted small' }, 'ended ', timeEl(run.endedAt)) : null,
    ),
    children,
  );
  if (conv.expanded.has(run.workflowId)) setOpen(true);
  return node;
}
