import { createHash } from 'node:crypto';
import type { TextBlockParam, ThinkingConfigParam, ToolUnion } from '@anthropic-ai/sdk/resources/messages';
import { zodOutputFormat } from '@anthropic-ai/sdk/helpers/zod';
import { z } from 'zod';
import {
  BudgetSchema,
  CompactionSchema,
  ContextManagementSchema,
  EFFORTS,
  LimitsSchema,
  type Budget,
  type CompactionConfig,
  type ContextManagement,
  type Effort,
  type Limits,
} from '../api/conversation';
import { AGENT_NAME_PATTERN } from '../api/agents';
import { formatIssues } from '../api/issues';
import { mcpServerConfigSchema, type McpServerConfig } from '../mcp/types';
import { MEMORY_TOOL_NAME, MemoryConfigSchema, type MemoryConfig } from '../memory/config';
import type { ApprovalPolicy, ToolDefinition } from '../tools/define-tool';
import { TOOL_SEARCH_TOOL_NAMES, ToolSearchSchema, type ToolSearchConfig } from './tool-search';

/** An agent, as its author writes it: who it is, what it knows, what it may do. */
export interface AgentSpec {
  /** How conversations name it (`agent: 'support'`): `^[a-zA-Z0-9_-]{1,64}$`, unique on the worker. */
  name: string;
  /** What it is for: shown to operators, and to a parent agent that offers it as a tool. */
  description?: string;
  model: string;
  system?: string | TextBlockParam[];
  /** Your tools (made with `defineTool`). */
  tools?: ToolDefinition[];
  /** MCP servers whose tools this agent offers (listed at the start of each run, see README). */
  mcpServers?: McpServerConfig[];
  /**
   * Other agents this one may hand a task to, by name. Each becomes a tool (`input: { task }`); a call
   * runs the other agent as a child conversation and answers with its final text.
   */
  subAgents?: string[];
  /**
   * Approval overrides by tool name (your tools, MCP tools by their namespaced name, sub-agents):
   * `never`, `always`, or a predicate over the validated input. They win over the tool's own policy.
   */
  approval?: Record<string, ApprovalPolicy<never>>;
  /**
   * The memory tool (`memory_20250818`): files under `/memories` kept across conversations, one tree per
   * tenant, on the worker's backend (see README, Memory). `{}` turns it on.
   */
  memory?: MemoryConfig;
  /** This agent's limits (a conversation's own `limits` win over them). */
  limits?: Limits;
  /** A ceiling on each conversation's spend, in dollars and/or tokens (a conversation's own wins). */
  budget?: Budget;
  /**
   * Compaction, so its conversations outlive the context window: a token threshold, the context-window
   * fallback (on by default), instructions, client or server mode (a conversation's own settings win).
   */
  compaction?: CompactionConfig;
  /** Context editing (`clear_tool_uses_20250919`, `clear_thinking_20251015`), passed to the API. */
  contextManagement?: ContextManagement;
  /** `output_config.effort`: how much effort the model puts into its answers. */
  effort?: Effort;
  /** Prompt caching (default `5m`; see the conversation input's `promptCaching`). */
  promptCaching?: '5m' | '1h' | 'off';
  thinking?: ThinkingConfigParam;
  /** Default 4096. */
  maxTokens?: number;
  temperature?: number;
  stopSequences?: string[];
  /** Server tools (web search, code execution), passed to the API untouched. */
  serverTools?: ToolUnion[];
  /**
   * Tool search for large tool libraries (`regex` or `bm25`): deferred tools are sent with
   * `defer_loading: true` and the model finds them with the API's tool search tool. By default every MCP
   * tool is deferred, and every tool once the agent offers more than 30; `{ variant, defer }` chooses
   * (`all`, `mcp` or a list of names); a tool's or MCP server's `deferLoading` wins over the defaults.
   */
  toolSearch?: ToolSearchConfig;
  /** Beta headers to send. */
  betas?: string[];
  /** How deep sub-agents may nest under a conversation of this agent (default 3). */
  maxSubAgentDepth?: number;
  /**
   * The final answer of every turn as a JSON object of this schema (structured output): sent as
   * `output_config.format` (the SDK's `zodOutputFormat`: constraints the API does not support move into
   * descriptions), and each turn's last answer is checked against this schema itself, refinements
   * included. The result and state carry it (`output`, `outputStatus`). A conversation's own
   * `outputSchema` wins.
   */
  output?: z.ZodObject;
}

/** A defined agent: its spec, checked, with the fingerprint of everything that shapes its calls. */
export interface AgentDefinition extends Readonly<AgentSpec> {
  readonly tools: ToolDefinition[];
  readonly mcpServers: McpServerConfig[];
  readonly subAgents: string[];
  readonly maxTokens: number;
  readonly promptCaching: '5m' | '1h' | 'off';
  readonly maxSubAgentDepth: number;
  /**
   * 12 hex digits of a SHA-256 over the definition (prompt, model, tool definitions and policies, MCP
   * servers, sub-agents, limits). Each model call records the fingerprint it used, so a deploy that
   * changes the agent shows in the conversation's history and state.
   */
  readonly fingerprint: string;
}

const SpecSchema = z.object({
  name: z.string().regex(AGENT_NAME_PATTERN, `an agent name must match ${AGENT_NAME_PATTERN}`),
  description: z.string().max(4000).optional(),
  model: z.string().min(1),
  system: z
    .union([z.string(), z.array(z.looseObject({ type: z.literal('text'), text: z.string() }))])
    .optional(),
  tools: z.array(z.looseObject({ name: z.string() })).optional(),
  mcpServers: z.array(mcpServerConfigSchema).optional(),
  subAgents: z.array(z.string().regex(AGENT_NAME_PATTERN)).optional(),
  approval: z
    .record(
      z.string(),
      z.union([
        z.literal('never'),
        z.literal('always'),
        z.custom<() => boolean>((v) => typeof v === 'function'),
      ]),
    )
    .optional(),
  memory: MemoryConfigSchema.optional(),
  limits: LimitsSchema.optional(),
  budget: BudgetSchema.optional(),
  compaction: CompactionSchema.optional(),
  contextManagement: ContextManagementSchema.optional(),
  effort: z.enum(EFFORTS).optional(),
  promptCaching: z.enum(['5m', '1h', 'off']).optional(),
  thinking: z.looseObject({ type: z.string() }).optional(),
  maxTokens: z.number().int().positive().optional(),
  temperature: z.number().min(0).max(1).optional(),
  stopSequences: z.array(z.string()).optional(),
  serverTools: z.array(z.looseObject({ type: z.string(), name: z.string() })).optional(),
  toolSearch: ToolSearchSchema.optional(),
  betas: z.array(z.string()).optional(),
  maxSubAgentDepth: z.number().int().min(0).max(10).optional(),
  output: z
    .custom<z.ZodObject>((v) => v instanceof z.ZodObject, 'output must be a zod object schema')
    .optional(),
});

/**
 * Defines an agent: its model and system prompt, its tools, MCP servers and sub-agents, approval
 * overrides and limits. Give it to the worker (`agents: [support]`, or export it from the module
 * `AGENT_MODULE` names); conversations start with `agent: 'support'`.
 *
 * ```ts
 * export const support = defineAgent({
 *   name: 'support',
 *   model: 'claude-sonnet-5-5',
 *   system: 'You help customers with their orders.',
 *   tools: [lookupOrder, refund],
 *   approval: { refund: (input: { amount: number }) => input.amount > 100 },
 * });
 * ```
 */
export function defineAgent(spec: AgentSpec): AgentDefinition {
  const parsed = SpecSchema.safeParse(spec);
  if (!parsed.success) {
    const name = typeof spec?.name === 'string' ? ` ${JSON.stringify(spec.name)}` : '';
    throw new Error(`agent${name}: ${formatIssues(parsed.error)}`);
  }
  const tools = spec.tools ?? [];
  const seen = new Set<string>();
  for (const tool of tools) {
    if (seen.has(tool.name)) throw new Error(`agent ${spec.name}: tool ${tool.name} is listed twice`);
    seen.add(tool.name);
  }
  const subAgents = spec.subAgents ?? [];
  if (subAgents.includes(spec.name)) {
    throw new Error(`agent ${spec.name}: it names itself as a sub-agent (a conversation cannot call itself)`);
  }
  for (const sub of subAgents) {
    if (seen.has(sub)) throw new Error(`agent ${spec.name}: ${sub} is both a tool and a sub-agent`);
  }
  for (const name of Object.values(TOOL_SEARCH_TOOL_NAMES)) {
    if (spec.toolSearch && (seen.has(name) || subAgents.includes(name)))
      throw new Error(
        `agent ${spec.name}: it has tool search, so no tool or sub-agent of it may be named ${name}`,
      );
  }
  if (spec.memory && (seen.has(MEMORY_TOOL_NAME) || subAgents.includes(MEMORY_TOOL_NAME))) {
    throw new Error(`agent ${spec.name}: it has memory, so no tool or sub-agent of it may be named memory`);
  }
  const servers = new Set<string>();
  for (const server of spec.mcpServers ?? []) {
    if (servers.has(server.name))
      throw new Error(`agent ${spec.name}: MCP server ${server.name} is listed twice`);
    servers.add(server.name);
  }
  const definition = {
    ...spec,
    tools,
    mcpServers: spec.mcpServers ?? [],
    subAgents,
    maxTokens: spec.maxTokens ?? 4096,
    promptCaching: spec.promptCaching ?? '5m',
    maxSubAgentDepth: spec.maxSubAgentDepth ?? 3,
  };
  return Object.freeze({ ...definition, fingerprint: fingerprintOf(definition) });
}

/** The fingerprint: a hash of the definition's canonical JSON (functions by their source text). */
function fingerprintOf(definition: Omit<AgentDefinition, 'fingerprint'>): string {
  const shape = {
    ...definition,
    // The schema as the API gets it (a zod object is no JSON).
    output: definition.output && outputSchemaOf(definition.output, definition.name),
    tools: definition.tools.map((tool) => ({
      api: tool.toApiTool(),
      effect: tool.effect,
      approval: policyText(tool.approval),
      // Only when set, so the fingerprints of agents without them stay what they were.
      ...(tool.approvers && { approvers: tool.approvers }),
      ...(tool.approvalsRequired !== undefined && { approvalsRequired: tool.approvalsRequired }),
      timeoutMs: tool.timeoutMs,
      deferLoading: tool.deferLoading,
    })),
    approval: Object.fromEntries(
      Object.entries(definition.approval ?? {}).map(([name, policy]) => [name, policyText(policy)]),
    ),
  };
  return createHash('sha256').update(canonicalJson(shape)).digest('hex').slice(0, 12);
}

/** An agent's output schema as the API gets it; one the SDK cannot transform is refused at definition. */
function outputSchemaOf(output: z.ZodObject, agent: string): Record<string, unknown> {
  try {
    return zodOutputFormat(output).schema;
  } catch (err) {
    throw new Error(`agent ${agent}: output: ${(err as Error).message}`);
  }
}

function policyText(policy: ApprovalPolicy<never> | undefined): string | undefined {
  return typeof policy === 'function' ? `predicate:${policy.toString()}` : policy;
}

/** JSON with object keys sorted, so the fingerprint does not depend on the order a spec was written in. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
