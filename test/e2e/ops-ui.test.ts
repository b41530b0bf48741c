/**
 * The ops page in a real browser (Debian Chromium driven by playwright-core) against a real dev server,
 * worker, fake Messages API and ops server: log in, see the pending call, edit and approve it, see the
 * conversation finish; a reject flow; the API without the token. Agents: the queue names a call's
 * agent and links a sub-agent's call to the conversation it works for; a conversation shows its agent,
 * fingerprint (and a deploy's change), tools, an MCP server that could not be listed, its parent and
 * its sub-agents as a tree whose nodes open onto their own sub-agents and link to their conversations.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { defineAgent } from '../../src/agents/define-agent';
import { stateQuery } from '../../src/api/conversation';
import { AgentClient } from '../../src/client';
import { reply } from '../../src/testing/fake-claude';
import { OperatorStore } from '../../src/ops/identity/operator-store';
import { createOpsServer } from '../../src/ops/server';
import { hubObserver, StreamHub } from '../../src/streaming/hub';
import { listArticles } from '../../src/tools/save-article';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { fileReport, lookup, parkedOnBudget, scriptSubAgentCall } from '../support/agents';
import { launchChromium } from '../support/chromium';

/** Calls the researcher, which calls the archivist; its MCP server is down (nothing listens on port 9). */
const helpdesk = defineAgent({
  name: 'helpdesk',
  model: 'claude-opus-4-1',
  system: 'You are the help desk.',
  tools: [lookup],
  subAgents: ['researcher'],
  mcpServers: [{ name: 'gone', transport: 'http', url: 'http://127.0.0.1:9/mcp' }],
});
const researcher = defineAgent({ name: 'researcher', model: 'claude-haiku-4-5', subAgents: ['archivist'] });
const archivistSpec = {
  name: 'archivist',
  model: 'claude-haiku-4-5',
  system: 'You file reports.',
  tools: [fileReport],
};
const archivist = defineAgent(archivistSpec);

const TOKEN = 'e2e-token-0123456789abcdef';
/** Olivia's own token (`agent operators add Olivia --role approver`): she signs in as herself. */
let oliviaToken: string;
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');
let t: AgentEnv;
let ops: FastifyInstance;
let base: string;
let browser: Browser;
let page: Page;
let client: AgentClient;

const hub = new StreamHub();

beforeAll(async () => {
  t = await startAgentEnv({ observer: hubObserver(hub), agents: [helpdesk, researcher, archivist] });
  client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
  const operators = new OperatorStore(join(mkdtempSync(join(tmpdir(), 'ops-ui-')), 'operators.json'));
  oliviaToken = operators.add('Olivia', 'approver', []);
  ops = await createOpsServer({
    agent: client,
    token: TOKEN,
    identity: { operators },
    namespace: 'default',
    hub,
  });
  base = await ops.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  mkdirSync(ARTIFACTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await ops?.close();
  await t?.teardown();
});

async function awaitingSave(abstract: string) {
  const handle = await t.start({
    message: `Summarize and save: ${abstract}`,
    tools: ['save_article'],
    singleTurn: true,
  });
  const id = `toolu_e2e_${handle.workflowId.slice(-10).replace(/[^a-zA-Z0-9]/g, '')}`;
  t.fake.script(handle.workflowId, [
    reply.toolUse(
      { name: 'save_article', input: { abstract, meta: { word_count: 120, review: 'A clear piece.' } }, id },
      { text: 'I will save the article.' },
    ),
    reply.text('The article is saved.'),
  ]);
  await t.waitFor(handle, (s) => s.status === 'awaiting_approval');
  return { handle, id };
}

describe('ops UI in Chromium', () => {
  it('refuses a wrong token at login, then logs in', async () => {
    await page.goto(`${base}/`);
    await page.getByTestId('login-token').fill('wrong-token');
    await page.getByTestId('login-submit').click();
    // Wait for the answer: the error appears once the server has said no.
    await page.getByTestId('login-error').filter({ hasText: /\S/ }).waitFor();
    await page.getByTestId('login-token').fill(oliviaToken);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('nav-approvals').waitFor();
    // The name shown is the token's operator's; the session (an HttpOnly cookie) outlives a reload.
    await page.locator('#who').filter({ hasText: 'Signed in as Olivia (approver)' }).waitFor();
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({ name: 'ops_session', httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate('document.cookie')).toBe(''); // HttpOnly: no script reads it
    await page.reload();
    await page.locator('#who').filter({ hasText: 'Signed in as Olivia' }).waitFor();
  });

  it('shows the pending call; the operator edits a field, approves, and sees the conversation finish', async () => {
    const { handle, id } = await awaitingSave('Durable execution keeps agents honest.');
    const card = page.locator(`[data-testid="approval-card"][data-tool-use-id="${id}"]`);
    await card.waitFor({ timeout: 15_000 });
    await card.filter({ hasText: 'Durable execution keeps agents honest.' }).waitFor();
    expect(await card.textContent()).toContain('save_article');
    await page.screenshot({ path: join(ARTIFACTS, 'approval-queue.png'), fullPage: true });

    await card.getByTestId('edit').click();
    const editor = card.getByTestId('edit-input');
    const edited = JSON.parse(await editor.inputValue()) as { meta: { word_count: number } };
    edited.meta.word_count = 777;
    // An invalid edit first: the schema error is shown inline, nothing is decided.
    await editor.fill(JSON.stringify({ abstract: '' }));
    await card.getByTestId('edit-confirm').click();
    await card
      .getByTestId('card-error')
      .filter({ hasText: /does not match the save_article schema/ })
      .waitFor();
    await editor.fill(JSON.stringify(edited, null, 2));
    await card.getByTestId('edit-confirm').click();
    await card.waitFor({ state: 'detached', timeout: 15_000 });

    expect((await handle.result()).lastText).toBe('The article is saved.');
    const [saved] = (await listArticles(t.dataDir)).filter((a) => a.workflowId === handle.workflowId);
    expect(saved.meta.word_count).toBe(777);
    const state = await handle.query(stateQuery, {});
    expect(state.decisions[0]).toMatchObject({ decision: 'edit', decidedBy: 'Olivia' });

    await page.goto(`${base}/#/conversations/${encodeURIComponent(handle.workflowId)}`);
    const result = page.locator(`[data-testid="tool-result"][data-tool-use-id="${id}"]`);
    await result.waitFor({ timeout: 15_000 });
    await result.filter({ hasText: /saved/ }).waitFor();
    await page.getByTestId('transcript').filter({ hasText: 'The article is saved.' }).waitFor();
    await page.getByTestId('decision').filter({ hasText: 'Olivia' }).first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'conversation-view.png'), fullPage: true });
  });

  it('rejects a call with a reason; the model is told', async () => {
    const { handle, id } = await awaitingSave('A draft nobody asked for.');
    await page.goto(`${base}/#/approvals`);
    const card = page.locator(`[data-testid="approval-card"][data-tool-use-id="${id}"]`);
    await card.waitFor({ timeout: 15_000 });
    await card.getByTestId('reject').click();
    await card.getByTestId('reject-reason').fill('Not approved for publication.');
    await card.getByTestId('reject-confirm').click();
    await card.waitFor({ state: 'detached', timeout: 15_000 });
    await handle.result();
    const toolResult = (
      t.fake.requestsFor(handle.workflowId)[1].body.messages[2].content as unknown as Array<
        Record<string, unknown>
      >
    )[0];
    expect(toolResult).toMatchObject({
      is_error: true,
      content: 'An operator (Olivia) rejected this call: Not approved for publication. It was not run.',
    });
    expect((await listArticles(t.dataDir)).filter((a) => a.workflowId === handle.workflowId)).toHaveLength(0);
  });

  it('the conversation view shows the model writing, live', async () => {
    const handle = await t.start({ message: 'Tell me about durable agents', singleTurn: true });
    const answer = 'Durable agents keep going when workers crash, because every step is recorded. '.repeat(3);
    t.fake.script(handle.workflowId, [
      { ...reply.text(answer, { chunkSize: 3 }), latency: { firstByteMs: 1500, betweenEventsMs: 40 } },
    ]);
    await page.goto(`${base}/#/conversations/${encodeURIComponent(handle.workflowId)}`);
    await page.getByTestId('live-status').filter({ hasText: 'streaming' }).waitFor({ timeout: 15_000 });
    // Part of the answer is on the page before the model has finished.
    await page
      .getByTestId('live-text')
      .filter({ hasText: 'Durable agents keep going' })
      .waitFor({ timeout: 15_000 });
    const partial = (await page.getByTestId('live-text').textContent()) ?? '';
    expect(partial.length).toBeLessThan(answer.length);
    expect(answer.startsWith(partial)).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'live-view.png'), fullPage: true });
    await page.getByTestId('live-status').filter({ hasText: 'complete' }).waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('live-text').textContent()).toBe(answer);
    await handle.result();
  });

  it('agents: the queue links a sub-agent’s call to its parent; the tree opens level by level and links each conversation', async () => {
    const parentId = `ui-helpdesk-${process.pid}-${Date.now()}`;
    const toolUseId = `toolu_file_${Date.now()}`;
    const childId = scriptSubAgentCall(t.fake, parentId, {
      agent: 'researcher',
      task: 'Have Q3 filed',
      toolUseId: 'toolu_research',
      answer: 'The team filed it.',
    });
    const grandchildId = scriptSubAgentCall(
      t.fake,
      childId,
      { agent: 'archivist', task: 'File Q3', toolUseId: 'toolu_archive', answer: 'The archivist filed it.' },
      [reply.toolUse({ name: 'file_report', input: { title: 'Q3' }, id: toolUseId }), reply.text('Filed.')],
    );
    await client.startConversation(
      { agent: 'helpdesk', message: 'File the Q3 report', singleTurn: true },
      { workflowId: parentId },
    );
    await t.waitFor(t.env.client.workflow.getHandle(grandchildId), (s) => s.pendingApprovals.length === 1);
    const node = (id: string) => page.locator(`[data-testid="subagent-node"][data-workflow-id="${id}"]`);

    // The queue: the archivist's call, two levels down, with a link to the conversation it works for.
    await page.goto(`${base}/#/approvals`);
    const card = page.locator(`[data-testid="approval-card"][data-tool-use-id="${toolUseId}"]`);
    await card.waitFor({ timeout: 15_000 });
    expect(await card.getByTestId('card-agent').textContent()).toBe('archivist');
    expect(await card.getByTestId('card-parent').textContent()).toBe(childId);
    await page.screenshot({ path: join(ARTIFACTS, 'agents-queue.png'), fullPage: true });
    await card.getByTestId('card-parent').click();

    // The researcher's conversation: its parent, its agent, the archivist's run below it.
    await page.getByTestId('parent-link').filter({ hasText: parentId }).waitFor({ timeout: 15_000 });
    expect(new URL(page.url()).hash).toBe(`#/conversations/${encodeURIComponent(childId)}`);
    expect(await page.getByTestId('agent-name').textContent()).toBe('researcher');
    await node(grandchildId).waitFor();
    expect(await node(grandchildId).getByTestId('subagent-agent').textContent()).toBe('archivist');
    expect(await node(grandchildId).getByTestId('subagent-status').textContent()).toBe('running');

    // Up to the help desk: its agent, fingerprint and tools, the MCP server that is down, no parent.
    await page.getByTestId('parent-link').click();
    await page.getByTestId('agent-name').filter({ hasText: 'helpdesk' }).waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('agent-fingerprint').textContent()).toBe(helpdesk.fingerprint);
    const tools = await page
      .getByTestId('agent-tool')
      .evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    expect(tools).toEqual([
      ['lookup', 'tool', 'read'],
      ['researcher', 'agent', '—'],
    ]);
    expect(await page.getByTestId('mcp-unavailable').textContent()).toMatch(
      /^MCP server gone unavailable.*gone/,
    );
    expect(await page.getByTestId('parent-link').count()).toBe(0);
    // The tree: the researcher's run; the archivist's appears once its node is opened.
    await node(childId).waitFor();
    expect(await node(childId).getByTestId('subagent-status').first().textContent()).toBe('running');
    expect(await node(grandchildId).count()).toBe(0);
    await node(childId).getByTestId('subagent-toggle').first().click();
    await node(childId)
      .locator(`[data-testid="subagent-node"][data-workflow-id="${grandchildId}"]`)
      .waitFor();
    // The transcript's call links to the sub-agent's conversation too.
    await page
      .locator(
        '[data-testid="tool-call"][data-tool-use-id="toolu_research"] [data-testid="call-subagent-link"]',
      )
      .waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'agents-tree.png'), fullPage: true });
    // Follow the tree's link down to the archivist.
    await node(grandchildId).getByTestId('subagent-link').click();
    await page.getByTestId('agent-name').filter({ hasText: 'archivist' }).waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('parent-link').textContent()).toBe(childId);

    // The list names each conversation's agent.
    await page.goto(`${base}/#/conversations`);
    for (const [id, agent] of [
      [parentId, 'helpdesk'],
      [childId, 'researcher'],
      [grandchildId, 'archivist'],
    ])
      await page
        .locator(
          `[data-testid="conversation-row"][data-workflow-id="${id}"] [data-testid="conversation-agent"]`,
        )
        .filter({ hasText: new RegExp(`^${agent}$`) })
        .waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'agents-list.png'), fullPage: true });

    // Approved, every level finishes; the parent's tree says so.
    await client.decide(grandchildId, { toolUseId, decision: 'approve', decidedBy: 'Olivia' });
    await t.env.client.workflow.getHandle(parentId).result();
    await page.goto(`${base}/#/conversations/${encodeURIComponent(parentId)}`);
    await node(childId)
      .getByTestId('subagent-status')
      .first()
      .filter({ hasText: 'completed' })
      .waitFor({ timeout: 15_000 });
  });

  it('agents: a deploy that changes the agent shows as a fingerprint change', async () => {
    const id = `ui-deploy-${process.pid}-${Date.now()}`;
    t.fake.script(id, [reply.text('First.'), reply.text('Second.')]);
    await client.startConversation({ agent: 'archivist', message: 'One' }, { workflowId: id });
    const handle = t.env.client.workflow.getHandle(id);
    await t.waitFor(handle, (s) => s.status === 'idle');
    const changed = defineAgent({ ...archivistSpec, system: 'You file reports, carefully.' });
    await t.restartWorker({ agents: [helpdesk, researcher, changed] });
    await client.sendMessage(id, 'Two');
    await t.waitFor(handle, (s) => s.status === 'idle' && s.turn === 2);
    await page.goto(`${base}/#/conversations/${encodeURIComponent(id)}`);
    await page
      .getByTestId('agent-changes')
      .filter({ hasText: `Agent changed at turn 2: ${archivist.fingerprint} → ${changed.fingerprint}` })
      .waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('agent-fingerprint').textContent()).toBe(changed.fingerprint);
    await client.end(id, 'Olivia', 'done');
  });

  it('a conversation parked on its budget shows spent / limit; the operator raises it and it completes', async () => {
    const { handle, parked } = await parkedOnBudget(t, { location: 'Lima', answer: 'Mild in Lima.' });
    const spent = parked.budget!.spent.tokens;
    await page.goto(`${base}/#/conversations/${encodeURIComponent(handle.workflowId)}`);
    const form = page.getByTestId('budget-form');
    await form.waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('budget-spent').textContent()).toBe(
      `Budget: ${spent.toLocaleString('en-US')} of 1 tokens`,
    );
    expect(await page.getByTestId('conversation-status').textContent()).toBe('needs_attention');

    // Nothing given: said on the page, nothing sent. A value still under the spend: set, still parked.
    await form.getByTestId('budget-raise').click();
    await form.getByTestId('budget-error').filter({ hasText: 'Give a new ceiling' }).waitFor();
    await form.getByTestId('budget-tokens').fill('2');
    await form.getByTestId('budget-raise').click();
    await page.getByTestId('budget-spent').filter({ hasText: ' of 2 tokens' }).waitFor({ timeout: 15_000 });
    expect(await form.isVisible()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'budget-parked.png'), fullPage: true });

    await form.getByTestId('budget-tokens').fill('1000000');
    await form.getByTestId('budget-usd').fill('2.5');
    await form.getByTestId('budget-raise').click();
    await page
      .locator('#conv-flash')
      .filter({ hasText: `Budget of ${handle.workflowId} set to $2.50 and 1,000,000 tokens.` })
      .waitFor({ timeout: 15_000 });
    expect((await handle.result()).lastText).toBe('Mild in Lima.');
    await form.waitFor({ state: 'detached', timeout: 15_000 });
    await page
      .getByTestId('conversation-status')
      .filter({ hasText: 'completed' })
      .waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('budget-spent').textContent()).toMatch(
      /^Budget: \$\d+\.\d{4} of \$2\.50 · [\d,]+ of 1,000,000 tokens$/,
    );
  });

  it('Compact now compacts an idle conversation; the transcript marks the compaction message', async () => {
    const id = `ui-compact-${process.pid}`;
    t.fake.script(id, [reply.text('First answer.')]);
    await client.startConversation({ agent: 'archivist', message: 'One' }, { workflowId: id });
    const handle = t.env.client.workflow.getHandle(id);
    await t.waitFor(handle, (s) => s.status === 'idle');
    await page.goto(`${base}/#/conversations/${encodeURIComponent(id)}`);
    await page
      .getByTestId('compaction-summary')
      .filter({ hasText: 'Not compacted' })
      .waitFor({ timeout: 15_000 });
    await page.getByTestId('compact-now').click();
    await page
      .getByTestId('compaction-summary')
      .filter({ hasText: /^Compacted 1 time · last: operator by .+ · the prompt starts at message 2/ })
      .waitFor({ timeout: 15_000 });
    const marked = page.getByTestId('msg-compaction');
    await marked.waitFor({ timeout: 15_000 });
    expect(await marked.locator('.role').textContent()).toBe(
      'Compaction (operator): the 2 messages before are summarized',
    );
    expect(await marked.locator('details.compaction .text').textContent()).toMatch(/^Summary of 2 messages/);
    // The run continued-as-new: what the summary replaced is read back from the earlier run.
    await page.getByTestId('show-earlier').filter({ hasText: 'Show the 2 earlier messages' }).click();
    const earlier = page.getByTestId('earlier-message');
    await earlier.first().waitFor({ timeout: 15_000 });
    expect(await earlier.allTextContents()).toEqual(['#0 userOne', '#1 assistantFirst answer.']);
    await client.end(id, 'Olivia', 'done');
    await page.getByTestId('compact-now').waitFor({ state: 'detached', timeout: 15_000 });
  });

  it('markup in messages and tool inputs is shown as text: nothing runs', async () => {
    const markup = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    const { handle, id } = await awaitingSave(`${markup} <a href="javascript:window.__pwned=3">x</a>`);
    await page.evaluate('delete window.__pwned');
    const card = page.locator(`[data-testid="approval-card"][data-tool-use-id="${id}"]`);
    await page.goto(`${base}/#/approvals`);
    await card.filter({ hasText: '<script>window.__pwned=2</script>' }).waitFor({ timeout: 15_000 });
    await page.goto(`${base}/#/conversations/${encodeURIComponent(handle.workflowId)}`);
    await page.getByTestId('msg-user').first().filter({ hasText: 'onerror=' }).waitFor({ timeout: 15_000 });
    // The transcript and the card hold the markup as text; no element of it was created.
    expect(
      await page.locator('#transcript img, #transcript script, #transcript a[href^="javascript"]').count(),
    ).toBe(0);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    await client.decide(handle.workflowId, {
      toolUseId: id,
      decision: 'reject',
      reason: 'test',
      decidedBy: 'Olivia',
    });
  });

  it('the API answers 401 without the token, even from the page origin', async () => {
    const fresh = await browser.newContext();
    try {
      const res = await fresh.request.get(`${base}/api/approvals`);
      expect(res.status()).toBe(401);
    } finally {
      await fresh.close();
    }
  });

  it('signing out ends the session: the API refuses the old cookie', async () => {
    const [cookie] = await page.context().cookies();
    await page.getByTestId('sign-out').click();
    await page.getByTestId('login-token').waitFor();
    const res = await fetch(`${base}/api/approvals`, {
      headers: { cookie: `${cookie.name}=${cookie.value}` },
    });
    expect(res.status).toBe(401);
  });
});
