/**
 * The ops server says on the answer when the client had to send an update again: an
 * `x-update-retries` header with the count and a `warn` line in its log, both for that request only.
 */
import { describe, expect, it } from '@jest/globals';
import Fastify from 'fastify';
import type { AgentClient, UpdateRetry } from '../../src/client';
import type { OpsErrorLogEntry } from '../../src/ops/error-log';
import { reportUpdateRetries, UPDATE_RETRIES_HEADER } from '../../src/ops/update-retries';

describe('reportUpdateRetries', () => {
  it('counts the retries of the request that caused them, and logs their reasons', async () => {
    const listeners = new Set<(r: UpdateRetry) => void>();
    const agent = {
      onUpdateRetry: (l: (r: UpdateRetry) => void) => (listeners.add(l), () => listeners.delete(l)),
    } as unknown as AgentClient;
    const logged: OpsErrorLogEntry[] = [];
    const app = Fastify();
    reportUpdateRetries(app, agent, (e) => logged.push(e));
    const retry = (attempt: number): UpdateRetry => ({
      workflowId: 'wf',
      operation: 'decide',
      updateId: 'u1',
      attempt,
      reason: 'unexpected workflow task failure',
    });
    app.post('/retried', async () => {
      // As the client does: its listeners run in the caller's async context, after an await.
      await new Promise((r) => setTimeout(r, 5));
      for (const l of listeners) l(retry(1));
      await Promise.resolve();
      for (const l of listeners) l(retry(2));
      return { ok: true };
    });
    app.post('/plain', async () => ({ ok: true }));

    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const [retried, plain] = await Promise.all([
      fetch(`${base}/retried`, { method: 'POST' }),
      fetch(`${base}/plain`, { method: 'POST' }),
    ]);
    expect(retried.headers.get(UPDATE_RETRIES_HEADER)).toBe('2');
    expect(plain.headers.get(UPDATE_RETRIES_HEADER)).toBeNull();
    expect(logged).toEqual([
      expect.objectContaining({
        level: 'warn',
        msg: 'update sent again',
        route: '/retried',
        status: 200,
        retries: [
          { operation: 'decide', attempt: 1, reason: 'unexpected workflow task failure' },
          { operation: 'decide', attempt: 2, reason: 'unexpected workflow task failure' },
        ],
      }),
    ]);
    await app.close();
    expect(listeners.size).toBe(0);
  });
});
