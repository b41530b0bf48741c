/**
 * The ops API while the worker dies (first probe, finding 18 of the second): polling state and the
 * queue while the worker was SIGKILLed gave 6 answers of 500 in ~6,000 GETs a round (`ServiceError:
 * Failed to query Workflow`). Every answer must be the data or a 503 with `retry-after` (the worker is
 * gone, or the query was dropped on the way), never a 500, and the API serves again once a worker is
 * back. Real processes: the dev server, the worker as a child process killed with SIGKILL, the fake
 * Messages API and the ops server here.
 *
 * `HOSTILE_KILL_ROUNDS` sets the kill rounds (default 2) and `HOSTILE_KILL_POLLERS` the concurrent pollers
 * (default 4); `npm run fuzz:ops-kill` runs 5 rounds under 32, near the probe's scale.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { AgentClient } from '../../src/client';
import { scriptSaveArticle } from '../support/agents';
import { createOpsServer } from '../../src/ops/server';
import { CrashStack, sleep, until } from '../support/stack';
import { TOKEN } from '../support/ops-http';

const ROUNDS = Number(process.env.HOSTILE_KILL_ROUNDS ?? 2);
const POLLERS = Number(process.env.HOSTILE_KILL_POLLERS ?? 4);

let stack: CrashStack;
let connection: Connection;
let ops: FastifyInstance;
let base: string;
const ids: string[] = [];

beforeAll(async () => {
  stack = await CrashStack.start();
  connection = await Connection.connect({ address: stack.address });
  const agent = new AgentClient({
    client: new Client({ connection }),
    taskQueue: stack.agent.taskQueue,
    queryTimeoutMs: 1500,
  });
  ops = await createOpsServer({ agent, token: TOKEN, namespace: 'default', errorLog: () => undefined });
  base = await ops.listen({ host: '127.0.0.1', port: 0 });
  await stack.startWorker();
  for (let i = 0; i < 3; i++) {
    const id = `kill-poll-${process.pid}-${i}`;
    scriptSaveArticle(stack.fake, id, { toolUseId: `toolu_kill_${i}`, abstract: `Article ${i}` });
    await stack.agent.startConversation(
      { model: 'claude-sonnet-5-5', message: 'Save it', tools: ['save_article'] },
      { workflowId: id },
    );
    ids.push(id);
  }
  for (const id of ids)
    await until(
      `${id} to wait for approval`,
      async () => (await stack.agent.getState(id)).status === 'awaiting_approval',
      30_000,
    );
}, 120_000);

afterAll(async () => {
  await ops?.close();
  await connection?.close();
  await stack?.close();
});

interface Tally {
  statuses: Map<number, number>;
  /** Answers that broke the promise: not 200, or a 503 without retry-after, with what they said. */
  broken: string[];
}

/** GETs what a page and a script poll (state, the queue, the list), until `stop`. */
async function poll(stop: { done: boolean }, tally: Tally, n: number): Promise<void> {
  const paths = [
    ...ids.map((id) => `/api/conversations/${encodeURIComponent(id)}`),
    '/api/approvals',
    '/api/conversations',
    '/api/attention',
  ];
  for (let i = n; !stop.done; i++) {
    const path = paths[i % paths.length];
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } }).catch(
      (err: unknown) => err as Error,
    );
    if (res instanceof Error) {
      tally.broken.push(`${path}: ${res.message}`);
      continue;
    }
    const text = await res.text();
    tally.statuses.set(res.status, (tally.statuses.get(res.status) ?? 0) + 1);
    const unavailable =
      res.status === 503 &&
      Number(res.headers.get('retry-after')) > 0 &&
      /^\{"error":"(no_worker|unavailable)"/.test(text);
    if (res.status !== 200 && !unavailable) tally.broken.push(`${path}: ${res.status} ${text.slice(0, 300)}`);
  }
}

describe('the ops API while the worker is killed', () => {
  it(`${ROUNDS} SIGKILLs under ${POLLERS} pollers: every answer 200 or 503 with retry-after, and it serves again`, async () => {
    const tally: Tally = { statuses: new Map(), broken: [] };
    const stop = { done: false };
    const pollers = Array.from({ length: POLLERS }, (_, n) => poll(stop, tally, n));
    try {
      await sleep(1000);
      for (let round = 0; round < ROUNDS; round++) {
        await stack.killWorker('SIGKILL');
        await sleep(4000); // queries reach no worker: they time out
        await stack.startWorker();
        await sleep(2000);
      }
      // Served again: each conversation's state reads, still waiting on its call.
      for (const id of ids) {
        const res = await fetch(`${base}/api/conversations/${encodeURIComponent(id)}`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        expect(res.status).toBe(200);
        expect(((await res.json()) as { status: string }).status).toBe('awaiting_approval');
      }
    } finally {
      stop.done = true;
      await Promise.all(pollers);
    }
    const summary = Object.fromEntries(tally.statuses);
    expect({ broken: tally.broken.slice(0, 10), brokenCount: tally.broken.length }).toEqual({
      broken: [],
      brokenCount: 0,
    });
    expect(summary[200]).toBeGreaterThan(0);
    expect(summary[503]).toBeGreaterThan(0); // the kills were seen
    if (process.env.HOSTILE_KILL_ROUNDS)
      console.log(`ops API under ${ROUNDS} worker kills: ${JSON.stringify(summary)}`);
    expect(stack.counts.unexpectedExits).toBe(0);
  }, 180_000);
});
