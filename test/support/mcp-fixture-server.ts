/**
 * A small MCP server for the MCP client's tests, built with the SDK's `McpServer`. One tool per kind of
 * result, a write tool that runs once per idempotency key, and counters the tests read back.
 *
 *   node --import tsx test/support/mcp-fixture-server.ts --stdio
 *   node --import tsx test/support/mcp-fixture-server.ts --http 3001      (MCP endpoint: /mcp)
 *
 * In process: `startHttpFixture()` listens on a free port and returns its URL, counters and `close`.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** The `_meta` key the client under test sends the idempotency key in (IDEMPOTENCY_KEY_META). */
const KEY_META = 'idempotency-key';

/** tools/list pages hold this many tools, so every listing exercises pagination. */
export const FIXTURE_PAGE_SIZE = 4;

/** 1x1 transparent PNG. */
export const PNG_1X1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

/** What the fixture counts; one per process (stdio) or per HTTP fixture (all its sessions). */
export interface FixtureState {
  /** MCP sessions initialized (HTTP). */
  sessions: number;
  /** Sessions the client ended with DELETE (HTTP). */
  sessionsEnded: number;
  /** `refund` calls by idempotency key, and how many of them actually refunded. */
  refundCalls: Record<string, number>;
  refundsExecuted: number;
  /** The `_meta` of the last `tools/call`. */
  lastMeta: Record<string, unknown> | null;
  /** `slow` calls the client cancelled. */
  cancelled: number;
}

export function newFixtureState(): FixtureState {
  return { sessions: 0, sessionsEnded: 0, refundCalls: {}, refundsExecuted: 0, lastMeta: null, cancelled: 0 };
}

/** The fixture's tools, on a fresh `McpServer` (one per connection; `state` is shared). */
export function createFixtureServer(state: FixtureState, options: { canCrash?: boolean } = {}): McpServer {
  const server = new McpServer({ name: 'fixture', version: '1.0.0' });
  const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });
  const seen = (meta: Record<string, unknown> | undefined) => {
    state.lastMeta = meta ?? null;
  };

  server.registerTool(
    'lookup_order',
    {
      description: 'Looks up an order by id.',
      inputSchema: { orderId: z.string() },
      annotations: { readOnlyHint: true },
    },
    async ({ orderId }, extra) => {
      seen(extra._meta);
      return text(JSON.stringify({ orderId, status: 'shipped' }));
    },
  );
  server.registerTool(
    'refund',
    {
      description: 'Refunds an order, once per idempotency key.',
      inputSchema: { orderId: z.string(), amountCents: z.number().int() },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
    },
    async ({ orderId, amountCents }, extra) => {
      seen(extra._meta);
      const key = extra._meta?.[KEY_META];
      if (typeof key !== 'string') return { ...text('refund needs an idempotency key'), isError: true };
      const calls = (state.refundCalls[key] ?? 0) + 1;
      state.refundCalls[key] = calls;
      if (calls === 1) state.refundsExecuted++;
      return text(`refunded ${amountCents} cents on ${orderId}${calls > 1 ? ' (already done)' : ''}`);
    },
  );
  server.registerTool(
    'image',
    { description: 'An image.', annotations: { readOnlyHint: true } },
    async () => ({
      content: [
        { type: 'text', text: 'a pixel:' },
        { type: 'image', data: PNG_1X1, mimeType: 'image/png' },
      ],
    }),
  );
  server.registerTool(
    'resource',
    { description: 'Embedded resources and a link.', annotations: { readOnlyHint: true } },
    async () => ({
      content: [
        {
          type: 'resource',
          resource: { uri: 'file:///notes.txt', mimeType: 'text/plain', text: 'the notes' },
        },
        {
          type: 'resource',
          resource: { uri: 'file:///report.pdf', mimeType: 'application/pdf', blob: 'JVBERi0=' },
        },
        { type: 'resource_link', uri: 'file:///big.csv', name: 'big.csv', mimeType: 'text/csv' },
      ],
    }),
  );
  server.registerTool(
    'audio',
    { description: 'A sound.', annotations: { readOnlyHint: true } },
    async () => ({ content: [{ type: 'audio', data: 'UklGRg==', mimeType: 'audio/wav' }] }),
  );
  server.registerTool(
    'structured',
    {
      description: 'Structured content only.',
      outputSchema: { total: z.number() },
      annotations: { readOnlyHint: true },
    },
    async () => ({ content: [], structuredContent: { total: 42 } }),
  );
  server.registerTool('fail', { description: 'Reports an error.' }, async () => ({
    ...text('order 7 does not exist'),
    isError: true,
  }));
  server.registerTool(
    'slow',
    { description: 'Sleeps.', inputSchema: { ms: z.number() }, annotations: { readOnlyHint: true } },
    async ({ ms }, extra) => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        extra.signal.addEventListener('abort', () => {
          state.cancelled++;
          clearTimeout(timer);
          resolve();
        });
      });
      return text(`slept ${ms} ms`);
    },
  );
  server.registerTool(
    'big',
    { description: '10 MB of text.', inputSchema: { bytes: z.number().int().optional() } },
    async ({ bytes }) => text('x'.repeat(bytes ?? 10 * 1024 * 1024)),
  );
  server.registerTool(
    'pid',
    { description: 'The process id.', annotations: { readOnlyHint: true } },
    async () => text(String(process.pid)),
  );
  server.registerTool(
    'stats',
    { description: 'What the fixture counted.', annotations: { readOnlyHint: true } },
    async () => text(JSON.stringify(state)),
  );
  if (options.canCrash)
    server.registerTool('crash', { description: 'Exits the process.' }, async () => {
      process.stderr.write('fixture: crashing on purpose\n');
      process.exit(7);
    });
  paginate(server);
  return server;
}

type Handler = (request: { params?: { cursor?: string } }, extra: unknown) => Promise<{ tools: unknown[] }>;

/**
 * Serves tools/list in pages. `McpServer` lists everything at once and keeps its handler private, so
 * this wraps the registered handler; it fails loudly if a new SDK stores handlers elsewhere.
 */
function paginate(server: McpServer): void {
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, Handler> })._requestHandlers;
  const list = handlers?.get('tools/list');
  if (!handlers || !list) throw new Error('fixture: cannot find the SDK tools/list handler to paginate');
  handlers.set('tools/list', async (request, extra) => {
    const { tools } = await list(request, extra);
    const start = Number(request.params?.cursor ?? 0);
    const end = start + FIXTURE_PAGE_SIZE;
    return { tools: tools.slice(start, end), ...(end < tools.length && { nextCursor: String(end) }) };
  });
}

/** An HTTP fixture: its MCP endpoint, counters, and a switch to answer every request with an error status. */
export interface HttpFixture {
  url: string;
  port: number;
  state: FixtureState;
  /** When set, every request is answered with this HTTP status. */
  failWith?: number;
  /** Forgets every session, as a restarted server would: their requests get 404. */
  forgetSessions(): Promise<void>;
  close(): Promise<void>;
}

/** Serves the fixture over streamable HTTP at `/mcp`, one `McpServer` per session (port 0: a free one). */
export async function startHttpFixture(options: { port?: number } = {}): Promise<HttpFixture> {
  const state = newFixtureState();
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const http: HttpServer = createServer((req, res) => {
    void (async () => {
      if (fixture.failWith) return void res.writeHead(fixture.failWith).end('fixture: failing on purpose');
      if (new URL(req.url ?? '/', 'http://fixture').pathname !== '/mcp') return void res.writeHead(404).end();
      const id = req.headers['mcp-session-id'];
      if (typeof id === 'string') {
        const transport = sessions.get(id);
        if (!transport)
          return void res.writeHead(404, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              jsonrpc: '2.0',
              error: { code: -32001, message: 'Session not found' },
              id: null,
            }),
          );
        return transport.handleRequest(req, res);
      }
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sessionId) => {
          state.sessions++;
          sessions.set(sessionId, transport);
        },
        onsessionclosed: (sessionId) => {
          state.sessionsEnded++;
          sessions.delete(sessionId);
        },
      });
      await createFixtureServer(state).connect(transport);
      await transport.handleRequest(req, res);
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => http.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const fixture: HttpFixture = {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    state,
    forgetSessions: async () => {
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.all(open.map((t) => t.close()));
    },
    close: async () => {
      await Promise.all([...sessions.values()].map((t) => t.close()));
      sessions.clear();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return fixture;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--stdio') {
    await createFixtureServer(newFixtureState(), { canCrash: true }).connect(new StdioServerTransport());
    process.stderr.write('fixture: ready on stdio\n');
  } else if (args[0] === '--http') {
    const fixture = await startHttpFixture({ port: Number(args[1] ?? 0) });
    process.stderr.write(`fixture: ready at ${fixture.url}\n`);
  } else {
    process.stderr.write('usage: mcp-fixture-server.ts --stdio | --http PORT\n');
    process.exit(2);
  }
}

if (require.main === module) void main();
