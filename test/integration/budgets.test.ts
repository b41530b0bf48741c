/**
 * Budgets on a real dev server: a conversation parks as `budget_exceeded` before the model call that
 * would go past its ceiling (never mid-stream), shows spent / limit, and goes on when an operator
 * raises it; an agent's budget applies to its conversations; ending it instead works; bad raises are
 * refused.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineAgent } from '../../src/agents/define-agent';
import {
  endUpdate,
  raiseBudgetUpdate,
  stateQuery,
  type ConversationResult,
} from '../../src/api/conversation';
import { AgentClient } from '../../src/client';
import { getWeather } from '../../src/tools/get-weather';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { parkedOnBudget, scriptWeatherCall } from '../support/agents';
import { expectRefused } from '../support/updates';

const thrifty = defineAgent({
  name: 'thrifty',
  model: 'claude-haiku-4-5',
  tools: [getWeather],
  budget: { usd: 0.000001 },
});

let t: AgentEnv;
beforeAll(async () => {
  t = await startAgentEnv({ agents: [thrifty] });
});
afterAll(async () => {
  await t?.teardown();
});

const sunnyInParis = { location: 'Paris', answer: 'Sunny.' };

describe('a budget', () => {
  it('parks the conversation before the call past it, and a raise lets it go on', async () => {
    const { handle, parked } = await parkedOnBudget(t, sunnyInParis);
    expect(parked.attention).toMatchObject({ reason: 'budget_exceeded' });
    expect(parked.attention?.message).toMatch(/^spent \d+ tokens of a 1-token budget$/);
    expect(parked.budget).toMatchObject({ limit: { tokens: 1 }, spent: { tokens: expect.any(Number) } });
    // One call made, and the tool ran: the second call waits.
    expect(t.requests(handle.workflowId)).toHaveLength(1);
    expect(parked.messages.at(-1)?.role).toBe('user');

    await expectRefused(handle.executeUpdate(raiseBudgetUpdate, { args: [{}] }), /give usd and\/or tokens/);
    await expectRefused(
      handle.executeUpdate(raiseBudgetUpdate, { args: [{ tokens: -5 }] }),
      /invalid budget/,
    );
    // A raise that is still under what was spent keeps it parked.
    expect(await handle.executeUpdate(raiseBudgetUpdate, { args: [{ tokens: 2, by: 'ops' }] })).toEqual({
      tokens: 2,
    });
    expect((await handle.query(stateQuery, { from: -1 })).status).toBe('needs_attention');
    await handle.executeUpdate(raiseBudgetUpdate, { args: [{ tokens: 1_000_000, by: 'ops', note: 'fine' }] });
    const result = (await handle.result()) as ConversationResult;
    expect(result.lastText).toBe('Sunny.');
    expect(t.requests(handle.workflowId)).toHaveLength(2);
  });

  it('of an agent applies to its conversations (priced in dollars); ending it instead works', async () => {
    const client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
    const workflowId = `budget-agent-${process.pid}`;
    scriptWeatherCall(t.fake, workflowId, sunnyInParis);
    await client.startConversation({ agent: 'thrifty', message: 'Weather?' }, { workflowId });
    const handle = t.env.client.workflow.getHandle(workflowId);
    const parked = await t.waitFor(handle, (s) => s.status === 'needs_attention');
    expect(parked.attention?.message).toMatch(/^spent \$0\.\d{4} of a \$0\.000001 budget$/);
    expect(parked.budget?.limit).toEqual({ usd: 0.000001 });
    await handle.executeUpdate(endUpdate, { args: [{ by: 'ops', reason: 'too expensive' }] });
    expect(await handle.result()).toMatchObject({ status: 'completed', endReason: 'too expensive' });
    // The run closed in a workflow task after the one that answered the update: the park's
    // notification may complete while the update is answered, and a close the server refuses for
    // it (UnhandledCommand) must not fail the update (it did, one run in fifty beside a busy CPU).
    const kinds = ((await handle.fetchHistory()).events ?? []).map((e) =>
      Object.keys(e).find((k) => k.endsWith('EventAttributes')),
    );
    const answered = kinds.lastIndexOf('workflowExecutionUpdateCompletedEventAttributes');
    const closed = kinds.indexOf('workflowExecutionCompletedEventAttributes');
    expect(answered).toBeGreaterThan(0);
    expect(kinds.slice(answered, closed)).toContain('workflowTaskStartedEventAttributes');
  });
});

it('replays every conversation it ran', async () => {
  expect(await t.replayHistories()).toBeGreaterThanOrEqual(2);
});
