/** A tool as one model call offers it: the shape every source of tools (worker, agent, MCP, memory) gives. */
import type { MemoryTool20250818, Tool } from '@anthropic-ai/sdk/resources/messages';
import type { AgentToolSource } from '../api/agents';
import type { ToolEffect } from '../api/tools';
import type { McpServerConfig, McpToolSnapshot } from '../mcp/types';
import type { ApproverRules } from '../tools/approver-rules';
import type { ToolContext, ToolDefinition, ToolOutput } from '../tools/define-tool';

/** A tool as one model call offers it, whatever it comes from. */
export interface OfferedTool {
  name: string;
  source: AgentToolSource | 'worker';
  effect: ToolEffect;
  /** The API's tool definition (the memory tool: the API's own `memory_20250818`). */
  api: Tool | MemoryTool20250818;
  /** The input's JSON Schema, when `api` has none (the memory tool): an operator's edit is checked against it. */
  inputSchema?: Record<string, unknown>;
  /** A tool the worker runs itself with no definition of its own (the memory tool). */
  run?(input: unknown, context: ToolContext): Promise<ToolOutput>;
  /** The model's input checked against the tool's schema (MCP tools: left to the server). */
  check(input: unknown): { ok: true; value: unknown } | { ok: false; error: string };
  /** Whether this checked input needs an operator's approval. */
  needsApproval(value: unknown): boolean;
  /** Who must approve a call that needs it: groups and distinct approvals (absent: anyone, once). */
  approverRules?: ApproverRules;
  /** A sub-agent: the agent that takes the task. */
  subAgent?: string;
  /** A worker tool or an agent's own tool: its definition (runs in `runTool`). */
  definition?: ToolDefinition;
  /** An MCP tool: its server and listing. */
  mcp?: { server: McpServerConfig; tool: McpToolSnapshot };
}
