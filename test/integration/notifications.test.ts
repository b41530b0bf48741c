/**
 * Webhook notifications through the real workflow on a dev server, to a real HTTP receiver: a call
 * that waits (JSON with the link, signed; the Slack shape escaped), a receiver that fails twice (the
 * third try delivers, the other receiver is not posted to again), a receiver that never succeeds (the
 * conversation is decided and finishes all the same; the retries stop with the decision), a park in
 * needs_attention, and replay.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decideToolCallUpdate } from '../../src/api/approvals';
import { resumeUpdate } from '../../src/api/conversation';
import { reply } from '../../src/testing/fake-claude';
import type { JsonPayload, SlackPayload } from '../../src/notify/payload';
import { verifySignature } from '../../src/notify/signature';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';

const SECRET = 'test-webhook-secret-0123456789';
const PUBLIC_URL = 'https://ops.example.com';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
  status: number;
  at: number;
}
const received: Received[] = [];
let receiver: Server;
let t: AgentEnv;

/**
 * The receiver: `/json` and `/slack` answer 200; `/flaky` answers 500 to the first two tries of each
 * delivery of a conversation whose id has `flaky`, always 500 for one with `down`, else 200.
 */
function answer(path: string, raw: string, headers: IncomingHttpHeaders): number {
  if (path !== '/flaky') return 200;
  const id = (JSON.parse(raw) as JsonPayload).conversationId;
  if (id.includes('down')) return 500;
  const tries = received.filter(
    (r) => r.path === path && r.headers['x-agent-delivery'] === headers['x-agent-delivery'],
  );
  return id.includes('flaky') && tries.length < 2 ? 500 : 200;
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      const status = answer(path, raw, req.headers);
      received.push({
        path,
        headers: req.headers,
        raw,
        body: JSON.parse(raw) as Record<string, unknown>,
        status,
        at: Date.now(),
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  t = await startAgentEnv({
    notifications: {
      targets: [
        { url: `${base}/json`, format: 'json' },
        { url: `${base}/slack`, format: 'slack' },
        { url: `${base}/flaky`, format: 'json' },
      ],
      publicUrl: PUBLIC_URL,
      secret: SECRET,
    },
  });
});
afterAll(async () => {
  await t?.teardown();
  await new Promise<void>((r) => receiver.close(() => r()));
});

/** What a JSON receiver (`/json`, `/flaky`) received about conversation `id`, in order. */
const to = (path: string, id: string) =>
  received.filter((r) => r.path === path && r.body.conversationId === id);

async function until<T>(what: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = what();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`not seen in ${timeoutMs} ms; received: ${received.map((r) => r.path).join(' ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const article = {
  abstract: 'A note <https://evil.example|click> <!channel> & `ticks`',
  meta: { word_count: 3, review: 'ok' },
};

/** Starts a conversation (under `id`) whose model calls save_article, which waits for approval. */
async function startWaiting(id: string) {
  const handle = await t.start({ message: 'Save it', tools: ['save_article'], singleTurn: true }, id);
  const toolUseId = `toolu_${id.replace(/[^A-Za-z0-9]/g, '').slice(-12)}`;
  t.fake.script(handle.workflowId, [
    reply.toolUse([{ name: 'save_article', input: article, id: toolUseId }]),
    reply.text('Saved.'),
  ]);
  const state = await t.waitFor(handle, (s) => s.pendingApprovals.length === 1);
  return { handle, toolUseId, pending: state.pendingApprovals[0] };
}

const approve = (handle: Awaited<ReturnType<typeof startWaiting>>['handle'], toolUseId: string) =>
  handle.executeUpdate(decideToolCallUpdate, {
    args: [{ toolUseId, decision: 'approve', decidedBy: 'alice' }],
  });

const runId = `${process.pid}-${Date.now()}`;

describe('a call that waits for approval', () => {
  it('the receiver gets a signed JSON body with the call and the link to it', async () => {
    const id = `notify-json-${runId}`;
    const { handle, toolUseId, pending } = await startWaiting(id);
    const [got] = await until(() => to('/json', id).length > 0 && to('/json', id));
    expect(got.body).toEqual({
      version: 1,
      event: 'approval.waiting',
      deliveryId: got.headers['x-agent-delivery'] as string,
      conversationId: id,
      link: `${PUBLIC_URL}/#/conversations/${id}`,
      toolUseId,
      tool: 'save_article',
      inputSummary: JSON.stringify(article),
      inputTruncated: false,
      turn: 1,
      requestedAt: pending.requestedAt,
      deadline: pending.deadline,
    } satisfies JsonPayload);
    expect(got.headers['x-agent-event']).toBe('approval.waiting');
    expect(got.headers['content-type']).toBe('application/json');
    expect(verifySignature(SECRET, got.headers['x-agent-signature'] as string, got.raw)).toBe(true);
    expect(
      verifySignature('not-the-secret-at-all', got.headers['x-agent-signature'] as string, got.raw),
    ).toBe(false);

    await approve(handle, toolUseId);
    expect(await handle.result()).toMatchObject({ status: 'completed' });
    expect(to('/json', id)).toHaveLength(1);
  });

  it('a Slack receiver gets text and blocks with user and model text escaped', async () => {
    const id = `notify-slack <!channel>-${runId}`;
    const { handle, toolUseId } = await startWaiting(id);
    const got = await until(() =>
      received.find((r) => r.path === '/slack' && r.raw.includes(`notify-slack &lt;!channel&gt;-${runId}`)),
    );
    const body = got.body as unknown as SlackPayload;
    expect(body.text).toContain('`save_article` waits for approval');
    expect(body.text).toContain(`\`notify-slack &lt;!channel&gt;-${runId}\``);
    const link = `${PUBLIC_URL}/#/conversations/${encodeURIComponent(id)}`;
    expect(body.text).toContain(`<${link}|open it>`);
    // The model's input is shown, escaped: no link, mention or code-block break-out survives.
    expect(got.raw).toContain('&lt;https://evil.example|click&gt; &lt;!channel&gt; &amp; ˋticksˋ');
    expect(got.raw).not.toContain('<!channel>');
    expect(got.raw).not.toContain('<https://evil');
    expect(got.raw.split('<').length - 1).toBe(2); // our link, in the text and in the blocks
    expect(body.blocks.length).toBeGreaterThan(1);
    await approve(handle, toolUseId);
    await handle.result();
  });
});

describe('delivery never holds the conversation up', () => {
  it('a receiver that fails twice gets it on the third try; the others are not posted to again', async () => {
    const id = `notify-flaky-${runId}`;
    const { handle, toolUseId } = await startWaiting(id);
    const tries = await until(() => to('/flaky', id).length >= 3 && to('/flaky', id), 30_000);
    expect(tries.map((r) => [r.status, r.headers['x-agent-delivery-attempt']])).toEqual([
      [500, '1'],
      [500, '2'],
      [200, '3'],
    ]);
    // Backoff: 1 s, then 2 s; one delivery id across the tries.
    expect(tries[2].at - tries[0].at).toBeGreaterThanOrEqual(2500);
    expect(new Set(tries.map((r) => r.headers['x-agent-delivery'])).size).toBe(1);
    // Each try is signed afresh; the receivers already served were not posted to again.
    for (const r of tries)
      expect(verifySignature(SECRET, r.headers['x-agent-signature'] as string, r.raw)).toBe(true);
    expect(to('/json', id)).toHaveLength(1);
    await approve(handle, toolUseId);
    expect(await handle.result()).toMatchObject({ status: 'completed' });
  });

  it('a receiver that never succeeds: the call is decided and the conversation finishes; retries stop', async () => {
    const id = `notify-down-${runId}`;
    const { handle, toolUseId } = await startWaiting(id);
    await until(() => to('/flaky', id).length >= 2);
    // While deliveries fail, the conversation waits only for its operator.
    await approve(handle, toolUseId);
    expect(await handle.result()).toMatchObject({ status: 'completed', lastText: 'Saved.' });
    const atEnd = to('/flaky', id).length;
    expect(to('/flaky', id).every((r) => r.status === 500)).toBe(true);
    // The decision cancelled the notification: the server schedules no further try (the next was due
    // about 4 s after the second).
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(true);
    await new Promise((r) => setTimeout(r, 5000));
    expect(to('/flaky', id).length).toBeLessThanOrEqual(atEnd + 1);
  });
});

describe('a conversation that needs attention', () => {
  it('is notified with its reason; resumed, it goes on', async () => {
    const handle = await t.start({ message: 'Hi', singleTurn: true }, `notify-parked-${runId}`);
    t.fake.script(handle.workflowId, [
      reply.error(400, 'invalid_request_error', 'messages: <!here> something is off'),
      reply.text('After the fix.'),
    ]);
    const [got] = await until(
      () => to('/json', handle.workflowId).length > 0 && to('/json', handle.workflowId),
    );
    expect(got.body).toMatchObject({
      event: 'conversation.needs_attention',
      conversationId: handle.workflowId,
      reason: 'api_error',
      message: 'messages: <!here> something is off',
      link: `${PUBLIC_URL}/#/conversations/${handle.workflowId}`,
    });
    expect(got.headers['x-agent-event']).toBe('conversation.needs_attention');
    const slack = await until(() =>
      received.find((r) => r.path === '/slack' && r.raw.includes(`notify-parked-${runId}`)),
    );
    expect(slack.raw).toContain('messages: &lt;!here&gt; something is off');
    await handle.executeUpdate(resumeUpdate, { args: [{ by: 'ops' }] });
    expect((await handle.result()).lastText).toBe('After the fix.');
  });
});

describe('determinism', () => {
  it('replays every history of this file', async () => {
    expect(await t.replayHistories()).toBeGreaterThanOrEqual(5);
  });
});
