/** From a server's `tools/list` to the tools an agent offers. Pure. */
import type { Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { approverRulesOf } from '../tools/approver-rules';
import { mcpToolNames } from './names';
import { MCP_DEFAULT_TIMEOUT_MS, type McpServerConfig, type McpToolSnapshot } from './types';

/**
 * The tools of one server as the configuration offers them: `include`/`exclude` applied, effect from
 * the annotations (only `readOnlyHint: true` makes a tool `read`: hints are the server's word, and an
 * unmarked tool may change anything), approval and timeout from the overrides, names unique within
 * this server. For several servers of one agent, pass the results through {@link namespaceTools}.
 */
export function toolSnapshots(server: McpServerConfig, tools: readonly McpTool[]): McpToolSnapshot[] {
  const include = server.include && new Set(server.include);
  const exclude = new Set(server.exclude ?? []);
  const offered = new Map<string, McpTool>();
  for (const tool of tools) {
    if (include && !include.has(tool.name)) continue;
    if (exclude.has(tool.name)) continue;
    // A server listing one name twice is broken; the first listing wins.
    if (!offered.has(tool.name)) offered.set(tool.name, tool);
  }
  const snapshots = [...offered.values()].map((tool): McpToolSnapshot => {
    const override = server.tools?.[tool.name] ?? {};
    const effect = override.effect ?? (tool.annotations?.readOnlyHint === true ? 'read' : 'write');
    return {
      name: '',
      server: server.name,
      mcpName: tool.name,
      description: tool.description ?? tool.title ?? tool.annotations?.title ?? '',
      // The protocol requires an object schema; `type` is forced so the API's rule holds regardless.
      inputSchema: { ...tool.inputSchema, type: 'object' },
      effect,
      approval: override.approval ?? server.approval ?? (effect === 'write' ? 'always' : 'never'),
      ...approverRulesOf({
        approvers: override.approvers ?? server.approvers,
        approvalsRequired: override.approvalsRequired ?? server.approvalsRequired,
      }),
      timeoutMs: override.timeoutMs ?? server.timeoutMs ?? MCP_DEFAULT_TIMEOUT_MS,
    };
  });
  return namespaceTools([{ server, tools: snapshots }]);
}

/**
 * The tools of all the MCP servers of one agent, with API names unique across them (see
 * `mcpToolNames`): a tool's name depends on the whole set, so compute it once per agent. `server` is
 * the server's name or its configuration. The snapshots come back in order, renamed; nothing else
 * changes.
 */
export function namespaceTools(
  lists: ReadonlyArray<{ server: string | Pick<McpServerConfig, 'name'>; tools: readonly McpToolSnapshot[] }>,
): McpToolSnapshot[] {
  const servers = new Set<string>();
  for (const list of lists) {
    const server = typeof list.server === 'string' ? list.server : list.server.name;
    if (servers.has(server)) throw new Error(`MCP server name "${server}" is used twice`);
    servers.add(server);
    const stray = list.tools.find((tool) => tool.server !== server);
    if (stray) throw new Error(`MCP tool ${stray.mcpName} belongs to "${stray.server}", not "${server}"`);
  }
  const all = lists.flatMap(({ tools }) => tools);
  const names = mcpToolNames(all.map((tool) => ({ server: tool.server, tool: tool.mcpName })));
  return all.map((tool, i) => ({ ...tool, name: names[i] }));
}
