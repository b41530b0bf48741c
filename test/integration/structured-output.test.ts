/**
 * Structured output and strict tools through the real workflow on a real dev server, against the
 * fake's checks of `output_config.format` and strict tool schemas: a valid final answer is parsed into
 * the result and the state; one that fails the schema is asked for once more (the model told why),
 * then stands as `invalid`; a refusal and a cut answer are statuses; an agent's zod `output` (with a
 * refinement the API cannot enforce) and a strict tool whose constraint the SDK's transform moved into
 * its description are still held to them on our side. No request the API would refuse is ever sent.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { z } from 'zod';
import { defineAgent } from '../../src/agents/define-agent';
import type { ConversationResult } from '../../src/api/conversation';
import { reply } from '../../src/testing/fake-claude';
import { defineTool } from '../../src/tools/define-tool';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';

const rating = {
  type: 'object',
  properties: {
    title: { type: 'string', minLength: 2 },
    stars: { type: 'integer', minimum: 1, maximum: 5 },
  },
  required: ['title', 'stars'],
} as const;
type Rating = { title: string; stars: number };

const refund = defineTool({
  name: 'refund',
  description: 'Refunds an order',
  input: z.object({ orderId: z.string(), amount: z.number().positive().max(500) }),
  effect: 'read',
  strict: true,
  run: async ({ orderId, amount }) => ({ refunded: orderId, amount }),
});

const Refunded = z
  .object({ orderId: z.string(), amount: z.number(), currency: z.string() })
  .refine((r) => r.currency === 'EUR', { message: 'currency must be EUR', path: ['currency'] });
const refunder = defineAgent({
  name: 'refunder',
  model: 'claude-sonnet-5-5',
  tools: [refund],
  promptCaching: 'off',
  output: Refunded,
});

let t: AgentEnv;
beforeAll(async () => {
  t = await startAgentEnv({ agents: [refunder] });
});
afterAll(async () => {
  await t?.teardown();
});

/** The hidden rule: the conversation never sent a request the API refused. */
function expectNothingRefused(workflowId: string): void {
  const refused = t.fake.requests.filter((r) => r.conversation === workflowId && r.invalid);
  expect(refused.map((r) => r.invalid)).toEqual([]);
}

/** A single-turn ad-hoc conversation asking for a rating, the model's answers scripted. */
async function rate(answers: Parameters<AgentEnv['fake']['script']>[1]): Promise<{
  workflowId: string;
  result: ConversationResult<Rating>;
}> {
  const handle = await t.start({
    message: 'Rate Dune',
    singleTurn: true,
    outputSchema: rating,
    promptCaching: 'off',
  });
  t.fake.script(handle.workflowId, answers);
  const result = (await handle.result()) as ConversationResult<Rating>;
  expectNothingRefused(handle.workflowId);
  return { workflowId: handle.workflowId, result };
}

async function finalState(workflowId: string) {
  return t.waitFor(t.env.client.workflow.getHandle(workflowId), (s) => s.status === 'completed');
}

describe('structured output', () => {
  it('a valid answer: sent as output_config.format (transformed), typed in the result and the state', async () => {
    const { workflowId, result } = await rate([reply.text('{"title":"Dune","stars":5}')]);
    expect(result).toMatchObject({ outputStatus: 'ok', output: { title: 'Dune', stars: 5 } });
    const stars: number = result.output!.stars; // typed
    expect(stars).toBe(5);
    expect(result).not.toHaveProperty('outputReason');

    const [request] = t.requests(workflowId);
    expect(request.body.output_config).toEqual({
      format: {
        type: 'json_schema',
        schema: {
          type: 'object',
          properties: {
            title: { type: 'string', description: '{minLength: 2}' },
            stars: { type: 'integer', description: '{minimum: 1, maximum: 5}' },
          },
          additionalProperties: false,
          required: ['title', 'stars'],
        },
      },
    });
    const state = await finalState(workflowId);
    expect(state.output).toEqual({ status: 'ok', value: { title: 'Dune', stars: 5 }, turn: 1, attempts: 1 });
  });

  it('an answer that fails the schema is asked for once more, telling the model why', async () => {
    const { workflowId, result } = await rate([
      reply.text('{"title":"Dune","stars":9}'),
      reply.text('{"title":"Dune","stars":4}'),
    ]);
    expect(result).toMatchObject({ outputStatus: 'ok', output: { title: 'Dune', stars: 4 } });
    const requests = t.requests(workflowId);
    expect(requests).toHaveLength(2);
    const correction = requests[1].body.messages.at(-1) as MessageParam;
    expect(correction).toEqual({
      role: 'user',
      content:
        'Your last answer was rejected: the answer does not match the schema: stars: Too big: expected number to be <=5. ' +
        'Answer again with only the JSON object, following the output schema and every constraint in its descriptions.',
    });
    expect(requests[1].body.output_config).toEqual(requests[0].body.output_config);
    const state = await finalState(workflowId);
    expect(state.output).toMatchObject({ status: 'ok', attempts: 2 });
    expect(state.meta.map((m) => m.outputCorrection ?? false)).toEqual([false, false, true, false]);
  });

  it('still invalid after the corrective retry: status invalid, with the reason; the text kept', async () => {
    const { workflowId, result } = await rate([
      reply.text('Dune: five stars'),
      reply.text('{"title":"D","stars":5}'),
    ]);
    expect(result).toMatchObject({
      status: 'completed',
      outputStatus: 'invalid',
      outputReason:
        'the answer does not match the schema: title: Too small: expected string to have >=2 characters',
      lastText: '{"title":"D","stars":5}',
    });
    expect(result).not.toHaveProperty('output');
    expect(t.requests(workflowId)).toHaveLength(2);
    expect((await finalState(workflowId)).output).toMatchObject({ status: 'invalid', attempts: 2, turn: 1 });
  });

  it('a refusal is a status, not a parse error (and not retried)', async () => {
    const details = { type: 'refusal', category: 'cyber', explanation: 'I cannot rate that.' };
    const { workflowId, result } = await rate([
      reply.stop('refusal', [{ type: 'text', text: 'No.' }], { stop_details: details }),
    ]);
    expect(result).toMatchObject({
      status: 'completed',
      outputStatus: 'refusal',
      outputReason: 'the model refused (cyber): I cannot rate that.',
    });
    expect(t.requests(workflowId)).toHaveLength(1);
  });

  it('an answer cut by max_tokens is a status, not a parse error', async () => {
    const { result } = await rate([reply.text('{"title":"Du', { stop_reason: 'max_tokens' })]);
    expect(result).toMatchObject({
      outputStatus: 'max_tokens',
      outputReason: 'the answer was cut by max_tokens (4096) before its JSON ended',
    });
  });
});

describe("an agent's output and a strict tool", () => {
  it('the strict tool is sent transformed; the constraint it lost is still refused; the zod output (refinement too) decides', async () => {
    const handle = await t.start({
      agent: 'refunder',
      message: 'Refund order A1, 900 euros',
      singleTurn: true,
    });
    const { workflowId } = handle;
    t.fake.script(workflowId, [
      reply.toolUse({ name: 'refund', input: { orderId: 'A1', amount: 900 }, id: 'toolu_big' }),
      reply.toolUse({ name: 'refund', input: { orderId: 'A1', amount: 400 }, id: 'toolu_ok' }),
      reply.text('{"orderId":"A1","amount":400,"currency":"USD"}'),
      reply.text('{"orderId":"A1","amount":400,"currency":"EUR"}'),
    ]);
    const result = (await handle.result()) as ConversationResult<z.infer<typeof Refunded>>;
    expectNothingRefused(workflowId);

    const requests = t.requests(workflowId);
    const [tool] = requests[0].body.tools as unknown as Array<Record<string, unknown>>;
    expect(tool).toMatchObject({
      name: 'refund',
      strict: true,
      input_schema: {
        properties: { amount: { type: 'number', description: '{exclusiveMinimum: 0, maximum: 500}' } },
        additionalProperties: false,
      },
    });
    // Every call of the tool loop carries the format.
    expect(requests.map((r) => Boolean(r.body.output_config?.format))).toEqual([true, true, true, true]);

    const results = t.toolResults(workflowId);
    expect(results[0]).toMatchObject({ tool_use_id: 'toolu_big', is_error: true });
    expect(JSON.stringify(results[0].content)).toMatch(/amount/);
    expect(results[1]).toMatchObject({ tool_use_id: 'toolu_ok' });
    expect(results[1].is_error).toBeFalsy();

    // The refinement (no JSON Schema can say it) failed once; the corrected answer passed.
    const correction = requests[3].body.messages.at(-1) as MessageParam;
    expect(correction.content).toMatch(/currency: currency must be EUR/);
    expect(result).toMatchObject({
      outputStatus: 'ok',
      output: { orderId: 'A1', amount: 400, currency: 'EUR' },
    });
  });

  it('every conversation replays against the current workflow code', async () => {
    expect(await t.replayHistories()).toBeGreaterThanOrEqual(6);
  });
});
