/**
 * `npm run bench:queue [-- --pending 20] [--levels 50,100,200] [--out FILE]`: the ops server's approval
 * queue under load. On real processes (the Temporal CLI dev server, the worker as its own process, the
 * fake Messages API and the real ops server in this process): `--pending` conversations each wait on an
 * approval (a scripted save_article call), then, per level, that many concurrent `GET /api/approvals`.
 *
 * Each level runs twice on a new ops server: its first burst (nothing cached) and a second one. Prints
 * per burst: the answers by HTTP status, p50/p99 latency, how many listed the whole queue, and the
 * workflow queries the ops server made (counted by a client interceptor on its own connection). The
 * target: no 5xx answer other than 503, and a query count that does not grow with the level.
 *
 * Uses only the ops server's factory and AgentClient's constructor, so it runs against older versions
 * of the code too (copy it into a worktree of the older commit).
 */
import { writeFileSync } from 'node:fs';
import { stateQuery } from '../src/api/conversation';
import { reply } from '../src/testing/fake-claude';
import { createOpsServer } from '../src/ops/server';
import { CrashStack, FAST_DEV_SERVER, sleep, until } from '../test/support/stack';
import { argValue, countingAgentClient, MODEL, percentile, round } from './common';

const TOKEN = 'bench-token-0123456789abcdef';
const argv = process.argv.slice(2);
const PENDING = Number(argValue(argv, '--pending', '20'));
const LEVELS = argValue(argv, '--levels', '50,100,200').split(',').map(Number);
const OUT = argValue(argv, '--out', '');

interface LevelResult {
  concurrent: number;
  /** `cold`: the ops server's first burst; `warm`: its second (a cache, if it has one, is filled). */
  cache: 'cold' | 'warm';
  byStatus: Record<string, number>;
  /** Answers that listed every pending call. */
  complete: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  queries: number;
}

async function main(): Promise<void> {
  const stack = await CrashStack.start({ server: { ...FAST_DEV_SERVER, inMemory: true } });
  try {
    await stack.startWorker();
    const ids: string[] = [];
    const run = Date.now();
    await Promise.all(
      Array.from({ length: PENDING }, async (_, i) => {
        const id = `queue-${run}-${i}`;
        ids.push(id);
        stack.fake.script(id, [
          reply.toolUse({
            name: 'save_article',
            input: { abstract: `Article ${i}`, meta: { word_count: 10, review: 'ok' } },
            id: `toolu_queue${i}`,
          }),
          reply.text('Done.'),
        ]);
        await stack.agent.startConversation(
          { model: MODEL, tools: ['save_article'], message: `Save article ${i}` },
          { workflowId: id },
        );
        await until(`${id} to wait for approval`, async () => {
          const s = await stack.agent.client.workflow.getHandle(id).query(stateQuery, { from: 0, to: 0 });
          return s.status === 'awaiting_approval';
        });
      }),
    );

    // The ops server on its own connection, whose queries are counted.
    const counting = await countingAgentClient(stack);
    const { agent, connection } = counting;
    const get = async (base: string): Promise<{ status: number; ms: number; listed: number }> => {
      const started = performance.now();
      try {
        const res = await fetch(`${base}/api/approvals`, { headers: { authorization: `Bearer ${TOKEN}` } });
        const body = (await res.json().catch(() => ({}))) as { approvals?: unknown[] };
        return { status: res.status, ms: performance.now() - started, listed: body.approvals?.length ?? 0 };
      } catch {
        return { status: 0, ms: performance.now() - started, listed: 0 };
      }
    };
    const serve = async () => {
      const ops = await createOpsServer({ agent, token: TOKEN, namespace: 'default' });
      return { ops, base: await ops.listen({ host: '127.0.0.1', port: 0 }) };
    };
    // Visibility is eventually consistent: wait until one request lists them all.
    const probe = await serve();
    await until(
      'the queue to list every pending call',
      async () => (await get(probe.base)).listed >= PENDING,
    );
    await probe.ops.close();
    await sleep(1000);

    const burst = async (base: string, level: number, cache: LevelResult['cache']): Promise<LevelResult> => {
      counting.reset();
      const answers = await Promise.all(Array.from({ length: level }, () => get(base)));
      const byStatus: Record<string, number> = {};
      for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
      const ms = answers.map((a) => a.ms);
      const result = {
        concurrent: level,
        cache,
        byStatus,
        complete: answers.filter((a) => a.status === 200 && a.listed >= PENDING).length,
        p50Ms: round(percentile(ms, 50)),
        p99Ms: round(percentile(ms, 99)),
        maxMs: round(Math.max(...ms)),
        queries: counting.queries(),
      };
      // Let queries left running by timed-out requests finish before the next burst.
      await sleep(3000);
      return result;
    };
    // Each level on a new ops server (nothing cached: the first burst), then again on the same one.
    const results: LevelResult[] = [];
    for (const level of LEVELS) {
      const { ops, base } = await serve();
      results.push(await burst(base, level, 'cold'));
      results.push(await burst(base, level, 'warm'));
      await ops.close();
    }

    console.log(`\nqueue under load: ${PENDING} pending approvals, concurrent GET /api/approvals\n`);
    console.log(
      'concurrent | burst | answers by status        | complete | p50 ms  | p99 ms  | workflow queries',
    );
    console.log(
      '-----------|-------|--------------------------|----------|---------|---------|-----------------',
    );
    for (const r of results) {
      const statuses = Object.entries(r.byStatus)
        .map(([s, n]) => `${s}: ${n}`)
        .join(', ');
      console.log(
        `${String(r.concurrent).padStart(10)} | ${r.cache.padEnd(5)} | ${statuses.padEnd(24)} | ${String(r.complete).padStart(8)} | ${String(r.p50Ms).padStart(7)} | ${String(r.p99Ms).padStart(7)} | ${String(r.queries).padStart(16)}`,
      );
    }
    const bad = results.reduce(
      (n, r) =>
        n +
        Object.entries(r.byStatus)
          .filter(([s]) => Number(s) >= 500 && Number(s) !== 503)
          .reduce((m, [, c]) => m + c, 0),
      0,
    );
    console.log(`\n5xx answers other than 503: ${bad} (target 0)`);
    if (OUT) writeFileSync(OUT, `${JSON.stringify({ pending: PENDING, levels: results }, null, 2)}\n`);
    await connection.close();
    for (const id of ids) await stack.agent.client.workflow.getHandle(id).terminate('bench done');
  } finally {
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
