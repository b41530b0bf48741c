import type { ImageBlockParam, TextBlockParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import { log } from '@temporalio/activity';
import { SUB_AGENT_INPUT_SCHEMA, type AgentSnapshot, type AgentToolInfo } from '../api/agents';
import { quote } from '../api/bounds';
import { formatIssues } from '../api/issues';
import type { McpPool } from '../mcp/pool';
import { namespaceTools } from '../mcp/tool-snapshots';
import type { McpServerConfig, McpToolSnapshot } from '../mcp/types';
import { MEMORY_TOOL_NAME } from '../memory/config';
import { memoryTool, type MemoryBackends } from '../memory/tool';
import { approvalRequired, type ApprovalPolicy, type ToolDefinition } from '../tools/define-tool';
import { approverRulesOf } from '../tools/approver-rules';
import type { AgentDefinition } from './define-agent';
import type { AgentRegistry } from './registry';
import type { OfferedTool } from './offered-tool';

export type { OfferedTool } from './offered-tool';

/** A mistake in an agent's definition or its servers' offer that retrying cannot fix. */
export class AgentConfigurationError extends Error {
  override name = 'AgentConfigurationError';
}

/**
 * Most tools one agent may offer. Every call sends the whole list (a few hundred tools already cost
 * more prompt than most conversations), and the run's listing is kept in workflow history: an MCP
 * server with thousands of tools must be narrowed with `include` / `exclude`.
 */
export const MAX_AGENT_TOOLS = 500;

/** How long a listing of an agent's MCP servers is reused by model calls before it is asked for again. */
const LISTING_TTL_MS = 60_000;

interface Listing {
  at: number;
  tools: Array<{ server: McpServerConfig; tool: McpToolSnapshot }>;
  unavailable: Array<{ server: string; error: string }>;
}

/**
 * The tools of the worker's agents: their own tools, their MCP servers' tools (listed through the
 * worker's pool of MCP connections) and their sub-agents, as the activities offer and run them.
 */
export class AgentTools {
  private readonly listings = new Map<string, Listing>();
  private readonly refreshing = new Map<string, Promise<Listing>>();

  constructor(
    readonly registry: AgentRegistry,
    private readonly pool?: McpPool,
    /** The memory backends of agents with `memory` (see src/memory). */
    private readonly memory?: MemoryBackends,
  ) {}

  /**
   * The agent as a run sees it, with a fresh listing of its MCP servers. A server that cannot be listed
   * fails the call while `retryUnavailable` (Temporal retries it); after that its tools are left out of
   * the run and the snapshot says which server and why.
   */
  async snapshot(name: string, options: { retryUnavailable: boolean }): Promise<AgentSnapshot> {
    const agent = this.registry.resolve(name);
    const listing = await this.list(agent);
    if (listing.unavailable.length > 0 && options.retryUnavailable) {
      const [first] = listing.unavailable;
      throw new Error(`MCP server ${first.server} is unavailable: ${first.error}`);
    }
    const tools: AgentToolInfo[] = [
      ...agent.tools.map((t): AgentToolInfo => ({ name: t.name, source: 'tool', effect: t.effect })),
      ...(agent.memory ? [{ name: MEMORY_TOOL_NAME, source: 'tool', effect: 'write' } as const] : []),
      ...listing.tools.map(({ server, tool }): AgentToolInfo => ({
        name: tool.name,
        source: 'mcp',
        effect: tool.effect,
        server: server.name,
      })),
      ...agent.subAgents.map((sub): AgentToolInfo => ({ name: sub, source: 'agent' })),
    ];
    if (tools.length > MAX_AGENT_TOOLS) {
      const counts = agent.mcpServers
        .map(
          (server) => `${server.name}: ${listing.tools.filter((t) => t.server.name === server.name).length}`,
        )
        .join(', ');
      throw new AgentConfigurationError(
        `agent ${agent.name} offers ${tools.length} tools, more than the ${MAX_AGENT_TOOLS} one agent may offer (MCP servers: ${counts}); narrow them with include / exclude`,
      );
    }
    return {
      name: agent.name,
      fingerprint: agent.fingerprint,
      ...(agent.description !== undefined && { description: agent.description }),
      model: agent.model,
      maxTokens: agent.maxTokens,
      promptCaching: agent.promptCaching,
      ...(agent.limits && { limits: agent.limits }),
      ...(agent.budget && { budget: agent.budget }),
      ...(agent.compaction && { compaction: agent.compaction }),
      maxSubAgentDepth: agent.maxSubAgentDepth,
      tools,
      ...(listing.unavailable.length > 0 && { unavailable: listing.unavailable }),
    };
  }

  /**
   * The tools a model call offers: those of `names` (the run's listing) the agent still has. A tool a
   * deploy removed is left out (the model cannot call it; one it still calls gets an unknown-tool result).
   */
  async offered(agent: AgentDefinition, names: readonly string[]): Promise<OfferedTool[]> {
    const wanted = new Set(names);
    const listing = agent.mcpServers.length > 0 ? await this.cachedListing(agent) : undefined;
    const offered: OfferedTool[] = [];
    for (const tool of agent.tools) {
      if (wanted.has(tool.name)) offered.push(fromDefinition(tool, 'tool', agent.approval?.[tool.name]));
    }
    if (agent.memory && wanted.has(MEMORY_TOOL_NAME)) offered.push(this.memoryOf(agent));
    for (const entry of listing?.tools ?? []) {
      if (wanted.has(entry.tool.name)) offered.push(fromMcp(entry, agent.approval?.[entry.tool.name]));
    }
    for (const sub of agent.subAgents) {
      const child = this.registry.get(sub);
      if (child && wanted.has(sub)) offered.push(fromSubAgent(child, agent.approval?.[sub]));
    }
    return offered;
  }

  /** One tool of the agent, to run it (a sub-agent is the workflow's to run, not an activity's). */
  async find(agent: AgentDefinition, name: string): Promise<OfferedTool | undefined> {
    const own = agent.tools.find((t) => t.name === name);
    if (own) return fromDefinition(own, 'tool', agent.approval?.[name]);
    if (agent.memory && name === MEMORY_TOOL_NAME) return this.memoryOf(agent);
    if (agent.mcpServers.length === 0) return undefined;
    const entry = (await this.cachedListing(agent)).tools.find(({ tool }) => tool.name === name);
    return entry && fromMcp(entry, agent.approval?.[name]);
  }

  /** The agent's memory tool, on its backend. */
  private memoryOf(agent: AgentDefinition): OfferedTool {
    const store = this.memory?.store(agent.memory?.backend);
    if (!store) {
      throw new AgentConfigurationError(
        `agent ${agent.name} has memory on ${agent.memory?.backend ?? 'the default backend'}, which this worker does not have (see README, Memory)`,
      );
    }
    return memoryTool(agent, store, agent.approval?.[MEMORY_TOOL_NAME]);
  }

  /** The agent's MCP servers the worker's last listing could not reach, with why. */
  unavailable(agent: AgentDefinition): Listing['unavailable'] {
    return this.listings.get(agent.name)?.unavailable ?? [];
  }

  /** Calls an MCP tool through the worker's pool (the idempotency key travels in the request's `_meta`). */
  callMcp(
    entry: { server: McpServerConfig; tool: McpToolSnapshot },
    input: unknown,
    options: { idempotencyKey: string; signal: AbortSignal; timeoutMs: number },
  ): Promise<{ content: string | Array<TextBlockParam | ImageBlockParam>; isError: boolean }> {
    if (!this.pool) throw new Error('this worker has no MCP pool');
    return this.pool.callTool(entry.server, entry.tool, input, options);
  }

  /** A listing no older than the TTL; an older one is refreshed, and kept if the refresh fails. */
  private async cachedListing(agent: AgentDefinition): Promise<Listing> {
    const cached = this.listings.get(agent.name);
    if (cached && Date.now() - cached.at < LISTING_TTL_MS) return cached;
    return this.list(agent);
  }

  /** One listing at a time per agent: concurrent callers share it. */
  private list(agent: AgentDefinition): Promise<Listing> {
    const inFlight = this.refreshing.get(agent.name);
    if (inFlight) return inFlight;
    const listing = this.listNow(agent).finally(() => this.refreshing.delete(agent.name));
    this.refreshing.set(agent.name, listing);
    return listing;
  }

  /** Lists every MCP server of the agent; the tools of a server that fails keep their last listing. */
  private async listNow(agent: AgentDefinition): Promise<Listing> {
    if (agent.mcpServers.length === 0) return { at: Date.now(), tools: [], unavailable: [] };
    if (!this.pool) throw new Error(`agent ${agent.name} has MCP servers but this worker has no MCP pool`);
    const previous = this.listings.get(agent.name);
    const pool = this.pool;
    const results = await Promise.all(
      agent.mcpServers.map(async (server) => {
        try {
          return { server, tools: await pool.listTools(server) };
        } catch (err) {
          // Kept in the run's listing (history, state): clipped.
          const error = quote(err instanceof Error ? err.message : String(err), 500);
          log.warn('MCP server could not be listed', { agent: agent.name, server: server.name, error });
          const stale = previous?.tools.filter((t) => t.server.name === server.name).map((t) => t.tool);
          return { server, tools: stale ?? [], error };
        }
      }),
    );
    const named = namespaceTools(results.map(({ server, tools }) => ({ server: server.name, tools })));
    const servers = new Map(agent.mcpServers.map((s) => [s.name, s]));
    const listing: Listing = {
      at: Date.now(),
      tools: named.map((tool) => ({ server: servers.get(tool.server)!, tool })),
      unavailable: results.flatMap(({ server, error }) => (error ? [{ server: server.name, error }] : [])),
    };
    this.listings.set(agent.name, listing);
    return listing;
  }
}

/** The JSON Schema an operator's edit of a call to `tool` is checked against. */
export function inputSchemaOf(tool: OfferedTool): Record<string, unknown> | undefined {
  if (tool.inputSchema) return tool.inputSchema;
  if (tool.definition) return tool.definition.inputJsonSchema;
  return 'input_schema' in tool.api ? (tool.api.input_schema as Record<string, unknown>) : undefined;
}

/** A tool of the worker or of an agent, with the agent's approval override over its own policy. */
export function fromDefinition(
  tool: ToolDefinition,
  source: 'tool' | 'worker',
  override?: ApprovalPolicy<never>,
): OfferedTool {
  return {
    name: tool.name,
    source,
    effect: tool.effect,
    api: tool.toApiTool(),
    definition: tool,
    approverRules: approverRulesOf(tool),
    check: (input) => {
      const parsed = tool.input.safeParse(input);
      return parsed.success
        ? { ok: true, value: parsed.data }
        : { ok: false, error: formatIssues(parsed.error) };
    },
    needsApproval: (value) =>
      override === undefined
        ? tool.needsApproval(value as Record<string, unknown>)
        : approvalRequired(override, value as never),
  };
}

function fromMcp(
  entry: { server: McpServerConfig; tool: McpToolSnapshot },
  override?: ApprovalPolicy<never>,
): OfferedTool {
  const { tool } = entry;
  return {
    name: tool.name,
    source: 'mcp',
    effect: tool.effect,
    api: {
      name: tool.name,
      description: tool.description,
      input_schema: tool.inputSchema as Tool['input_schema'],
    },
    mcp: entry,
    approverRules: approverRulesOf(tool),
    check: (input) => ({ ok: true, value: input }),
    needsApproval: (value) => approvalRequired(override ?? tool.approval, value as never),
  };
}

function fromSubAgent(agent: AgentDefinition, override?: ApprovalPolicy<never>): OfferedTool {
  return {
    name: agent.name,
    source: 'agent',
    effect: 'read',
    subAgent: agent.name,
    api: {
      name: agent.name,
      description:
        agent.description ?? `Hands a task to the ${agent.name} agent and answers with its result.`,
      input_schema: SUB_AGENT_INPUT_SCHEMA as unknown as Tool['input_schema'],
    },
    check: (input) => {
      const task = input && typeof input === 'object' ? (input as { task?: unknown }).task : undefined;
      return typeof task === 'string' && task.trim() !== ''
        ? { ok: true, value: { task } }
        : { ok: false, error: 'task: a non-empty string is required' };
    },
    needsApproval: (value) => (override === undefined ? false : approvalRequired(override, value as never)),
  };
}
