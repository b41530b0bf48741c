/**
 * Who may use the deployment's encryption key through the ops server (second probe, finding 4): the
 * codec endpoints the Temporal UI calls (`/codec/encode`, `/codec/decode`) are for admins only
 * (OPS_TOKEN or an admin operator). A viewer or an approver gets 403 and nothing encrypted or decrypted:
 * they read conversations through the ops API, with its rules. Real ops server on a real port.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { codecFromEnv } from '../../src/codec';
import { OperatorStore } from '../../src/ops/identity/operator-store';
import { createOpsServer } from '../../src/ops/server';
import { call, expectError, TOKEN, NO_TEMPORAL_AGENT } from '../support/ops-http';

const tokens: Record<string, string> = {};
let app: FastifyInstance;
let base: string;
const payloads = [
  {
    metadata: { encoding: Buffer.from('json/plain').toString('base64') },
    data: Buffer.from(JSON.stringify({ card: '4111 1111 1111 1111' })).toString('base64'),
  },
];

beforeAll(async () => {
  const operators = new OperatorStore(join(mkdtempSync(join(tmpdir(), 'ops-codec-')), 'operators.json'));
  tokens.vera = operators.add('vera', 'viewer', []);
  tokens.alice = operators.add('alice', 'approver', ['finance']);
  tokens.root = operators.add('root', 'admin', []);
  app = await createOpsServer({
    agent: NO_TEMPORAL_AGENT,
    token: TOKEN,
    namespace: 'default',
    codec: codecFromEnv(`k1:${randomBytes(32).toString('base64')}`, undefined),
    identity: { operators },
  });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app?.close();
});

const codec = (direction: 'encode' | 'decode', token: string, body: unknown) =>
  call(base, `/codec/${direction}`, {
    auth: false,
    body: JSON.stringify(body),
    headers: { authorization: `Bearer ${token}` },
  });

describe('the codec endpoints', () => {
  it.each(['vera', 'alice'])(
    'refuse %s (not an admin) both ways, with 403 and nothing in the answer',
    async (who) => {
      const encrypted = JSON.parse((await codec('encode', TOKEN, { payloads })).text) as unknown;
      for (const [direction, body] of [
        ['encode', { payloads }],
        ['decode', encrypted],
      ] as const) {
        const answer = await codec(direction, tokens[who], body);
        expectError(answer, 403, /needs the admin role/);
        expect(answer.text).not.toMatch(/4111|payloads/);
      }
    },
  );

  it('serve OPS_TOKEN and an admin operator: what one encrypts the other decrypts', async () => {
    const encoded = await codec('encode', tokens.root, { payloads });
    expect(encoded.status).toBe(200);
    const encrypted = JSON.parse(encoded.text) as { payloads: Array<{ data: string }> };
    expect(Buffer.from(encrypted.payloads[0].data, 'base64').toString()).not.toContain('4111');
    const decoded = await codec('decode', TOKEN, encrypted);
    expect(decoded.status).toBe(200);
    expect((JSON.parse(decoded.text) as { payloads: unknown }).payloads).toEqual(payloads);
  });
});
