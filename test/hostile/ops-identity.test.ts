/**
 * Who may do what at the ops server: per-operator tokens (stored as hashes), the page's sessions
 * (HttpOnly SameSite=Strict cookie, CSRF header, expiry), roles, and the hostile cases: expired and
 * forged sessions, credentials in query strings, CSRF without the token, a viewer deciding, a body
 * claiming `decidedBy`, login brute force, markup in an operator's name. Real ops server on a real port,
 * over a real Temporal dev server, worker and fake Messages API.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AgentClient } from '../../src/client';
import { OperatorStore, OperatorStoreError } from '../../src/ops/identity/operator-store';
import { createOpsServer } from '../../src/ops/server';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { scriptSaveArticle } from '../support/agents';
import { expectError, expectSecurityHeaders, TOKEN, type Answer } from '../support/ops-http';

let t: AgentEnv;
let ops: FastifyInstance;
let base: string;
let operators: OperatorStore;
const tokens: Record<string, string> = {};
/** The ops server's clock for sessions and sign-in limits (moved forward by the expiry test). */
let now = Date.now();
const clock = () => now;

beforeAll(async () => {
  t = await startAgentEnv();
  const dir = mkdtempSync(join(tmpdir(), 'ops-identity-'));
  operators = new OperatorStore(join(dir, 'operators.json'));
  tokens.alice = operators.add('alice', 'approver', ['finance']);
  tokens.vera = operators.add('vera', 'viewer', []);
  tokens.root = operators.add('root', 'admin', []);
  ops = await createOpsServer({
    agent: new AgentClient({ client: t.env.client, taskQueue: t.taskQueue }),
    token: TOKEN,
    namespace: 'default',
    identity: {
      operators,
      sessions: { ttlMs: 60 * 60_000, now: clock },
      loginLimit: { max: 5, windowMs: 60_000, now: clock },
    },
  });
  base = await ops.listen({ host: '127.0.0.1', port: 0 });
}, 120_000);
afterAll(async () => {
  await ops?.close();
  await t?.teardown();
});

/** A request with the given headers; answers the status, headers and text. */
async function send(
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string | undefined> } = {},
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: Object.fromEntries(
      Object.entries({
        ...(init.body !== undefined && { 'content-type': 'application/json' }),
        ...init.headers,
      }).filter((e): e is [string, string] => e[1] !== undefined),
    ),
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => (headers[name] = value));
  return { status: res.status, headers, text: await res.text() };
}

/** Signs in with a token: the cookie (name=value) and the CSRF token. */
async function signIn(token: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const answer = await send('/auth/login', { body: { token } });
  expect(answer.status).toBe(200);
  const setCookie = answer.headers['set-cookie'];
  const body = JSON.parse(answer.text) as { csrfToken: string };
  return { cookie: setCookie.split(';')[0], csrf: body.csrfToken, setCookie };
}

async function awaitingSave(): Promise<{
  workflowId: string;
  toolUseId: string;
  result: () => Promise<unknown>;
}> {
  const handle = await t.start({ message: 'Save', tools: ['save_article'], singleTurn: true });
  const toolUseId = `toolu_${handle.workflowId.slice(-10).replace(/[^a-zA-Z0-9]/g, '')}`;
  scriptSaveArticle(t.fake, handle.workflowId, { toolUseId, abstract: 'Identity', answer: 'Done.' });
  await t.waitFor(handle, (s) => s.status === 'awaiting_approval');
  return { workflowId: handle.workflowId, toolUseId, result: () => handle.result() };
}

const decisionsOf = (workflowId: string) => `/api/conversations/${encodeURIComponent(workflowId)}/decisions`;

describe('operator tokens and sessions', () => {
  it('stores only a hash of each token, in a 0600 file', () => {
    const text = readFileSync(operators.file, 'utf8');
    for (const token of Object.values(tokens)) expect(text).not.toContain(token);
    expect(statSync(operators.file).mode & 0o777).toBe(0o600);
    expect(operators.list().map((o) => [o.name, o.role, o.groups])).toEqual([
      ['alice', 'approver', ['finance']],
      ['vera', 'viewer', []],
      ['root', 'admin', []],
    ]);
  });

  it('signs in with a token: an HttpOnly, SameSite=Strict cookie; the session names the operator', async () => {
    const { cookie, csrf, setCookie } = await signIn(tokens.alice);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Max-Age=3600/);
    expect(setCookie).not.toMatch(/Secure/); // plain http here; https (or an https OPS_PUBLIC_URL) adds it
    const session = await send('/api/session', { headers: { cookie } });
    expect(session.status).toBe(200);
    expect(JSON.parse(session.text)).toMatchObject({
      operator: { name: 'alice', role: 'approver', groups: ['finance'], channel: 'token' },
      csrfToken: csrf,
    });
    expectSecurityHeaders(session);
  });

  it('approves with the session: decidedBy is the operator, whatever a header says', async () => {
    const call = await awaitingSave();
    const { cookie, csrf } = await signIn(tokens.alice);
    const answer = await send(decisionsOf(call.workflowId), {
      body: { toolUseId: call.toolUseId, decision: 'approve' },
      headers: { cookie, 'x-csrf-token': csrf, 'x-ops-operator': 'mallory' },
    });
    expect({ status: answer.status, text: answer.text }).toEqual({ status: 200, text: expect.any(String) });
    expect(JSON.parse(answer.text)).toMatchObject({
      decision: { decidedBy: 'alice', decision: 'approve', groups: ['finance'], channel: 'ops' },
    });
    await call.result();
  });

  it('OPS_TOKEN decides as the marked admin credential', async () => {
    const call = await awaitingSave();
    const answer = await send(decisionsOf(call.workflowId), {
      body: { toolUseId: call.toolUseId, decision: 'reject', reason: 'automation' },
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ decision: { decidedBy: 'admin:ops-token' } });
    await call.result();
  });

  it('signing out ends the session; removing an operator ends theirs and their token', async () => {
    const { cookie, csrf } = await signIn(tokens.alice);
    expect(
      (await send('/auth/logout', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } })).status,
    ).toBe(200);
    expectError(await send('/api/session', { headers: { cookie } }), 401, /session has ended/);

    const temp = operators.add('temp', 'approver', []);
    const signed = await signIn(temp);
    expect((await send('/api/session', { headers: { cookie: signed.cookie } })).status).toBe(200);
    operators.remove('temp');
    expectError(await send('/api/session', { headers: { cookie: signed.cookie } }), 401);
    expectError(await send('/api/session', { headers: { authorization: `Bearer ${temp}` } }), 401);
  });
});

describe('hostile identity', () => {
  it('an expired session is refused (401) and its cookie cleared', async () => {
    const { cookie } = await signIn(tokens.alice);
    now += 60 * 60_000 + 1;
    try {
      const answer = await send('/api/session', { headers: { cookie } });
      expectError(answer, 401, /session has ended/);
      expect(answer.headers['set-cookie']).toMatch(/Max-Age=0/);
    } finally {
      now = Date.now();
    }
  });

  it('forged session cookies are refused (401)', async () => {
    const forged = [
      'A'.repeat(43),
      'x',
      '../../etc/passwd',
      '%00',
      'a'.repeat(5000),
      (await signIn(tokens.alice)).cookie.split('=')[1].slice(0, -1) + 'Z',
    ];
    for (const value of forged) {
      const answer = await send('/api/approvals', { headers: { cookie: `ops_session=${value}` } });
      expectError(answer, 401);
    }
  });

  it('credentials in a query string are refused (400), even valid ones', async () => {
    for (const path of [
      `/api/session?token=${tokens.alice}`,
      `/api/approvals?access_token=${TOKEN}`,
      `/?Token=${tokens.alice}`,
      `/auth/login?token=${tokens.alice}`,
      `/api/conversations?limit=5&session=abc`,
    ]) {
      const answer = await send(path, { headers: { authorization: `Bearer ${tokens.alice}` } });
      expectError(answer, 400, /never accepted in a URL/);
    }
  });

  it('a state change with a session but without the CSRF token is refused (403)', async () => {
    const call = await awaitingSave();
    const { cookie, csrf } = await signIn(tokens.alice);
    const body = { toolUseId: call.toolUseId, decision: 'approve' };
    for (const headers of [
      { cookie },
      { cookie, 'x-csrf-token': 'wrong' },
      { cookie, 'x-csrf-token': `${csrf}x` },
    ]) {
      expectError(await send(decisionsOf(call.workflowId), { body, headers }), 403, /x-csrf-token/);
      expectError(
        await send(`/api/conversations/${call.workflowId}/budget`, { body: { tokens: 5 }, headers }),
        403,
      );
    }
    expectError(await send('/auth/logout', { method: 'POST', headers: { cookie } }), 403);
    // Another session's CSRF token does not fit this one.
    const other = await signIn(tokens.alice);
    expectError(
      await send(decisionsOf(call.workflowId), { body, headers: { cookie, 'x-csrf-token': other.csrf } }),
      403,
    );
    // Still waiting: nothing was decided.
    expect((await t.env.client.workflow.getHandle(call.workflowId).describe()).status.name).toBe('RUNNING');
    await t.env.client.workflow.getHandle(call.workflowId).terminate();
  });

  it('a viewer cannot decide, raise a budget or compact (403), by token or session', async () => {
    const call = await awaitingSave();
    const session = await signIn(tokens.vera);
    const routes: Array<[string, unknown]> = [
      [decisionsOf(call.workflowId), { toolUseId: call.toolUseId, decision: 'approve' }],
      [`/api/conversations/${call.workflowId}/budget`, { tokens: 1000 }],
      [`/api/conversations/${call.workflowId}/compact`, {}],
    ];
    for (const [path, body] of routes) {
      expectError(
        await send(path, { body, headers: { authorization: `Bearer ${tokens.vera}` } }),
        403,
        /approver/,
      );
      expectError(
        await send(path, { body, headers: { cookie: session.cookie, 'x-csrf-token': session.csrf } }),
        403,
        /approver/,
      );
    }
    // Reading is allowed.
    expect((await send('/api/approvals', { headers: { cookie: session.cookie } })).status).toBe(200);
    // Only the admin credential publishes live streams.
    expectError(
      await send('/stream/publish', {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': 'application/x-ndjson' },
      }),
      403,
    );
    await t.env.client.workflow.getHandle(call.workflowId).terminate();
  });

  it('a decision body claiming decidedBy is refused (400), by token and by session', async () => {
    const call = await awaitingSave();
    const session = await signIn(tokens.alice);
    const body = { toolUseId: call.toolUseId, decision: 'approve', decidedBy: 'the-cfo' };
    for (const headers of [
      { authorization: `Bearer ${tokens.alice}` },
      { cookie: session.cookie, 'x-csrf-token': session.csrf },
    ]) {
      expectError(await send(decisionsOf(call.workflowId), { body, headers }), 400, /decidedBy/);
    }
    await t.env.client.workflow.getHandle(call.workflowId).terminate();
  });

  it('login brute force is rate limited per address (429 with Retry-After); a good token still gets in', async () => {
    // Past the window of the failures earlier tests made (this is the last test that signs in).
    now = Date.now() + 120_000;
    for (let i = 0; i < 5; i++)
      expectError(await send('/auth/login', { body: { token: `guess-${i}` } }), 401);
    const limited = await send('/auth/login', { body: { token: 'guess-5' } });
    expectError(limited, 429, /too many/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    // Guessing bearer tokens on the API is the same game.
    expectError(await send('/api/session', { headers: { authorization: 'Bearer guess-6' } }), 429);
    // The limit costs guesses, not the right answer (test/hostile/ops-lockout.test.ts).
    expect((await send('/auth/login', { body: { token: tokens.alice } })).status).toBe(200);
    expect(
      (await send('/api/session', { headers: { authorization: `Bearer ${tokens.alice}` } })).status,
    ).toBe(200);
    now += 61_000;
    expectError(await send('/auth/login', { body: { token: 'guess-7' } }), 401);
  });

  it('markup or control characters in an operator name are refused', () => {
    for (const name of [
      '<script>alert(1)</script>',
      '<img src=x onerror=alert(1)>',
      'a b',
      'eve\u202e',
      'x"y',
      '',
    ]) {
      expect(() => operators.add(name, 'approver', [])).toThrow(OperatorStoreError);
    }
    expect(() => operators.add('ok', 'approver', ['<b>finance</b>'])).toThrow(OperatorStoreError);
    expect(operators.list().map((o) => o.name)).toEqual(['alice', 'vera', 'root']);
  });

  it('the CLI prints a token once, lists without it, refuses markup in a name (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ops-cli-'));
    const cli = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          ['--import', 'tsx', join(__dirname, '..', '..', 'src', 'cli', 'agent.ts'), 'operators', ...args],
          { env: { ...process.env, AGENT_STATE_DIR: dir, OPS_OPERATORS_FILE: '' } },
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
        ),
      );
    const added = await cli(['add', 'bob', '--role', 'approver', '--groups', 'finance,ops']);
    expect(added.code).toBe(0);
    const token = added.stdout.trim();
    expect(token).toMatch(/^opk_[A-Za-z0-9_-]{43}$/);
    const listed = await cli(['list', '--json']);
    expect(JSON.parse(listed.stdout)).toMatchObject({
      operators: [{ name: 'bob', role: 'approver', groups: ['finance', 'ops'] }],
    });
    expect(listed.stdout).not.toContain(token);
    expect(new OperatorStore(join(dir, 'operators.json')).authenticate(token)?.identity.name).toBe('bob');
    const hostile = await cli(['add', '<script>alert(1)</script>', '--role', 'admin']);
    expect(hostile.code).toBe(2);
    expect(hostile.stdout).toBe('');
    expect((await cli(['add', 'carol', '--role', 'superuser'])).code).toBe(2);
    expect((await cli(['remove', 'bob'])).code).toBe(0);
    expect((await cli(['remove', 'bob'])).code).toBe(2);
  });
});
