/**
 * MCP servers as tool sources: configuration, tool names, and the pooled client. Node only (it spawns
 * processes and opens connections): import it from activities and the worker, never from workflows.
 */
export { toCallResult, EMPTY_RESULT } from './content';
export { McpTimeoutError, McpUnavailableError, type McpUnavailableReason } from './errors';
export {
  MCP_NAME_SEPARATOR,
  MCP_SERVER_NAME_PATTERN,
  mcpToolName,
  mcpToolNames,
  type McpToolRef,
} from './names';
export {
  IDEMPOTENCY_KEY_META,
  McpPool,
  type McpCallOptions,
  type McpConnectionInfo,
  type McpPoolOptions,
} from './pool';
export { namespaceTools, toolSnapshots } from './tool-snapshots';
export {
  MCP_DEFAULT_TIMEOUT_MS,
  mcpServerConfigSchema,
  mcpServersSchema,
  parseMcpServers,
  type McpApproval,
  type McpCallResult,
  type McpHttpServer,
  type McpServerConfig,
  type McpStdioServer,
  type McpToolOverride,
  type McpToolSnapshot,
} from './types';
