/**
 * Server push under load, on real processes (dev server, the worker as a killable child process, the
 * fake Messages API, the ops server here): twenty pages follow one conversation over the state feed
 * (session cookie, like the page's EventSource) while an operator decides three tool calls and the
 * worker is killed twice, once with a decision in flight. Nothing is lost, every page ends on the
 * final state, the worker never hits the query+update fault (it would exit), no workflow task fails,
 * and the ops server's workflow queries follow the changes, not the pages. Also: the live model stream
 * resumes after a reconnect from the last event id.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowClientInterceptor } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { AgentClient } from '../../src/client';
import { reply, type FakeHandler } from '../../src/testing/fake-claude';
import { OperatorStore } from '../../src/ops/identity/operator-store';
import { createOpsServer } from '../../src/ops/server';
import type { ConversationFeedData } from '../../src/ops/state-feed';
import { StreamHub } from '../../src/streaming/hub';
import type { LiveMessage } from '../../src/streaming/protocol';
import { subscribeLive } from '../../src/streaming/subscribe';
import { CrashStack, sleep, until } from '../support/stack';

const TOKEN = 'feed-token-0123456789abcdef';
const PAGES = 20;
let stack: CrashStack;
let ops: FastifyInstance;
let base: string;
let connection: Connection;
let danaToken: string;
/** Workflow queries the ops server sent (a client interceptor on its own connection). */
let queries = 0;
const hub = new StreamHub();

beforeAll(async () => {
  stack = await CrashStack.start();
  const counter: WorkflowClientInterceptor = {
    async query(input, next) {
      queries++;
      return next(input);
    },
  };
  connection = await Connection.connect({ address: stack.address });
  const agent = new AgentClient({
    client: new Client({ connection, interceptors: { workflow: [counter] } }),
    taskQueue: stack.agent.taskQueue,
  });
  const operators = new OperatorStore(join(mkdtempSync(join(tmpdir(), 'feed-')), 'operators.json'));
  danaToken = operators.add('Dana', 'approver', []);
  ops = await createOpsServer({ agent, token: TOKEN, namespace: 'default', hub, identity: { operators } });
  base = await ops.listen({ host: '127.0.0.1', port: 0 });
  stack.extraEnv = { AGENT_STREAM_URL: base, OPS_TOKEN: TOKEN };
  await stack.startWorker();
}, 120_000);
afterAll(async () => {
  await ops?.close();
  await connection?.close();
  await stack?.close();
});

/** Signs in like the page: the session cookie and the CSRF token. */
async function signIn(): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: danaToken }),
  });
  const body = (await res.json()) as { csrfToken: string };
  const cookie = res.headers.get('set-cookie')!.split(';')[0];
  return { cookie, csrf: body.csrfToken };
}

interface PageEvent {
  id: string;
  event: string;
  data: ConversationFeedData;
}

/**
 * A page's EventSource, in node: reads the feed with the session cookie and reconnects with
 * `Last-Event-ID` when the stream drops, as the browser does.
 */
function openPage(
  path: string,
  cookie: string,
): { events: PageEvent[]; connects: number; close: () => void } {
  const controller = new AbortController();
  const page = { events: [] as PageEvent[], connects: 0, close: () => controller.abort() };
  void (async () => {
    while (!controller.signal.aborted) {
      try {
        const last = page.events.at(-1)?.id;
        const res = await fetch(`${base}${path}`, {
          headers: { cookie, accept: 'text/event-stream', ...(last && { 'last-event-id': last }) },
          signal: controller.signal,
        });
        page.connects++;
        const decoder = new TextDecoder();
        let buffer = '';
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const fields = new Map<string, string>();
            for (const line of buffer.slice(0, end).split('\n')) {
              const at = line.indexOf(': ');
              if (at > 0) fields.set(line.slice(0, at), line.slice(at + 2));
            }
            buffer = buffer.slice(end + 2);
            if (fields.has('data'))
              page.events.push({
                id: fields.get('id')!,
                event: fields.get('event')!,
                data: JSON.parse(fields.get('data')!) as ConversationFeedData,
              });
          }
        }
      } catch {
        // Dropped or aborted: reconnect (unless closed) after the server's retry delay.
      }
      await sleep(500);
    }
  })();
  return page;
}

const lastState = (page: { events: PageEvent[] }) => {
  const data = page.events.filter((e) => e.data.type === 'state').at(-1)?.data;
  return data?.type === 'state' ? data.state : undefined;
};

/** Three save_article calls in a row, each waiting for approval, then the answer (safe to retry). */
const threeSaves: FakeHandler = (request) => {
  const answered = request.body.messages
    .flatMap((m) => (Array.isArray(m.content) ? m.content : []))
    .filter((b) => b.type === 'tool_result').length;
  if (answered >= 3) return reply.text('All three are saved.');
  const n = answered + 1;
  return reply.toolUse(
    {
      name: 'save_article',
      id: `toolu_feed_${n}`,
      input: { abstract: `Article ${n}`, meta: { word_count: n, review: 'ok' } },
    },
    { text: `Saving article ${n}.` },
  );
};

describe('state feed: twenty pages, decisions and worker kills', () => {
  it('nothing is lost, the worker never faults, and queries follow changes, not pages', async () => {
    const id = `feed-${Date.now()}`;
    stack.fake.script(id, threeSaves);
    const { cookie, csrf } = await signIn();
    const pages = Array.from({ length: PAGES }, () =>
      openPage(`/api/conversations/${encodeURIComponent(id)}/feed`, cookie),
    );
    const queuePage = openPage('/api/feed/approvals', cookie);
    const startedAt = Date.now();
    queries = 0;
    await stack.agent.startConversation(
      {
        model: 'claude-sonnet-5-5',
        message: 'Save three articles',
        tools: ['save_article'],
        singleTurn: true,
      },
      { workflowId: id },
    );
    const everyPageWaitsFor = (toolUseId: string) =>
      until(
        `every page to show ${toolUseId} waiting`,
        () => pages.every((p) => lastState(p)?.pendingApprovals.some((a) => a.toolUseId === toolUseId)),
        60_000,
      );
    const decide = async (toolUseId: string) => {
      const res = await fetch(`${base}/api/conversations/${encodeURIComponent(id)}/decisions`, {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ toolUseId, decision: 'approve' }),
      });
      return { status: res.status, body: (await res.json()) as unknown };
    };

    await everyPageWaitsFor('toolu_feed_1');
    expect((await decide('toolu_feed_1')).status).toBe(200);

    // A kill with a decision in flight: the decision waits for the new worker.
    await everyPageWaitsFor('toolu_feed_2');
    await stack.killWorker('SIGKILL');
    const second = decide('toolu_feed_2');
    await sleep(3000);
    await stack.startWorker();
    expect((await second).status).toBe(200);

    // A kill and restart, then the decision while the new worker recovers the conversation.
    await everyPageWaitsFor('toolu_feed_3');
    await stack.crashWorker();
    expect((await decide('toolu_feed_3')).status).toBe(200);

    const result = (await stack.agent.client.workflow.getHandle(id).result()) as { lastText?: string };
    expect(result.lastText).toBe('All three are saved.');
    await until(
      'every page to show the conversation completed',
      () => pages.every((p) => lastState(p)?.status === 'completed'),
      30_000,
    );
    const minutes = (Date.now() - startedAt) / 60_000;
    const final = await stack.agent.getState(id);
    for (const p of pages) p.close();
    queuePage.close();
    // The two counts are compared once the server has stopped reading: with pages open, a read can
    // start between the metrics answer and the test's look at its own counter.
    type Metrics = {
      queries: number;
      readsInFlight: number;
      versions: number;
      reads: number;
      lists: number;
      subscribers: number;
      queueSubscribers: number;
    };
    const metricsNow = async () =>
      (await (
        await fetch(`${base}/api/feed/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
      ).json()) as Metrics;
    let metrics = await metricsNow();
    await until(
      'the feed to stop reading once every page closed',
      async () => {
        metrics = await metricsNow();
        return metrics.subscribers === 0 && metrics.queueSubscribers === 0 && metrics.readsInFlight === 0;
      },
      10_000,
    );

    // Nothing lost: every page ends on the whole transcript, and saw each call waiting.
    for (const p of pages) {
      expect(lastState(p)!.messages).toEqual(final.messages);
      for (const n of [1, 2, 3])
        expect(
          p.events.some(
            (e) =>
              e.data.type === 'state' &&
              e.data.state.pendingApprovals.some((a) => a.toolUseId === `toolu_feed_${n}`),
          ),
        ).toBe(true);
    }
    // The same events went to every page (one read, fanned out).
    const ids = pages[0].events.map((e) => e.id);
    for (const p of pages) expect(p.events.map((e) => e.id)).toEqual(ids);
    expect(await stack.articles(id)).toHaveLength(3);
    expect(final.decisions.map((d) => d.decidedBy)).toEqual(['Dana', 'Dana', 'Dana']);

    // The worker never hit the query+update fault (it exits when it does), no workflow task failed.
    expect(stack.counts.unexpectedExits).toBe(0);
    const history = await stack.agent.client.workflow.getHandle(id).fetchHistory();
    expect((history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);

    // Queries follow the changes: one read per change for all twenty pages (plus the queue's), where
    // polling pages would have sent 20 x 0.5 a second.
    const polling = PAGES * 30 * minutes;
    console.log(
      `live-feed: ${PAGES} pages, ${minutes.toFixed(2)} min: ${queries} workflow queries (${(queries / minutes).toFixed(0)}/min; ${metrics.versions} state versions, ${metrics.lists} list calls); polling every 2 s would send ~${Math.round(polling)} (${PAGES * 30}/min)`,
    );
    expect(metrics.queries).toBe(queries);
    expect(queries).toBeLessThan(polling / 5);
    expect(queries).toBeLessThanOrEqual(3 * metrics.versions + 12);
  }, 240_000);

  it('the live stream resumes after a reconnect from the last event id', async () => {
    const id = `feed-live-${Date.now()}`;
    const answer = 'A long answer that streams slowly, so the observer can drop and come back. '.repeat(2);
    stack.fake.script(id, [{ ...reply.text(answer, { chunkSize: 4 }), latency: { betweenEventsMs: 30 } }]);
    let lastId = '';
    const textOf = (messages: LiveMessage[]) =>
      messages.map((m) => (m.type === 'delta' && m.kind === 'text' ? m.text : '')).join('');
    const firstPart: LiveMessage[] = [];
    const first = new AbortController();
    const reading = (async () => {
      for await (const m of subscribeLive({
        url: base,
        token: TOKEN,
        workflowId: id,
        signal: first.signal,
        onEventId: (e) => (lastId = e),
      }))
        firstPart.push(m);
    })();
    await sleep(200);
    await stack.agent.startConversation(
      { model: 'claude-sonnet-5-5', message: 'Say something long', singleTurn: true },
      { workflowId: id },
    );
    await until('some text', () => textOf(firstPart).length > 20, 30_000);
    first.abort();
    await reading;
    await sleep(500); // deltas go by while the observer is away
    const secondPart: LiveMessage[] = [];
    const second = new AbortController();
    const rest = (async () => {
      for await (const m of subscribeLive({
        url: base,
        token: TOKEN,
        workflowId: id,
        signal: second.signal,
        lastEventId: lastId,
      })) {
        secondPart.push(m);
        if (m.type === 'end') second.abort();
      }
    })();
    await until('the end of the call', () => secondPart.some((m) => m.type === 'end'), 30_000);
    await rest;
    // No snapshot: what was missed, then the rest; together exactly the answer.
    expect(secondPart[0].type).not.toBe('snapshot');
    expect(textOf(firstPart) + textOf(secondPart)).toBe(answer);
  }, 120_000);
});
