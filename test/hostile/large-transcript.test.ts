/**
 * A transcript that outgrows Temporal's payload limit: messages of 250 KB each (under the message cap,
 * so every one is accepted) until the transcript holds over 2 MiB. Its state query answers (the newest
 * messages that fit, `from` saying where they start), a worker with an empty cache reads it back in
 * pages and calls the model on all of it, a continue-as-new that cannot carry it is skipped, and the
 * conversation still ends cleanly: no workflow task ever fails.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { endUpdate, stateQuery } from '../../src/api/conversation';
import { MAX_QUERY_MESSAGES_BYTES, TEMPORAL_PAYLOAD_LIMIT } from '../../src/api/bounds';
import { AgentClient } from '../../src/client';
import { reply } from '../../src/testing/fake-claude';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { taskFailures } from '../support/workflow-raw';

const MESSAGE = 250_000;
const TURNS = 10;

let t: AgentEnv;
beforeAll(async () => {
  // 2.5 MB of text is ~650k tokens: a model with a 1M-token window takes it (the payload limit, not the
  // context window, is what this test is about).
  t = await startAgentEnv({ fake: { contextWindow: 1_000_000 } });
});
afterAll(async () => {
  await t?.teardown();
});

it('a transcript past the payload limit keeps answering, calling the model and ending', async () => {
  const client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
  const handle = await t.start({
    message: 'x'.repeat(MESSAGE),
    limits: { maxMessageBytes: MESSAGE + 100, continueAsNewAfterEvents: 30 },
  });
  t.fake.script(
    handle.workflowId,
    Array.from({ length: TURNS + 1 }, (_, i) => reply.text(`answer ${i + 1}`)),
  );
  for (let turn = 1; turn <= TURNS; turn++) {
    await t.waitFor(handle, (s) => s.status === 'idle' && s.turn === turn, 30_000);
    if (turn < TURNS) await client.sendMessage(handle.workflowId, `${turn}`.padEnd(MESSAGE, 'y'));
  }
  // Over 2 MiB of transcript: the state answers with the newest messages that fit one answer.
  const state = await handle.query(stateQuery, {});
  expect(state.messageCount).toBe(2 * TURNS);
  expect(state.from).toBeGreaterThan(0);
  expect(state.from + state.messages.length).toBe(state.messageCount);
  expect(JSON.stringify(state.messages).length).toBeLessThanOrEqual(MAX_QUERY_MESSAGES_BYTES);
  expect(state.messageCount * MESSAGE).toBeGreaterThan(TEMPORAL_PAYLOAD_LIMIT);
  // Earlier messages by range, as a reader pages through them.
  const first = await handle.query(stateQuery, { from: 0, to: 2 });
  expect(first.from).toBe(0);
  expect(first.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
  // Continue-as-new (due every few turns: the event limit) carried the transcript while it fit.
  expect(state.generation).toBeGreaterThan(0);

  // A fresh worker has nothing cached: it reads the transcript back in pages and sends all of it.
  await t.restartWorker();
  await client.sendMessage(handle.workflowId, 'and now?');
  await t.waitFor(handle, (s) => s.status === 'idle' && s.turn === TURNS + 1, 30_000);
  const last = t.requests(handle.workflowId).at(-1)!;
  expect(last.body.messages).toHaveLength(2 * TURNS + 1);
  // Past the payload limit it cannot carry it: still due, skipped, the same run goes on.
  expect((await handle.query(stateQuery, { from: -1 })).generation).toBe(state.generation);

  await handle.executeUpdate(endUpdate, { args: [{ reason: 'done' }] });
  expect(await handle.result()).toMatchObject({ status: 'completed', endReason: 'done' });
  expect(await taskFailures(handle)).toEqual([]);
}, 120_000);
