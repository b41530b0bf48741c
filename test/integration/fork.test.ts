/**
 * Fork through the real workflow on a real dev server: a new conversation starts from another's
 * transcript up to a chosen message, linked to it. At a user message the fork answers it again (a turn
 * replayed with a different outcome); at a finished answer it takes a new message. A point inside a
 * tool round, or past the end, is refused before anything starts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineAgent } from '../../src/agents/define-agent';
import { AgentClient } from '../../src/client';
import { reply } from '../../src/testing/fake-claude';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { lookup } from '../support/agents';
import { cliAgainst } from '../support/cli';

const desk = defineAgent({ name: 'desk', model: 'claude-sonnet-4-6', tools: [lookup], promptCaching: 'off' });

let t: AgentEnv;
let client: AgentClient;
beforeAll(async () => {
  t = await startAgentEnv({ agents: [desk] });
  client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
});
afterAll(async () => {
  await t?.teardown();
});

const origin = `fork-origin-${process.pid}`;

async function idle(workflowId: string, turn: number) {
  return t.waitFor(
    t.env.client.workflow.getHandle(workflowId),
    (s) => s.status === 'idle' && s.turn === turn,
  );
}

describe('fork', () => {
  beforeAll(async () => {
    t.fake.script(origin, [
      reply.toolUse({ name: 'lookup', input: { id: 'A-1' } }),
      reply.text('A-1 is 120.'),
      reply.text('B-2 is 50.'),
    ]);
    await client.startConversation({ agent: 'desk', message: 'How much is A-1?' }, { workflowId: origin });
    await idle(origin, 1);
    await client.sendMessage(origin, 'And B-2?');
    await idle(origin, 2); // 0 user, 1 tool call, 2 results, 3 answer, 4 user, 5 answer
  });

  it('at a user message: answers it again, from the same transcript, linked to its origin', async () => {
    const workflowId = `${origin}.again`;
    t.fake.script(workflowId, [reply.text('B-2 is 55 now.')]);
    const started = await client.fork(origin, { at: 4, workflowId });
    expect(started.workflowId).toBe(workflowId);
    const state = await idle(workflowId, 1);
    expect(state.forkedFrom).toEqual({ workflowId: origin, index: 4, at: expect.any(String) });
    const [request] = t.requests(workflowId);
    const originState = await client.getState(origin);
    // The model got the origin's transcript up to the question, as the origin's model did.
    expect(request.body.messages).toEqual(t.requests(origin)[2].body.messages);
    expect(state.messages.slice(0, 5)).toEqual(originState.messages.slice(0, 5));
    expect(state.messages.at(-1)).toMatchObject({ role: 'assistant', content: [{ text: 'B-2 is 55 now.' }] });
    expect(t.fake.requests.filter((r) => r.conversation === workflowId && r.invalid)).toEqual([]);
  });

  it('at a finished answer: takes a new message', async () => {
    const workflowId = `${origin}.other`;
    t.fake.script(workflowId, [reply.text('C-3 is 10.')]);
    await client.fork(origin, { at: 3, message: 'And C-3?', workflowId });
    const state = await idle(workflowId, 1);
    expect(state.messageCount).toBe(6);
    expect(state.messages[4]).toEqual({ role: 'user', content: 'And C-3?' });
    expect(state.forkedFrom).toEqual({ workflowId: origin, index: 3, at: expect.any(String) });
  });

  it('from the CLI: agent fork --at, and its usage errors', async () => {
    const workflowId = `${origin}.cli`;
    t.fake.script(workflowId, [reply.text('Forked answer.')]);
    const { cli, ok } = cliAgainst(() => t);
    const forked = ok(
      await cli(['fork', origin, '--at', '4', '--id', workflowId, '--by', 'carol', '--json']),
    );
    expect(JSON.parse(forked.stdout)).toMatchObject({ workflowId });
    // Who forked it: --by (else the user at the CLI), as every other operator action.
    expect((await idle(workflowId, 1)).forkedFrom).toEqual({
      workflowId: origin,
      index: 4,
      by: 'carol',
      at: expect.any(String),
    });
    const refused = await cli(['fork', origin, '--at', '2']);
    expect(refused).toMatchObject({ code: 2, stdout: '' }); // invalid, as a usage error
    expect(refused.stderr).toMatch(/message 2 holds tool results/);
    const usage = await cli(['fork', origin], '127.0.0.1:1');
    expect(usage).toMatchObject({
      code: 2,
      stderr: 'agent: fork needs --at N (the index of the last message to take)\n',
    });
  });

  it('refuses a point inside a tool round, past the end, or a second message for a user message', async () => {
    await expect(client.fork(origin, { at: 1 })).rejects.toThrow(/message 1 calls tools/);
    await expect(client.fork(origin, { at: 2 })).rejects.toThrow(/message 2 holds tool results/);
    await expect(client.fork(origin, { at: 6 })).rejects.toThrow(/message 6 does not exist/);
    await expect(client.fork(origin, { at: -1 })).rejects.toThrow(/at must be a message index/);
    await expect(client.fork(origin, { at: 4, message: 'x' })).rejects.toThrow(/answered again/);
  });
});

it('replays every conversation it ran', async () => {
  expect(await t.replayHistories()).toBeGreaterThanOrEqual(3);
});
