/**
 * Agent definitions without a server: what `defineAgent` refuses, what the fingerprint covers, the
 * worker's registry (names unique, sub-agents defined) and loading a user's module (AGENT_MODULE).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { demoAgents } from '../../src/agents/demo';
import { defineAgent } from '../../src/agents/define-agent';
import { loadAgentModule } from '../../src/agents/load-module';
import { AgentRegistry } from '../../src/agents/registry';
import { defineTool } from '../../src/tools/define-tool';

const tool = (name: string, effect: 'read' | 'write' = 'read') =>
  defineTool({ name, description: name, input: z.object({ x: z.string() }), effect, run: async () => 'ok' });
const base = { name: 'a', model: 'claude-sonnet-5-5' };

describe('defineAgent', () => {
  it.each([
    [{ ...base, name: 'has space' }, /agent "has space": name: an agent name must match/],
    [{ ...base, name: 'x'.repeat(65) }, /an agent name must match/],
    [{ ...base, model: '' }, /model/],
    [{ ...base, subAgents: ['a'] }, /agent a: it names itself as a sub-agent/],
    [{ ...base, tools: [tool('t'), tool('t')] }, /agent a: tool t is listed twice/],
    [{ ...base, tools: [tool('b')], subAgents: ['b'] }, /agent a: b is both a tool and a sub-agent/],
    [{ ...base, maxTokens: 0 }, /maxTokens/],
    [{ ...base, limits: { maxTurns: -1 } }, /limits.maxTurns/],
    [{ ...base, mcpServers: [{ name: 'bad name', transport: 'stdio', command: 'x' }] }, /mcpServers/],
    [
      {
        ...base,
        mcpServers: [
          { name: 's', transport: 'stdio', command: 'x' },
          { name: 's', transport: 'http', url: 'http://localhost:1/mcp' },
        ],
      },
      /MCP server s is listed twice/,
    ],
  ])('refuses %#', (spec, message) => {
    expect(() => defineAgent(spec as Parameters<typeof defineAgent>[0])).toThrow(message);
  });

  it('fingerprints everything that shapes a call, not the order it was written in', () => {
    const one = defineAgent({ ...base, system: 'Hi', tools: [tool('t')], maxTokens: 100 });
    const same = defineAgent({
      maxTokens: 100,
      tools: [tool('t')],
      system: 'Hi',
      model: base.model,
      name: 'a',
    });
    expect(one.fingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect(same.fingerprint).toBe(one.fingerprint);
    const changes = [
      defineAgent({ ...base, system: 'Hello', tools: [tool('t')], maxTokens: 100 }),
      defineAgent({ ...base, system: 'Hi', tools: [tool('t', 'write')], maxTokens: 100 }),
      defineAgent({ ...base, system: 'Hi', tools: [tool('t')], maxTokens: 101 }),
      defineAgent({ ...base, model: 'claude-opus-4-1', system: 'Hi', tools: [tool('t')], maxTokens: 100 }),
      defineAgent({ ...base, system: 'Hi', tools: [tool('t')], maxTokens: 100, approval: { t: () => true } }),
    ];
    for (const changed of changes) expect(changed.fingerprint).not.toBe(one.fingerprint);
  });

  it('fills in the defaults', () => {
    expect(defineAgent(base)).toMatchObject({
      tools: [],
      mcpServers: [],
      subAgents: [],
      maxTokens: 4096,
      promptCaching: '5m',
      maxSubAgentDepth: 3,
    });
  });
});

describe('the worker registry', () => {
  it('refuses two agents, or two different tools, with one name, saying which', () => {
    expect(() => new AgentRegistry([defineAgent(base), defineAgent(base)])).toThrow(
      'agent a is defined twice',
    );
    const a = defineAgent({ ...base, tools: [tool('t')] });
    const b = defineAgent({ ...base, name: 'b', tools: [tool('t')] });
    expect(() => new AgentRegistry([a, b])).toThrow(
      'two different tools are named t (agent a and agent b); tool names are unique on a worker',
    );
    expect(() => new AgentRegistry([a], [tool('t')])).toThrow(/the worker and agent a/);
  });

  it('shares one tool between agents, and refuses an undefined sub-agent', () => {
    const shared = tool('t');
    const registry = new AgentRegistry([
      defineAgent({ ...base, tools: [shared] }),
      defineAgent({ ...base, name: 'b', tools: [shared] }),
    ]);
    expect(registry.get('a')?.tools).toEqual([shared]);
    expect(registry.get('b')?.tools).toEqual([shared]);
    // An agent's tools are its own: a conversation without an agent cannot name them.
    expect(registry.tools.names()).toEqual([]);
    expect(() => new AgentRegistry([defineAgent({ ...base, subAgents: ['ghost'] })])).toThrow(
      'agent a: sub-agent ghost is not defined (this worker has: a)',
    );
  });

  it('names the agents it serves for an unknown one', () => {
    const registry = new AgentRegistry([defineAgent(base), defineAgent({ ...base, name: 'b' })]);
    expect(() => registry.resolve('c')).toThrow('unknown agent "c": the workers serve a, b');
  });

  it('serves the demo agents', () => {
    const registry = new AgentRegistry(demoAgents({ dataDir: mkdtempSync(join(tmpdir(), 'demo-')) }));
    expect(registry.names()).toEqual(['support', 'weather']);
    expect(registry.get('support')?.mcpServers.map((s) => s.name)).toEqual(['help']);
  });
});

describe('loading AGENT_MODULE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-module-'));
  const agentsTs = join(__dirname, '..', '..', 'src', 'agents', 'define-agent.ts');
  const toolsTs = join(__dirname, '..', '..', 'src', 'tools', 'define-tool.ts');
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('takes agents exported under any name, and agents / tools arrays', async () => {
    const file = write(
      'ok.js',
      `const { defineAgent } = require(${JSON.stringify(agentsTs)});
       const { defineTool } = require(${JSON.stringify(toolsTs)});
       const { z } = require(${JSON.stringify(require.resolve('zod'))});
       const echo = defineTool({ name: 'echo', description: 'e', input: z.object({}), effect: 'read', run: async () => 'x' });
       exports.support = defineAgent({ name: 'support', model: 'm', tools: [echo] });
       exports.agents = [defineAgent({ name: 'other', model: 'm' })];
       exports.tools = [echo];
       exports.somethingElse = 42;`,
    );
    const loaded = await loadAgentModule(file);
    expect(loaded.agents.map((a) => a.name).sort()).toEqual(['other', 'support']);
    expect(loaded.tools.map((t) => t.name)).toEqual(['echo']);
  });

  it.each([
    ['missing.js', null, /AGENT_MODULE .*missing\.js: cannot load it: Cannot find module/],
    ['syntax.js', 'exports.a = ;', /cannot load it: .*Unexpected token/],
    ['throws.js', "throw new Error('no DATABASE_URL');", /cannot load it: no DATABASE_URL/],
    ['empty.js', 'exports.x = 1;', /exports no agents or tools/],
    ['not-array.js', 'exports.agents = {};', /`agents` must be an array/],
    [
      'wrong-item.js',
      'exports.tools = [{ name: "x" }];',
      /`tools` holds something that is not a tool made with defineTool/,
    ],
  ])('refuses %s, saying why', async (name, text, message) => {
    const file = text === null ? join(dir, name) : write(name, text);
    await expect(loadAgentModule(file)).rejects.toThrow(message);
  });
});
