/**
 * One person is one approver, however the name is written or labelled (second probe, findings 2 and
 * 9): `OPS_TOKEN` with two `x-ops-operator` labels is one credential, one person; a look-alike of a name
 * (fullwidth forms, case, zero-width space, soft hyphen, zero-width joiner, a Cyrillic `е`, a Latin `ɑ`)
 * is the same person in the workflow's four-eyes rule (by update and by signal) and is refused as a new
 * operator beside the name it copies. Real dev server, worker, fake Messages API and ops server.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { decideToolCallSignal, decideToolCallUpdate } from '../../src/api/approvals';
import { stateQuery } from '../../src/api/conversation';
import fc from 'fast-check';
import { lookalikePersonOf, personOf } from '../../src/api/person';
import { AgentClient } from '../../src/client';
import { reply } from '../../src/testing/fake-claude';
import { OperatorStore, OperatorStoreError } from '../../src/ops/identity/operator-store';
import { createOpsServer } from '../../src/ops/server';
import { defineTool } from '../../src/tools/define-tool';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { expectRefused } from '../support/updates';
import { call, TOKEN } from '../support/ops-http';

/** Names the probe approved a two-person call with, beside `alice`. */
const ALICE_LOOKALIKES = [
  'ａlice', // fullwidth a
  'ALICE',
  'ali\u200bce', // zero-width space
  'al\u00adice', // soft hyphen
  'ali\u200dce', // zero-width joiner
  '\u0430lice', // Cyrillic a
  'alic\u0435', // Cyrillic e
  '\u0251lice', // Latin alpha
  ' alice ',
  // Beyond a hand table, from Unicode's confusables data (TR39):
  '\ua4eelice', // Lisu A
  '\u13aalice', // Cherokee A
  '\u13aaLICE',
  'a\ua4e1ice', // Lisu L
  'alic\u04bd', // Cyrillic abkhasian che, read as e
];

describe('personOf', () => {
  it.each(ALICE_LOOKALIKES)('%j is alice', (name) => {
    expect(personOf(name)).toBe(personOf('alice'));
  });

  it('OPS_TOKEN is one person, labelled or not', () => {
    expect(
      new Set(['admin:ops-token', 'admin:ops-token/a', 'admin:ops-token/b', 'ADMIN:OPS-TOKEN/x']).size,
    ).toBe(4);
    expect(
      new Set(
        ['admin:ops-token', 'admin:ops-token/a', 'admin:ops-token/b', 'ADMIN:OPS-TOKEN/x'].map(personOf),
      ).size,
    ).toBe(1);
  });

  it('TR39: letters of other scripts read as the Latin letter they look like', () => {
    expect(personOf('b\u0585b')).toBe(personOf('bob')); // Armenian o
    expect(personOf('\u13d9\u13aa')).toBe(personOf('va')); // Cherokee
    expect(personOf('\ua4d1\ua4f0\ua4e2')).toBe(personOf('pes')); // Lisu
  });

  it('merges every pair of names the rule before it merged (decisions refused then are refused now)', () => {
    const letters = [...'абсеіјкмнорѕхузъьαβεηικνορτυχγɑɡɩıȷɪʏʀɴʟ01ilaeoxyzéꓮᎪ'];
    const name = fc.array(fc.constantFrom(...letters), { minLength: 1, maxLength: 6 }).map((l) => l.join(''));
    fc.assert(
      fc.property(name, fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), (a, upper) => {
        const b = [...a].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('');
        const lookalike = [...a].map((c) => ({ і: 'i', о: 'o', ο: 'o', '0': 'o' })[c] ?? c).join('');
        for (const other of [b, lookalike])
          if (lookalikePersonOf(a) === lookalikePersonOf(other)) expect(personOf(a)).toBe(personOf(other));
      }),
      { numRuns: 2000, seed: 39 },
    );
  });

  it('different people stay different', () => {
    expect(new Set(['alice', 'bob', 'carol', 'par0', 'alicia'].map(personOf)).size).toBe(5);
    expect(personOf('ｐａｒ0')).toBe(personOf('par0'));
  });
});

describe('the operator store', () => {
  it.each(['ａlice', 'Alice', '\u0430lice', 'ALICE', '\ua4eelice', '\u13aalice'])(
    'refuses %j beside alice',
    (name) => {
      const store = new OperatorStore(join(mkdtempSync(join(tmpdir(), 'one-person-')), 'operators.json'));
      store.add('alice', 'approver', []);
      expect(() => store.add(name, 'approver', [])).toThrow(OperatorStoreError);
      expect(() => store.add(name, 'approver', [])).toThrow(/reads as the existing operator alice/);
      expect(store.list().map((o) => o.name)).toEqual(['alice']);
    },
  );
});

describe('four-eyes', () => {
  const wires: unknown[] = [];
  const wire = defineTool({
    name: 'wire',
    description: 'Sends money',
    input: z.object({ to: z.string(), amount: z.number().positive() }),
    effect: 'write',
    approvalsRequired: 2,
    run: async (input) => {
      wires.push(input);
      return { sent: input.amount };
    },
  });
  let t: AgentEnv;
  let client: AgentClient;
  let ops: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    t = await startAgentEnv({ tools: [wire] });
    client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
    ops = await createOpsServer({ agent: client, token: TOKEN, namespace: 'default' });
    base = await ops.listen({ host: '127.0.0.1', port: 0 });
  }, 120_000);
  afterAll(async () => {
    await ops?.close();
    await t?.teardown();
  });

  async function wireWaiting(to: string) {
    const handle = await t.start({ message: `Wire ${to}`, tools: ['wire'], singleTurn: true });
    const toolUseId = `toolu_wire_${handle.workflowId.slice(-8).replace(/[^a-zA-Z0-9]/g, '')}`;
    t.fake.script(handle.workflowId, [
      reply.toolUse({ name: 'wire', input: { to, amount: 900 }, id: toolUseId }),
      reply.text('Sent.'),
    ]);
    await t.waitFor(handle, (s) => s.pendingApprovals.length === 1);
    return { handle, toolUseId };
  }

  it('OPS_TOKEN under two labels is one approver: the second approval is refused, nothing runs', async () => {
    const { handle, toolUseId } = await wireWaiting('acct-1');
    const decide = (label: string) =>
      call(base, `/api/conversations/${encodeURIComponent(handle.workflowId)}/decisions`, {
        body: JSON.stringify({ toolUseId, decision: 'approve' }),
        headers: { 'x-ops-operator': label },
      });
    expect((await decide('a')).status).toBe(200);
    const second = await decide('b');
    expect(second.status).toBeGreaterThanOrEqual(400);
    expect(second.text).toMatch(/already approved .*the same person counts once/);
    const state = await handle.query(stateQuery, { from: -1 });
    expect(state.pendingApprovals[0].approvals?.map((a) => a.decidedBy)).toEqual(['admin:ops-token/a']);
    expect(wires).toEqual([]);
    await handle.terminate('test over');
  });

  it('a look-alike of alice is alice, by update and by signal; bob is the second person and it runs once', async () => {
    const { handle, toolUseId } = await wireWaiting('acct-2');
    await client.decide(handle.workflowId, { toolUseId, decision: 'approve', decidedBy: 'alice' });
    for (const name of ALICE_LOOKALIKES)
      await expectRefused(
        handle.executeUpdate(decideToolCallUpdate, {
          args: [{ toolUseId, decision: 'approve', decidedBy: name }],
        }),
        /already approved .*the same person counts once/,
      );
    for (const name of ALICE_LOOKALIKES)
      await handle.signal(decideToolCallSignal, { toolUseId, decision: 'approve', decidedBy: name });
    const refused = await t.waitFor(handle, (s) => s.refusedDecisions.length === ALICE_LOOKALIKES.length);
    for (const r of refused.refusedDecisions) expect(r.error).toMatch(/already approved/);
    expect(refused.pendingApprovals[0].approvals).toHaveLength(1);
    expect(wires).toEqual([]);
    await client.decide(handle.workflowId, { toolUseId, decision: 'approve', decidedBy: 'bob' });
    await handle.result();
    expect(wires).toEqual([{ to: 'acct-2', amount: 900 }]);
  });
});
