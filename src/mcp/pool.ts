import { existsSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError, type Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { toCallResult } from './content';
import { McpTimeoutError, McpUnavailableError } from './errors';
import { StdioTransport } from './stdio-transport';
import { namespaceTools, toolSnapshots } from './tool-snapshots';
import type { McpCallResult, McpServerConfig, McpToolSnapshot } from './types';

export { McpTimeoutError, McpUnavailableError, namespaceTools, toolSnapshots };

/**
 * The `_meta` key of a `tools/call` request that carries the call's idempotency key
 * (`workflowId/toolUseId`): the same on every retry of one model tool call. MCP has no standard key for
 * this; a server that honours it runs a write once per key.
 */
export const IDEMPOTENCY_KEY_META = 'idempotency-key';

export interface McpPoolOptions {
  /** Close a connection unused for this long, in ms (default 5 minutes). */
  idleMs?: number;
  /** Longest the MCP handshake, or one `tools/list` page, may take, in ms (default 30 s). */
  connectTimeoutMs?: number;
  /** How the worker introduces itself in the handshake (default `claude-temporal-agent`). */
  clientInfo?: { name: string; version: string };
  /** Largest message a stdio server may send, in bytes (default 64 MiB); a bigger one ends the connection. */
  maxMessageBytes?: number;
  /** How long a stdio server has to exit once its stdin closes, and again after SIGTERM, in ms (default 2 s). */
  closeGraceMs?: number;
  /** Each chunk a stdio server writes to stderr (default: kept only as the tail quoted in errors). */
  onStderr?: (server: string, text: string) => void;
}

/** What a call needs besides the tool and its input. */
export interface McpCallOptions {
  /** Sent in the request's `_meta` under {@link IDEMPOTENCY_KEY_META}. */
  idempotencyKey: string;
  /** Aborting it cancels the call (the server is told) and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Overrides the tool's `timeoutMs`. */
  timeoutMs?: number;
}

/** One open connection, for diagnostics. */
export interface McpConnectionInfo {
  /** The name of the server configuration that opened it. */
  server: string;
  transport: 'stdio' | 'http';
  /** A stdio server's process id. */
  pid?: number;
  /** An HTTP server's session id. */
  sessionId?: string;
  /** Requests running on it now. */
  inFlight: number;
}

interface Connection {
  key: string;
  config: McpServerConfig;
  client: Client;
  transport: StdioTransport | StreamableHTTPClientTransport;
  inFlight: number;
  idleTimer?: NodeJS.Timeout;
  dead: boolean;
}

interface Slot {
  ready: Promise<Connection>;
  connection?: Connection;
}

/**
 * MCP clients pooled per worker: one connection per server configuration (by its transport settings),
 * opened on first use, shared by concurrent calls, closed after `idleMs` without use or by
 * {@link McpPool.close}. A connection that dies (the process exits, the HTTP session is lost) is dropped
 * and opened again on the next use. Node only: use it from activities.
 *
 * ```ts
 * const pool = new McpPool();
 * const tools = await pool.listAgentTools(agent.mcpServers);          // names unique across servers
 * const result = await pool.callTool(server, tool, input, { idempotencyKey, signal });
 * await pool.close();                                                 // at worker shutdown
 * ```
 */
export class McpPool {
  private readonly slots = new Map<string, Slot>();
  private readonly idleMs: number;
  private readonly connectTimeoutMs: number;
  private closed = false;

  constructor(private readonly options: McpPoolOptions = {}) {
    this.idleMs = options.idleMs ?? 5 * 60_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
  }

  /**
   * The tools one server offers under `server`'s configuration (every page of `tools/list`), names
   * unique within that server. For an agent with several servers use {@link listAgentTools}, or pass
   * the lists through `namespaceTools`.
   * @throws McpUnavailableError when the server cannot be reached, started, or list its tools.
   */
  async listTools(server: McpServerConfig): Promise<McpToolSnapshot[]> {
    return this.use(server, undefined, async (connection) => {
      if (!connection.client.getServerCapabilities()?.tools) return toolSnapshots(server, []);
      const tools: McpTool[] = [];
      const cursors = new Set<string>();
      let cursor: string | undefined;
      do {
        let page;
        try {
          page = await connection.client.listTools(cursor === undefined ? undefined : { cursor }, {
            timeout: this.connectTimeoutMs,
          });
        } catch (error) {
          if (error instanceof McpError && error.code === ErrorCode.RequestTimeout)
            throw new McpUnavailableError(
              server.name,
              'timeout',
              `MCP server "${server.name}" did not list its tools within ${this.connectTimeoutMs} ms`,
              { cause: error },
            );
          if (!isRejection(error)) throw error;
          throw new McpUnavailableError(
            server.name,
            'protocol',
            `MCP server "${server.name}" failed to list its tools: ${messageOf(error)}`,
            { cause: error },
          );
        }
        tools.push(...page.tools);
        cursor = page.nextCursor;
        if (cursor !== undefined && cursors.has(cursor))
          throw new McpUnavailableError(
            server.name,
            'protocol',
            `MCP server "${server.name}" repeated a tools/list cursor`,
          );
        if (cursor !== undefined) cursors.add(cursor);
      } while (cursor !== undefined);
      return toolSnapshots(server, tools);
    });
  }

  /** The tools of all of one agent's servers, listed concurrently, names unique across them. */
  async listAgentTools(servers: readonly McpServerConfig[]): Promise<McpToolSnapshot[]> {
    const lists = await Promise.all(
      servers.map(async (server) => ({ server, tools: await this.listTools(server) })),
    );
    return namespaceTools(lists);
  }

  /**
   * Calls one tool. The tool's own failures are data: an `isError` result from the server, and a
   * request the server refuses (unknown tool, invalid arguments: JSON-RPC errors) or answers with
   * an invalid result, come back as `{ isError: true }` with the reason.
   * @throws McpTimeoutError past the timeout (the server is sent a cancellation).
   * @throws the signal's reason when `signal` aborts.
   * @throws McpUnavailableError when the server cannot be reached or started, or goes away during
   *   the call (whether the call ran is then unknown: retry with the same idempotency key).
   */
  async callTool(
    server: McpServerConfig,
    tool: McpToolSnapshot,
    input: unknown,
    options: McpCallOptions,
  ): Promise<McpCallResult> {
    if (tool.server !== server.name)
      throw new Error(`MCP tool ${tool.name} belongs to server "${tool.server}", not "${server.name}"`);
    const timeoutMs = options.timeoutMs ?? tool.timeoutMs;
    const { signal } = options;
    return this.use(server, signal, async (connection) => {
      try {
        const result = await connection.client.callTool(
          {
            name: tool.mcpName,
            arguments: (input ?? {}) as Record<string, unknown>,
            _meta: { [IDEMPOTENCY_KEY_META]: options.idempotencyKey },
          },
          undefined,
          { timeout: timeoutMs, signal },
        );
        // Servers of the 2024-10-07 protocol answer `{ toolResult }`.
        if ('toolResult' in result && !('content' in result))
          return toCallResult({ content: [{ type: 'text', text: JSON.stringify(result.toolResult) }] });
        return toCallResult(result as Parameters<typeof toCallResult>[0]);
      } catch (error) {
        if (signal?.aborted) throw abortReason(signal);
        if (error instanceof McpError && error.code === ErrorCode.RequestTimeout)
          throw new McpTimeoutError(server.name, tool.mcpName, timeoutMs);
        if (isRejection(error))
          return {
            content: `MCP server "${server.name}" rejected the call to ${tool.mcpName}: ${messageOf(error)}`,
            isError: true,
          };
        throw error;
      }
    });
  }

  /** The connections open now. */
  connections(): McpConnectionInfo[] {
    return [...this.slots.values()].flatMap(({ connection: c }) =>
      c && !c.dead
        ? [
            {
              server: c.config.name,
              transport: c.config.transport,
              ...(c.transport instanceof StdioTransport
                ? { pid: c.transport.pid }
                : { sessionId: c.transport.sessionId }),
              inFlight: c.inFlight,
            },
          ]
        : [],
    );
  }

  /** Closes every connection (stdio servers are stopped, HTTP sessions ended); the pool is done. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = [...this.slots.values()];
    this.slots.clear();
    await Promise.all(
      slots.map(async (slot) => {
        const connection = await slot.ready.catch(() => undefined);
        if (connection) await this.shutdown(connection);
      }),
    );
  }

  /**
   * Runs `work` on the server's connection, counting it as in use. An HTTP session the server has
   * forgotten (404: it restarted) is opened again and the request sent once more: the server refused
   * it unseen, so even a write is safe to resend. Connection-level failures become
   * {@link McpUnavailableError} and drop the connection.
   */
  private async use<T>(
    server: McpServerConfig,
    signal: AbortSignal | undefined,
    work: (connection: Connection) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const connection = await untilAborted(this.acquire(server), signal);
      connection.inFlight++;
      clearTimeout(connection.idleTimer);
      try {
        return await work(connection);
      } catch (error) {
        if (error instanceof McpUnavailableError || error instanceof McpTimeoutError || signal?.aborted)
          throw error;
        void this.shutdown(connection);
        if (attempt === 1 && error instanceof StreamableHTTPError && error.code === 404) continue;
        throw describe(server, connection.transport, error, 'request');
      } finally {
        connection.inFlight--;
        this.idleLater(connection);
      }
    }
  }

  private async acquire(server: McpServerConfig): Promise<Connection> {
    if (this.closed) throw new Error('McpPool is closed');
    const key = connectionKey(server);
    const slot = this.slots.get(key);
    if (slot && !slot.connection?.dead) return slot.ready;
    const fresh: Slot = {
      ready: this.connect(server, key).then(
        (connection) => {
          fresh.connection = connection;
          // Closed while connecting: the caller's work fails on the closed client.
          if (this.closed) void this.shutdown(connection);
          return connection;
        },
        (error: unknown) => {
          if (this.slots.get(key) === fresh) this.slots.delete(key);
          throw error;
        },
      ),
    };
    this.slots.set(key, fresh);
    return fresh.ready;
  }

  private async connect(server: McpServerConfig, key: string): Promise<Connection> {
    const client = new Client(this.options.clientInfo ?? { name: 'claude-temporal-agent', version: '0.1.0' });
    const transport =
      server.transport === 'stdio'
        ? new StdioTransport({
            command: server.command,
            args: server.args,
            env: server.env,
            cwd: server.cwd,
            maxMessageBytes: this.options.maxMessageBytes ?? 64 * 1024 * 1024,
            closeGraceMs: this.options.closeGraceMs ?? 2000,
            onStderr: this.options.onStderr && ((text) => this.options.onStderr!(server.name, text)),
          })
        : new StreamableHTTPClientTransport(new URL(server.url), {
            requestInit: { headers: server.headers },
          });
    try {
      await client.connect(transport, { timeout: this.connectTimeoutMs });
    } catch (error) {
      await client.close().catch(() => undefined);
      await transport.close().catch(() => undefined);
      throw describe(server, transport, error, 'connect', this.connectTimeoutMs);
    }
    const connection: Connection = { key, config: server, client, transport, inFlight: 0, dead: false };
    // The process exited or the transport closed: forget the connection; the next use opens another.
    client.onclose = () => {
      connection.dead = true;
      clearTimeout(connection.idleTimer);
      this.forget(connection);
    };
    this.idleLater(connection);
    return connection;
  }

  private idleLater(connection: Connection): void {
    clearTimeout(connection.idleTimer);
    if (connection.dead || connection.inFlight > 0) return;
    connection.idleTimer = setTimeout(() => {
      if (connection.inFlight === 0) void this.shutdown(connection);
    }, this.idleMs).unref();
  }

  private forget(connection: Connection): void {
    if (this.slots.get(connection.key)?.connection === connection) this.slots.delete(connection.key);
  }

  private async shutdown(connection: Connection): Promise<void> {
    connection.dead = true;
    clearTimeout(connection.idleTimer);
    this.forget(connection);
    const { transport } = connection;
    // Ending the session lets the server free it now; a server that is gone must not hold us up.
    if (transport instanceof StreamableHTTPClientTransport && transport.sessionId)
      await Promise.race([
        transport.terminateSession().catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 1000).unref()),
      ]);
    await connection.client.close().catch(() => undefined);
  }
}

/** The connection settings of a configuration: servers with equal ones share a connection. */
function connectionKey(server: McpServerConfig): string {
  const sorted = (map: Record<string, string> | undefined) =>
    Object.entries(map ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(
    server.transport === 'stdio'
      ? ['stdio', server.command, server.args ?? [], sorted(server.env), server.cwd ?? null]
      : ['http', server.url, sorted(server.headers)],
  );
}

/** A failure that is the server's answer to this request, not a broken connection. */
function isRejection(error: unknown): boolean {
  if (error instanceof McpError)
    return error.code !== ErrorCode.ConnectionClosed && error.code !== ErrorCode.RequestTimeout;
  // A result that does not match the protocol's schema (the SDK rejects with the zod error).
  return typeof error === 'object' && error !== null && Array.isArray((error as { issues?: unknown }).issues);
}

/** Says which server failed, and why, in words an operator can act on. */
function describe(
  server: McpServerConfig,
  transport: StdioTransport | StreamableHTTPClientTransport,
  error: unknown,
  phase: 'connect' | 'request',
  connectTimeoutMs?: number,
): McpUnavailableError {
  const who = `MCP server "${server.name}"`;
  const fail = (reason: McpUnavailableError['reason'], message: string) =>
    new McpUnavailableError(server.name, reason, `${who} ${message}`, { cause: error });
  const during = phase === 'connect' ? 'before completing the MCP handshake' : 'during a request';
  if (server.transport === 'stdio' && transport instanceof StdioTransport) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT')
      return server.cwd && !existsSync(server.cwd)
        ? fail('spawn', `could not be started: its cwd ${server.cwd} does not exist`)
        : fail('spawn', `could not be started: command "${server.command}" not found`);
    if (code === 'EACCES')
      return fail('spawn', `could not be started: command "${server.command}" is not executable`);
    if (code && (error as NodeJS.ErrnoException).syscall?.startsWith('spawn'))
      return fail('spawn', `could not be started: ${messageOf(error)}`);
    if (transport.failure) return fail('closed', `was disconnected: ${transport.failure}`);
    if (transport.exit) {
      const { code: exitCode, signal } = transport.exit;
      const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode}`;
      const stderr = transport.stderrTail.trim();
      return fail(
        'exited',
        `${how} ${during}${stderr ? `; stderr: ${stderr.slice(-1000)}` : ' (no stderr output)'}`,
      );
    }
  }
  if (error instanceof McpError && error.code === ErrorCode.RequestTimeout && phase === 'connect')
    return fail('timeout', `did not complete the MCP handshake within ${connectTimeoutMs} ms`);
  if (error instanceof McpError && error.code === ErrorCode.ConnectionClosed)
    return fail('closed', `closed the connection ${during}`);
  if (server.transport === 'http') {
    const where = `at ${safeUrl(server.url)}`;
    if (error instanceof StreamableHTTPError && error.code !== undefined && error.code > 0)
      return fail('http', `${where} answered HTTP ${error.code}: ${clip(messageOf(error))}`);
    // fetch fails with a TypeError whose cause is the socket's error (from Node's realm: no instanceof).
    const cause = (error as { cause?: NodeJS.ErrnoException } | undefined)?.cause;
    if (cause?.code === 'ECONNREFUSED')
      return fail('connect', `${where} refused the connection (nothing listening)`);
    if (cause?.code === 'ENOTFOUND') return fail('connect', `${where} could not be reached: host not found`);
    if (cause && typeof cause === 'object')
      return fail('connect', `${where} could not be reached: ${messageOf(cause)}`);
  }
  return fail('protocol', `failed ${during}: ${clip(messageOf(error))}`);
}

/** The URL without credentials, query or fragment, which may carry secrets. */
function safeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

function clip(text: string, max = 500): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
