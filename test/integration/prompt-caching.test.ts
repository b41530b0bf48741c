/**
 * Prompt caching through the real workflow and worker: a long conversation reads its prefix from the
 * cache on every call, and the conversation's state adds up tokens and cost across continue-as-new.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { endUpdate, sendMessageUpdate, stateQuery } from '../../src/api/conversation';
import { costOf, DEFAULT_PRICES } from '../../src/activities/pricing';
import { reply } from '../../src/testing/fake-claude';
import { PromptCache } from '../../src/testing/fake-claude/prompt-cache';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';

let t: AgentEnv;
beforeAll(async () => {
  t = await startAgentEnv();
});
afterAll(async () => {
  await t?.teardown();
});

/** An agent's instructions: long enough (about 2,000 tokens) to be worth caching on its own. */
const SYSTEM = `You are a travel assistant. ${'Answer with the weather, the season and what to pack. '.repeat(150)}`;

const weatherTurns = (workflowId: string) =>
  t.fake.script(workflowId, (request) => {
    const last = request.body.messages.at(-1)!;
    const answered = Array.isArray(last.content) && last.content.some((b) => b.type === 'tool_result');
    return answered
      ? reply.text('It is 18 degrees and sunny: pack a light jacket. '.repeat(4))
      : reply.toolUse({ name: 'get_weather', input: { location: 'Paris' } }, { text: 'Let me check.' });
  });

describe('prompt caching', () => {
  it("reads at least 80% of a 20-turn conversation's input from the cache, and the state adds up tokens and cost across continue-as-new", async () => {
    const turns = 20;
    const handle = await t.start({
      model: 'claude-sonnet-4-6',
      system: SYSTEM,
      tools: ['get_weather'],
      message: 'Weather in Paris, turn 1?',
      limits: { maxTurns: 30, continueAsNewAfterEvents: 200 },
    });
    weatherTurns(handle.workflowId);
    for (let turn = 1; turn <= turns; turn++) {
      if (turn > 1)
        await handle.executeUpdate(sendMessageUpdate, {
          args: [{ content: `Weather in Paris, turn ${turn}?` }],
        });
      await t.waitFor(handle, (s) => s.status === 'idle' && s.turn === turn);
    }
    const state = await handle.query(stateQuery, {});
    expect(state.generation).toBeGreaterThan(0); // continued as new on the way
    const requests = t.requests(handle.workflowId);
    expect(requests).toHaveLength(turns * 2);

    // What the API would have billed: the same requests through a fresh cache, in order.
    const cache = new PromptCache();
    const billed = requests.map((r) => cache.account(r.body as unknown as Record<string, unknown>));
    const sum = (pick: (u: (typeof billed)[number]) => number) => billed.reduce((n, u) => n + pick(u), 0);
    expect(state.usage).toMatchObject({
      calls: turns * 2,
      inputTokens: sum((u) => u.input_tokens),
      cacheCreationInputTokens: sum((u) => u.cache_creation_input_tokens),
      cacheReadInputTokens: sum((u) => u.cache_read_input_tokens),
      unpricedCalls: 0,
    });
    const prompt =
      state.usage.inputTokens + state.usage.cacheCreationInputTokens + state.usage.cacheReadInputTokens;
    const share = state.usage.cacheReadInputTokens / prompt;
    console.log(
      `20 turns, 40 calls: ${prompt} prompt tokens, ${(share * 100).toFixed(1)}% read from the cache, $${state.usage.costUsd}`,
    );
    expect(share).toBeGreaterThanOrEqual(0.8);
    // Every call after the first read the previous call's prompt.
    expect(billed.slice(1).every((u) => u.cache_read_input_tokens > 0)).toBe(true);
    // Cost: each call's input priced from its usage (reads 0.1x, writes 1.25x), plus the output.
    const input = billed.reduce(
      (dollars, u) =>
        dollars +
        costOf(
          'claude-sonnet-4-6',
          {
            inputTokens: u.input_tokens,
            outputTokens: 0,
            cacheRead: u.cache_read_input_tokens,
            cacheWrite5m: u.cache_creation_input_tokens,
            cacheWrite1h: 0,
          },
          DEFAULT_PRICES,
        )!,
      0,
    );
    expect(state.usage.costUsd).toBeCloseTo(input + (state.usage.outputTokens * 15) / 1e6, 4);
    // Without caching it would have cost the whole prompt at the input price, every call.
    expect(state.usage.costUsd).toBeLessThan((prompt * 3) / 1e6);
    await handle.executeUpdate(endUpdate, { args: [{}] });
  });

  it("sends no breakpoints with promptCaching 'off', and 1-hour ones with '1h'; an unpriced model counts as unpriced", async () => {
    const off = await t.start({ system: SYSTEM, message: 'Hello', singleTurn: true, promptCaching: 'off' });
    t.fake.script(off.workflowId, [reply.text('Hi')]);
    const offResult = await off.result();
    expect(JSON.stringify(t.requests(off.workflowId)[0].body)).not.toContain('cache_control');
    expect(offResult.usage).toMatchObject({
      calls: 1,
      cacheCreationInputTokens: 0,
      cacheReadInputTokens: 0,
      costUsd: 0,
      unpricedCalls: 1,
    });

    const hour = await t.start({ system: SYSTEM, message: 'Hello', singleTurn: true, promptCaching: '1h' });
    t.fake.script(hour.workflowId, [reply.text('Hi')]);
    const hourResult = await hour.result();
    const body = t.requests(hour.workflowId)[0].body;
    expect(body.system).toEqual([
      { type: 'text', text: SYSTEM, cache_control: { type: 'ephemeral', ttl: '1h' } },
    ]);
    expect(body.messages[0].content).toEqual([
      { type: 'text', text: 'Hello', cache_control: { type: 'ephemeral', ttl: '1h' } },
    ]);
    // The system prompt was cached by the first test's conversations (5 minutes) under another
    // model; this model writes its own entry.
    expect(hourResult.usage.cacheCreationInputTokens).toBeGreaterThan(0);
  });
});

describe('determinism', () => {
  it('replays every run of this file', async () => {
    expect(await t.replayHistories()).toBeGreaterThanOrEqual(3);
  });
});
