/**
 * Decisions are immutable from the ops API: no route edits or removes one (no PUT, PATCH or DELETE
 * anywhere; the only route that touches decisions adds one through the workflow's update, which refuses
 * a call already decided otherwise), and a decision's body cannot name who decided, their groups, the
 * channel or the time: those come from the signed-in identity and the workflow.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import type { DecisionRequest } from '../../src/api/approvals';
import { createOpsServer } from '../../src/ops/server';

const TOKEN = 'a'.repeat(48);
const decided: Array<{ workflowId: string; request: DecisionRequest }> = [];
/** Only what the decision route uses: `decide`, recorded. */
const agent = {
  decide: async (workflowId: string, request: DecisionRequest) => {
    decided.push({ workflowId, request });
    return [
      { ...request, name: 'refund', decidedAt: '2026-12-01T00:00:00.000Z', originalInput: {}, via: 'update' },
    ];
  },
  onUpdateRetry: () => () => undefined,
};

let app: FastifyInstance;
let base: string;
beforeAll(async () => {
  app = await createOpsServer({ agent: agent as never, token: TOKEN, namespace: 'default' });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await app?.close();
});

// Over real HTTP (as the page and the CLI reach it).
const post = async (body: unknown) => {
  const res = await fetch(`${base}/api/conversations/conv-1/decisions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.text();
  return { statusCode: res.status };
};

describe('decisions from the ops API', () => {
  it('no route edits or removes anything: no PUT, PATCH or DELETE; decisions only by POST .../decisions', () => {
    const routes = app.printRoutes({ commonPrefix: false });
    expect(routes).not.toMatch(/\b(PUT|PATCH|DELETE)\b/);
    const decisionRoutes = routes.split('\n').filter((line) => /decision/i.test(line));
    expect(decisionRoutes.map((l) => l.replace(/^[\s│├└─]+/, ''))).toEqual(['/decisions (POST)']);
  });

  it.each([
    ['decidedBy', { decidedBy: 'mallory' }],
    ['groups', { groups: ['finance'] }],
    ['channel', { channel: 'cli' }],
    ['decidedAt', { decidedAt: '2020-01-01T00:00:00Z' }],
    ['via', { via: 'deadline' }],
  ])('a body claiming %s is refused (400), nothing sent', async (_field, claim) => {
    const before = decided.length;
    const res = await post({ toolUseId: 'toolu_1', decision: 'approve', ...claim });
    expect(res.statusCode).toBe(400);
    expect(decided).toHaveLength(before);
  });

  it('the shared admin token decides as admin, on the admin channel, with no groups', async () => {
    const res = await post({ toolUseId: 'toolu_1', decision: 'approve' });
    expect(res.statusCode).toBe(200);
    expect(decided.at(-1)).toEqual({
      workflowId: 'conv-1',
      request: expect.objectContaining({
        toolUseId: 'toolu_1',
        decision: 'approve',
        channel: 'admin',
        groups: [],
      }),
    });
  });
});
