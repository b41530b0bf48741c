/**
 * Workflow history stays linear in the conversation's length, and continue-as-new carries a
 * conversation on (same id, transcript, handlers) without losing a message.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { temporal } from '@temporalio/proto';
import { endUpdate, sendMessageUpdate, stateQuery } from '../../src/api/conversation';
import { reply } from '../../src/testing/fake-claude';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';

let t: AgentEnv;
beforeAll(async () => {
  t = await startAgentEnv();
});
afterAll(async () => {
  await t?.teardown();
});

async function historyBytes(workflowId: string): Promise<{ bytes: number; events: number }> {
  const history = await t.env.client.workflow.getHandle(workflowId).fetchHistory();
  return {
    bytes: temporal.api.history.v1.History.encode(history).finish().length,
    events: history.events?.length ?? 0,
  };
}

describe('history growth', () => {
  it('grows linearly over 50 turns with a tool call each (each message enters history once)', async () => {
    const turns = 50;
    const handle = await t.start({
      message: 'Turn 1 '.padEnd(1000, 'x'),
      tools: ['get_weather'],
      limits: { maxTurns: 60 },
    });
    const answer = 'A'.padEnd(1000, 'a');
    t.fake.script(handle.workflowId, (request) => {
      const last = request.body.messages.at(-1)!;
      const isToolResult = Array.isArray(last.content) && last.content[0]?.type === 'tool_result';
      return isToolResult
        ? reply.text(answer)
        : reply.toolUse({ name: 'get_weather', input: { location: 'Paris' } });
    });
    const samples: Array<{ turn: number; bytes: number; events: number }> = [];
    for (let turn = 1; turn <= turns; turn++) {
      if (turn > 1)
        await handle.executeUpdate(sendMessageUpdate, {
          args: [{ content: `Turn ${turn} `.padEnd(1000, 'x') }],
        });
      await t.waitFor(handle, (s) => s.status === 'idle' && s.turn === turn);
      if (turn % 10 === 0) samples.push({ turn, ...(await historyBytes(handle.workflowId)) });
    }
    const steps = samples.slice(1).map((s, i) => s.bytes - samples[i].bytes);
    console.log(
      `history after 10..50 turns: ${samples.map((s) => `${s.turn}: ${s.bytes} B / ${s.events} events`).join(', ')}; per 10 turns: ${steps.join(', ')} B`,
    );
    // Linear: every ten turns add about the same bytes. Quadratic growth (the transcript in every
    // activity input) would make the last step about 4x the first.
    expect(Math.max(...steps)).toBeLessThan(Math.min(...steps) * 1.25);
    // And about the size of what was said (2 KB of user+assistant text per turn, plus tool I/O and events).
    expect(steps[0] / 10).toBeLessThan(12_000);
    const state = await handle.query(stateQuery, {});
    expect(state.messageCount).toBe(turns * 4);
    // The worker read each new message once through its cache; the model saw the whole transcript each call.
    const lastRequest = t.fake.requestsFor(handle.workflowId).at(-1)!;
    expect(lastRequest.body.messages).toHaveLength(turns * 4 - 1);
    await handle.executeUpdate(endUpdate, { args: [{}] });
  });
});

describe('continue-as-new', () => {
  it('carries the conversation on with updates arriving across the boundary; nothing is lost', async () => {
    const handle = await t.start({ message: 'm1', limits: { continueAsNewAfterEvents: 40, maxTurns: 100 } });
    t.fake.script(handle.workflowId, (request) =>
      reply.text(`answer to ${JSON.stringify(request.body.messages.at(-1)!.content)}`),
    );
    await t.waitFor(handle, (s) => s.status === 'idle');
    const sent: string[] = ['m1'];
    const answered: Array<{ turn: number; content: string }> = [];
    // Bursts of concurrent messages, so some arrive while a run is continuing as new.
    for (let burst = 0; burst < 6; burst++) {
      const contents = [1, 2, 3].map((i) => `m${sent.length + i}`);
      sent.push(...contents);
      const turns = await Promise.all(
        contents.map((content) => handle.executeUpdate(sendMessageUpdate, { args: [{ content }] })),
      );
      answered.push(...turns.map(({ turn }, i) => ({ turn, content: contents[i] })));
      if (burst % 2 === 1) await t.waitFor(handle, (st) => st.status === 'idle' && st.turn === sent.length);
    }
    const state = await t.waitFor(
      handle,
      (s) => s.status === 'idle' && s.messageCount === sent.length * 2,
      30_000,
    );
    expect(state.generation).toBeGreaterThanOrEqual(2);
    expect(new Set(answered.map((a) => a.turn)).size).toBe(answered.length);
    // Every message is in the transcript once, at the turn its update answered (concurrent ones in
    // the order the workflow accepted them).
    const userTexts = state.messages.filter((m) => m.role === 'user').map((m) => m.content);
    expect([...userTexts].sort()).toEqual([...sent].sort());
    for (const { turn, content } of answered) expect(userTexts[turn - 1]).toBe(content);
    // The model saw one consistent transcript throughout.
    const last = t.fake.requestsFor(handle.workflowId).at(-1)!;
    expect(last.body.messages).toHaveLength(sent.length * 2 - 1);
    expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
    await handle.executeUpdate(endUpdate, { args: [{ reason: 'enough' }] });
    expect(await handle.result()).toMatchObject({
      status: 'completed',
      endReason: 'enough',
      turns: sent.length,
    });
  });
});

describe('determinism', () => {
  it('replays every run of this file', async () => {
    expect(await t.replayHistories()).toBeGreaterThanOrEqual(3);
  });
});
