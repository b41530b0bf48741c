/**
 * Operators on the ops page in a real browser (Debian Chromium driven by playwright-core) against a
 * real dev server, worker, fake Messages API and ops server, each operator signed in with their own
 * token in their own browser context: a four-eyes approval by two people (the call runs only after the
 * second; the first sees "1 of 2"), a viewer who sees no decide buttons, a reject by an approver outside
 * the tool's group refused with the workflow's reason on the card, a fork from a message of the
 * transcript, a parked conversation resumed from the needs-attention view and one ended with a reason
 * from its own view; and the CLI deciding through the ops API with an operator's token.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { defineAgent } from '../../src/agents/define-agent';
import { stateQuery } from '../../src/api/conversation';
import { AgentClient } from '../../src/client';
import { reply } from '../../src/testing/fake-claude';
import { OperatorStore } from '../../src/ops/identity/operator-store';
import { createOpsServer } from '../../src/ops/server';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { financeRefund, lookup, refundWaiting as refundWaitingFor } from '../support/agents';
import { runCli } from '../support/cli-runs';
import { launchChromium } from '../support/chromium';

const { refund, refunds } = financeRefund();
const desk = defineAgent({ name: 'desk', model: 'claude-sonnet-4-6', tools: [lookup], promptCaching: 'off' });

const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';
const tokens: Record<'alice' | 'bob' | 'sam' | 'vera', string> = { alice: '', bob: '', sam: '', vera: '' };
let t: AgentEnv;
let client: AgentClient;
let ops: FastifyInstance;
let base: string;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  t = await startAgentEnv({ tools: [refund, lookup], agents: [desk] });
  client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
  const operators = new OperatorStore(join(mkdtempSync(join(tmpdir(), 'ops-operators-')), 'operators.json'));
  tokens.alice = operators.add('alice', 'approver', ['finance']);
  tokens.bob = operators.add('bob', 'approver', ['finance']);
  tokens.sam = operators.add('sam', 'approver', ['support']);
  tokens.vera = operators.add('vera', 'viewer', ['finance']);
  ops = await createOpsServer({
    agent: client,
    token: ADMIN_TOKEN,
    identity: { operators },
    namespace: 'default',
  });
  base = await ops.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
});
// Each test's browsers close after it: open pages keep their live connections.
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close().catch(() => undefined);
});
afterAll(async () => {
  await browser?.close();
  await ops?.close();
  await t?.teardown();
});

/** A page signed in as `who`, in a browser context of its own (its own session cookie). */
async function signedIn(who: keyof typeof tokens): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.getByTestId('login-token').fill(tokens[who]);
  await page.getByTestId('login-submit').click();
  await page
    .locator('#who')
    .filter({ hasText: `Signed in as ${who}` })
    .waitFor();
  return page;
}

const refundWaiting = (order: string) => refundWaitingFor(t, order, 'Refunded.');

const cardOf = (page: Page, toolUseId: string) =>
  page.locator(`[data-testid="approval-card"][data-tool-use-id="${toolUseId}"]`);

describe('operators on the ops page', () => {
  it('four-eyes: alice approves (1 of 2), bob approves in another browser, and only then the refund runs', async () => {
    const { handle, toolUseId } = await refundWaiting('A1');
    const alice = await signedIn('alice');
    const card = cardOf(alice, toolUseId);
    await card.waitFor({ timeout: 15_000 });
    expect(await card.getByTestId('card-approvers').textContent()).toBe('Approvers: finance');
    expect(await card.getByTestId('card-progress').textContent()).toBe('0 of 2 approvals');
    await card.getByTestId('approve').click();
    await card
      .getByTestId('card-progress')
      .filter({ hasText: /^1 of 2 approvals \(alice\)$/ })
      .waitFor();
    await alice
      .locator('#queue-flash')
      .filter({ hasText: '1 of 2 approvals, waiting for another approver' })
      .waitFor();
    // The same person counts once: Approve is no longer offered to her.
    expect(await card.getByTestId('approve').isHidden()).toBe(true);
    expect(refunds.filter((r) => r.order === 'A1')).toEqual([]);

    // A viewer sees the call and its progress, and no button to decide it.
    const vera = await signedIn('vera');
    const seen = cardOf(vera, toolUseId);
    await seen
      .getByTestId('card-progress')
      .filter({ hasText: '1 of 2 approvals (alice)' })
      .waitFor({ timeout: 15_000 });
    expect(await seen.locator('button').count()).toBe(0);

    const bob = await signedIn('bob');
    const bobs = cardOf(bob, toolUseId);
    await bobs
      .getByTestId('card-progress')
      .filter({ hasText: '1 of 2 approvals (alice)' })
      .waitFor({ timeout: 15_000 });
    await bob.screenshot({ path: join(tmpdir(), 'four-eyes.png') }).catch(() => undefined);
    await bobs.getByTestId('approve').click();
    await bobs.waitFor({ state: 'detached', timeout: 15_000 });
    expect((await handle.result()).lastText).toBe('Refunded.');
    expect(refunds.filter((r) => r.order === 'A1')).toEqual([{ order: 'A1', amount: 250 }]);
    const state = await handle.query(stateQuery, { from: -1 });
    expect(state.decisions.at(-1)).toMatchObject({ decision: 'approve', decidedBy: 'bob', channel: 'ops' });
    expect(state.decisions.at(-1)?.approvals?.map((s) => [s.decidedBy, s.groups, s.channel])).toEqual([
      ['alice', ['finance'], 'ops'],
      ['bob', ['finance'], 'ops'],
    ]);
    // Alice's page drops the card once the call is decided.
    await card.waitFor({ state: 'detached', timeout: 15_000 });
  });

  it('a reject by an approver outside the group is refused, with the reason on the card', async () => {
    const { handle, toolUseId } = await refundWaiting('B2');
    const sam = await signedIn('sam');
    const card = cardOf(sam, toolUseId);
    await card.waitFor({ timeout: 15_000 });
    await card.getByTestId('reject').click();
    await card.getByTestId('reject-reason').fill('Not on my watch.');
    await card.getByTestId('reject-confirm').click();
    await card
      .getByTestId('card-error')
      .filter({ hasText: /sam \(in support\) may not decide .*refund needs an approver in finance/ })
      .waitFor({ timeout: 15_000 });
    // Still waiting, nothing decided; the API says 422 with the same reason (not a 500).
    const state = await handle.query(stateQuery, { from: -1 });
    expect(state.status).toBe('awaiting_approval');
    expect(state.decisions).toEqual([]);
    const res = await fetch(`${base}/api/conversations/${encodeURIComponent(handle.workflowId)}/decisions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.sam}`, 'content-type': 'application/json' },
      body: JSON.stringify({ toolUseId, decision: 'reject', reason: 'no' }),
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { message: string }).message).toMatch(/needs an approver in finance/);
    await client.end(handle.workflowId, 'test', 'done');
  });

  it('fork from the page: offered outside tool rounds; the fork answers from the fork point and links back', async () => {
    const origin = `ui-fork-${process.pid}`;
    t.fake.script(origin, [
      reply.toolUse({ name: 'lookup', input: { id: 'A-1' } }),
      reply.text('A-1 is 120.'),
      reply.text('B-2 is 50.'),
    ]);
    // The fork's id is the server's to choose: answer any conversation forked from this origin.
    t.fake.script('*', (request) =>
      request.conversation.startsWith(`${origin}.fork-`)
        ? reply.text('B-2 is 55 now.')
        : { kind: 'error', status: 400, type: 'invalid_request_error', message: 'not scripted' },
    );
    await client.startConversation({ agent: 'desk', message: 'How much is A-1?' }, { workflowId: origin });
    const handle = t.env.client.workflow.getHandle(origin);
    await t.waitFor(handle, (s) => s.status === 'idle');
    await client.sendMessage(origin, 'And B-2?');
    await t.waitFor(handle, (s) => s.status === 'idle' && s.turn === 2); // 0 user, 1 call, 2 results, 3, 4 user, 5

    const page = await signedIn('alice');
    await page.goto(`${base}/#/conversations/${encodeURIComponent(origin)}`);
    const message = (i: number) => page.locator(`#transcript [data-index="${i}"]`);
    await message(5).waitFor({ timeout: 15_000 });
    const offered = [];
    for (let i = 0; i <= 5; i++) offered.push(await message(i).getByTestId('fork-from-here').count());
    expect(offered).toEqual([1, 0, 0, 1, 1, 1]);

    await message(4).getByTestId('fork-from-here').click();
    await message(4).getByTestId('fork-confirm').click();
    const link = page.getByTestId('forked-from');
    await link.filter({ hasText: `Forked from ${origin} at message 4` }).waitFor({ timeout: 15_000 });
    const forkId = decodeURIComponent(new URL(page.url()).hash.replace('#/conversations/', ''));
    expect(forkId.startsWith(`${origin}.fork-`)).toBe(true);
    await page.getByTestId('transcript').filter({ hasText: 'B-2 is 55 now.' }).waitFor({ timeout: 15_000 });
    const forked = await client.getState(forkId);
    // Who forked it and when: alice, an operator action (the audit shows it).
    expect(forked.forkedFrom).toEqual({ workflowId: origin, index: 4, by: 'alice', at: expect.any(String) });
    await link.filter({ hasText: 'by alice' }).waitFor({ timeout: 15_000 });
    expect(forked.messages.map((m) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    // The model of the fork got the origin's transcript up to the question, as the origin's did.
    expect(t.requests(forkId)[0].body.messages).toEqual(t.requests(origin)[2].body.messages);

    // Forking a finished answer takes a new message, typed on the page.
    await link.getByRole('link').click();
    await message(3).getByTestId('fork-from-here').click({ timeout: 15_000 });
    await message(3).getByTestId('fork-message').fill('And C-3?');
    await message(3).getByTestId('fork-confirm').click();
    await page.getByTestId('forked-from').filter({ hasText: 'at message 3' }).waitFor({ timeout: 15_000 });
    await page.getByTestId('transcript').filter({ hasText: 'And C-3?' }).waitFor({ timeout: 15_000 });
    t.fake.script('*', []);
    await client.end(origin, 'test', 'done');
  });

  it('a conversation parked on its turn call limit is listed with why, resumed from the page, and completes', async () => {
    const handle = await t.start({
      message: 'How much is A-1?',
      tools: ['lookup'],
      singleTurn: true,
      limits: { maxModelCallsPerTurn: 1 },
    });
    t.fake.script(handle.workflowId, [
      reply.toolUse({ name: 'lookup', input: { id: 'A-1' } }),
      reply.text('A-1 is 120.'),
    ]);
    await t.waitFor(handle, (s) => s.status === 'needs_attention');

    // A viewer may not resume it (403), and a session without the CSRF header may not either.
    const path = `${base}/api/conversations/${encodeURIComponent(handle.workflowId)}/resume`;
    const viewer = await fetch(path, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.vera}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(viewer.status).toBe(403);

    const page = await signedIn('alice');
    const [cookie] = await page.context().cookies();
    const noCsrf = await fetch(path, {
      method: 'POST',
      headers: { cookie: `${cookie.name}=${cookie.value}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(noCsrf.status).toBe(403);

    await page.getByTestId('nav-attention').click();
    const card = page.locator(`[data-testid="attention-card"][data-workflow-id="${handle.workflowId}"]`);
    await card.waitFor({ timeout: 15_000 });
    expect(await card.getByTestId('attention-reason').textContent()).toBe('turn_call_limit');
    expect(await card.getByTestId('attention-message').textContent()).toBe(
      'more than 1 model calls in turn 1',
    );
    await card.getByTestId('resume').click();
    expect((await handle.result()).lastText).toBe('A-1 is 120.');
    await card.waitFor({ state: 'detached', timeout: 15_000 });
  });

  it('a parked conversation is ended with a reason from its own view', async () => {
    const handle = await t.start({
      message: 'How much is A-2?',
      tools: ['lookup'],
      singleTurn: true,
      limits: { maxModelCallsPerTurn: 1 },
    });
    t.fake.script(handle.workflowId, [reply.toolUse({ name: 'lookup', input: { id: 'A-2' } })]);
    await t.waitFor(handle, (s) => s.status === 'needs_attention');
    const page = await signedIn('bob');
    await page.goto(`${base}/#/conversations/${encodeURIComponent(handle.workflowId)}`);
    const actions = page.getByTestId('conv-actions');
    await actions.getByTestId('resume').waitFor({ timeout: 15_000 });
    await actions.getByTestId('end').click();
    await actions.getByTestId('end-reason').fill('A loop; not worth it.');
    await actions.getByTestId('end-confirm').click();
    await page
      .getByTestId('conversation-status')
      .filter({ hasText: 'completed' })
      .waitFor({ timeout: 15_000 });
    const state = await handle.query(stateQuery, { from: -1 });
    expect(state.endReason).toContain('A loop; not worth it. (ended by bob)');
    await actions.getByTestId('end').waitFor({ state: 'detached' });
  });

  it('the CLI decides through the ops API with an operator’s token (no Temporal access needed)', async () => {
    const { handle, toolUseId } = await refundWaiting('C3');
    // Nothing listens at this Temporal address: every decision goes through the ops server.
    const cli = (who: keyof typeof tokens, args: string[]) =>
      runCli(args, {
        env: { TEMPORAL_ADDRESS: '127.0.0.1:9', OPS_URL: base, OPS_OPERATOR_TOKEN: tokens[who] },
      });
    const first = await cli('alice', ['approve', handle.workflowId, toolUseId, '--json']);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      decidedBy: 'alice',
      channel: 'ops',
      awaiting: { approvals: 1, required: 2 },
    });
    const again = await cli('alice', ['approve', handle.workflowId, toolUseId]);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/alice already approved/);
    const viewer = await cli('vera', ['approve', handle.workflowId, toolUseId]);
    expect(viewer.code).toBe(3);
    expect(viewer.stderr).toMatch(/needs the approver role; vera is a viewer/);
    const by = await cli('bob', ['approve', handle.workflowId, toolUseId, '--by', 'mallory']);
    expect(by.code).toBe(2);
    const second = await cli('bob', ['approve', handle.workflowId, toolUseId]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/approve of .* recorded, by bob/);
    expect((await handle.result()).lastText).toBe('Refunded.');
    expect(refunds.filter((r) => r.order === 'C3')).toHaveLength(1);
  });
});
