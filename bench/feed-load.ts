/**
 * `npm run bench:feed [-- --pages 20] [--seconds 60] [--out FILE]`: workflow queries per minute with
 * `--pages` pages open on one conversation (and the queue), before (each page polls every 2 s, as the
 * page did) and after (server push: the pages follow the state feed over SSE). On real processes: the
 * dev server, the worker as its own process publishing to the ops server's hub, the fake Messages API
 * and the ops server here. In each phase an operator approves a tool call every `seconds / 4`, so
 * the state changes as in real use. Queries are counted by a client interceptor on the ops server's
 * own connection.
 */
import { writeFileSync } from 'node:fs';
import { reply, type FakeHandler } from '../src/testing/fake-claude';
import { createOpsServer } from '../src/ops/server';
import { CrashStack, FAST_DEV_SERVER, sleep, until } from '../test/support/stack';
import { argValue, countingAgentClient, MODEL, round } from './common';

const TOKEN = 'bench-token-0123456789abcdef';
const argv = process.argv.slice(2);
const PAGES = Number(argValue(argv, '--pages', '20'));
const SECONDS = Number(argValue(argv, '--seconds', '60'));
const OUT = argValue(argv, '--out', '');
const POLL_MS = 2000;
const DECISIONS = 4;

/** Tool calls one after another, each waiting for approval. */
const saves: FakeHandler = (request) => {
  const answered = request.body.messages
    .flatMap((m) => (Array.isArray(m.content) ? m.content : []))
    .filter((b) => b.type === 'tool_result').length;
  const n = answered + 1;
  return reply.toolUse(
    {
      name: 'save_article',
      id: `toolu_bench_${n}`,
      input: { abstract: `A${n}`, meta: { word_count: n, review: 'ok' } },
    },
    { text: `Saving ${n}.` },
  );
};

interface PhaseResult {
  mode: 'polling' | 'push';
  pages: number;
  seconds: number;
  queries: number;
  queriesPerMinute: number;
  decisions: number;
}

async function main(): Promise<void> {
  const stack = await CrashStack.start({ server: { ...FAST_DEV_SERVER, inMemory: true } });
  const counting = await countingAgentClient(stack);
  const { agent, connection } = counting;
  const ops = await createOpsServer({ agent, token: TOKEN, namespace: 'default' });
  const base = await ops.listen({ host: '127.0.0.1', port: 0 });
  const auth = { authorization: `Bearer ${TOKEN}` };
  try {
    stack.extraEnv = { AGENT_STREAM_URL: base, OPS_TOKEN: TOKEN };
    await stack.startWorker();

    const phase = async (mode: PhaseResult['mode']): Promise<PhaseResult> => {
      const id = `bench-feed-${mode}-${Date.now()}`;
      stack.fake.script(id, saves);
      await stack.agent.startConversation(
        { model: MODEL, tools: ['save_article'], message: 'Save articles' },
        { workflowId: id },
      );
      const pending = async () =>
        (await stack.agent.getState(id, { from: 0, to: 0 })).pendingApprovals.map((a) => a.toolUseId);
      await until('the first approval request', async () => (await pending()).length > 0);
      const stop = new AbortController();
      const pages: Array<Promise<void>> = [];
      const path = `/api/conversations/${encodeURIComponent(id)}`;
      for (let i = 0; i < PAGES; i++) {
        // Each page on its own schedule, as real pages opened at different moments.
        const offset = (POLL_MS * i) / PAGES;
        if (mode === 'polling') {
          pages.push(
            (async () => {
              await sleep(offset);
              while (!stop.signal.aborted) {
                await Promise.all(
                  [path, '/api/approvals'].map((p) =>
                    fetch(`${base}${p}`, { headers: auth, signal: stop.signal })
                      .then((r) => r.arrayBuffer())
                      .catch(() => undefined),
                  ),
                );
                await sleep(POLL_MS);
              }
            })(),
          );
        } else {
          for (const p of [`${path}/feed`, '/api/feed/approvals'])
            pages.push(
              fetch(`${base}${p}`, { headers: { ...auth, accept: 'text/event-stream' }, signal: stop.signal })
                .then(async (r) => {
                  for await (const _ of r.body as unknown as AsyncIterable<Uint8Array>);
                })
                .catch(() => undefined),
            );
        }
      }
      counting.reset();
      const started = Date.now();
      let decisions = 0;
      for (let d = 0; d < DECISIONS; d++) {
        await sleep((SECONDS * 1000) / DECISIONS);
        const [toolUseId] = await pending().catch(() => []);
        if (!toolUseId) continue;
        const res = await fetch(`${base}${path}/decisions`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ toolUseId, decision: 'approve' }),
        });
        if (res.ok) decisions++;
      }
      const elapsed = (Date.now() - started) / 1000;
      const counted = counting.queries();
      stop.abort();
      await Promise.all(pages);
      await stack.agent.client.workflow.getHandle(id).terminate('bench done');
      return {
        mode,
        pages: PAGES,
        seconds: round(elapsed),
        queries: counted,
        queriesPerMinute: round((counted * 60) / elapsed),
        decisions,
      };
    };

    const results = [await phase('polling'), await phase('push')];
    console.log(`\nworkflow queries with ${PAGES} pages on one conversation (and the queue)\n`);
    console.log('mode    | pages | seconds | decisions | queries | queries/min');
    console.log('--------|-------|---------|-----------|---------|------------');
    for (const r of results)
      console.log(
        `${r.mode.padEnd(7)} | ${String(r.pages).padStart(5)} | ${String(r.seconds).padStart(7)} | ${String(r.decisions).padStart(9)} | ${String(r.queries).padStart(7)} | ${String(r.queriesPerMinute).padStart(11)}`,
      );
    if (OUT) writeFileSync(OUT, `${JSON.stringify({ pages: PAGES, results }, null, 2)}\n`);
  } finally {
    await ops.close();
    await connection.close();
    await stack.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
