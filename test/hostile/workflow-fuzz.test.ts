/**
 * A generated fuzz pass over what reaches a conversation's updates and signals: JSON values of every
 * shape, decision-like and message-like objects with fields of the wrong types and sizes, and raw bytes
 * under every encoding. The property: the conversation never fails a workflow task, keeps answering its
 * state query (small), keeps its pending call, and ends cleanly afterwards.
 *
 * Fixed seed in CI; `HOSTILE_FUZZ_RUNS=2000 npx jest test/hostile/workflow-fuzz.test.ts` (or
 * `npm run fuzz`) for a longer run, `HOSTILE_FUZZ_SEED` for another seed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { endUpdate, stateQuery } from '../../src/api/conversation';
import { reply } from '../../src/testing/fake-claude';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import {
  enc,
  json,
  queryRaw,
  signalRaw,
  taskFailures,
  updateRaw,
  type RawPayload,
} from '../support/workflow-raw';

const RUNS = Number(process.env.HOSTILE_FUZZ_RUNS ?? 60);
const SEED = Number(process.env.HOSTILE_FUZZ_SEED ?? 42);

let t: AgentEnv;
beforeAll(async () => {
  t = await startAgentEnv();
});
afterAll(async () => {
  await t?.teardown();
});

/** Strings of every kind, now and then a large one. */
const text = fc.oneof(
  { weight: 8, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.nat({ max: 600_000 }).map((n) => 'x'.repeat(n)) },
);
const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 4 }), text, fc.constant(null));
const decisionLike = fc.record(
  {
    toolUseId: fc.oneof(text, anyValue),
    decision: fc.oneof(fc.constantFrom('approve', 'reject', 'edit', 'APPROVE', ''), anyValue),
    decidedBy: fc.oneof(text, anyValue),
    reason: fc.oneof(text, anyValue),
    input: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), anyValue, { maxKeys: 4 }), anyValue),
    decisions: fc.array(anyValue, { maxLength: 3 }),
  },
  { requiredKeys: [] },
);
const blockLike = fc.record(
  {
    type: fc.oneof(fc.constantFrom('text', 'image', 'document', 'tool_result', 'thinking'), text),
    text: anyValue,
    source: fc.oneof(
      fc.record({ type: fc.constantFrom('base64', 'url', 'file', 'x'), data: anyValue }),
      anyValue,
    ),
  },
  { requiredKeys: [] },
);
const messageLike = fc.record(
  { content: fc.oneof(text, fc.array(fc.oneof(blockLike, anyValue), { maxLength: 3 }), anyValue) },
  { requiredKeys: [] },
);
/** A payload as a hostile client may send it: JSON of any of the above, or bytes under any encoding. */
const payload: fc.Arbitrary<RawPayload> = fc.oneof(
  { weight: 6, arbitrary: fc.oneof(decisionLike, messageLike, anyValue).map((v) => json(v)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          'json/plain',
          'binary/plain',
          'binary/null',
          'json/protobuf',
          'binary/encrypted',
          'x/y',
          '',
        ),
        fc.uint8Array({ maxLength: 64 }),
      )
      .map(([encoding, data]) => ({ metadata: { encoding: enc(encoding) }, data })),
  },
);

const target = fc.constantFrom(
  { kind: 'update', name: 'decideToolCall' },
  { kind: 'update', name: 'sendMessage' },
  { kind: 'update', name: 'resume' },
  { kind: 'signal', name: 'decideToolCallSignal' },
  { kind: 'query', name: 'state' },
) as fc.Arbitrary<{ kind: 'update' | 'signal' | 'query'; name: string }>;

async function send(workflowId: string, to: { kind: string; name: string }, payloads: RawPayload[]) {
  const client = t.env.client;
  if (to.kind === 'signal') await signalRaw(client, workflowId, to.name, payloads);
  else if (to.kind === 'update') await updateRaw(client, workflowId, to.name, payloads);
  // A query may be refused (its handler throws on nonsense); it must not harm the conversation.
  else await queryRaw(client, workflowId, to.name, payloads);
}

describe('fuzzed updates, signals and queries never wedge a conversation', () => {
  it(`${RUNS} generated inputs (seed ${SEED})`, async () => {
    const handle = await t.start({
      message: 'Save it.',
      tools: ['save_article'],
      limits: { maxTurns: 1000 },
    });
    t.fake.script(handle.workflowId, [
      reply.toolUse({
        name: 'save_article',
        input: { abstract: 'A', meta: { word_count: 1, review: 'ok' } },
      }),
      reply.text('Saved.'),
    ]);
    const { pendingApprovals } = await t.waitFor(handle, (s) => s.pendingApprovals.length === 1);
    await fc.assert(
      fc.asyncProperty(target, fc.array(payload, { minLength: 0, maxLength: 2 }), async (to, payloads) => {
        await send(handle.workflowId, to, payloads);
        const state = await handle.query(stateQuery, { from: -2 });
        // Still waiting for the operator's decision on the one real call; nothing stored grew past a bound.
        expect(state.pendingApprovals.map((p) => p.toolUseId)).toEqual([pendingApprovals[0].toolUseId]);
        expect(JSON.stringify(state.refusedDecisions).length).toBeLessThan(50 * 10_000);
        expect(JSON.stringify({ ...state, messages: [] }).length).toBeLessThan(1024 * 1024);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    expect(await taskFailures(handle)).toEqual([]);
    await handle.executeUpdate(endUpdate, { args: [{ reason: 'fuzz over' }] });
    expect(await handle.result()).toMatchObject({ status: 'completed', endReason: 'fuzz over' });
    expect(await taskFailures(handle)).toEqual([]);
  }, 600_000);
});
