import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MessageCreateParams } from '@anthropic-ai/sdk/resources/messages';
import { CONVERSATION_ID_HEADER } from '../../api/wire';
import { Containers, programmaticCallProblem, type ContainerInfo } from './code-execution';
import { demoReply } from './demo';
import {
  accumulateEvents,
  encodeEvent,
  parseSse,
  renderEvents,
  renderMessage,
  completeBlocks,
  seededRandom,
  type SseEvent,
} from './sse';
import { estimateTokens, newId } from './basics';
import type {
  FakeBlock,
  FakeHandler,
  FakeMessageReply,
  FakeReply,
  FakeScript,
  Latency,
  RecordedRequest,
} from './types';
import { PromptCache, promptTokens, type CacheUsage } from './prompt-cache';
import { validateRequest, type Route } from './validate';
import { Signer } from './signatures';
import { compactEdit, compactionBlock } from './compaction';
import { applyContextEdits, type AppliedEdit } from './context-edits';
import { withToolSearchResults } from './tool-search';
import {
  contentTokens,
  contextWindowOf,
  fitToWindow,
  promptTooLong,
  type ContextWindow,
} from './context-window';

/** Options of {@link FakeClaude.start}. */
export interface FakeClaudeOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Latency applied to every reply that sets none of its own. Default none. */
  latency?: Latency;
  /**
   * What answers a conversation that has no script: `demo` answers sensibly with any tool set (for
   * runs with no API key); `reject` (default) answers 400 naming the conversation, so a test that
   * forgot to script a call fails at once instead of retrying.
   */
  fallback?: 'demo' | 'reject';
  /** When set, requests whose `x-api-key` differs get 401 `authentication_error`. Mutable. */
  apiKey?: string;
  /** Validate requests like the API (default true). */
  validate?: boolean;
  /** Accept consecutive same-role messages as the real API does (default false: strict alternation). */
  lenientRoles?: boolean;
  /** Largest request body accepted; larger ones get 413 `request_too_large`. Default 32 MiB, the API's. */
  maxBodyBytes?: number;
  /** Clock of the prompt cache's and containers' lifetimes (tests move it). Default `Date.now`. */
  now?: () => number;
  /** How long a code execution container lives after its last use. Default 1 hour. */
  containerTtlMs?: number;
  /** Smallest cacheable prefix per model (default: the API's published minimums, 1024 for others). */
  cacheMinimumTokens?: (model: string) => number;
  /**
   * Context window in tokens, or one per model (default 200000). A prompt over it gets the API's 400
   * `prompt is too long: N tokens > W maximum`; an answer that would not fit in what is left is cut and
   * stops with `model_context_window_exceeded`. Tokens are counted as `promptTokens` counts them.
   */
  contextWindow?: ContextWindow;
  /**
   * Secret of the signatures the fake gives `thinking`, `redacted_thinking` and `compaction` blocks (and
   * checks when they come back). Default: one drawn per process, so a fake in another process (or
   * restarted) refuses them; give the same secret to fakes that must accept each other's blocks.
   */
  signingSecret?: string;
}

/** Input usage of nothing: the top-level usage of an answer that is only a compaction block. */
const NO_INPUT: CacheUsage = {
  input_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
};

/** How the server answers a request beyond its script: usage it computed, edits it applied. */
interface Answer {
  /** Top-level input usage; default: the prompt cache's accounting of `seen`. */
  input?: CacheUsage;
  /** What the model sees once context edits are applied. */
  seen: Record<string, unknown>;
  iterations?: Array<Record<string, unknown>>;
  contextManagement?: { applied_edits: AppliedEdit[] };
  /** The code execution container the answer runs in. */
  container?: ContainerInfo;
  /** A compaction block the answer starts with (threshold compaction). */
  compaction?: FakeBlock;
  /** The compaction iteration's usage, placed before the message's own. */
  compactionUsage?: Record<string, unknown>;
}

const WILDCARD = '*';

/**
 * A wire-faithful fake of the Anthropic Messages API: `POST /v1/messages` (also `?beta=true`) and
 * `POST /v1/messages/count_tokens`, streamed (SSE) or not, scripted per conversation, with faults on
 * demand. Requests are validated the way the API validates them and recorded for assertions.
 *
 * Conversations are told apart by the `x-agent-conversation-id` header the worker sends (its
 * workflow id); requests without it belong to `*`.
 *
 * Beyond the script, the fake answers as the API does: compaction requests (`compaction`) and threshold
 * compaction (`compact_20260112`) with signed summaries of its own (compaction.ts), context edits
 * (context-edits.ts), the context window (context-window.ts), tool search (tool-search.ts); and it refuses `thinking`,
 * `redacted_thinking` and `compaction` blocks it did not issue (signatures.ts). Betas are not checked.
 */
export class FakeClaude {
  /** Every request received, in order, valid or not. */
  readonly requests: RecordedRequest[] = [];
  apiKey: string | undefined;
  private readonly scripts = new Map<string, FakeScript>();
  private readonly counts = new Map<string, number>();
  /** Message threads: a message id → the whole request it answered, and its answer (see `thread`). */
  private readonly threads = new Map<
    string,
    { params: Record<string, unknown>; messages: unknown[]; continued: boolean }
  >();
  private seq = 0;
  /** Prompt cache entries written by earlier requests (see prompt-cache.ts). */
  readonly promptCache: PromptCache;
  /** Signs the blocks the fake emits and checks them when they come back (see signatures.ts). */
  readonly signer: Signer;
  /** Code execution containers handed out (tests can expire one). */
  readonly containers: Containers;

  private constructor(
    private readonly server: Server,
    private readonly options: FakeClaudeOptions,
  ) {
    this.apiKey = options.apiKey;
    this.promptCache = new PromptCache(options.now, options.cacheMinimumTokens);
    this.containers = new Containers(options.now, options.containerTtlMs);
    this.signer = new Signer(options.signingSecret);
  }

  /** Starts a server and resolves once it listens. */
  static async start(options: FakeClaudeOptions = {}): Promise<FakeClaude> {
    const server = createServer();
    const fake = new FakeClaude(server, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      fake.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) fake.sendError(res, 500, 'api_error', `fake-claude: ${String(err)}`);
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Base URL for the SDK's `baseURL` / `ANTHROPIC_BASE_URL`, e.g. `http://127.0.0.1:41234`. */
  get url(): string {
    return `http://${this.options.host ?? '127.0.0.1'}:${this.port}`;
  }

  /**
   * Scripts a conversation (`*` for any conversation without a script of its own): an array of
   * replies consumed one per request, or a function from request to reply. Replaces an earlier script.
   */
  script(conversation: string, script: FakeScript): this {
    this.scripts.set(conversation, Array.isArray(script) ? [...script] : script);
    return this;
  }

  /** Appends replies to a conversation's queue (creating it). */
  enqueue(conversation: string, ...replies: FakeReply[]): this {
    const current = this.scripts.get(conversation);
    if (typeof current === 'function')
      throw new Error(`conversation ${conversation} is scripted with a function`);
    this.scripts.set(conversation, [...(current ?? []), ...replies]);
    return this;
  }

  /** Replies still queued for a conversation (0 for function scripts). */
  pending(conversation: string): number {
    const s = this.scripts.get(conversation);
    return Array.isArray(s) ? s.length : 0;
  }

  /** The `POST /v1/messages` requests of one conversation, in order. */
  requestsFor(conversation: string): RecordedRequest[] {
    return this.requests.filter((r) => r.conversation === conversation && r.route === 'messages');
  }

  /** Forgets scripts and recorded requests. */
  reset(): void {
    this.scripts.clear();
    this.counts.clear();
    this.requests.length = 0;
  }

  /** Stops listening and cuts open connections (streams in flight included). */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const route: Route | undefined =
      url.pathname === '/v1/messages'
        ? 'messages'
        : url.pathname === '/v1/messages/count_tokens'
          ? 'count_tokens'
          : undefined;
    if (req.method !== 'POST' || !route) {
      await drain(req);
      return this.sendError(res, 404, 'not_found_error', `Not found: ${req.method} ${url.pathname}`);
    }
    const limit = this.options.maxBodyBytes ?? 32 * 1024 * 1024;
    const raw = await readBody(req, limit);
    if (raw === undefined) {
      return this.sendError(
        res,
        413,
        'request_too_large',
        `Request exceeds the maximum allowed number of bytes (${limit}).`,
      );
    }
    if (this.apiKey !== undefined && req.headers['x-api-key'] !== this.apiKey) {
      return this.sendError(res, 401, 'authentication_error', 'invalid x-api-key');
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8')) as unknown;
    } catch (err) {
      return this.sendError(
        res,
        400,
        'invalid_request_error',
        `There was an error parsing the body: ${(err as Error).message}`,
      );
    }
    // Message threads: a request that continues one sends only its new messages; the server holds the
    // rest (and the tools and system). Rebuild the whole request, then treat it like any other.
    let thread: { type: 'create' | 'continue' } | undefined;
    if (
      route === 'messages' &&
      body &&
      typeof body === 'object' &&
      'thread' in body &&
      (body as { thread?: unknown }).thread
    ) {
      const { thread: param, ...rest } = body as {
        thread: { type?: string; previous_message_id?: string };
      } & Record<string, unknown>;
      if (param.type === 'continue') {
        const previous = param.previous_message_id ? this.threads.get(param.previous_message_id) : undefined;
        if (!previous) {
          return this.sendError(
            res,
            404,
            'not_found_error',
            `thread message ${param.previous_message_id} not found`,
            undefined,
            { error_code: 'thread_not_found' },
          );
        }
        if (previous.continued) {
          return this.sendError(
            res,
            409,
            'invalid_request_error',
            `thread message ${param.previous_message_id} was already continued`,
            undefined,
            { error_code: 'thread_already_continued' },
          );
        }
        previous.continued = true;
        body = {
          ...previous.params,
          ...rest,
          messages: [...previous.messages, ...((rest.messages as unknown[]) ?? [])],
        };
        thread = { type: 'continue' };
      } else if (param.type === 'create') {
        body = rest;
        thread = { type: 'create' };
      }
    }
    const conversation = conversationOf(req.headers[CONVERSATION_ID_HEADER]);
    const index = route === 'messages' ? (this.counts.get(conversation) ?? 0) + 1 : 0;
    if (route === 'messages') this.counts.set(conversation, index);
    const recorded: RecordedRequest = {
      seq: ++this.seq,
      conversation,
      index,
      method: req.method,
      path: req.url ?? url.pathname,
      route,
      headers: req.headers,
      body: body as MessageCreateParams,
      receivedAt: Date.now(),
    };
    this.requests.push(recorded);
    res.once('close', () => {
      if (!res.writableEnded) recorded.clientClosed = true;
    });
    if (this.options.validate !== false) {
      const result = validateRequest(body, route, {
        lenientRoles: this.options.lenientRoles,
        signer: this.signer,
      });
      if (!result.ok) {
        recorded.invalid = result.message;
        const details = result.errorCode ? { error_code: result.errorCode } : undefined;
        return this.sendError(res, 400, 'invalid_request_error', result.message, undefined, details);
      }
    }
    const params = recorded.body as unknown as Record<string, unknown>;
    // Code execution: the container the answer runs in, and the rules of answering programmatic calls.
    const { container, problem } =
      route === 'messages'
        ? this.containers.forRequest(params)
        : { container: undefined, problem: undefined };
    const programmatic = route === 'messages' ? programmaticCallProblem(params) : undefined;
    if (problem || programmatic) {
      recorded.invalid = (problem ?? programmatic)!;
      return this.sendError(res, 400, 'invalid_request_error', recorded.invalid);
    }
    // Context edits change what the model sees, so everything below counts the edited prompt.
    const { body: seen, applied } = applyContextEdits(params);
    const tokens = promptTokens(seen);
    const contextManagement = params.context_management != null ? { applied_edits: applied } : undefined;
    if (route === 'count_tokens') {
      return this.sendJson(res, 200, {
        input_tokens: tokens,
        ...(contextManagement && { context_management: { original_input_tokens: promptTokens(params) } }),
      });
    }
    const window = contextWindowOf(this.options.contextWindow, String(params.model));
    const tooLong = promptTooLong(tokens, window);
    if (tooLong) {
      recorded.invalid = tooLong;
      return this.sendError(res, 400, 'invalid_request_error', tooLong);
    }
    const threaded = thread !== undefined;
    const messages = params.messages as unknown[];
    // A compaction request is answered by the fake itself: no script is consumed.
    if (params.compaction != null) {
      const { instructions } = params.compaction as { instructions?: string | null };
      const block = compactionBlock(this.signer, messages, tokens, 'summarize', instructions);
      return this.send(res, compactionOnly(block), recorded, threaded, {
        seen,
        input: NO_INPUT,
        iterations: [compactionUsage(tokens, block)],
      });
    }
    // Threshold compaction: the prompt reached the edit's trigger, so the answer starts with a summary.
    const edit = compactEdit(params);
    if (edit && tokens >= edit.trigger) {
      const block = compactionBlock(this.signer, messages, tokens, 'compact_20260112', edit.instructions);
      const usage = compactionUsage(tokens, block);
      if (edit.pause) {
        return this.send(res, compactionOnly(block), recorded, threaded, {
          seen,
          input: NO_INPUT,
          iterations: [usage],
          contextManagement,
        });
      }
      // The model then answers from the summary: the prompt it reads is tools, system and the summary.
      const after = { ...seen, messages: [{ role: 'assistant', content: [block] }] };
      const reply = await this.nextReply(recorded);
      return this.send(res, reply, recorded, threaded, {
        seen: after,
        input: { ...NO_INPUT, input_tokens: promptTokens(after) },
        compaction: block,
        compactionUsage: usage,
        contextManagement,
      });
    }
    const reply = await this.nextReply(recorded);
    await this.send(res, reply, recorded, threaded, { seen, contextManagement, container });
  }

  private async nextReply(request: RecordedRequest): Promise<FakeReply> {
    const script = this.scripts.get(request.conversation) ?? this.scripts.get(WILDCARD);
    if (typeof script === 'function') return (script as FakeHandler)(request);
    if (script && script.length > 0) return script.shift()!;
    if (this.options.fallback === 'demo') return demoReply(request.body);
    const why = script ? 'has no reply left' : 'is not scripted';
    return {
      kind: 'error',
      status: 400,
      type: 'invalid_request_error',
      message: `fake-claude: conversation '${request.conversation}' ${why} (request #${request.index})`,
    };
  }

  private async send(
    res: ServerResponse,
    reply: FakeReply,
    request: RecordedRequest,
    threaded: boolean,
    answer: Answer,
  ): Promise<void> {
    const latency = reply.latency ?? this.options.latency ?? {};
    const alive = await sleepUnlessClosed(res, latency.firstByteMs);
    if (!alive) return;
    const stream = request.body.stream === true;
    switch (reply.kind) {
      case 'error':
        return this.sendError(res, reply.status, reply.type, reply.message, reply.headers);
      case 'json':
        return this.sendJson(res, reply.status ?? 200, reply.body, reply.headers);
      case 'fixture': {
        const text = readFileSync(reply.path, 'utf8');
        if (!stream) return this.sendJson(res, 200, accumulateEvents(parseSse(text)).message, reply.headers);
        this.startStream(res, reply.headers);
        // Verbatim bytes, frame by frame, so latency between events can apply.
        const frames = text.split(/(?<=\n\n)/);
        for (const frame of frames) {
          if (!(await this.write(res, frame, latency.betweenEventsMs))) return;
        }
        res.end();
        return;
      }
      case 'message': {
        // Ids once, so the streamed events, the final message and the stored thread agree.
        // The tool search tool runs on the server: its results follow each search in the same answer.
        reply = {
          ...reply,
          content: withToolSearchResults(
            completeBlocks(reply.content),
            request.body as unknown as Record<string, unknown>,
          ),
        };
        const input =
          answer.input ?? this.promptCache.account(answer.seen, String(request.headers['x-api-key'] ?? ''));
        reply = this.signed(this.fitted(reply, input, request.body.model));
        let iterations: Array<Record<string, unknown>> | undefined;
        if (answer.compaction) {
          iterations = [
            answer.compactionUsage!,
            { type: 'message', model: reply.model ?? request.body.model, ...iterationUsage(input, reply) },
          ];
          reply = { ...reply, content: [answer.compaction, ...reply.content] };
        }
        const ctx = {
          id: newId('msg'),
          model: request.body.model,
          input,
          random: seededRandom(request.seq),
          iterations: iterations ?? answer.iterations,
          contextManagement: answer.contextManagement,
          container: answer.container,
        };
        const message = renderMessage(reply, ctx);
        if (threaded) {
          const { messages, ...params } = request.body as unknown as Record<string, unknown> & {
            messages: unknown[];
          };
          delete params.stream;
          this.threads.set(message.id, {
            params,
            messages: [...messages, { role: 'assistant', content: message.content }],
            continued: false,
          });
        }
        if (!stream) return this.sendJson(res, 200, message, reply.headers);
        const events = renderEvents(reply, ctx);
        this.startStream(res, reply.headers);
        await this.streamEvents(
          res,
          events,
          reply.faults ?? {},
          latency.betweenEventsMs,
          (request.sentAt = []),
        );
        return;
      }
    }
  }

  /**
   * The reply cut to what the context window leaves after the prompt (`model_context_window_exceeded`),
   * or unchanged when it fits.
   */
  private fitted(reply: FakeMessageReply, input: CacheUsage, model: string): FakeMessageReply {
    const prompt = input.input_tokens + input.cache_creation_input_tokens + input.cache_read_input_tokens;
    const budget = contextWindowOf(this.options.contextWindow, model) - prompt;
    const wanted = reply.usage?.output_tokens ?? contentTokens(reply.content);
    if (wanted <= budget) return reply;
    return {
      ...reply,
      content: fitToWindow(reply.content, budget),
      stop_reason: 'model_context_window_exceeded',
      stop_sequence: null,
      usage: { ...reply.usage, output_tokens: Math.max(0, budget) },
    };
  }

  /**
   * Thinking blocks as the fake sends them: signed by the fake when the script gave no signature, else
   * with the scripted one, remembered so that the block comes back valid. Scripted `redacted_thinking` data
   * is remembered likewise.
   */
  private signed(reply: FakeMessageReply): FakeMessageReply {
    const content = reply.content.map((block): FakeBlock => {
      if (block.type === 'redacted_thinking') this.signer.rememberRedacted(block.data);
      if (block.type !== 'thinking') return block;
      if (block.signature === undefined)
        return { ...block, signature: this.signer.signThinking(block.thinking) };
      this.signer.rememberThinking(block.thinking, block.signature);
      return block;
    });
    return { ...reply, content };
  }

  private async streamEvents(
    res: ServerResponse,
    events: SseEvent[],
    faults: NonNullable<Extract<FakeReply, { kind: 'message' }>['faults']>,
    betweenMs: number | undefined,
    sentAt: number[],
  ): Promise<void> {
    for (let i = 0; i < events.length; i++) {
      if (faults.dropAfterEvents !== undefined && i >= faults.dropAfterEvents) {
        // Cut the TCP connection mid-body: the client sees the stream end abruptly.
        res.socket?.destroy();
        return;
      }
      if (faults.errorAfterEvents !== undefined && i >= faults.errorAfterEvents) {
        const error = faults.error ?? { type: 'overloaded_error', message: 'Overloaded' };
        await this.write(res, encodeEvent({ event: 'error', data: { type: 'error', error } }), 0);
        res.end();
        return;
      }
      if (!(await this.write(res, encodeEvent(events[i]), i === 0 ? 0 : betweenMs))) return;
      sentAt.push(Date.now());
    }
    res.end();
  }

  private startStream(res: ServerResponse, headers?: Record<string, string>): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': newId('req'),
      ...headers,
    });
    res.flushHeaders();
  }

  private async write(res: ServerResponse, text: string, delayMs: number | undefined): Promise<boolean> {
    if (!(await sleepUnlessClosed(res, delayMs))) return false;
    res.write(text);
    return true;
  }

  private sendJson(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers?: Record<string, string>,
  ): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'request-id': newId('req'),
      ...headers,
    });
    res.end(text);
  }

  private sendError(
    res: ServerResponse,
    status: number,
    type: string,
    message: string,
    headers?: Record<string, string>,
    details?: Record<string, unknown>,
  ): void {
    const requestId = newId('req');
    this.sendJson(
      res,
      status,
      { type: 'error', error: { type, message, ...(details && { details }) }, request_id: requestId },
      { 'request-id': requestId, ...headers },
    );
  }
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) tooLarge = true;
    else chunks.push(c as Buffer);
  }
  return tooLarge ? undefined : Buffer.concat(chunks);
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    // discard
  }
}

/** An answer made only of a compaction block: nothing is sampled after it, no top-level tokens. */
function compactionOnly(block: FakeBlock): FakeMessageReply {
  return {
    kind: 'message',
    content: [block],
    stop_reason: 'compaction',
    usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  };
}

/** The `compaction` entry of `usage.iterations`: the summarizer read the prompt and wrote the summary. */
function compactionUsage(promptTokens: number, block: { content: string }): Record<string, unknown> {
  return {
    type: 'compaction',
    ...NO_INPUT,
    input_tokens: promptTokens,
    output_tokens: estimateTokens(block.content),
  };
}

/** A `message` entry of `usage.iterations`: the reply's own input and output. */
function iterationUsage(input: CacheUsage, reply: FakeMessageReply): Record<string, unknown> {
  return { ...input, output_tokens: reply.usage?.output_tokens ?? contentTokens(reply.content) };
}

/** Waits `ms`, resolving false early if the client went away meanwhile. */
function sleepUnlessClosed(res: ServerResponse, ms: number | undefined): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  if (!ms) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(!res.destroyed);
    }, ms);
    res.once('close', onClose);
  });
}

/** The conversation a request belongs to: its percent-encoded id header, decoded (see src/api/wire.ts). */
function conversationOf(header: string | string[] | undefined): string {
  if (typeof header !== 'string') return WILDCARD;
  try {
    return decodeURIComponent(header);
  } catch {
    return header;
  }
}
