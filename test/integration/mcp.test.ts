/**
 * The MCP client against real servers: the fixture (test/support/mcp-fixture-server.ts) over stdio and over
 * streamable HTTP, and a published server from the registry over stdio. No mocks.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../../src/testing/ports';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EMPTY_RESULT,
  IDEMPOTENCY_KEY_META,
  McpPool,
  McpTimeoutError,
  McpUnavailableError,
  type McpServerConfig,
  type McpToolSnapshot,
} from '../../src/mcp';
import {
  FIXTURE_PAGE_SIZE,
  PNG_1X1,
  startHttpFixture,
  type FixtureState,
  type HttpFixture,
} from '../support/mcp-fixture-server';

const ROOT = join(__dirname, '..', '..');
const FIXTURE = join(__dirname, '..', 'support', 'mcp-fixture-server.ts');

function stdioFixture(name = 'shop'): McpServerConfig {
  return {
    name,
    transport: 'stdio',
    command: process.execPath,
    args: ['--import', 'tsx', FIXTURE, '--stdio'],
    cwd: ROOT,
  };
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function unavailable(promise: Promise<unknown>): Promise<McpUnavailableError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(McpUnavailableError);
  return error as McpUnavailableError;
}

let keys = 0;
const key = () => `wf-test/toolu_${++keys}`;

describe.each(['stdio', 'http'] as const)('MCP over %s', (transport) => {
  let http: HttpFixture | undefined;
  let server: McpServerConfig;
  let pool: McpPool;
  let tools: Map<string, McpToolSnapshot>;
  const pools: McpPool[] = [];
  const newPool = (options?: ConstructorParameters<typeof McpPool>[0]) => {
    const p = new McpPool(options);
    pools.push(p);
    return p;
  };
  const call = (
    name: string,
    input: unknown = {},
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ) => pool.callTool(server, tools.get(name)!, input, { idempotencyKey: key(), ...options });
  const stats = async (p = pool): Promise<FixtureState> => {
    const result = await p.callTool(server, tools.get('stats')!, {}, { idempotencyKey: key() });
    return JSON.parse(result.content as string) as FixtureState;
  };

  beforeAll(async () => {
    if (transport === 'http') http = await startHttpFixture();
    server = http
      ? { name: 'shop', transport: 'http', url: http.url, headers: { 'x-test': '1' } }
      : stdioFixture();
    pool = newPool();
    tools = new Map((await pool.listTools(server)).map((t) => [t.mcpName, t]));
  });

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await http?.close();
  });

  it('lists every page of tools, with effects, approvals and timeouts derived', () => {
    expect(tools.size).toBeGreaterThan(FIXTURE_PAGE_SIZE * 2);
    expect(tools.get('lookup_order')).toMatchObject({
      name: 'shop__lookup_order',
      server: 'shop',
      description: 'Looks up an order by id.',
      effect: 'read',
      approval: 'never',
      timeoutMs: 60_000,
      inputSchema: { type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] },
    });
    expect(tools.get('refund')).toMatchObject({ name: 'shop__refund', effect: 'write', approval: 'always' });
    // No annotations at all: a write, to be safe.
    expect(tools.get('big')).toMatchObject({ effect: 'write', approval: 'always' });
    for (const tool of tools.values()) expect(tool.inputSchema.type).toBe('object');
  });

  it('applies include, exclude and the per-server and per-tool overrides', async () => {
    const listed = await pool.listTools({
      ...server,
      include: ['lookup_order', 'refund', 'fail', 'not_a_tool'],
      exclude: ['fail'],
      approval: 'never',
      timeoutMs: 1234,
      tools: { refund: { approval: 'always', timeoutMs: 99 }, lookup_order: { effect: 'write' } },
    });
    expect(listed.map((t) => [t.name, t.effect, t.approval, t.timeoutMs])).toEqual([
      ['shop__lookup_order', 'write', 'never', 1234],
      ['shop__refund', 'write', 'always', 99],
    ]);
  });

  it('maps each kind of result', async () => {
    expect(await call('lookup_order', { orderId: 'A1' })).toEqual({
      content: '{"orderId":"A1","status":"shipped"}',
      isError: false,
    });
    expect(await call('image')).toEqual({
      content: [
        { type: 'text', text: 'a pixel:' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1X1 } },
      ],
      isError: false,
    });
    expect(await call('resource')).toEqual({
      content: [
        { type: 'text', text: 'the notes' },
        { type: 'text', text: '[resource file:///report.pdf (application/pdf, 5 bytes) not shown]' },
        { type: 'text', text: '[resource big.csv: file:///big.csv (text/csv)]' },
      ],
      isError: false,
    });
    expect(await call('audio')).toEqual({
      content: '[audio (audio/wav, 4 bytes) not shown]',
      isError: false,
    });
    expect(await call('structured')).toEqual({ content: '{"total":42}', isError: false });
    expect(await call('fail')).toEqual({ content: 'order 7 does not exist', isError: true });
    expect(EMPTY_RESULT).toBe('(no content)');
  });

  it('returns 10 MB of text whole', async () => {
    const { content, isError } = await call('big');
    expect(isError).toBe(false);
    expect(typeof content === 'string' && content.length).toBe(10 * 1024 * 1024);
  });

  it('turns protocol-level refusals into error results, not throws', async () => {
    // Unknown tool: McpServer answers with an error result.
    const ghost = { ...tools.get('lookup_order')!, mcpName: 'no_such_tool' };
    const unknown = await pool.callTool(server, ghost, {}, { idempotencyKey: key() });
    expect(unknown).toEqual({ content: expect.stringContaining('no_such_tool not found'), isError: true });
    // Arguments that are not an object: the server refuses the request with a JSON-RPC error (-32602).
    const invalid = await call('lookup_order', 'not an object');
    expect(invalid.isError).toBe(true);
    expect(invalid.content).toMatch(
      /^MCP server "shop" rejected the call to lookup_order: MCP error -32\d{3}: /,
    );
    expect(invalid.content).toContain('expected record, received string');
    // Arguments that fail the tool's schema.
    const wrong = await call('lookup_order', { orderId: 7 });
    expect(wrong).toEqual({ content: expect.stringContaining('Input validation error'), isError: true });
    // The connection survives all of them.
    expect((await call('lookup_order', { orderId: 'A2' })).isError).toBe(false);
  });

  it('sends the idempotency key in _meta, so a retried write runs once', async () => {
    const idempotencyKey = `wf-refund/toolu_${transport}`;
    const refund = tools.get('refund')!;
    const first = await pool.callTool(
      server,
      refund,
      { orderId: 'A1', amountCents: 500 },
      { idempotencyKey },
    );
    const again = await pool.callTool(
      server,
      refund,
      { orderId: 'A1', amountCents: 500 },
      { idempotencyKey },
    );
    expect(first).toEqual({ content: 'refunded 500 cents on A1', isError: false });
    expect(again).toEqual({ content: 'refunded 500 cents on A1 (already done)', isError: false });
    const other = await pool.callTool(
      server,
      refund,
      { orderId: 'A1', amountCents: 500 },
      { idempotencyKey: 'k2' },
    );
    expect(other.content).toBe('refunded 500 cents on A1');
    const seen = await stats();
    expect(seen.refundCalls[idempotencyKey]).toBe(2);
    expect(seen.refundCalls.k2).toBe(1);
    expect(seen.refundsExecuted).toBe(2);
    expect(IDEMPOTENCY_KEY_META).toBe('idempotency-key');
    expect(seen.lastMeta).toEqual({ [IDEMPOTENCY_KEY_META]: 'k2' });
  });

  it('opens one connection for concurrent first calls and reuses it', async () => {
    const shared = newPool();
    const sessionsBefore = http?.state.sessions ?? 0;
    const pids = await Promise.all(
      Array.from({ length: 5 }, () =>
        shared.callTool(server, tools.get('pid')!, {}, { idempotencyKey: key() }),
      ),
    );
    await shared.callTool(server, tools.get('lookup_order')!, { orderId: 'B' }, { idempotencyKey: key() });
    expect(shared.connections()).toHaveLength(1);
    if (http) expect(http.state.sessions - sessionsBefore).toBe(1);
    // stdio: one process served every call.
    else expect(new Set(pids.map((p) => p.content)).size).toBe(1);
    // A configuration that differs only in what it offers shares the connection too.
    await shared.listTools({ ...server, name: 'other', exclude: ['big'] });
    expect(shared.connections()).toHaveLength(1);
  });

  it('closes an idle connection and opens a new one on the next use', async () => {
    const idle = newPool({ idleMs: 300 });
    const pid = tools.get('pid')!;
    const first = await idle.callTool(server, pid, {}, { idempotencyKey: key() });
    const [open] = idle.connections();
    expect(open.transport).toBe(transport);
    const endedBefore = http?.state.sessionsEnded ?? 0;
    await until(() => idle.connections().length === 0, 'the idle connection to close');
    if (http) await until(() => http!.state.sessionsEnded === endedBefore + 1, 'the session to be ended');
    else await until(() => !alive(open.pid!), 'the idle server to exit');
    const second = await idle.callTool(server, pid, {}, { idempotencyKey: key() });
    expect(idle.connections()).toHaveLength(1);
    if (!http) expect(second.content).not.toBe(first.content);
  });

  it('rejects a call that times out, and tells the server to stop', async () => {
    const before = (await stats()).cancelled;
    const started = Date.now();
    const error = await call('slow', { ms: 20_000 }, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpTimeoutError);
    expect((error as Error).message).toBe('MCP tool slow of server "shop" timed out after 300 ms');
    expect(Date.now() - started).toBeLessThan(5000);
    let after = before;
    for (let i = 0; i < 40 && after === before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = (await stats()).cancelled;
    }
    expect(after).toBe(before + 1);
    // The tool's own timeout applies when the call sets none.
    const quick = { ...tools.get('slow')!, timeoutMs: 200 };
    await expect(pool.callTool(server, quick, { ms: 20_000 }, { idempotencyKey: key() })).rejects.toThrow(
      McpTimeoutError,
    );
  });

  it('rejects with the reason when the signal aborts', async () => {
    const controller = new AbortController();
    const reason = new Error('conversation cancelled');
    setTimeout(() => controller.abort(reason), 200);
    await expect(call('slow', { ms: 20_000 }, { signal: controller.signal })).rejects.toBe(reason);
    // Aborted before it starts: not sent at all.
    await expect(call('lookup_order', { orderId: 'C' }, { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
    expect((await call('lookup_order', { orderId: 'C' })).isError).toBe(false);
  });
});

describe('MCP servers that are down', () => {
  const pool = new McpPool({ connectTimeoutMs: 20_000 });
  afterAll(() => pool.close());
  const list = (server: McpServerConfig) => unavailable(pool.listTools(server));

  it('stdio: a command that does not exist', async () => {
    const error = await list({ name: 'ghost', transport: 'stdio', command: 'no-such-mcp-server-xyz' });
    expect(error).toMatchObject({ server: 'ghost', reason: 'spawn' });
    expect(error.message).toBe(
      'MCP server "ghost" could not be started: command "no-such-mcp-server-xyz" not found',
    );
    const badCwd = await list({ name: 'ghost', transport: 'stdio', command: 'node', cwd: '/no/such/dir' });
    expect(badCwd.message).toBe(
      'MCP server "ghost" could not be started: its cwd /no/such/dir does not exist',
    );
  });

  it('stdio: a server that exits at once', async () => {
    const error = await list({
      name: 'quitter',
      transport: 'stdio',
      command: process.execPath,
      args: ['-e', 'console.error("boom: MISSING_TOKEN is not set"); process.exit(3)'],
    });
    expect(error).toMatchObject({ server: 'quitter', reason: 'exited' });
    expect(error.message).toBe(
      'MCP server "quitter" exited with code 3 before completing the MCP handshake; stderr: boom: MISSING_TOKEN is not set',
    );
  });

  it('http: nothing listening', async () => {
    const url = `http://127.0.0.1:${await freePort()}/mcp?token=secret`;
    const error = await list({ name: 'remote', transport: 'http', url });
    expect(error).toMatchObject({ server: 'remote', reason: 'connect' });
    expect(error.message).toMatch(
      /^MCP server "remote" at http:\/\/127\.0\.0\.1:\d+\/mcp refused the connection/,
    );
    expect(error.message).not.toContain('secret');
  });

  it('http: an error status', async () => {
    const fixture = await startHttpFixture();
    try {
      fixture.failWith = 503;
      const error = await list({ name: 'remote', transport: 'http', url: fixture.url });
      expect(error).toMatchObject({ server: 'remote', reason: 'http' });
      expect(error.message).toMatch(
        /^MCP server "remote" at http:\/\/127\.0\.0\.1:\d+\/mcp answered HTTP 503: /,
      );
      expect(error.message).toContain('fixture: failing on purpose');
      // It comes back: the failed connect left nothing behind.
      fixture.failWith = undefined;
      expect(
        (await pool.listTools({ name: 'remote', transport: 'http', url: fixture.url })).length,
      ).toBeGreaterThan(0);
    } finally {
      await fixture.close();
    }
  });
});

describe('MCP servers that go away', () => {
  const pools: McpPool[] = [];
  const newPool = () => {
    const p = new McpPool();
    pools.push(p);
    return p;
  };
  afterAll(() => Promise.all(pools.map((p) => p.close())));

  it('stdio: a killed server is replaced on the next use', async () => {
    const pool = newPool();
    const server = stdioFixture();
    const tools = await pool.listTools(server);
    const pid = tools.find((t) => t.mcpName === 'pid')!;
    const first = Number((await pool.callTool(server, pid, {}, { idempotencyKey: 'a' })).content);
    expect(pool.connections()).toEqual([{ server: 'shop', transport: 'stdio', pid: first, inFlight: 0 }]);
    process.kill(first, 'SIGKILL');
    await until(() => pool.connections().length === 0, 'the pool to notice the exit');
    const second = Number((await pool.callTool(server, pid, {}, { idempotencyKey: 'b' })).content);
    expect(second).not.toBe(first);
  });

  it('stdio: a server that dies during a call is unavailable, with its exit code and stderr', async () => {
    const pool = newPool();
    const server = stdioFixture('crashy');
    const tools = await pool.listTools(server);
    const crash = tools.find((t) => t.mcpName === 'crash')!;
    const error = await unavailable(pool.callTool(server, crash, {}, { idempotencyKey: 'c' }));
    expect(error).toMatchObject({ server: 'crashy', reason: 'exited' });
    expect(error.message).toMatch(
      /^MCP server "crashy" exited with code 7 during a request; stderr: .*fixture: crashing on purpose$/s,
    );
    const lookup = tools.find((t) => t.mcpName === 'lookup_order')!;
    expect((await pool.callTool(server, lookup, { orderId: 'D' }, { idempotencyKey: 'd' })).isError).toBe(
      false,
    );
  });

  it('http: a lost session is replaced transparently; a stopped server is unavailable until it is back', async () => {
    const pool = newPool();
    let fixture = await startHttpFixture();
    const server: McpServerConfig = { name: 'remote', transport: 'http', url: fixture.url };
    try {
      const lookup = (await pool.listTools(server)).find((t) => t.mcpName === 'lookup_order')!;
      const [before] = pool.connections();
      // As after a restart: the server answers the old session's requests with 404, unprocessed.
      await fixture.forgetSessions();
      const result = await pool.callTool(server, lookup, { orderId: 'E' }, { idempotencyKey: 'e' });
      expect(result.isError).toBe(false);
      expect(fixture.state.sessions).toBe(2);
      expect(pool.connections()).toHaveLength(1);
      expect(pool.connections()[0].sessionId).not.toBe(before.sessionId);
      // Stopped: unavailable (not retried: the request may have been half sent), and the next use
      // tries again.
      await fixture.close();
      const error = await unavailable(
        pool.callTool(server, lookup, { orderId: 'F' }, { idempotencyKey: 'f' }),
      );
      expect(error).toMatchObject({ server: 'remote', reason: 'connect' });
      expect(pool.connections()).toHaveLength(0);
      fixture = await startHttpFixture({ port: fixture.port });
      expect((await pool.callTool(server, lookup, { orderId: 'G' }, { idempotencyKey: 'g' })).isError).toBe(
        false,
      );
    } finally {
      await pool.close();
      await fixture.close();
    }
  });
});

describe('a published MCP server (@modelcontextprotocol/server-filesystem)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-fs-'));
  const pool = new McpPool();
  afterAll(async () => {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists its tools and reads a file over stdio', async () => {
    writeFileSync(join(dir, 'hello.txt'), 'hello from the test\n');
    const server: McpServerConfig = {
      name: 'fs',
      transport: 'stdio',
      command: process.execPath,
      args: [require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js'), dir],
    };
    const tools = new Map((await pool.listTools(server)).map((t) => [t.mcpName, t]));
    expect(tools.get('read_text_file')).toMatchObject({
      name: 'fs__read_text_file',
      effect: 'read',
      approval: 'never',
    });
    expect(tools.get('write_file')).toMatchObject({
      name: 'fs__write_file',
      effect: 'write',
      approval: 'always',
    });
    const listing = await pool.callTool(
      server,
      tools.get('list_directory')!,
      { path: dir },
      { idempotencyKey: 'l' },
    );
    expect(listing).toEqual({ content: '[FILE] hello.txt', isError: false });
    const read = await pool.callTool(
      server,
      tools.get('read_text_file')!,
      { path: join(dir, 'hello.txt') },
      { idempotencyKey: 'r' },
    );
    expect(read).toEqual({ content: 'hello from the test\n', isError: false });
    const outside = await pool.callTool(
      server,
      tools.get('read_text_file')!,
      { path: '/etc/hostname' },
      { idempotencyKey: 'o' },
    );
    expect(outside.isError).toBe(true);
  });
});
