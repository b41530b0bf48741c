import { timingSafeEqual, createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Payload, PayloadCodec } from '@temporalio/common';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { DecisionRequestSchema, type RecordedDecision } from '../api/approvals';
import { formatIssues } from '../api/issues';
import { CONVERSATION_STATUSES, type ConversationState, type ConversationStatus } from '../api/conversation';
import { AgentError, type AgentClient, type ConversationSummary, type PendingApprovalItem } from '../client';
import { StreamHub } from '../streaming/hub';
import type { LiveMessage, Published } from '../streaming/protocol';

export interface OpsServerOptions {
  agent: AgentClient;
  /** The bearer token every API route requires. */
  token: string;
  namespace: string;
  /** Log requests (default false). */
  logger?: boolean;
  /** The live stream hub (default: a new one). */
  hub?: StreamHub;
  /** The payload codec, served at /codec/encode and /codec/decode for the Temporal UI. */
  codec?: PayloadCodec;
  /** The Temporal UI's origin, the only one allowed to call the codec endpoints from a browser. */
  codecCorsOrigin?: string;
}

const DecisionBodySchema = DecisionRequestSchema.omit({ decidedBy: true }).strict();
const ListQuerySchema = z.object({
  status: z.enum(CONVERSATION_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const WorkflowIdSchema = z.object({ id: z.string().min(1).max(1000) });

// What the API routes answer: the ops page (src/ops/public, type-checked with checkJs) reads these types.

/** `GET /api/session`: where the server works, and the statuses the conversation list can filter by. */
export interface SessionInfo {
  ok: true;
  namespace: string;
  taskQueue: string;
  statuses: readonly ConversationStatus[];
}
/** `GET /api/approvals`: every pending tool call, oldest first. */
export interface ApprovalsResponse {
  approvals: PendingApprovalItem[];
}
/** `GET /api/conversations[?status=&limit=]`: newest first. */
export interface ConversationsResponse {
  conversations: ConversationSummary[];
}
/** `GET /api/conversations/:id`: the conversation's state. */
export type ConversationResponse = ConversationState & { workflowId: string };
/** `POST /api/conversations/:id/decisions` takes this (the operator comes from `x-ops-operator`). */
export type DecisionBody = z.infer<typeof DecisionBodySchema>;
/** `POST /api/conversations/:id/decisions`: the decision as the conversation recorded it. */
export interface DecisionResponse {
  decision: RecordedDecision;
}
/** Any error: `{error, message}` with a 4xx or 5xx status. */
export interface ErrorResponse {
  error: string;
  message: string;
}

const PUBLIC_DIR = join(__dirname, 'public');
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * The page's files by URL path: `/` for index.html, and every .html, .js and .css file under the public
 * directory at its own path (the page's ES modules import each other by relative URL). Listed once at
 * startup, so no request path ever reaches the file system.
 */
function pageAssets(dir = PUBLIC_DIR, path = ''): Map<string, { file: string; type: string }> {
  const assets = new Map<string, { file: string; type: string }>();
  if (!path) assets.set('/', { file: join(dir, 'index.html'), type: CONTENT_TYPES['.html'] });
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = join(dir, entry.name);
    if (entry.isDirectory()) {
      for (const [sub, asset] of pageAssets(file, `${path}/${entry.name}`)) assets.set(sub, asset);
    } else if (entry.isFile() && CONTENT_TYPES[extname(entry.name)]) {
      assets.set(`${path}/${entry.name}`, { file, type: CONTENT_TYPES[extname(entry.name)] });
    }
  }
  return assets;
}

/** HTTP statuses for the client's error codes. */
const STATUS_OF: Record<AgentError['code'], number> = {
  invalid: 400,
  refused: 422,
  not_found: 404,
  unavailable: 503,
  no_worker: 503,
};

/**
 * The ops server: the approval page and its JSON API. Every `/api` route needs `Authorization: Bearer
 * <OPS_TOKEN>`; decisions also need the operator's name (`x-ops-operator`), which becomes `decidedBy`.
 * No CORS: browsers may not call it from another origin, and requests that say they come from one are
 * refused outright.
 */
export async function createOpsServer(options: OpsServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 1024 * 1024 });
  const expected = digest(options.token);
  const hub = options.hub ?? new StreamHub();
  // Workers publish the live stream as NDJSON batches.
  app.addContentTypeParser(
    'application/x-ndjson',
    { parseAs: 'string', bodyLimit: 8 * 1024 * 1024 },
    (_request, body, done) => done(null, body),
  );

  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header(
      'content-security-policy',
      "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cache-control', 'no-store');
    return payload;
  });

  // Cross-origin requests are refused before anything else: the browser says where a request comes
  // from. The one exception: the Temporal UI's origin may call the codec endpoints (CORS, below).
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    const site = request.headers['sec-fetch-site'];
    const codecCall =
      request.url.startsWith('/codec/') && origin !== undefined && origin === options.codecCorsOrigin;
    if (codecCall) {
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-allow-credentials', 'true');
      reply.header('vary', 'origin');
      return;
    }
    if (
      (origin &&
        origin !== `http://${request.headers.host}` &&
        origin !== `https://${request.headers.host}`) ||
      site === 'cross-site'
    ) {
      return reply.code(403).send({ error: 'forbidden', message: 'cross-origin requests are not allowed' });
    }
  });
  for (const path of ['/codec/encode', '/codec/decode']) {
    app.options(path, async (_request, reply) =>
      reply
        .header('access-control-allow-methods', 'POST')
        .header('access-control-allow-headers', 'authorization, content-type, x-namespace')
        .code(204)
        .send(),
    );
  }

  const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    // Constant-time comparison of digests: no timing hints about the token.
    if (!token || !timingSafeEqual(digest(token), expected)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: 'a valid bearer token (OPS_TOKEN) is required' });
    }
  };

  for (const [path, asset] of pageAssets()) {
    const body = readFileSync(asset.file);
    app.get(path, async (_request, reply) => reply.type(asset.type).send(body));
  }

  app.register(async (api) => {
    api.addHook('onRequest', authenticate);

    api.get(
      '/api/session',
      async () =>
        ({
          ok: true,
          namespace: options.namespace,
          taskQueue: options.agent.taskQueue,
          statuses: CONVERSATION_STATUSES,
        }) satisfies SessionInfo,
    );

    api.get(
      '/api/approvals',
      async () => ({ approvals: await options.agent.listPendingApprovals() }) satisfies ApprovalsResponse,
    );

    api.get('/api/conversations', async (request, reply) => {
      const query = ListQuerySchema.safeParse(request.query);
      if (!query.success) return badRequest(reply, query.error);
      const conversations = await options.agent.listConversations({
        status: query.data.status,
        limit: query.data.limit,
        withUsage: true,
      });
      return { conversations } satisfies ConversationsResponse;
    });

    api.get('/api/conversations/:id', async (request, reply) => {
      const params = WorkflowIdSchema.safeParse(request.params);
      if (!params.success) return badRequest(reply, params.error);
      return {
        workflowId: params.data.id,
        ...(await options.agent.getState(params.data.id)),
      } satisfies ConversationResponse;
    });

    // Workers (anywhere) publish model streams here; the hub keeps the partial state and fans it out.
    api.post('/stream/publish', async (request, reply) => {
      const lines = String(request.body ?? '').split('\n');
      let accepted = 0;
      for (const line of lines) {
        if (!line.trim()) continue;
        let item: Published;
        try {
          item = JSON.parse(line) as Published;
        } catch {
          return reply.code(400).send({ error: 'invalid', message: `line ${accepted + 1} is not JSON` });
        }
        if (!item || typeof item.workflowId !== 'string' || !['start', 'event', 'end'].includes(item.type)) {
          return reply
            .code(400)
            .send({ error: 'invalid', message: `line ${accepted + 1} is not a stream item` });
        }
        hub.publish(item);
        accepted++;
      }
      return { accepted };
    });

    // Observers: the live stream of one conversation as server-sent events; a snapshot first.
    api.get('/api/conversations/:id/live', (request, reply) => {
      const params = WorkflowIdSchema.safeParse(request.params);
      if (!params.success) return badRequest(reply, params.error);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        connection: 'keep-alive',
      });
      const write = (message: LiveMessage) =>
        raw.write(`event: ${message.type}\ndata: ${JSON.stringify(message)}\n\n`);
      const unsubscribe = hub.subscribe(params.data.id, write);
      const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
      request.raw.on('close', () => {
        clearInterval(keepAlive);
        unsubscribe();
      });
    });

    // The codec endpoints of the Temporal UI (`--ui-codec-endpoint http://ops:8787/codec`).
    for (const direction of ['encode', 'decode'] as const) {
      api.post(`/codec/${direction}`, async (request, reply) => {
        if (!options.codec)
          return reply
            .code(404)
            .send({ error: 'not_found', message: 'no payload codec is configured (AGENT_ENCRYPTION_KEYS)' });
        const body = CodecBodySchema.safeParse(request.body);
        if (!body.success) return badRequest(reply, body.error);
        const payloads = body.data.payloads.map(fromJsonPayload);
        try {
          const out =
            direction === 'encode'
              ? await options.codec.encode(payloads)
              : await options.codec.decode(payloads);
          return { payloads: out.map(toJsonPayload) };
        } catch (err) {
          return reply.code(400).send({ error: 'invalid', message: (err as Error).message });
        }
      });
    }

    api.post('/api/conversations/:id/decisions', async (request, reply) => {
      const params = WorkflowIdSchema.safeParse(request.params);
      if (!params.success) return badRequest(reply, params.error);
      const operator = String(request.headers['x-ops-operator'] ?? '').trim();
      if (!operator)
        return reply
          .code(400)
          .send({ error: 'invalid', message: 'the x-ops-operator header (who decides) is required' });
      const body = DecisionBodySchema.safeParse(request.body);
      if (!body.success) return badRequest(reply, body.error);
      const [decision] = await options.agent.decide(params.data.id, { ...body.data, decidedBy: operator });
      return { decision } satisfies DecisionResponse;
    });
  });

  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof AgentError)
      return reply.code(STATUS_OF[error.code]).send({ error: error.code, message: error.message });
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.code(status).send({ error: 'invalid', message: (error as Error).message });
    }
    app.log.error(error);
    return reply.code(500).send({ error: 'internal', message: 'internal error (see the ops server log)' });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url}` }),
  );
  return app;
}

const CodecBodySchema = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() }))
    .max(1000),
});

/** Temporal's JSON form of a payload: metadata values and data in base64. */
function fromJsonPayload(p: { metadata?: Record<string, string>; data?: string }): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
    ),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJsonPayload(p: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function badRequest(reply: FastifyReply, error: z.ZodError) {
  return reply.code(400).send({
    error: 'invalid',
    message: formatIssues(error, { root: '(body)' }),
  });
}
