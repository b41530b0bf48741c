/**
 * The live side channel across processes: two worker processes publish model streams to the ops
 * server's hub (this process), observers follow them over SSE. Late joiners get the partial output so
 * far; a retried call sends a reset; with the hub down, conversations go on unharmed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { reply } from '../../src/testing/fake-claude';
import { createOpsServer } from '../../src/ops/server';
import { StreamHub } from '../../src/streaming/hub';
import type { LiveMessage } from '../../src/streaming/protocol';
import { subscribeLive } from '../../src/streaming/subscribe';
import { CrashStack, sleep, spawnWorkerProcess, until } from '../support/stack';
import { cliArgv } from '../support/cli-runs';

const TOKEN = 'live-token-0123456789abcdef';
let stack: CrashStack;
let ops: FastifyInstance;
let base: string;
const hub = new StreamHub();
const extraWorkers: ChildProcess[] = [];

beforeAll(async () => {
  stack = await CrashStack.start();
  ops = await createOpsServer({ agent: stack.agent, token: TOKEN, namespace: 'default', hub });
  base = await ops.listen({ host: '127.0.0.1', port: 0 });
  stack.extraEnv = { AGENT_STREAM_URL: base, OPS_TOKEN: TOKEN };
  await stack.startWorker();
  extraWorkers.push(await spawnWorkerProcess(stack.workerEnv(), join(stack.dir, 'worker-b.log')));
}, 120_000);
afterAll(async () => {
  for (const w of extraWorkers) w.kill('SIGKILL');
  await ops?.close();
  await stack?.close();
});

/** Collects a conversation's live messages from the ops server over SSE. */
function observe(workflowId: string): { messages: LiveMessage[]; close: () => void } {
  const controller = new AbortController();
  const messages: LiveMessage[] = [];
  void (async () => {
    for await (const message of subscribeLive({
      url: base,
      token: TOKEN,
      workflowId,
      signal: controller.signal,
    }))
      messages.push(message);
  })().catch(() => undefined);
  return { messages, close: () => controller.abort() };
}

const textOf = (messages: LiveMessage[], kind: 'text' | 'input_json') =>
  messages
    .filter((m): m is Extract<LiveMessage, { type: 'delta' }> => m.type === 'delta' && m.kind === kind)
    .map((m) => m.text)
    .join('');

const ARTICLE = {
  abstract: 'Live streams do not go through history.',
  meta: { word_count: 7, review: 'short' },
};
const script = (text: string, betweenEventsMs = 40) => [
  {
    ...reply.toolUse({ name: 'save_article', id: 'toolu_live', input: ARTICLE }, { text, chunkSize: 3 }),
    latency: { betweenEventsMs },
  },
  reply.text('Saved, live.'),
];

async function approveAndFinish(workflowId: string): Promise<void> {
  await until(
    'the approval request',
    async () =>
      Number(
        (await stack.agent.client.workflow.getHandle(workflowId).describe()).searchAttributes
          .AgentPendingApprovals?.[0] ?? 0,
      ) === 1,
    60_000,
  );
  await stack.agent.decide(workflowId, {
    toolUseId: 'toolu_live',
    decision: 'approve',
    decidedBy: 'live-test',
  });
  await stack.agent.client.workflow.getHandle(workflowId).result();
}

describe('live stream across processes', () => {
  it('two workers publish; observers see text and tool input as they are written', async () => {
    const ids = [0, 1, 2, 3].map((i) => `live-${Date.now()}-${i}`);
    const observers = ids.map((id) => observe(id));
    await sleep(200);
    for (const id of ids) {
      stack.fake.script(id, script(`Streaming answer for ${id}. `));
      await stack.agent.startConversation(
        { model: 'claude-sonnet-5-5', message: 'Save it', tools: ['save_article'], singleTurn: true },
        { workflowId: id },
      );
    }
    await Promise.all(ids.map((id) => approveAndFinish(id)));
    await sleep(300);
    ids.forEach((id, i) => {
      const { messages } = observers[i];
      expect(messages[0]).toEqual({ type: 'snapshot', call: null });
      expect(textOf(messages, 'text')).toBe(`Streaming answer for ${id}. Saved, live.`);
      expect(JSON.parse(textOf(messages, 'input_json'))).toEqual(ARTICLE);
      expect(messages.find((m) => m.type === 'block_start' && m.blockType === 'tool_use')).toMatchObject({
        name: 'save_article',
        id: 'toolu_live',
      });
      expect(messages.filter((m) => m.type === 'end')).toHaveLength(2);
      observers[i].close();
    });
  }, 120_000);

  it('the typed client watches too (AgentClient.watch)', async () => {
    const id = `live-client-${Date.now()}`;
    stack.fake.script(id, script('Watched from a script. '));
    const controller = new AbortController();
    const seen: LiveMessage[] = [];
    const watching = (async () => {
      for await (const message of stack.agent.watch(id, {
        opsUrl: base,
        opsToken: TOKEN,
        signal: controller.signal,
      }))
        seen.push(message);
    })();
    await sleep(200);
    await stack.agent.startConversation(
      { model: 'claude-sonnet-5-5', message: 'Save it', tools: ['save_article'], singleTurn: true },
      { workflowId: id },
    );
    await approveAndFinish(id);
    await sleep(300);
    controller.abort();
    await watching;
    expect(textOf(seen, 'text')).toBe('Watched from a script. Saved, live.');
  }, 60_000);

  it('an observer that joins late gets the partial output so far, then the rest', async () => {
    const id = `live-late-${Date.now()}`;
    const long = 'This answer streams slowly so that someone can join in the middle of it. '.repeat(2);
    stack.fake.script(id, script(long, 60));
    await stack.agent.startConversation(
      { model: 'claude-sonnet-5-5', message: 'Save it', tools: ['save_article'], singleTurn: true },
      { workflowId: id },
    );
    await until('some text to stream', () => (hub.snapshot(id)?.blocks[0]?.text.length ?? 0) > 20);
    const late = observe(id);
    await approveAndFinish(id);
    await sleep(300);
    const [first, ...rest] = late.messages;
    expect(first.type).toBe('snapshot');
    const partial = (first as Extract<LiveMessage, { type: 'snapshot' }>).call!.blocks[0].text;
    expect(partial.length).toBeGreaterThan(20);
    expect(long.startsWith(partial)).toBe(true);
    // The rest of the first call: its index-0 text deltas up to its end.
    const firstCall = rest.slice(
      0,
      rest.findIndex((m) => m.type === 'end'),
    );
    const afterJoin = firstCall.filter(
      (m): m is Extract<LiveMessage, { type: 'delta' }> =>
        m.type === 'delta' && m.index === 0 && m.kind === 'text',
    );
    expect(partial + afterJoin.map((m) => m.text).join('')).toBe(long);
    late.close();
  }, 120_000);

  it('a retried call sends a reset; the observer then sees the whole new attempt', async () => {
    // One worker for this test, so the kill interrupts the call for sure.
    for (const w of extraWorkers.splice(0)) w.kill('SIGKILL');
    const id = `live-reset-${Date.now()}`;
    stack.fake.script(id, [
      ...script('First attempt, cut short by a crash. '.repeat(3), 60).slice(0, 1),
      ...script('Second attempt. '),
    ]);
    const watcher = observe(id);
    await sleep(200);
    await stack.agent.startConversation(
      { model: 'claude-sonnet-5-5', message: 'Save it', tools: ['save_article'], singleTurn: true },
      { workflowId: id },
    );
    await until('the stream to start', () => (hub.snapshot(id)?.blocks[0]?.text.length ?? 0) > 10);
    await stack.crashWorker();
    await approveAndFinish(id);
    await sleep(300);
    const resetAt = watcher.messages.findIndex((m) => m.type === 'reset');
    expect(resetAt).toBeGreaterThan(0);
    expect(watcher.messages[resetAt]).toMatchObject({ type: 'reset', turn: 1, attempt: 2 });
    expect(textOf(watcher.messages.slice(resetAt), 'text')).toBe('Second attempt. Saved, live.');
    watcher.close();
  }, 120_000);

  it('agent watch prints the stream like the notebook', async () => {
    const id = `live-watch-${Date.now()}`;
    stack.fake.script(id, script('Let me save that. ', 30));
    // No message yet: the CLI takes seconds to start on a busy machine, and a conversation that is over
    // before it connects has nothing left to show. The message goes once the watcher is connected.
    await stack.agent.startConversation(
      { model: 'claude-sonnet-5-5', tools: ['save_article'], singleTurn: true },
      { workflowId: id },
    );
    const observers = hub.size.observers;
    const output = new Promise<string>((resolve) => {
      execFile(
        process.execPath,
        cliArgv(['watch', id]),
        {
          cwd: join(__dirname, '../..'),
          env: {
            ...process.env,
            TEMPORAL_ADDRESS: stack.address,
            AGENT_TASK_QUEUE: 'crash-test',
            OPS_URL: base,
            OPS_TOKEN: TOKEN,
          },
        },
        (_err, stdout) => resolve(stdout),
      );
    });
    await until('the watcher to connect', () => hub.size.observers > observers);
    await stack.agent.sendMessage(id, 'Save it');
    await approveAndFinish(id);
    const text = await output;
    expect(text).toContain('Let me save that.');
    expect(text).toContain('>>> Tool Call: "save_article"');
    expect(text).toContain('{"abstract":"Live streams do not go through history."');
    expect(text).toContain('Saved, live.');
  }, 120_000);

  it('agent start --wait streams the answer live and prints the outcome', async () => {
    stack.fake.script('*', [
      { ...reply.text('Waited and streamed.', { chunkSize: 3 }), latency: { betweenEventsMs: 20 } },
    ]);
    const stdout = await new Promise<string>((resolve) => {
      execFile(
        process.execPath,
        cliArgv(['start', 'Say something', '--single-turn', '--wait']),
        {
          cwd: join(__dirname, '../..'),
          env: {
            ...process.env,
            TEMPORAL_ADDRESS: stack.address,
            AGENT_TASK_QUEUE: 'crash-test',
            OPS_URL: base,
            OPS_TOKEN: TOKEN,
          },
        },
        (_err, out) => resolve(out),
      );
    });
    // Streamed (the text), then the outcome.
    expect(stdout).toContain('Waited and streamed.');
    expect(stdout).toMatch(/\[completed: single turn done\]/);
  }, 60_000);

  it('with the hub down, conversations go on unharmed', async () => {
    stack.extraEnv = { AGENT_STREAM_URL: 'http://127.0.0.1:9', OPS_TOKEN: TOKEN };
    await stack.crashWorker();
    const id = `live-down-${Date.now()}`;
    stack.fake.script(id, script('Nobody is watching. '));
    await stack.agent.startConversation(
      { model: 'claude-sonnet-5-5', message: 'Save it', tools: ['save_article'], singleTurn: true },
      { workflowId: id },
    );
    await approveAndFinish(id);
    expect(await stack.articles(id)).toHaveLength(1);
    expect(hub.snapshot(id)).toBeNull();
  }, 120_000);
});
