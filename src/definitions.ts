/**
 * What agent authors define (`<package>/agents`): agents, their tools and MCP servers, and the store
 * that makes their write effects happen once per call. Node-side: tools run in activities, never in
 * workflow code.
 *
 * ```ts
 * import { defineAgent, defineTool, IdempotentStore } from 'claude-temporal-agent/agents';
 * ```
 * @module
 */
export { defineAgent, type AgentDefinition, type AgentSpec } from './agents/define-agent';
export type { McpServerConfig, McpStdioServer, McpHttpServer, McpToolOverride } from './mcp/types';
export {
  defineTool,
  type ApprovalPolicy,
  type ToolContext,
  type ToolDefinition,
  type ToolEffect,
  type ToolOutput,
  type ToolSpec,
} from './tools/define-tool';
export {
  IdempotentStore,
  idempotentWrite,
  type IdempotentStoreOptions,
  type OnceResult,
} from './tools/idempotent-write';
