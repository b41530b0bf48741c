import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Payload, PayloadCodec } from '@temporalio/common';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { DecisionRequestSchema, type RecordedDecision } from '../api/approvals';
import { formatIssues } from '../api/issues';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import {
  CompactRequestSchema,
  CONVERSATION_STATUSES,
  RaiseBudgetSchema,
  type Budget,
  type CompactionView,
  type ConversationState,
  type MessageMeta,
  type ConversationStatus,
} from '../api/conversation';
import {
  AgentError,
  type AgentClient,
  type ConversationSummary,
  type PendingApprovalItem,
  type UnreadableConversation,
} from '../client';
import { StreamHub } from '../streaming/hub';
import type { LiveMessage } from '../streaming/protocol';
import { ApprovalQueue } from './approval-queue';
import { describeError, logToStderr, requestFields, type OpsErrorLogEntry } from './error-log';
import { clientErrorHandler, jsonTextDepth, setSecurityHeaders } from './http-safety';
// The same bounds as the workflow's validators: a huge toolUseId is refused here, never sent on nor echoed.
import { MAX_JSON_DEPTH, MAX_TOOL_USE_ID, quote } from '../api/bounds';
import { registerAuth, type IdentityOptions, type SignedIn } from './identity/auth';
import { PerOwnerCount } from './identity/bounded';
import { ADMIN_TOKEN_NAME, type Identity } from './identity/identity';
import { registerConversationActions } from './conversation-actions';
import { parsePublishedLine } from './stream-items';
import { ConversationGate } from './conversation-gate';
import { SseStream, type SseOptions } from './sse';
import { StateFeed, type StateFeedOptions } from './state-feed';
import { reportUpdateRetries } from './update-retries';

export interface OpsServerOptions {
  agent: AgentClient;
  /**
   * The shared `OPS_TOKEN`: an administration and automation credential (workers publishing streams,
   * `agent watch`, the codec), recorded as `admin:ops-token`. People sign in as themselves (`identity`).
   */
  token: string;
  /** Per-operator tokens, sessions, sign-in limits and OpenID Connect (src/ops/identity). */
  identity?: IdentityOptions;
  /**
   * The proxies whose `X-Forwarded-For` / `-Proto` are believed (addresses or CIDR ranges;
   * `OPS_TRUSTED_PROXIES`). Default none: the client is the connection's peer, whatever it claims.
   */
  trustedProxies?: string[];
  namespace: string;
  /** Log requests (default false). */
  logger?: boolean;
  /** The live stream hub (default: a new one). */
  hub?: StreamHub;
  /** The payload codec, served at /codec/encode and /codec/decode for the Temporal UI. */
  codec?: PayloadCodec;
  /** The Temporal UI's origin, the only one allowed to call the codec endpoints from a browser. */
  codecCorsOrigin?: string;
  /** Where answers with a 5xx status are logged (default: a JSON line on stderr; fastify's logger with `logger`). */
  errorLog?: (entry: OpsErrorLogEntry) => void;
  /** The approval queue (default: one on `agent`, with its default timings). */
  queue?: ApprovalQueue;
  /**
   * The server-push feeds (src/ops/state-feed.ts): how often they ask the visibility store (default 1 s),
   * re-read a running conversation (30 s), wait after a hub event (300 ms); and the SSE streams'
   * heartbeat and slow-subscriber bounds (src/ops/sse.ts).
   */
  feed?: Pick<StateFeedOptions, 'pollMs' | 'maxAgeMs' | 'hubDelayMs' | 'retryMs'> & {
    sse?: SseOptions;
    /**
     * Server-push streams (the feeds and the live stream) one caller may hold open at once (default 64;
     * `OPS_MAX_STREAMS_PER_CALLER`). One credential is one caller, whatever label it carries.
     */
    maxStreamsPerCaller?: number;
  };
}

/** Server-push streams one caller may hold open, by default: many tabs, never the whole server. */
export const DEFAULT_STREAMS_PER_CALLER = 64;

/** Longest conversation id, in characters: Temporal's default `limit.maxIDLength`, what the CLI accepts. */
const MAX_ID_CHARS = 1000;

/**
 * Deepest JSON body accepted: an edited tool input (the workflow's bound) inside the decision. Checked
 * on the text before parsing; deeper bodies only serve to exhaust a stack.
 */
const MAX_BODY_DEPTH = MAX_JSON_DEPTH + 1;
/** Seconds a client should wait before trying again after a 503. */
const RETRY_AFTER_SECONDS = 2;

// Who decides, their groups and the channel come from the server, never from the body.
const DecisionBodySchema = DecisionRequestSchema.omit({ decidedBy: true, groups: true, channel: true })
  .extend({
    toolUseId: z
      .string()
      .min(1, 'toolUseId is empty')
      .max(MAX_TOOL_USE_ID, `a toolUseId is at most ${MAX_TOOL_USE_ID} characters`),
  })
  .strict();
/** The new ceilings and why; who raises it is the signed-in operator, never the body. */
const BudgetBodySchema = RaiseBudgetSchema.omit({ by: true })
  .strict()
  .refine((b) => b.usd !== undefined || b.tokens !== undefined, {
    message: 'give usd and/or tokens (the new ceilings)',
  });
const CompactBodySchema = CompactRequestSchema.omit({ by: true }).strict();
const EarlierQuerySchema = z.strictObject({
  before: z.coerce.number().int().min(0).max(1e9).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const ListQuerySchema = z.object({
  status: z.enum(CONVERSATION_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
/** Every route that takes a conversation id checks it with this. */
const WorkflowIdSchema = z.object({
  id: z
    .string()
    .min(1, 'the conversation id is empty')
    .max(MAX_ID_CHARS, `a conversation id is at most ${MAX_ID_CHARS} characters`),
});

// What the API routes answer: the ops page (src/ops/public, type-checked with checkJs) reads these types.

/**
 * `GET /api/session`: where the server works, the statuses the conversation list can filter by, and who
 * is signed in (with the CSRF token the page sends back on every POST).
 */
export interface SessionInfo extends SignedIn {
  ok: true;
  namespace: string;
  taskQueue: string;
  statuses: readonly ConversationStatus[];
}
/**
 * `GET /api/approvals`: every pending tool call that could be read, oldest first, and the waiting
 * conversations whose state could not be read (their calls are missing from `approvals`).
 */
export interface ApprovalsResponse {
  approvals: PendingApprovalItem[];
  unreadable: UnreadableConversation[];
}
/** A row of the conversation list: the summary, with the conversation's agent (null: ad hoc, or unread). */
export type ConversationRow = ConversationSummary;
/** `GET /api/conversations[?status=&limit=]`: newest first. */
export interface ConversationsResponse {
  conversations: ConversationRow[];
}
/** `GET /api/conversations/:id`: the conversation's state. */
export type ConversationResponse = ConversationState & { workflowId: string };
/** `POST /api/conversations/:id/decisions` takes this (the operator is the signed-in identity). */
export type DecisionBody = z.infer<typeof DecisionBodySchema>;
/** `POST /api/conversations/:id/decisions`: the decision as the conversation recorded it. */
export interface DecisionResponse {
  decision: RecordedDecision;
}
/** `POST /api/conversations/:id/budget` takes this (the operator is the signed-in identity). */
export type BudgetBody = z.infer<typeof BudgetBodySchema>;
/** `POST /api/conversations/:id/budget`: the conversation's budget, its new ceilings applied. */
export interface BudgetResponse {
  budget: Budget;
}
/** `GET /api/conversations/:id/earlier`: messages summarized in earlier runs, oldest first. */
export interface EarlierResponse {
  messages: Array<{ index: number; message: MessageParam; meta?: MessageMeta }>;
}
/** `POST /api/conversations/:id/compact` takes this (the operator is the signed-in identity). */
export type CompactBody = z.infer<typeof CompactBodySchema>;
/** `POST /api/conversations/:id/compact`: where the conversation stands with compaction. */
export interface CompactResponse {
  compaction: CompactionView;
}
/** `POST /stream/publish`: the lines applied, and those skipped (with the first few problems). */
export interface PublishResponse {
  accepted: number;
  skipped: number;
  problems: Array<{ line: number; problem: string }>;
}
/** Any error: `{error, message}` with a 4xx or 5xx status; a 503 says when to retry (`retry-after`). */
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
 * The ops server: the approval page and its JSON API. Every `/api` route needs an identity (an operator
 * token as `Authorization: Bearer`, the page's session cookie with its CSRF header, or `OPS_TOKEN` as
 * the admin credential: src/ops/identity/auth.ts); decisions, budget raises and compactions need the
 * approver role and are recorded under the identity's name. No CORS: browsers may not call it from
 * another origin, and requests that say they come from one are refused outright. Every answer carries the security headers; every error
 * is `{error, message}` with a bounded message; every 5xx is logged.
 */
export async function createOpsServer(options: OpsServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    trustProxy: options.trustedProxies?.length ? options.trustedProxies : false,
    bodyLimit: 1024 * 1024,
    // The router's bound on a path parameter (measured decoded; default 100) fits every valid id.
    routerOptions: { maxParamLength: MAX_ID_CHARS },
    clientErrorHandler,
    // Errors the router answers before any route or hook runs: the same `{error, message}` as the rest.
    frameworkErrors: (error, _request, reply) => {
      const message =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? `a path parameter is too long (a conversation id is at most ${MAX_ID_CHARS} characters)`
          : error.code === 'FST_ERR_BAD_URL'
            ? 'the URL is not valid (malformed percent-encoding)'
            : 'the request could not be routed';
      void (reply as FastifyReply).code(error.statusCode ?? 400).send({ error: 'invalid', message });
    },
  });
  app.server.prependListener('request', (_request, response) => setSecurityHeaders(response));
  const auth = registerAuth(app, options.token, options.identity);
  const hub = options.hub ?? new StreamHub();
  // One gate for every state query and update this server sends: they never overlap per conversation.
  const gate = new ConversationGate();
  const queue =
    options.queue ??
    new ApprovalQueue({
      agent: options.agent,
      getState: (id) => gate.read(id, () => options.agent.getState(id, { from: 0, to: 0 })),
    });
  const feed = new StateFeed({ ...options.feed, agent: options.agent, gate, hub, queue });
  app.addHook('onClose', async () => feed.close());
  // The streams each caller holds open, bounded: a viewer who opened 1,500 feeds slowed every page.
  const streams = new PerOwnerCount(options.feed?.maxStreamsPerCaller ?? DEFAULT_STREAMS_PER_CALLER);
  const errorLog = options.errorLog ?? (options.logger ? (entry) => app.log.error(entry) : logToStderr);
  const failures = new WeakMap<FastifyRequest, unknown>();

  // JSON bodies: bounded in depth on the text, then fastify's own parser (prototype poisoning refused).
  // (Typed as its callback form, the one fastify implements.)
  const parseJson = app.getDefaultJsonParser('error', 'error') as (
    request: FastifyRequest,
    body: string,
    done: (err: Error | null, value?: unknown) => void,
  ) => void;
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonTextDepth(String(body), MAX_BODY_DEPTH) > MAX_BODY_DEPTH)
      return done(
        clientError(400, `the JSON body is nested deeper than ${MAX_BODY_DEPTH} levels`),
        undefined,
      );
    parseJson(request, String(body), (err, value) =>
      err
        ? done(clientError(400, `the body is not valid JSON (${quote(err.message)})`), undefined)
        : done(null, value),
    );
  });
  // Workers publish the live stream as NDJSON batches.
  app.addContentTypeParser(
    'application/x-ndjson',
    { parseAs: 'string', bodyLimit: 8 * 1024 * 1024 },
    (_request, body, done) => done(null, body),
  );

  reportUpdateRetries(app, options.agent, errorLog);
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode < 500) return;
    const error = failures.get(request);
    errorLog({
      level: 'error',
      msg: 'ops request failed',
      ...requestFields(request, reply.statusCode),
      ...(error !== undefined && { error: describeError(error) }),
    });
  });

  // Cross-origin requests are refused before anything else: the browser says where a request comes
  // from. The one exception: the Temporal UI's origin may call the codec endpoints (CORS, below).
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    const site = request.headers['sec-fetch-site'];
    const codecCall =
      request.url.startsWith('/codec/') && origin !== undefined && origin === options.codecCorsOrigin;
    // The identity provider sends the browser back here from its own site; the state (bound to a
    // cookie) and PKCE protect this one GET, which changes nothing but opening a session.
    if (request.method === 'GET' && request.url.startsWith('/auth/oidc/callback')) return;
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

  /** The conversation id of a route, checked the same way on every route; undefined after a 400. */
  const workflowIdOf = (request: FastifyRequest, reply: FastifyReply): string | undefined => {
    const params = WorkflowIdSchema.safeParse(request.params);
    if (params.success) return params.data.id;
    void badRequest(reply, params.error);
    return undefined;
  };

  for (const [path, asset] of pageAssets()) {
    const body = readFileSync(asset.file);
    app.get(path, async (_request, reply) => reply.type(asset.type).send(body));
  }

  app.register(async (api) => {
    api.addHook('onRequest', auth.authenticate);

    api.get(
      '/api/session',
      async (request) =>
        ({
          ok: true,
          namespace: options.namespace,
          taskQueue: options.agent.taskQueue,
          statuses: CONVERSATION_STATUSES,
          ...auth.signedIn(request),
        }) satisfies SessionInfo,
    );

    api.get('/api/approvals', async () => (await queue.read()) satisfies ApprovalsResponse);

    // Server push: the queue and one conversation's state as server-sent events, read once per change
    // for every open page (src/ops/state-feed.ts). `Last-Event-ID` naming the current event: nothing
    // is resent; any other: the current snapshot. The page's session cookie authenticates (EventSource
    // cannot send a header), as every route's.
    const lastEventIdOf = (request: FastifyRequest) => {
      const value = request.headers['last-event-id'];
      return typeof value === 'string' ? value.slice(0, 100) : undefined;
    };
    /** One more stream for this caller, or a 429 (and undefined) when they hold as many as allowed. */
    const holdStream = (request: FastifyRequest, reply: FastifyReply): (() => void) | undefined => {
      const release = streams.take(callerOf(auth.identityOf(request)));
      if (!release)
        void reply
          .code(429)
          .header('retry-after', String(RETRY_AFTER_SECONDS))
          .send({
            error: 'rate_limited',
            message: `at most ${streams.max} live streams may be open per operator; close one (a tab) first`,
          });
      return release;
    };
    api.get('/api/feed/approvals', (request, reply) => {
      const release = holdStream(request, reply);
      if (!release) return reply;
      reply.hijack();
      const stream: SseStream = new SseStream(reply.raw, {
        ...options.feed?.sse,
        onClose: () => {
          release();
          unsubscribe();
        },
      });
      const unsubscribe = feed.subscribeQueue((event) => stream.send(event), lastEventIdOf(request));
      if (stream.isClosed) unsubscribe();
    });
    api.get('/api/conversations/:id/feed', async (request, reply) => {
      const id = workflowIdOf(request, reply);
      if (id === undefined) return reply;
      const release = holdStream(request, reply);
      if (!release) return reply;
      // A conversation nobody follows yet is looked up first (the server's record, no worker involved):
      // one that does not exist costs no state read; the page is told so, and gets the state if it starts.
      const missing = !feed.follows(id) && !(await feed.exists(id));
      reply.hijack();
      // The client may have left during the lookup: its close event is gone, so nothing would free the slot.
      if (request.socket.destroyed) return release();
      const stream: SseStream = new SseStream(reply.raw, {
        ...options.feed?.sse,
        onClose: () => {
          release();
          unsubscribe();
        },
      });
      const unsubscribe = feed.subscribe(id, (event) => stream.send(event), lastEventIdOf(request), missing);
      if (stream.isClosed) unsubscribe();
    });
    // What the feeds cost: state queries made (all of this server's), reads, versions, subscribers.
    api.get('/api/feed/metrics', { preHandler: auth.requireRole('admin') }, async () => ({
      queries: feed.queries,
      readsInFlight: feed.readsInFlight,
      ...feed.stats,
      ...feed.size,
      queue: { ...queue.stats },
    }));

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
      const id = workflowIdOf(request, reply);
      if (id === undefined) return reply;
      // The feed's state when it follows the conversation; else one query shared by concurrent callers.
      return (await feed.state(id)).state satisfies ConversationResponse;
    });

    // What compaction took out of the current run: read from the runs that hold it (on demand only:
    // a query on a closed run replays its history on a worker).
    api.get('/api/conversations/:id/earlier', async (request, reply) => {
      const id = workflowIdOf(request, reply);
      if (id === undefined) return reply;
      const query = EarlierQuerySchema.safeParse(request.query);
      if (!query.success) return badRequest(reply, query.error);
      const messages = await options.agent.earlierMessages(id, query.data);
      return { messages } satisfies EarlierResponse;
    });

    // Workers (anywhere) publish model streams here; the hub keeps the partial state and fans it out.
    // A line the hub could not apply is skipped and counted, not the batch refused: a batch mixes
    // conversations, and the publisher drops a refused batch whole, so one bad line would cost every
    // observer in it their updates.
    api.post('/stream/publish', { preHandler: auth.requireRole('admin') }, async (request, reply) => {
      if (typeof request.body !== 'string')
        return reply
          .code(415)
          .send({ error: 'invalid', message: 'publish NDJSON (content-type: application/x-ndjson)' });
      const answer: PublishResponse = { accepted: 0, skipped: 0, problems: [] };
      request.body.split('\n').forEach((line, at) => {
        if (!line.trim()) return;
        const parsed = parsePublishedLine(line);
        if ('item' in parsed) {
          hub.publish(parsed.item);
          answer.accepted++;
          return;
        }
        answer.skipped++;
        if (answer.problems.length < 5)
          answer.problems.push({ line: at + 1, problem: quote(parsed.problem, 200) });
      });
      return answer;
    });

    // Observers: the live stream of one conversation as server-sent events; a snapshot first. The
    // response is written raw: the security headers come from the server's request listener.
    api.get('/api/conversations/:id/live', (request, reply) => {
      const id = workflowIdOf(request, reply);
      if (id === undefined) return reply;
      const release = holdStream(request, reply);
      if (!release) return reply;
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        connection: 'keep-alive',
      });
      // Each message carries its id; a client that reconnects with `Last-Event-ID` gets what it
      // missed (or a snapshot when the hub no longer has it all). A client that does not read is cut
      // off past 4 MiB buffered, rather than buffered without end: it reconnects from its last id.
      const write = (message: LiveMessage, eventId: string) => {
        if (raw.writableLength > 4 * 1024 * 1024) return void raw.destroy();
        raw.write(`id: ${eventId}\nevent: ${message.type}\ndata: ${JSON.stringify(message)}\n\n`);
      };
      const unsubscribe = hub.subscribe(id, write, lastEventIdOf(request));
      const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
      request.raw.on('close', () => {
        clearInterval(keepAlive);
        release();
        unsubscribe();
      });
    });

    // The codec endpoints of the Temporal UI (`--ui-codec-endpoint http://ops:8787/codec`): admins only.
    // They read and write anything under the deployment's key, whoever it belongs to; the page's readers
    // and approvers see conversations through the API above, with its rules.
    for (const direction of ['encode', 'decode'] as const) {
      api.post(`/codec/${direction}`, { preHandler: auth.requireRole('admin') }, async (request, reply) => {
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
          return reply.code(400).send({ error: 'invalid', message: quote((err as Error).message, 300) });
        }
      });
    }

    // Deciding, raising a budget and compacting need the approver role; who did it is the identity.
    const approver = { preHandler: auth.requireRole('approver') };
    api.post('/api/conversations/:id/decisions', approver, async (request, reply) => {
      const id = workflowIdOf(request, reply);
      if (id === undefined) return reply;
      const operator = auth.identityOf(request);
      const body = DecisionBodySchema.safeParse(request.body);
      if (!body.success) return badRequest(reply, body.error);
      try {
        // Who, in which groups, from where: the signed-in identity's, checked by the workflow's validator.
        const [decision] = await feed.update(id, () =>
          options.agent.decide(id, {
            ...body.data,
            decidedBy: operator.name,
            groups: operator.groups,
            // The page's decisions are `ops`; the shared admin token's are recorded as `admin`.
            channel: operator.channel === 'admin' ? 'admin' : 'ops',
          }),
        );
        return { decision } satisfies DecisionResponse;
      } finally {
        // Whatever the answer, the queue reads this conversation again rather than trust its cache.
        queue.invalidate(id);
      }
    });

    // Raising a budget spends money: it is recorded as the operator's, like a decision.
    api.post('/api/conversations/:id/budget', approver, async (request, reply) => {
      const id = workflowIdOf(request, reply);
      if (id === undefined) return reply;
      const operator = auth.identityOf(request);
      const body = BudgetBodySchema.safeParse(request.body);
      if (!body.success) return badRequest(reply, body.error);
      const budget = await feed.update(id, () =>
        options.agent.raiseBudget(id, { ...body.data, by: operator.name }),
      );
      return { budget } satisfies BudgetResponse;
    });

    // Compacting costs a model call and changes what the model sees: recorded as the operator's.
    api.post('/api/conversations/:id/compact', approver, async (request, reply) => {
      const id = workflowIdOf(request, reply);
      if (id === undefined) return reply;
      const operator = auth.identityOf(request);
      const body = CompactBodySchema.safeParse(request.body ?? {});
      if (!body.success) return badRequest(reply, body.error);
      const compaction = await feed.update(id, () =>
        options.agent.compact(id, { ...body.data, by: operator.name }),
      );
      return { compaction } satisfies CompactResponse;
    });

    // The parked conversations, resume, end and fork (src/ops/conversation-actions.ts).
    registerConversationActions(api, {
      agent: options.agent,
      auth,
      workflowIdOf,
      badRequest,
      update: (id, run) => feed.update(id, run),
    });
  });

  app.setErrorHandler((error, request, reply) => {
    failures.set(request, error);
    if (error instanceof AgentError) {
      const status = STATUS_OF[error.code];
      if (status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return reply.code(status).send({ error: error.code, message: quote(error.message, 1000) });
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.code(status).send({ error: 'invalid', message: quote((error as Error).message, 300) });
    }
    return reply.code(500).send({ error: 'internal', message: 'internal error (see the ops server log)' });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: 'not_found',
      message: `no route ${request.method} ${quote(request.url.split('?')[0])}`,
    }),
  );
  return app;
}

/** Whose streams a request's count against: the person, or for `OPS_TOKEN` the credential (any label). */
function callerOf(identity: Identity): string {
  return identity.channel === 'admin' ? ADMIN_TOKEN_NAME : identity.name;
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

function badRequest(reply: FastifyReply, error: z.ZodError) {
  return reply.code(400).send({
    error: 'invalid',
    message: quote(formatIssues(error, { root: '(body)', max: 5 }), 1000),
  });
}

/** An error fastify answers with its status (the error handler turns it into `{error, message}`). */
function clientError(statusCode: number, message: string): Error & { statusCode: number } {
  return Object.assign(new Error(message), { statusCode });
}
