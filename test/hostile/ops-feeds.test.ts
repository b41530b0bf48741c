/**
 * Nobody can slow every live page (second probe, finding 8): a viewer opened 1,500 feeds of ids holding
 * a `"`, each of which the server described every second and read again and again, and every page's
 * change latency went from 0.94 s to 6.2 s. Now the streams one caller holds open (the feeds, the
 * queue's and the live stream together) are bounded, one credential being one caller whatever its
 * label; and a feed of a conversation that does not exist is told so before it costs a state read, and
 * costs none afterwards (its id is looked up less and less often) until the conversation starts. Real dev server, worker, fake Messages API and ops server, real sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AgentClient } from '../../src/client';
import { OperatorStore } from '../../src/ops/identity/operator-store';
import { createOpsServer } from '../../src/ops/server';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { scriptSaveArticle } from '../support/agents';
import { call, TOKEN } from '../support/ops-http';

const MAX_STREAMS = 4;

let t: AgentEnv;
let agent: AgentClient;
let operators: OperatorStore;
const tokens: Record<string, string> = {};
const servers: FastifyInstance[] = [];
const open: Stream[] = [];

beforeAll(async () => {
  t = await startAgentEnv();
  agent = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue, queryTimeoutMs: 3000 });
  operators = new OperatorStore(join(mkdtempSync(join(tmpdir(), 'ops-feeds-')), 'operators.json'));
  for (const name of ['vera', 'walt']) tokens[name] = operators.add(name, 'viewer', []);
  tokens.alice = operators.add('alice', 'approver', []);
}, 120_000);

afterAll(async () => {
  for (const stream of open) stream.close();
  await Promise.all(servers.map((s) => s.close()));
  await t?.teardown();
});

async function opsServer(maxStreamsPerCaller?: number): Promise<string> {
  const app = await createOpsServer({
    agent,
    token: TOKEN,
    namespace: 'default',
    identity: { operators },
    feed: { pollMs: 200, maxStreamsPerCaller },
  });
  servers.push(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

/** An open server-sent event stream: its status, headers and what it said so far. */
interface Stream {
  status: number;
  headers: IncomingMessage['headers'];
  text: () => string;
  ended: Promise<void>;
  close: () => void;
}

/** Opens a stream on its own socket (no pool to queue behind), answered once its headers arrive. */
function stream(base: string, path: string, headers: Record<string, string>): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      const ended = new Promise<void>((done) => res.on('close', done));
      const s: Stream = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: () => text,
        ended,
        close: () => req.destroy(),
      };
      open.push(s);
      resolve(s);
    });
    req.on('error', reject);
    req.end();
  });
}

const as = (who: string) => ({ authorization: `Bearer ${tokens[who]}` });
const admin = (label?: string) => ({
  authorization: `Bearer ${TOKEN}`,
  ...(label !== undefined && { 'x-ops-operator': label }),
});
const feedOf = (id: string) => `/api/conversations/${encodeURIComponent(id)}/feed`;
const liveOf = (id: string) => `/api/conversations/${encodeURIComponent(id)}/live`;

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function metrics(base: string): Promise<Record<string, number>> {
  return JSON.parse((await call(base, '/api/feed/metrics')).text) as Record<string, number>;
}

let serial = 0;
/** A conversation waiting for approval of a save_article call, under `workflowId`. */
async function waiting(workflowId: string): Promise<{ workflowId: string; toolUseId: string }> {
  const handle = await t.start({ message: 'Save the article', tools: ['save_article'] }, workflowId);
  const toolUseId = `toolu_feeds_${++serial}`;
  scriptSaveArticle(t.fake, handle.workflowId, { toolUseId, abstract: 'An article' });
  await t.waitFor(handle, (s) => s.status === 'awaiting_approval');
  return { workflowId: handle.workflowId, toolUseId };
}

describe('streams per caller', () => {
  let base: string;
  let conversation: string;
  beforeAll(async () => {
    base = await opsServer(MAX_STREAMS);
    conversation = (await waiting(`feeds-bound-${Date.now()}`)).workflowId;
  });

  it(`a viewer holds at most ${MAX_STREAMS} (feeds, the queue's and live streams together): the next is a 429 with retry-after`, async () => {
    const held = [
      await stream(base, feedOf(conversation), as('vera')),
      await stream(base, feedOf(conversation), as('vera')),
      await stream(base, '/api/feed/approvals', as('vera')),
      await stream(base, liveOf(conversation), as('vera')),
    ];
    expect(held.map((s) => s.status)).toEqual([200, 200, 200, 200]);
    for (const path of [feedOf(conversation), '/api/feed/approvals', liveOf(conversation)]) {
      const refused = await call(base, path, { auth: false, headers: as('vera') });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(JSON.parse(refused.text)).toMatchObject({
        error: 'rate_limited',
        message: expect.stringMatching(/at most 4 live streams/),
      });
    }
    // Another viewer is not refused for vera's streams.
    const walt = await stream(base, feedOf(conversation), as('walt'));
    expect(walt.status).toBe(200);
    // Closing one frees a slot.
    held[0].close();
    await until(
      async () => (await stream(base, feedOf(conversation), as('vera'))).status === 200,
      "vera's freed slot",
    );
  });

  it('OPS_TOKEN under any label is one caller', async () => {
    const labels = ['a', 'b', undefined, 'c'];
    const held = await Promise.all(labels.map((label) => stream(base, feedOf(conversation), admin(label))));
    expect(held.map((s) => s.status)).toEqual([200, 200, 200, 200]);
    const refused = await stream(base, feedOf(conversation), admin('another-label'));
    expect(refused.status).toBe(429);
  });

  it('a stream that ends (the client left) gives its slot back, whichever route it was', async () => {
    for (let round = 0; round < 3; round++) {
      const held = await Promise.all(
        [feedOf(conversation), '/api/feed/approvals', liveOf(conversation), feedOf(conversation)].map(
          (path) => stream(base, path, as('alice')),
        ),
      );
      expect(held.map((s) => s.status)).toEqual([200, 200, 200, 200]);
      for (const s of held) s.close();
      await Promise.all(held.map((s) => s.ended));
      await until(async () => {
        const probe = await stream(base, '/api/feed/approvals', as('alice'));
        probe.close();
        await probe.ended;
        return probe.status === 200;
      }, "alice's slots back");
    }
  });
});

describe('feeds of conversations that do not exist', () => {
  let base: string;
  beforeAll(async () => {
    base = await opsServer();
  });

  it('cost no state read: the page is told not_found, and their ids are looked up less and less often', async () => {
    const before = await metrics(base);
    // The probe's ids: a quote keeps them out of the visibility query, so each was described every round.
    const ids = Array.from({ length: 40 }, (_, i) => `missing-"${i}"-${Date.now()}`);
    const feeds = await Promise.all(ids.map((id) => stream(base, feedOf(id), as('vera'))));
    await until(() => feeds.every((s) => s.text().includes('event: error')), 'not_found on every feed');
    for (const [i, s] of feeds.entries()) {
      expect(s.status).toBe(200);
      const data = JSON.parse(/^data: (.*)$/m.exec(s.text())![1]) as { code: string; message: string };
      expect(data).toEqual({
        type: 'error',
        code: 'not_found',
        message: `no conversation with id ${ids[i]}`,
      });
    }
    const after = await metrics(base);
    expect(after.queries - before.queries).toBe(0);
    expect(after.reads - before.reads).toBe(0);
    expect(after.describes - before.describes).toBe(ids.length);
    // Seven rounds go by (every 200 ms): no read, and each id looked up again once at most (after 1 s,
    // then 2, 4... up to 30 s), not every round.
    await new Promise((r) => setTimeout(r, 1500));
    const later = await metrics(base);
    expect(later.reads).toBe(after.reads);
    expect(later.queries).toBe(after.queries);
    expect(later.describes - after.describes).toBeLessThanOrEqual(ids.length);
    for (const s of feeds) s.close();
    await Promise.all(feeds.map((s) => s.ended));
    await until(async () => (await metrics(base)).conversations === 0, 'the feeds to be dropped');
  });

  it('a feed opened before its conversation starts gets the state once it does', async () => {
    for (const id of [`feeds-early-${Date.now()}`, `feeds-"early"-${Date.now()}`]) {
      const feed = await stream(base, feedOf(id), as('alice'));
      await until(() => feed.text().includes('"code":"not_found"'), 'not_found');
      await waiting(id);
      await until(
        () => feed.text().includes('"status":"awaiting_approval"'),
        `the state of ${id} on its feed`,
      );
      feed.close();
    }
  });

  it('a conversation whose id holds a quote is followed: its state, then a decision, arrive on the feed', async () => {
    const w = await waiting(`feeds-"quoted"-${Date.now()}`);
    const feed = await stream(base, feedOf(w.workflowId), as('alice'));
    expect(feed.status).toBe(200);
    await until(() => feed.text().includes('"status":"awaiting_approval"'), 'the state on the feed');
    const decided = await call(base, `/api/conversations/${encodeURIComponent(w.workflowId)}/decisions`, {
      auth: false,
      headers: as('alice'),
      body: JSON.stringify({ toolUseId: w.toolUseId, decision: 'approve' }),
    });
    expect(decided.status).toBe(200);
    await until(
      () => /"status":"(running|idle)"/.test(feed.text().split('"awaiting_approval"').at(-1)!),
      'the decision on the feed',
    );
    feed.close();
  });
});
