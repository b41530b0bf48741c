/**
 * Sign-in limits cost guesses, never the right answer (second probe, finding 1): after an address has
 * made too many wrong guesses, its wrong guesses get 429 with `retry-after`, while every valid
 * credential from it (an operator token on the API and at `/auth/login`, `OPS_TOKEN`, the workers'
 * `/stream/publish`) still gets in. Behind configured proxies (`trustedProxies`, OPS_TRUSTED_PROXIES)
 * each client's forwarded address is counted apart; without them, a forwarding header claimed by a
 * client changes nothing. Real ops servers on real ports; no route here reaches Temporal.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config';
import { OperatorStore } from '../../src/ops/identity/operator-store';
import { createOpsServer } from '../../src/ops/server';
import { call, expectError, TOKEN, type Answer, NO_TEMPORAL_AGENT } from '../support/ops-http';

const servers: FastifyInstance[] = [];
let operators: OperatorStore;
let alice: string;

beforeAll(() => {
  operators = new OperatorStore(join(mkdtempSync(join(tmpdir(), 'ops-lockout-')), 'operators.json'));
  alice = operators.add('alice', 'approver', []);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** A fresh ops server (its own limiter), allowing 3 wrong guesses per address in 10 minutes. */
async function opsServer(trustedProxies?: string[]): Promise<string> {
  const app = await createOpsServer({
    agent: NO_TEMPORAL_AGENT,
    token: TOKEN,
    namespace: 'default',
    identity: { operators, loginLimit: { max: 3, windowMs: 10 * 60_000 } },
    ...(trustedProxies && { trustedProxies }),
  });
  servers.push(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

const session = (base: string, token: string, headers: Record<string, string> = {}) =>
  call(base, '/api/session', { auth: false, headers: { authorization: `Bearer ${token}`, ...headers } });
const login = (base: string, token: string, headers: Record<string, string> = {}) =>
  call(base, '/auth/login', { auth: false, body: JSON.stringify({ token }), headers });

/** Makes `count` wrong guesses, on the API and at the sign-in form in turn, from `headers`' client. */
async function guess(base: string, count: number, headers: Record<string, string> = {}): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < count; i++)
    answers.push(await (i % 2 ? login(base, `guess-${i}`, headers) : session(base, `guess-${i}`, headers)));
  return answers;
}

describe('after too many wrong guesses from an address', () => {
  let base: string;
  beforeAll(async () => {
    base = await opsServer();
    expect((await guess(base, 3)).map((a) => a.status)).toEqual([401, 401, 401]);
  });

  it('its next wrong guesses are 429 with retry-after, on the API and at sign-in', async () => {
    for (const answer of await guess(base, 4)) {
      expectError(answer, 429, /too many failed sign-ins/);
      expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(answer.headers['retry-after'])).toBeLessThanOrEqual(600);
    }
  });

  it("an operator's own token still gets in, on the API and at sign-in", async () => {
    expect((await session(base, alice)).status).toBe(200);
    expect((await login(base, alice)).status).toBe(200);
  });

  it('OPS_TOKEN still gets in, labelled or not, and so do the workers publishing live streams', async () => {
    expect((await session(base, TOKEN)).status).toBe(200);
    expect((await session(base, TOKEN, { 'x-ops-operator': 'deploy-bot' })).status).toBe(200);
    expect((await login(base, TOKEN)).status).toBe(200);
    const publish = await call(base, '/stream/publish', {
      body: '',
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(publish.status).toBe(200);
  });

  it('a wrong guess stays refused: the limit is never lifted by a right answer in between', async () => {
    expectError(await session(base, 'guess-after'), 429);
  });
});

describe('behind a trusted proxy', () => {
  it("each client's forwarded address is counted apart: one client's guesses never limit another", async () => {
    const base = await opsServer(['127.0.0.1']);
    const mallory = { 'x-forwarded-for': '203.0.113.66' };
    await guess(base, 3, mallory);
    expectError(await session(base, 'guess-more', mallory), 429);
    // Another client behind the same proxy: its own count, from zero.
    expectError(await session(base, 'typo', { 'x-forwarded-for': '198.51.100.7' }), 401);
  });

  it('a forwarding header from a client that is not a trusted proxy is not believed', async () => {
    const base = await opsServer(['10.9.9.9']);
    await guess(base, 3, { 'x-forwarded-for': '203.0.113.66' });
    // Claiming to be someone else does not escape the limit: the peer's address is what counts.
    expectError(await session(base, 'guess-more', { 'x-forwarded-for': '198.51.100.7' }), 429);
    expect((await session(base, alice, { 'x-forwarded-for': '198.51.100.7' })).status).toBe(200);
  });

  it('without configured proxies, no forwarding header is believed', async () => {
    const base = await opsServer();
    await guess(base, 3, { 'x-forwarded-for': '203.0.113.66' });
    expectError(await session(base, 'guess-more', { 'x-forwarded-for': '198.51.100.8' }), 429);
  });
});

describe('OPS_TRUSTED_PROXIES', () => {
  it('takes addresses and CIDR ranges, comma-separated', () => {
    expect(loadConfig({ OPS_TRUSTED_PROXIES: '10.0.0.5, 192.168.0.0/16,::1' }).OPS_TRUSTED_PROXIES).toEqual([
      '10.0.0.5',
      '192.168.0.0/16',
      '::1',
    ]);
  });

  it.each(['proxy.internal', 'true', ',', '10.0.0.5;rm -rf'])('refuses %j with a clear error', (value) => {
    expect(() => loadConfig({ OPS_TRUSTED_PROXIES: value })).toThrow(
      /OPS_TRUSTED_PROXIES takes addresses or CIDR/,
    );
  });
});
