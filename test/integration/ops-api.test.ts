/**
 * The ops server's JSON API over real HTTP, and the `agent` CLI as a real process, against a real dev
 * server, worker (serving two agents, one the other's sub-agent) and fake Messages API.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { defineAgent } from '../../src/agents/define-agent';
import { stateQuery } from '../../src/api/conversation';
import { AgentClient } from '../../src/client';
import { reply } from '../../src/testing/fake-claude';
import { OperatorStore } from '../../src/ops/identity/operator-store';
import { createOpsServer, type ApprovalsResponse, type ConversationsResponse } from '../../src/ops/server';
import { listArticles } from '../../src/tools/save-article';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { fileReport, parkedOnBudget, scriptSubAgentCall } from '../support/agents';
import { cliArgv } from '../support/cli-runs';

const TOKEN = 'test-token-0123456789abcdef';
const tokens: Record<string, string> = {};
let t: AgentEnv;
let ops: FastifyInstance;
let base: string;
let agent: AgentClient;

const desk = defineAgent({ name: 'desk', model: 'claude-opus-4-1', subAgents: ['clerk'] });
const clerk = defineAgent({ name: 'clerk', model: 'claude-haiku-4-5', tools: [fileReport] });

beforeAll(async () => {
  t = await startAgentEnv({ agents: [desk, clerk] });
  agent = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
  // Operators sign in with their own tokens: who decides is the token's operator.
  const operators = new OperatorStore(join(mkdtempSync(join(tmpdir(), 'ops-api-')), 'operators.json'));
  for (const [name, role] of [
    ['ivy', 'approver'],
    ['Zoë', 'approver'],
    ['vera', 'viewer'],
  ] as const)
    tokens[name] = operators.add(name, role, []);
  ops = await createOpsServer({ agent, token: TOKEN, namespace: 'default', identity: { operators } });
  base = await ops.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await ops?.close();
  await t?.teardown();
});

/** A request with the operator's own token (`operator`, percent-encoded), else the admin OPS_TOKEN. */
const api = (path: string, init: RequestInit & { operator?: string } = {}) =>
  fetch(`${base}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${init.operator ? tokens[decodeURIComponent(init.operator)] : TOKEN}`,
      ...(init.body ? { 'content-type': 'application/json' } : {}),
      ...(init.headers as Record<string, string>),
    },
  });

async function awaitingSave(abstract: string, singleTurn = true) {
  const handle = await t.start({ message: 'Save', tools: ['save_article'], singleTurn });
  const id = `toolu_${handle.workflowId.slice(-10).replace(/[^a-zA-Z0-9]/g, '')}`;
  t.fake.script(handle.workflowId, [
    reply.toolUse({ name: 'save_article', input: { abstract, meta: { word_count: 10, review: 'ok' } }, id }),
    reply.text('Done.'),
  ]);
  await t.waitFor(handle, (s) => s.status === 'awaiting_approval');
  return { handle, id };
}

describe('ops API', () => {
  it('requires the bearer token on every API route', async () => {
    for (const path of ['/api/session', '/api/approvals', '/api/conversations', '/api/conversations/x']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'unauthorized' });
      expect((await fetch(`${base}${path}`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
        401,
      );
    }
    for (const route of ['decisions', 'budget', 'compact']) {
      const post = await fetch(`${base}/api/conversations/x/${route}`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(post.status).toBe(401);
    }
    expect((await api('/api/session')).status).toBe(200);
  });

  it('serves the page with a strict CSP and refuses cross-origin requests', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(page.headers.get('access-control-allow-origin')).toBeNull();
    const cross = await api('/api/session', { headers: { origin: 'https://evil.example' } });
    expect(cross.status).toBe(403);
  });

  it('lists pending approvals, approves with the operator as decidedBy, validates bodies', async () => {
    const { handle, id } = await awaitingSave('From the ops API');
    const { approvals } = (await (await api('/api/approvals')).json()) as {
      approvals: Array<Record<string, unknown>>;
    };
    expect(approvals).toContainEqual(
      expect.objectContaining({
        workflowId: handle.workflowId,
        toolUseId: id,
        name: 'save_article',
        model: 'claude-sonnet-5-5',
      }),
    );

    const path = `/api/conversations/${handle.workflowId}/decisions`;
    // A viewer reads the queue but cannot decide.
    const viewer = await api(path, {
      method: 'POST',
      operator: 'vera',
      body: JSON.stringify({ toolUseId: id, decision: 'approve' }),
    });
    expect(viewer.status).toBe(403);
    expect(((await viewer.json()) as { message: string }).message).toMatch(/approver role/);
    const bad = await api(path, {
      method: 'POST',
      operator: 'ivy',
      body: JSON.stringify({ toolUseId: id, decision: 'maybe' }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/decision/);
    const smuggled = await api(path, {
      method: 'POST',
      operator: 'ivy',
      body: JSON.stringify({ toolUseId: id, decision: 'approve', decidedBy: 'mallory' }),
    });
    expect(smuggled.status).toBe(400);
    const schema = await api(path, {
      method: 'POST',
      operator: 'ivy',
      body: JSON.stringify({ toolUseId: id, decision: 'edit', input: { abstract: '' } }),
    });
    expect(schema.status).toBe(422);
    expect(((await schema.json()) as { message: string }).message).toMatch(
      /does not match the save_article schema/,
    );
    const unknown = await api(`/api/conversations/nope-${Date.now()}/decisions`, {
      method: 'POST',
      operator: 'ivy',
      body: JSON.stringify({ toolUseId: id, decision: 'approve' }),
    });
    expect(unknown.status).toBe(404);

    const ok = await api(path, {
      method: 'POST',
      operator: 'ivy',
      body: JSON.stringify({ toolUseId: id, decision: 'approve' }),
    });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { decision: Record<string, unknown> }).decision).toMatchObject({
      decidedBy: 'ivy',
      decision: 'approve',
    });
    await handle.result();
    expect((await listArticles(t.dataDir)).filter((a) => a.workflowId === handle.workflowId)).toHaveLength(1);
  });

  it('lists conversations with status, model and tokens, and shows one', async () => {
    const handle = await t.start({ message: 'Hello' });
    t.fake.script(handle.workflowId, [reply.text('Hi!')]);
    await t.waitFor(handle, (s) => s.status === 'idle');
    // Visibility is eventually consistent: poll briefly.
    let row: Record<string, unknown> | undefined;
    for (let i = 0; i < 40 && !row?.usage; i++) {
      const { conversations } = (await (await api('/api/conversations?status=idle')).json()) as {
        conversations: Array<Record<string, unknown>>;
      };
      row = conversations.find((c) => c.workflowId === handle.workflowId);
      if (!row) await new Promise((r) => setTimeout(r, 100));
    }
    expect(row).toMatchObject({
      status: 'idle',
      agent: null,
      model: 'claude-sonnet-5-5',
      usage: expect.objectContaining({ calls: 1 }),
    });
    const one = (await (await api(`/api/conversations/${handle.workflowId}`)).json()) as Record<
      string,
      unknown
    >;
    expect(one).toMatchObject({ workflowId: handle.workflowId, status: 'idle', messageCount: 2 });
    expect((await api('/api/conversations?status=bogus')).status).toBe(400);
    expect((await api(`/api/conversations/missing-${Date.now()}`)).status).toBe(404);
    await handle.terminate();
  });

  it("an agent's conversation and its sub-agent's: the list, each state and the queue name the agents and link them", async () => {
    const parentId = `ops-desk-${Date.now()}`;
    const childId = scriptSubAgentCall(
      t.fake,
      parentId,
      { agent: 'clerk', task: 'File Q3', toolUseId: 'toolu_clerk', answer: 'Filed by the clerk.' },
      [reply.toolUse({ name: 'file_report', input: { title: 'Q3' }, id: 'toolu_q3' }), reply.text('Filed.')],
    );
    await agent.startConversation(
      { agent: 'desk', message: 'File Q3', singleTurn: true },
      { workflowId: parentId },
    );
    await t.waitFor(t.env.client.workflow.getHandle(childId), (s) => s.pendingApprovals.length === 1);

    let rows: ConversationsResponse['conversations'] = [];
    for (let i = 0; i < 40 && rows.length < 2; i++) {
      const { conversations } = (await (await api('/api/conversations')).json()) as ConversationsResponse;
      rows = conversations.filter((c) => c.workflowId.startsWith(parentId));
      if (rows.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows.map((r) => [r.workflowId, r.agent, r.model])).toEqual([
      [childId, 'clerk', 'claude-haiku-4-5'],
      [parentId, 'desk', 'claude-opus-4-1'],
    ]);

    const parent = (await (await api(`/api/conversations/${parentId}`)).json()) as Record<string, unknown>;
    expect(parent).toMatchObject({
      agent: {
        name: 'desk',
        fingerprint: desk.fingerprint,
        changes: [],
        tools: [{ name: 'clerk', source: 'agent' }],
      },
      subAgents: [{ toolUseId: 'toolu_clerk', workflowId: childId, agent: 'clerk', status: 'running' }],
    });
    expect(parent.parent).toBeUndefined();
    const child = (await (await api(`/api/conversations/${childId}`)).json()) as Record<string, unknown>;
    expect(child).toMatchObject({
      agent: { name: 'clerk', tools: [{ name: 'file_report', source: 'tool', effect: 'write' }] },
      parent: { workflowId: parentId, toolUseId: 'toolu_clerk', agent: 'desk', depth: 1 },
    });

    const { approvals } = (await (await api('/api/approvals')).json()) as ApprovalsResponse;
    expect(approvals.find((a) => a.toolUseId === 'toolu_q3')).toMatchObject({
      workflowId: childId,
      agent: 'clerk',
      parent: { workflowId: parentId, toolUseId: 'toolu_clerk' },
    });
    const decided = await api(`/api/conversations/${childId}/decisions`, {
      method: 'POST',
      operator: 'ivy',
      body: JSON.stringify({ toolUseId: 'toolu_q3', decision: 'approve' }),
    });
    expect(decided.status).toBe(200);
    await t.env.client.workflow.getHandle(parentId).result();
  });

  it('compacts as the operator (never the body’s `by`); refuses bad bodies and an unknown id', async () => {
    const workflowId = `ops-compact-${process.pid}`;
    t.fake.script(workflowId, [reply.text('Hello.')]);
    await agent.startConversation({ model: 'claude-haiku-4-5', message: 'Hi' }, { workflowId });
    const handle = t.env.client.workflow.getHandle(workflowId);
    await t.waitFor(handle, (s) => s.status === 'idle');
    const path = `/api/conversations/${workflowId}/compact`;
    const post = (body: unknown, operator: string | undefined = 'ivy') =>
      api(path, { method: 'POST', operator, body: JSON.stringify(body) });
    const refusals: Array<[unknown, string | undefined, RegExp]> = [
      [{ by: 'mallory' }, 'ivy', /by/],
      [{ instructions: ' ' }, 'ivy', /instructions/],
      [{ instructions: 5 }, 'ivy', /instructions/],
      [['x'], 'ivy', /expected object/i],
    ];
    for (const [body, operator, message] of refusals) {
      const res = await post(body, operator);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(((await res.json()) as { message: string }).message).toMatch(message);
    }
    const unknown = await api(`/api/conversations/nope-${Date.now()}/compact`, {
      method: 'POST',
      operator: 'ivy',
      body: '{}',
    });
    expect(unknown.status).toBe(404);

    const asked = await post({ note: 'long enough' }, encodeURIComponent('Zoë'));
    expect(asked.status).toBe(200);
    expect(await asked.json()).toMatchObject({ compaction: { count: 0, requested: { by: 'Zoë' } } });
    const compacted = await t.waitFor(handle, (s) => s.compaction?.count === 1 && s.status === 'idle');
    expect(compacted.compaction?.recent[0]).toMatchObject({ trigger: 'operator', by: 'Zoë' });
    const shown = (await (await api(`/api/conversations/${workflowId}`)).json()) as Record<string, unknown>;
    expect(shown).toMatchObject({ compaction: { count: 1, promptFrom: 2 }, messageCount: 3 });
    const earlier = await api(`/api/conversations/${workflowId}/earlier`);
    expect(earlier.status).toBe(200);
    expect(await earlier.json()).toMatchObject({
      messages: [
        { index: 0, message: { role: 'user', content: 'Hi' } },
        { index: 1, message: { role: 'assistant' } },
      ],
    });
    for (const query of ['?before=-1', '?limit=0', '?limit=x', '?other=1']) {
      expect((await api(`/api/conversations/${workflowId}/earlier${query}`)).status).toBe(400);
    }
  });

  it('raises a budget as the operator (never the body’s `by`); refuses bad bodies, an unknown or ended id', async () => {
    const { handle, parked } = await parkedOnBudget(t, { location: 'Oslo', answer: 'Cold in Oslo.' });
    expect(parked.attention?.reason).toBe('budget_exceeded');
    const shown = (await (await api(`/api/conversations/${handle.workflowId}`)).json()) as Record<
      string,
      unknown
    >;
    expect(shown).toMatchObject({
      budget: { limit: { tokens: 1 }, spent: { tokens: parked.budget!.spent.tokens } },
    });

    const path = `/api/conversations/${handle.workflowId}/budget`;
    const post = (body: unknown, operator: string | undefined = 'ivy') =>
      api(path, { method: 'POST', operator, body: JSON.stringify(body) });
    const refusals: Array<[unknown, string | undefined, RegExp]> = [
      [{}, 'ivy', /usd and\/or tokens/],
      [{ note: 'only a note' }, 'ivy', /usd and\/or tokens/],
      [{ tokens: -5 }, 'ivy', /tokens/],
      [{ tokens: 2.5 }, 'ivy', /tokens/],
      [{ usd: '5' }, 'ivy', /usd/],
      [{ tokens: 1000, by: 'mallory' }, 'ivy', /by/],
      [[1000], 'ivy', /expected object/i],
    ];
    for (const [body, operator, message] of refusals) {
      const res = await post(body, operator);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(((await res.json()) as { message: string }).message).toMatch(message);
    }
    expect((await handle.query(stateQuery, { from: -1 })).status).toBe('needs_attention');
    const unknown = await api(`/api/conversations/nope-${Date.now()}/budget`, {
      method: 'POST',
      operator: 'ivy',
      body: JSON.stringify({ tokens: 1000 }),
    });
    expect(unknown.status).toBe(404);

    const raised = await post({ tokens: 1_000_000, note: 'worth it' }, encodeURIComponent('Zoë'));
    expect(raised.status).toBe(200);
    expect(await raised.json()).toEqual({ budget: { tokens: 1_000_000 } });
    expect((await handle.result()).lastText).toBe('Cold in Oslo.');
    // Who raised it is the token's operator, as the update recorded it in the history.
    const accepted = (await handle.fetchHistory()).events!.flatMap((e) => {
      const request = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
      return request?.input?.name === 'raiseBudget' ? request.input.args!.payloads! : [];
    });
    expect(accepted.map((p) => JSON.parse(Buffer.from(p.data!).toString('utf8')) as unknown)).toEqual([
      { tokens: 1_000_000, note: 'worth it', by: 'Zoë' },
    ]);

    const ended = await post({ tokens: 2_000_000 });
    expect(ended.status).toBe(422);
    expect(await ended.json()).toMatchObject({ error: 'refused', message: expect.stringMatching(/ended/) });
  });
});

describe('agent CLI', () => {
  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        cliArgv(args),
        { env: { ...process.env, TEMPORAL_ADDRESS: t.env.address, AGENT_TASK_QUEUE: t.taskQueue } },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('pending, approve with an edited input, reject; --json output; exit codes', async () => {
    const first = await awaitingSave('CLI one');
    const second = await awaitingSave('CLI two', false);
    const pending = await cli(['pending', '--json']);
    expect(pending.code).toBe(0);
    const items = JSON.parse(pending.stdout) as Array<{ workflowId: string; toolUseId: string }>;
    expect(items.map((i) => i.toolUseId)).toEqual(expect.arrayContaining([first.id, second.id]));

    const edited = await cli([
      'approve',
      first.handle.workflowId,
      first.id,
      '--input',
      JSON.stringify({ abstract: 'CLI edited', meta: { word_count: 2, review: 'ok' } }),
      '--by',
      'jo',
      '--json',
    ]);
    expect(edited.code).toBe(0);
    expect(JSON.parse(edited.stdout)).toMatchObject({
      decision: 'edit',
      decidedBy: 'jo',
      input: { abstract: 'CLI edited' },
    });

    expect((await cli(['reject', second.handle.workflowId, second.id])).code).toBe(2);
    const rejected = await cli([
      'reject',
      second.handle.workflowId,
      second.id,
      '--reason',
      'duplicate',
      '--json',
    ]);
    expect(rejected.code).toBe(0);
    expect(JSON.parse(rejected.stdout)).toMatchObject({ decision: 'reject', reason: 'duplicate' });

    const again = await cli([
      'reject',
      second.handle.workflowId,
      second.id,
      '--reason',
      'other reason',
      '--json',
    ]);
    expect(again.code).toBe(3);
    expect(JSON.parse(again.stdout)).toMatchObject({
      error: 'refused',
      message: expect.stringMatching(/already decided/),
    });
    expect((await cli(['approve', `missing-${Date.now()}`, 'toolu_x'])).code).toBe(4);

    await first.handle.result();
    // A decision for a conversation that has ended is refused, not "not found".
    const late = await cli(['approve', first.handle.workflowId, first.id, '--json']);
    expect(late.code).toBe(3);
    expect(JSON.parse(late.stdout).message).toMatch(/has ended \(completed\)/);
    await t.waitFor(second.handle, (s) => s.status === 'idle');
    expect((await cli(['end', second.handle.workflowId, '--reason', 'cli test'])).code).toBe(0);
    await second.handle.result();
    const state = await first.handle.query(stateQuery, {});
    expect(state.decisions[0]).toMatchObject({ decision: 'edit', decidedBy: 'jo' });
  });

  it('start, send, show, resume, list and cancel, each with --json', async () => {
    const id = `cli-${Date.now()}`;
    t.fake.script(id, [
      reply.text('First answer.'),
      reply.error(400, 'invalid_request_error', 'something to fix'),
      reply.text('After the resume.'),
      {
        ...reply.text('A long answer that will be cancelled.', { chunkSize: 2 }),
        latency: { betweenEventsMs: 300 },
      },
    ]);
    const json = async (args: string[], code = 0) => {
      const r = await cli([...args, '--json']);
      expect({ args, code: r.code }).toEqual({ args, code });
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    expect(await json(['start', 'Hello', '--id', id])).toMatchObject({
      workflowId: id,
      runId: expect.any(String),
    });
    await t.waitFor(t.env.client.workflow.getHandle(id), (st) => st.status === 'idle');
    expect(await json(['send', id, 'More please'])).toEqual({ turn: 2, queuedBehind: 0 });
    await t.waitFor(t.env.client.workflow.getHandle(id), (st) => st.status === 'needs_attention');
    expect(await json(['show', id])).toMatchObject({
      status: 'needs_attention',
      attention: { status: 400, message: 'something to fix' },
    });
    expect(await json(['resume', id])).toEqual({ status: 'running' });
    await t.waitFor(
      t.env.client.workflow.getHandle(id),
      (st) => st.status === 'idle' && st.messageCount === 4,
    );
    let listed: Array<{ workflowId: string }> = [];
    for (let i = 0; i < 40 && !listed.some((r) => r.workflowId === id); i++) {
      listed = (await json(['list', '--status', 'idle'])) as unknown as Array<{ workflowId: string }>;
      if (!listed.some((r) => r.workflowId === id)) await new Promise((r) => setTimeout(r, 100));
    }
    expect(listed.map((r) => r.workflowId)).toContain(id);
    await json(['send', id, 'Now a long one']);
    await t.waitFor(t.env.client.workflow.getHandle(id), (st) => st.modelCallInFlight);
    expect(await json(['cancel', id])).toEqual({ cancelled: true });
    await expect(t.env.client.workflow.getHandle(id).result()).rejects.toThrow();
    expect((await t.env.client.workflow.getHandle(id).describe()).status.name).toBe('CANCELLED');
    // Bad usage is exit code 2, with the usage on stderr.
    expect((await cli(['start'])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['start', 'x', '--max-turns', 'lots'])).stderr).toMatch(
      /--max-turns must be a positive integer/,
    );
  });

  it('says what to start when Temporal is not reachable', async () => {
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        cliArgv(['pending']),
        { env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' } },
        (err, _stdout, stderr) => resolve({ code: (err as { code?: number } | null)?.code ?? 0, stderr }),
      );
    });
    expect(code).toBe(5);
    expect(stderr).toMatch(/cannot reach the Temporal server at 127\.0\.0\.1:1: start it/);
  });
});
