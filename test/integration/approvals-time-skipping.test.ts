/**
 * Approval deadlines in skipped time, on the time-skipping test server: the worker, the fake Messages
 * API and the tools are real; only the clock is fast.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decideToolCallUpdate } from '../../src/api/approvals';
import { stateQuery } from '../../src/api/conversation';
import { reply } from '../../src/testing/fake-claude';
import { listArticles } from '../../src/tools/save-article';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';

let t: AgentEnv;
beforeAll(async () => {
  t = await startAgentEnv({ timeSkipping: true });
});
afterAll(async () => {
  await t?.teardown();
});

const input = { abstract: 'Durable agents survive crashes.', meta: { word_count: 1200, review: 'good' } };
const DAY = 24 * 3600 * 1000;

describe('approval deadlines (time-skipping server)', () => {
  it('a call nobody decides is rejected when its 24 h deadline passes', async () => {
    const handle = await t.start({ message: 'Save it', tools: ['save_article'], singleTurn: true });
    t.fake.script(handle.workflowId, [
      reply.toolUse({ name: 'save_article', input, id: 'toolu_deadline' }),
      reply.text('It was not approved.'),
    ]);
    await t.waitFor(handle, (s) => s.status === 'awaiting_approval');
    // Awaiting the result lets the server skip time to the deadline timer.
    expect((await handle.result()).lastText).toBe('It was not approved.');
    const state = await handle.query(stateQuery, {});
    const [decision] = state.decisions;
    expect(decision).toMatchObject({
      toolUseId: 'toolu_deadline',
      decision: 'reject',
      via: 'deadline',
      decidedBy: 'system:deadline',
    });
    // meta[1] is the assistant message that asked for the call.
    expect(Date.parse(decision.decidedAt) - Date.parse(state.meta[1].at)).toBeGreaterThanOrEqual(DAY);
    const [result] = t.fake.requestsFor(handle.workflowId)[1].body.messages[2].content as unknown as Array<
      Record<string, unknown>
    >;
    expect(result).toMatchObject({ tool_use_id: 'toolu_deadline', is_error: true });
    expect(result.content).toMatch(/not approved in time \(no decision before the deadline/);
    expect((await listArticles(t.dataDir)).filter((a) => a.workflowId === handle.workflowId)).toHaveLength(0);
  });

  it('an approval that arrives after two days still runs the tool, once', async () => {
    const handle = await t.start({
      message: 'Save it',
      tools: ['save_article'],
      singleTurn: true,
      limits: { approvalTimeoutMs: 3 * DAY },
    });
    t.fake.script(handle.workflowId, [
      reply.toolUse({ name: 'save_article', input, id: 'toolu_late' }),
      reply.text('Saved at last.'),
    ]);
    await t.waitFor(handle, (s) => s.status === 'awaiting_approval');
    await t.env.sleep('2 days');
    const [decision] = await handle.executeUpdate(decideToolCallUpdate, {
      args: [{ toolUseId: 'toolu_late', decision: 'approve', decidedBy: 'weekend-ops' }],
    });
    expect((await handle.result()).lastText).toBe('Saved at last.');
    const state = await handle.query(stateQuery, {});
    expect(Date.parse(decision.decidedAt) - Date.parse(state.meta[1].at)).toBeGreaterThanOrEqual(2 * DAY);
    const saved = (await listArticles(t.dataDir)).filter((a) => a.workflowId === handle.workflowId);
    expect(saved).toHaveLength(1);
    expect(saved[0].toolUseId).toBe('toolu_late');
  });

  it('replays both histories', async () => {
    expect(await t.replayHistories()).toBe(2);
  });
});
