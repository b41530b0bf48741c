/**
 * The typed client's guarantees around retries: a message sent again with the same messageId is
 * queued once; a decision sent again is answered, not applied twice.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { stateQuery } from '../../src/api/conversation';
import { AgentClient, AgentError } from '../../src/client';
import { reply } from '../../src/testing/fake-claude';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';

let t: AgentEnv;
let agent: AgentClient;
beforeAll(async () => {
  t = await startAgentEnv();
  agent = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
});
afterAll(async () => {
  await t?.teardown();
});

describe('AgentClient', () => {
  it('validates the input before starting anything', async () => {
    const err = await agent.startConversation({ model: '', tools: ['bad name!'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).code).toBe('invalid');
    expect((err as AgentError).message).toMatch(/model: .*; tools\.0: /);
  });

  it('a message sent twice with the same messageId is queued once', async () => {
    const { workflowId } = await agent.startConversation({ model: 'claude-sonnet-5-5', message: 'Hi' });
    t.fake.script(workflowId, [reply.text('Hello.'), reply.text('Again.')]);
    const handle = t.env.client.workflow.getHandle(workflowId);
    await t.waitFor(handle, (s) => s.status === 'idle');
    const first = await agent.sendMessage(workflowId, 'Once only', { messageId: 'msg-1' });
    const again = await agent.sendMessage(workflowId, 'Once only', { messageId: 'msg-1' });
    expect(again).toEqual(first);
    const state = await t.waitFor(handle, (s) => s.status === 'idle' && s.turn === 2);
    expect(state.messages.filter((m) => m.content === 'Once only')).toHaveLength(1);
    await agent.end(workflowId, 'test');
    expect((await handle.query(stateQuery, {})).status).toBe('completed');
  });
});
