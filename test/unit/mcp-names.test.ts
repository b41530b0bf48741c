import { describe, expect, it } from '@jest/globals';
import { TOOL_NAME_PATTERN } from '../../src/api/tools';
import { mcpToolName, mcpToolNames } from '../../src/mcp/names';
import { namespaceTools, toolSnapshots } from '../../src/mcp/tool-snapshots';
import { mcpServersSchema, parseMcpServers, type McpServerConfig } from '../../src/mcp/types';

const refs = (server: string, ...tools: string[]) => tools.map((tool) => ({ server, tool }));

describe('mcpToolName', () => {
  it('joins server and tool with a double underscore', () => {
    expect(mcpToolName('github', 'create_issue')).toBe('github__create_issue');
    expect(mcpToolName('my-srv', 'get-thing')).toBe('my-srv__get-thing');
  });

  it('replaces characters the API refuses with _', () => {
    expect(mcpToolName('fs', 'read.file')).toBe('fs__read_file');
    expect(mcpToolName('fs', 'ünï')).toBe('fs___n_');
    expect(mcpToolName('fs', 'a b:c')).toBe('fs__a_b_c');
  });

  it('cuts long names to 64 characters with a stable hash that keeps long names apart', () => {
    const long = 'x'.repeat(100);
    const a = mcpToolName('server', `${long}_a`);
    const b = mcpToolName('server', `${long}_b`);
    expect(a).toHaveLength(64);
    expect(b).toHaveLength(64);
    expect(a).not.toBe(b);
    expect(a.slice(0, 55)).toBe(`server__${'x'.repeat(47)}`);
    expect(a).toMatch(/_[0-9a-f]{8}$/);
    expect(mcpToolName('server', `${long}_a`)).toBe(a);
    // Exactly 64 characters fit without a hash.
    const fits = 'y'.repeat(64 - 'server__'.length);
    expect(mcpToolName('server', fits)).toBe(`server__${fits}`);
    expect(mcpToolName('server', fits + 'y')).toMatch(/_[0-9a-f]{8}$/);
  });

  it('refuses a server name the configuration would refuse', () => {
    expect(() => mcpToolName('bad name', 'x')).toThrow(/MCP server name "bad name"/);
    expect(() => mcpToolName('x'.repeat(33), 'x')).toThrow(/must match/);
    expect(() => mcpToolName('', 'x')).toThrow(/must match/);
  });

  it('always produces names the API accepts', () => {
    const tools = ['', 'a', '😀'.repeat(40), 'ab'.repeat(50), '../../etc/passwd', 'tab\there', '-'];
    for (const tool of tools) expect(mcpToolName('s', tool)).toMatch(TOOL_NAME_PATTERN);
    for (const name of mcpToolNames(refs('s', ...tools))) expect(name).toMatch(TOOL_NAME_PATTERN);
  });
});

describe('mcpToolNames', () => {
  it('leaves names that do not collide alone', () => {
    expect(mcpToolNames([...refs('a', 'x', 'y'), ...refs('b', 'x')])).toEqual(['a__x', 'a__y', 'b__x']);
  });

  it('gives colliding names a hash suffix; a clean name that needed no change keeps it', () => {
    const names = mcpToolNames(refs('fs', 'read.file', 'read_file', 'read file'));
    expect(names[1]).toBe('fs__read_file');
    expect(names[0]).toMatch(/^fs__read_file_[0-9a-f]{8}$/);
    expect(names[2]).toMatch(/^fs__read_file_[0-9a-f]{8}$/);
    expect(new Set(names).size).toBe(3);
  });

  it('suffixes every member when no single one is clean', () => {
    // Both `a__b` + `c` and `a` + `b__c` are `a__b__c` untouched.
    const names = mcpToolNames([
      { server: 'a__b', tool: 'c' },
      { server: 'a', tool: 'b__c' },
    ]);
    expect(names[0]).toMatch(/^a__b__c_[0-9a-f]{8}$/);
    expect(names[1]).toMatch(/^a__b__c_[0-9a-f]{8}$/);
    expect(names[0]).not.toBe(names[1]);
  });

  it('is deterministic and independent of order', () => {
    const input = [
      ...refs('fs', 'read.file', 'read_file', 'read file', 'x'.repeat(80)),
      ...refs('f', 's__x'),
    ];
    const forward = mcpToolNames(input);
    const backward = mcpToolNames([...input].reverse()).reverse();
    expect(backward).toEqual(forward);
    expect(mcpToolNames(input)).toEqual(forward);
    expect(new Set(forward).size).toBe(input.length);
  });

  it('keeps truncated names unique even when they share a long prefix', () => {
    const tools = Array.from({ length: 200 }, (_, i) => `${'p'.repeat(70)}${i}`);
    const names = mcpToolNames(refs('srv', ...tools));
    expect(new Set(names).size).toBe(200);
    for (const name of names) expect(name.length).toBeLessThanOrEqual(64);
  });

  it('refuses the same tool twice', () => {
    expect(() => mcpToolNames(refs('s', 'x', 'x'))).toThrow(/listed twice/);
  });
});

describe('toolSnapshots and namespaceTools', () => {
  const server: McpServerConfig = {
    name: 'shop',
    transport: 'stdio',
    command: 'shop-mcp',
    exclude: ['drop_tables'],
    tools: { refund: { approval: 'never', timeoutMs: 5000 }, peek: { effect: 'write' } },
  };
  const listed = [
    { name: 'lookup', inputSchema: { type: 'object' as const }, annotations: { readOnlyHint: true } },
    { name: 'refund', inputSchema: { type: 'object' as const, properties: { id: { type: 'string' } } } },
    {
      name: 'peek',
      description: 'Peeks.',
      inputSchema: { type: 'object' as const },
      annotations: { readOnlyHint: true },
    },
    { name: 'drop_tables', inputSchema: { type: 'object' as const } },
    {
      name: 'hinted',
      title: 'Hinted',
      inputSchema: { type: 'object' as const },
      annotations: { readOnlyHint: false },
    },
  ];

  it('derives effect, approval and timeout, and applies exclude', () => {
    const snapshots = toolSnapshots(server, listed);
    expect(snapshots.map((s) => [s.name, s.effect, s.approval, s.timeoutMs])).toEqual([
      ['shop__lookup', 'read', 'never', 60_000],
      ['shop__refund', 'write', 'never', 5000],
      ['shop__peek', 'write', 'always', 60_000],
      ['shop__hinted', 'write', 'always', 60_000],
    ]);
    expect(snapshots[1]).toMatchObject({
      server: 'shop',
      mcpName: 'refund',
      description: '',
      inputSchema: { type: 'object', properties: { id: { type: 'string' } } },
    });
    expect(snapshots[2].description).toBe('Peeks.');
    expect(snapshots[3].description).toBe('Hinted');
  });

  it('applies include, then exclude, ignoring unknown names; the server approval overrides defaults', () => {
    const snapshots = toolSnapshots(
      { ...server, include: ['lookup', 'refund', 'nope'], exclude: ['refund'], approval: 'always' },
      listed,
    );
    expect(snapshots.map((s) => [s.mcpName, s.approval])).toEqual([['lookup', 'always']]);
  });

  it('keeps names unique across the servers of one agent', () => {
    const a = toolSnapshots({ ...server, name: 'a__b' }, [{ name: 'c', inputSchema: { type: 'object' } }]);
    const b = toolSnapshots({ ...server, name: 'a' }, [{ name: 'b__c', inputSchema: { type: 'object' } }]);
    expect(a[0].name).toBe('a__b__c');
    expect(b[0].name).toBe('a__b__c');
    const named = namespaceTools([
      { server: 'a__b', tools: a },
      { server: { name: 'a' }, tools: b },
    ]);
    expect(named[0].name).not.toBe(named[1].name);
    expect(named.map((t) => t.mcpName)).toEqual(['c', 'b__c']);
    expect(() => namespaceTools([{ server: 'a', tools: a }])).toThrow(/belongs to "a__b"/);
    expect(() =>
      namespaceTools([
        { server: 'a', tools: [] },
        { server: 'a', tools: [] },
      ]),
    ).toThrow(/used twice/);
  });
});

describe('mcpServersSchema', () => {
  it('accepts both transports', () => {
    const servers = parseMcpServers([
      {
        name: 'fs',
        transport: 'stdio',
        command: 'npx',
        args: ['server'],
        env: { A: '1' },
        include: ['read'],
      },
      { name: 'gh', transport: 'http', url: 'https://mcp.example/mcp', headers: { authorization: 'x' } },
    ]);
    expect(servers).toHaveLength(2);
  });

  it('says what is wrong', () => {
    const problems = (value: unknown) => {
      const parsed = mcpServersSchema.safeParse(value);
      return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(problems([{ name: 'bad name', transport: 'stdio', command: 'x' }])).toEqual([
      '0.name: must be 1 to 32 letters, digits, "_" or "-" (it prefixes the names of the tools)',
    ]);
    expect(problems([{ name: 'x', transport: 'ws', url: 'ws://x' }])).toEqual([
      '0.transport: transport must be "stdio" or "http"',
    ]);
    expect(problems([{ name: 'x', transport: 'http', url: 'file:///etc/passwd' }])).toEqual([
      '0.url: must be an http: or https: URL',
    ]);
    expect(problems([{ name: 'x', transport: 'stdio', command: 'x', timeout: 5 }])[0]).toMatch(/timeout/);
    expect(
      problems([{ name: 'x', transport: 'stdio', command: 'x', tools: { t: { approval: 'maybe' } } }]),
    ).toHaveLength(1);
    expect(
      problems([
        { name: 'x', transport: 'stdio', command: 'a' },
        { name: 'x', transport: 'stdio', command: 'b' },
      ]),
    ).toEqual(['1.name: MCP server name "x" is used twice']);
    expect(() => parseMcpServers([{ name: '', transport: 'stdio', command: 'x' }])).toThrow(
      /invalid MCP servers: 0.name/,
    );
  });
});
