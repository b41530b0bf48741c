/**
 * Nobody can sign everyone else out (second probe, finding 7): the session table dropped its oldest
 * entry past 10,000, so a viewer who signed in 10,500 times ended alice's session. Now sessions are
 * bounded per operator (their own oldest ends) and a full table refuses new sign-ins (503 with
 * `retry-after`) instead of ending anyone's. Real ops servers on real ports; no route here reaches
 * Temporal.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { OperatorStore } from '../../src/ops/identity/operator-store';
import { createOpsServer } from '../../src/ops/server';
import { call, expectError, TOKEN, NO_TEMPORAL_AGENT } from '../support/ops-http';

const servers: FastifyInstance[] = [];
const tokens: Record<string, string> = {};
let operators: OperatorStore;
beforeAll(() => {
  operators = new OperatorStore(join(mkdtempSync(join(tmpdir(), 'ops-sessions-')), 'operators.json'));
  for (const name of ['alice', 'vera', 'root', 'bob']) tokens[name] = operators.add(name, 'approver', []);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function opsServer(sessions: { max?: number; maxPerOperator?: number }): Promise<string> {
  const app = await createOpsServer({
    agent: NO_TEMPORAL_AGENT,
    token: TOKEN,
    namespace: 'default',
    identity: { operators, sessions },
  });
  servers.push(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

/** Signs in; the session cookie (name=value), or the refusal. */
async function signIn(
  base: string,
  who: string,
): Promise<{ cookie?: string; status: number; retryAfter?: string }> {
  const answer = await call(base, '/auth/login', {
    auth: false,
    body: JSON.stringify({ token: tokens[who] }),
  });
  return {
    status: answer.status,
    cookie: answer.headers['set-cookie']?.split(';')[0],
    retryAfter: answer.headers['retry-after'],
  };
}
const sessionOf = (base: string, cookie: string) =>
  call(base, '/api/session', { auth: false, headers: { cookie } }).then((a) => a.status);

describe('sessions', () => {
  it("one operator signing in again and again ends only their own oldest sessions, never anyone else's", async () => {
    const base = await opsServer({ max: 50, maxPerOperator: 5 });
    const alice = (await signIn(base, 'alice')).cookie!;
    const vera: string[] = [];
    for (let i = 0; i < 300; i++) vera.push((await signIn(base, 'vera')).cookie!);
    expect(await sessionOf(base, alice)).toBe(200);
    // Vera keeps her five newest.
    for (const cookie of vera.slice(-5)) expect(await sessionOf(base, cookie)).toBe(200);
    expect(await sessionOf(base, vera[vera.length - 6])).toBe(401);
  }, 60_000);

  it('a full table refuses a new sign-in with 503 and retry-after, and ends no session', async () => {
    const base = await opsServer({ max: 3 });
    const held = [await signIn(base, 'alice'), await signIn(base, 'vera'), await signIn(base, 'root')];
    const refused = await signIn(base, 'bob');
    expect(refused.status).toBe(503);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    for (const { cookie } of held) expect(await sessionOf(base, cookie!)).toBe(200);
    // A bearer token needs no session: bob still works through the API.
    const api = await call(base, '/api/session', {
      auth: false,
      headers: { authorization: `Bearer ${tokens.bob}` },
    });
    expect(api.status).toBe(200);
    expectError(await call(base, '/api/session', { auth: false }), 401);
  });
});
