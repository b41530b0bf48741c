/**
 * Says on each response when the client sent an update of that request again (a workflow task that
 * failed while it waited, a run closing into its successor): an `x-update-retries` header with the
 * count, and a log line with the server's reasons. The request is carried in an AsyncLocalStorage from
 * its first hook, so the client's retry listener, which runs in the caller's async context, finds it.
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AgentClient, UpdateRetry } from '../client';
import { requestFields, type OpsErrorLogEntry } from './error-log';

export const UPDATE_RETRIES_HEADER = 'x-update-retries';

export function reportUpdateRetries(
  app: FastifyInstance,
  agent: AgentClient,
  log: (entry: OpsErrorLogEntry) => void,
): void {
  const current = new AsyncLocalStorage<FastifyRequest>();
  const retried = new WeakMap<FastifyRequest, UpdateRetry[]>();
  // Callback-style hook: the rest of the request's lifecycle runs inside `run`'s context.
  app.addHook('onRequest', (request, _reply, done) => current.run(request, done));
  const stop = agent.onUpdateRetry((retry) => {
    const request = current.getStore();
    if (!request) return;
    const list = retried.get(request) ?? [];
    list.push(retry);
    retried.set(request, list);
  });
  app.addHook('onClose', async () => stop());
  app.addHook('onSend', async (request, reply, payload) => {
    const list = retried.get(request);
    if (!list) return payload;
    reply.header(UPDATE_RETRIES_HEADER, String(list.length));
    log({
      level: 'warn',
      msg: 'update sent again',
      ...requestFields(request, reply.statusCode),
      retries: list.map(({ operation, attempt, reason }) => ({ operation, attempt, reason })),
    });
    return payload;
  });
}
