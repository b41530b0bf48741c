/**
 * Large tool libraries through the real workflow on a real dev server, against the fake's tool search:
 * an agent of 41 tools defers them (`defer_loading`), the model searches (regex), the fake answers with
 * `tool_reference`s to the matching deferred tools, the model calls a found tool, `runTool` runs it, and
 * the conversation goes on across a second turn with the search blocks sent back as they came (the fake
 * refuses a call of a deferred tool that no reference in the transcript loaded). An agent with an MCP
 * server defers its tools by default and finds them with BM25. No request the API would refuse is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { z } from 'zod';
import { defineAgent } from '../../src/agents/define-agent';
import { AgentClient } from '../../src/client';
import { reply } from '../../src/testing/fake-claude';
import { defineTool } from '../../src/tools/define-tool';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { lookup } from '../support/agents';
import { startHttpFixture, type HttpFixture } from '../support/mcp-fixture-server';

const ran: Array<{ city: string; day?: string }> = [];
const forecast = defineTool({
  name: 'get_forecast',
  description: 'The forecast for a city, today or a later day.',
  input: z.object({ city: z.string(), day: z.enum(['today', 'tomorrow']).optional() }),
  inputExamples: [{ city: 'Paris', day: 'tomorrow' }],
  effect: 'read',
  run: async (input) => {
    ran.push(input);
    return { city: input.city, day: input.day ?? 'today', sky: 'sunny' };
  },
});
const filler = Array.from({ length: 39 }, (_, i) =>
  defineTool({
    name: `records_${String(i).padStart(2, '0')}`,
    description: `Reads record set ${i} of the archive.`,
    input: z.object({ id: z.string() }),
    effect: 'read',
    run: async ({ id }) => ({ id, set: i }),
  }),
);
/** Pinned: loaded whatever the agent's size. */
const pinned = defineTool({ ...lookup, deferLoading: false });

const library = defineAgent({
  name: 'library',
  model: 'claude-sonnet-4-6',
  system: 'You answer with the tools you find.',
  tools: [pinned, forecast, ...filler],
  toolSearch: 'regex',
  promptCaching: 'off',
});

let http: HttpFixture;
let t: AgentEnv;
let client: AgentClient;
beforeAll(async () => {
  http = await startHttpFixture();
  const shop = defineAgent({
    name: 'shop_search',
    model: 'claude-sonnet-4-6',
    tools: [pinned],
    mcpServers: [
      {
        name: 'remote',
        transport: 'http',
        url: http.url,
        include: ['lookup_order', 'refund'],
        approval: 'never',
      },
    ],
    toolSearch: 'bm25',
  });
  t = await startAgentEnv({ agents: [library, shop] });
  client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
});
afterAll(async () => {
  await t?.teardown();
  await http?.close();
});

/** The hidden rule: the conversation never sent a request the API refused. */
function expectNothingRefused(workflowId: string): void {
  const refused = t.fake.requests.filter((r) => r.conversation === workflowId && r.invalid);
  expect(refused.map((r) => r.invalid)).toEqual([]);
}

async function idleAt(workflowId: string, turn: number) {
  return t.waitFor(
    t.env.client.workflow.getHandle(workflowId),
    (s) => s.status === 'idle' && s.turn === turn,
  );
}

type Tool = { name: string; type?: string; defer_loading?: boolean; input_examples?: unknown[] };

describe('tool search', () => {
  it('defers a large library, finds a tool by regex, runs it, and sends the search back unchanged next turn', async () => {
    const workflowId = `tool-search-regex-${process.pid}`;
    t.fake.script(workflowId, [
      reply.message(
        [
          { type: 'text', text: 'Let me find a forecast tool.' },
          { type: 'server_tool_use', name: 'tool_search_tool_regex', input: { query: 'forecast' } },
          { type: 'tool_use', id: 'toolu_forecast_1', name: 'get_forecast', input: { city: 'Paris' } },
        ],
        { stop_reason: 'tool_use' },
      ),
      reply.text('Sunny in Paris today.'),
      // Turn 2: the tool is loaded already (the reference is in the transcript): no new search.
      reply.toolUse({
        name: 'get_forecast',
        input: { city: 'Paris', day: 'tomorrow' },
        id: 'toolu_forecast_2',
      }),
      reply.text('Sunny tomorrow too.'),
    ]);
    await client.startConversation({ agent: 'library', message: 'Weather in Paris?' }, { workflowId });
    await idleAt(workflowId, 1);
    await client.sendMessage(workflowId, 'And tomorrow?');
    const state = await idleAt(workflowId, 2);

    const requests = t.requests(workflowId);
    expect(requests).toHaveLength(4);
    // Every request: 41 tools past the threshold, all deferred but the pinned one; the search tool last.
    for (const request of requests) {
      const tools = request.body.tools as Tool[];
      expect(tools).toHaveLength(42);
      expect(tools.at(-1)).toEqual({
        type: 'tool_search_tool_regex_20251119',
        name: 'tool_search_tool_regex',
      });
      expect(tools.filter((tool) => tool.defer_loading).map((tool) => tool.name)).toHaveLength(40);
      expect(tools.find((tool) => tool.name === 'lookup')?.defer_loading).toBeUndefined();
      expect(tools.find((tool) => tool.name === 'get_forecast')?.input_examples).toEqual([
        { city: 'Paris', day: 'tomorrow' },
      ]);
    }
    // The tool ran, each call once.
    expect(ran).toEqual([{ city: 'Paris' }, { city: 'Paris', day: 'tomorrow' }]);
    expect(t.toolResults(workflowId).map((r) => r.is_error ?? false)).toEqual([false, false]);

    // The answer as the fake streamed it: the search, its result (whole), the call of the found tool.
    const answer = requests[1].body.messages[1] as MessageParam;
    expect(answer.role).toBe('assistant');
    const blocks = answer.content as unknown as Array<Record<string, unknown>>;
    expect(blocks.map((b) => b.type)).toEqual([
      'text',
      'server_tool_use',
      'tool_search_tool_result',
      'tool_use',
    ]);
    expect(blocks[1]).toMatchObject({ name: 'tool_search_tool_regex', input: { query: 'forecast' } });
    expect(blocks[2]).toEqual({
      type: 'tool_search_tool_result',
      tool_use_id: blocks[1].id,
      content: {
        type: 'tool_search_tool_search_result',
        tool_references: [{ type: 'tool_reference', tool_name: 'get_forecast' }],
      },
    });
    // Sent back unchanged on every later request, the second turn's included.
    for (const later of requests.slice(2)) expect(later.body.messages[1]).toEqual(answer);
    expect(state.messages[1]).toEqual(answer);
    expectNothingRefused(workflowId);
  });

  it("defers an MCP server's tools by default; BM25 finds one and the server runs it", async () => {
    const workflowId = `tool-search-mcp-${process.pid}`;
    t.fake.script(workflowId, [
      reply.message(
        [
          { type: 'server_tool_use', name: 'tool_search_tool_bm25', input: { query: 'look up an order' } },
          { type: 'tool_use', id: 'toolu_order_1', name: 'remote__lookup_order', input: { orderId: 'A-7' } },
        ],
        { stop_reason: 'tool_use' },
      ),
      reply.text('Order A-7 has shipped.'),
    ]);
    await client.startConversation({ agent: 'shop_search', message: 'Where is order A-7?' }, { workflowId });
    await idleAt(workflowId, 1);

    const [first, second] = t.requests(workflowId);
    const tools = first.body.tools as Tool[];
    expect(tools.map((tool) => [tool.name, tool.defer_loading ?? false])).toEqual([
      ['lookup', false],
      ['remote__lookup_order', true],
      ['remote__refund', true],
      ['tool_search_tool_bm25', false],
    ]);
    const result = (second.body.messages[1].content as unknown as Array<Record<string, unknown>>)[1];
    expect(result).toMatchObject({
      type: 'tool_search_tool_result',
      content: {
        tool_references: expect.arrayContaining([
          { type: 'tool_reference', tool_name: 'remote__lookup_order' },
        ]),
      },
    });
    expect(JSON.stringify(t.toolResults(workflowId)[0].content)).toContain('shipped');
    expectNothingRefused(workflowId);
  });
});

it('replays every conversation it ran', async () => {
  expect(await t.replayHistories()).toBeGreaterThanOrEqual(2);
});
