/**
 * A fork keeps what scopes its origin (second probe, findings 3, 11, 12 and 13): it runs for the origin's
 * tenant with the origin's settings (tools, system prompt, limits), and another tenant is refused; it
 * gets what is left of the origin's budget, and a fork of a conversation that spent its budget is
 * refused until the budget is raised; it records who forked it and when, and the audit shows it; a chain
 * of forks does not grow its ids (fork 68 of a 987-character id was a 500). Real dev server, worker, fake
 * Messages API and ops server.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { settingsQuery } from '../../src/api/conversation';
import { AgentClient, AgentError, forkId, toCsv } from '../../src/client';
import { reply } from '../../src/testing/fake-claude';
import { OperatorStore } from '../../src/ops/identity/operator-store';
import { createOpsServer } from '../../src/ops/server';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { call, TOKEN } from '../support/ops-http';

let t: AgentEnv;
let client: AgentClient;
beforeAll(async () => {
  t = await startAgentEnv();
  client = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
}, 120_000);
afterAll(async () => {
  await t?.teardown();
});

const settingsOf = (workflowId: string) => t.env.client.workflow.getHandle(workflowId).query(settingsQuery);
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (err: unknown) => err as AgentError,
  );

describe('a fork of a tenant’s conversation', () => {
  const origin = `fork-acme-${process.pid}`;
  beforeAll(async () => {
    t.fake.script(origin, [reply.text('Noted.')]);
    await client.startConversation(
      {
        model: 'claude-sonnet-5-5',
        tenant: 'acme',
        system: 'You work for Acme.',
        tools: ['get_weather'],
        message: 'Remember the blue file.',
      },
      { workflowId: origin },
    );
    await t.waitFor(t.env.client.workflow.getHandle(origin), (s) => s.status === 'idle');
  });

  it('runs for the same tenant, with the same tools and system prompt', async () => {
    const workflowId = forkId(origin);
    t.fake.script(workflowId, [reply.text('The blue one.')]);
    const started = await client.fork(origin, { at: 1, message: 'Which file?', workflowId });
    await t.waitFor(t.env.client.workflow.getHandle(started.workflowId), (s) => s.status === 'idle');
    expect(await settingsOf(started.workflowId)).toMatchObject({
      tenant: 'acme',
      system: 'You work for Acme.',
      tools: ['get_weather'],
      model: 'claude-sonnet-5-5',
    });
    const [request] = t.requests(started.workflowId);
    const [originRequest] = t.requests(origin);
    expect(request.body.system).toEqual(originRequest.body.system);
    expect(request.body.tools).toEqual(originRequest.body.tools);
  });

  it('for another tenant is refused, and nothing starts', async () => {
    const failure = await refusal(
      client.fork(origin, {
        at: 1,
        message: 'Which file?',
        input: { tenant: 'globex' },
        workflowId: `${origin}-x`,
      }),
    );
    expect(failure).toBeInstanceOf(AgentError);
    expect(failure?.code).toBe('invalid');
    expect(failure?.message).toMatch(/works for its origin's tenant \(acme\)/);
    await expect(t.env.client.workflow.getHandle(`${origin}-x`).describe()).rejects.toThrow();
  });
});

describe('a fork and the budget', () => {
  const origin = `fork-budget-${process.pid}`;
  beforeAll(async () => {
    t.fake.script(origin, [reply.text('A long answer that costs more than one token.')]);
    await client.startConversation(
      { model: 'claude-sonnet-5-5', budget: { tokens: 1 }, message: 'Spend it.' },
      { workflowId: origin },
    );
    // Its one answer spent more than the budget: the next turn would park on it.
    await t.waitFor(
      t.env.client.workflow.getHandle(origin),
      (s) => s.status === 'idle' && (s.budget?.spent.tokens ?? 0) > 1,
    );
  });

  it('of a conversation that spent its budget is refused', async () => {
    const failure = await refusal(client.fork(origin, { at: 0 }));
    expect(failure?.code).toBe('refused');
    expect(failure?.message).toMatch(/has spent its budget: raise it/);
  });

  it('gets what is left of it once raised, and cannot ask for more', async () => {
    const state = await client.getState(origin);
    const spent = state.budget!.spent.tokens;
    await client.raiseBudget(origin, { tokens: spent + 1000, by: 'ops' });
    const over = await refusal(client.fork(origin, { at: 0, input: { budget: { tokens: 5000 } } }));
    expect(over?.code).toBe('invalid');
    expect(over?.message).toMatch(/stays within what its origin has left \(tokens: 1000\)/);
    const workflowId = forkId(origin);
    t.fake.script(workflowId, [reply.text('Within it.')]);
    await client.fork(origin, { at: 0, workflowId });
    expect((await settingsOf(workflowId)).budget).toEqual({ tokens: 1000 });
  });
});

describe('a fork is an operator action', () => {
  const origin = `fork-audit-${process.pid}`;
  let base: string;
  let aliceToken: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const operators = new OperatorStore(join(mkdtempSync(join(tmpdir(), 'fork-audit-')), 'operators.json'));
    aliceToken = operators.add('alice', 'approver', []);
    const ops = await createOpsServer({
      agent: client,
      token: TOKEN,
      namespace: 'default',
      identity: { operators },
    });
    base = await ops.listen({ host: '127.0.0.1', port: 0 });
    close = () => ops.close();
    t.fake.script(origin, [reply.text('Noted.')]);
    await client.startConversation(
      { model: 'claude-sonnet-5-5', message: 'Remember the blue file.' },
      { workflowId: origin },
    );
    await t.waitFor(t.env.client.workflow.getHandle(origin), (s) => s.status === 'idle');
  });
  afterAll(() => close());

  const forkAs = async (token: string, body: unknown) => {
    const answer = await call(base, `/api/conversations/${encodeURIComponent(origin)}/fork`, {
      auth: false,
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    expect(answer.status).toBe(200);
    return (JSON.parse(answer.text) as { workflowId: string }).workflowId;
  };

  it('records who forked it and when, through the ops API and from code, at any message', async () => {
    const since = new Date();
    // At the answer (the transcript carried) and at the first message (nothing carried: answered again).
    const byAlice = await forkAs(aliceToken, { at: 1, message: 'Which file?' });
    const atFirst = await forkAs(TOKEN, { at: 0 });
    const fromCode = forkId(origin);
    await client.fork(origin, { at: 1, message: 'Which one?', workflowId: fromCode, by: 'nightly-job' });
    const unnamed = forkId(origin);
    await client.fork(origin, { at: 1, message: 'And?', workflowId: unnamed });
    const until = new Date(Date.now() + 1000);
    const expected = [
      [byAlice, 'alice', 1],
      [atFirst, 'admin:ops-token', 0],
      [fromCode, 'nightly-job', 1],
      [unnamed, undefined, 1],
    ] as const;
    for (const [id, by, index] of expected) {
      const { forkedFrom } = await client.getState(id);
      expect(forkedFrom).toEqual({ workflowId: origin, index, ...(by && { by }), at: expect.any(String) });
      expect(Date.parse(forkedFrom!.at!)).toBeGreaterThanOrEqual(since.getTime() - 1000);
      expect(Date.parse(forkedFrom!.at!)).toBeLessThan(until.getTime());
    }

    const { rows, unreadable } = await client.audit({ since: new Date(since.getTime() - 1000) });
    expect(unreadable).toEqual([]);
    const forks = rows.filter((r) => r.action === 'fork' && r.forkedFrom?.workflowId === origin);
    expect(forks.map((r) => [r.workflowId, r.decidedBy, r.forkedFrom?.index]).sort()).toEqual(
      expected.map(([id, by, index]) => [id, by ?? 'unknown', index]).sort(),
    );
    expect(forks[0]).toMatchObject({ toolUseId: null, tool: null, decision: null, final: true });
    const csv = toCsv(forks).split('\r\n');
    expect(csv[0].endsWith(',action,forkedFrom')).toBe(true);
    expect(csv[1]).toContain(`"fork","{""workflowId"":""${origin}""`);
  });
});

describe('fork ids', () => {
  it('do not grow along a chain of forks, and fit a workflow id', () => {
    let id = 'x'.repeat(987);
    for (let i = 0; i < 100; i++) {
      id = forkId(id);
      expect(id.length).toBeLessThanOrEqual(1000);
      expect(id).toMatch(/^x+\.fork-[0-9a-f]{8}$/);
    }
    expect(forkId('conv-1.fork-0123abcd')).toMatch(/^conv-1\.fork-[0-9a-f]{8}$/);
  });

  it('a fork of a fork of a 987-character id starts', async () => {
    const origin = 'o'.repeat(987);
    t.fake.script(origin, [reply.text('One.')]);
    await client.startConversation({ model: 'claude-sonnet-5-5', message: 'Hi' }, { workflowId: origin });
    await t.waitFor(t.env.client.workflow.getHandle(origin), (s) => s.status === 'idle');
    let from = origin;
    for (let i = 0; i < 3; i++) {
      const workflowId = forkId(from);
      t.fake.script(workflowId, [reply.text('Again.')]);
      await client.fork(from, { at: 1, message: `Again ${i}`, workflowId });
      expect(workflowId.length).toBeLessThanOrEqual(1000);
      await t.waitFor(t.env.client.workflow.getHandle(workflowId), (s) => s.status === 'idle');
      from = workflowId;
    }
  });
});
