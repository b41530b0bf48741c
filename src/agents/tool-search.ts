/**
 * Large tool libraries: the tool search tool and deferred loading for an agent's model calls. A deferred
 * tool (`defer_loading: true`) is sent with every call but the model does not see it until a search
 * returns a `tool_reference` to it; the search runs on the API's side (`server_tool_use` →
 * `tool_search_tool_result`, blocks the transcript keeps and sends back as they came). A found tool's
 * `tool_use` is an ordinary call, run by `runTool`.
 */
import type {
  ToolSearchToolBm25_20251119,
  ToolSearchToolRegex20251119,
  ToolUnion,
} from '@anthropic-ai/sdk/resources/messages';
import { z } from 'zod';
import type { OfferedTool } from './offered-tool';

export type ToolSearchVariant = 'regex' | 'bm25';

/**
 * Which tools are deferred:
 * - `auto` (default): every MCP tool; the agent's own tools and sub-agents too once the agent offers more
 *   than {@link DEFER_ALL_ABOVE} tools. A tool's own `deferLoading` and an MCP server's win.
 * - `all`: every tool (a tool or server with `deferLoading: false` stays loaded).
 * - `mcp`: MCP tools only (likewise).
 * - a list of tool names (MCP tools by their namespaced name): exactly these, whatever the tools say.
 */
export type ToolSearchDefer = 'auto' | 'all' | 'mcp' | string[];

/** `toolSearch` of `defineAgent`: the variant, or the variant and which tools are deferred. */
export type ToolSearchConfig = ToolSearchVariant | { variant: ToolSearchVariant; defer?: ToolSearchDefer };

/**
 * Above this many tools, `auto` defers the agent's own tools too. The API's docs put the point where the
 * model starts choosing worse at 30-50 tools; below it, a search round trip costs more than it saves.
 */
export const DEFER_ALL_ABOVE = 30;

const variantSchema = z.enum(['regex', 'bm25']);
export const ToolSearchSchema = z.union([
  variantSchema,
  z.strictObject({
    variant: variantSchema,
    defer: z.union([z.enum(['auto', 'all', 'mcp']), z.array(z.string().min(1)).min(1)]).optional(),
  }),
]);

/** The tool search tool's name for a variant (the API accepts no other). */
export const TOOL_SEARCH_TOOL_NAMES: Record<ToolSearchVariant, string> = {
  regex: 'tool_search_tool_regex',
  bm25: 'tool_search_tool_bm25',
};

/** The API's tool search tool definition. */
export function toolSearchTool(
  variant: ToolSearchVariant,
): ToolSearchToolRegex20251119 | ToolSearchToolBm25_20251119 {
  return variant === 'regex'
    ? { type: 'tool_search_tool_regex_20251119', name: 'tool_search_tool_regex' }
    : { type: 'tool_search_tool_bm25_20251119', name: 'tool_search_tool_bm25' };
}

function normalized(config: ToolSearchConfig): { variant: ToolSearchVariant; defer: ToolSearchDefer } {
  return typeof config === 'string'
    ? { variant: config, defer: 'auto' }
    : { variant: config.variant, defer: config.defer ?? 'auto' };
}

/** What a tool says about its own deferral: `defineTool({ deferLoading })`, or its MCP server's config. */
function ownSetting(tool: OfferedTool): boolean | undefined {
  return tool.mcp ? tool.mcp.server.deferLoading : tool.definition?.deferLoading;
}

/** The names of the tools a call defers, by the rules of {@link ToolSearchDefer}. */
export function deferredNames(config: ToolSearchConfig, tools: readonly OfferedTool[]): Set<string> {
  const { defer } = normalized(config);
  if (Array.isArray(defer)) return new Set(tools.filter((t) => defer.includes(t.name)).map((t) => t.name));
  const many = tools.length > DEFER_ALL_ABOVE;
  const byMode = (tool: OfferedTool): boolean =>
    defer === 'all' || tool.source === 'mcp' || (defer === 'auto' && many);
  return new Set(tools.filter((tool) => ownSetting(tool) ?? byMode(tool)).map((t) => t.name));
}

/**
 * An agent's tools for one call with tool search: the deferred ones marked `defer_loading: true`, and the
 * tool search tool added last among the server tools (a cache breakpoint on the last tool lands on it,
 * never on a deferred tool). Without `toolSearch`, or with nothing to defer, the tools are unchanged and
 * no search tool is sent: a search that can find nothing only costs the model a round trip.
 */
export function withToolSearch(
  config: ToolSearchConfig | undefined,
  tools: OfferedTool[],
  serverTools: ToolUnion[],
): { tools: OfferedTool[]; serverTools: ToolUnion[] } {
  if (!config) return { tools, serverTools };
  const deferred = deferredNames(config, tools);
  if (deferred.size === 0) return { tools, serverTools };
  return {
    tools: tools.map((tool) =>
      deferred.has(tool.name) ? { ...tool, api: { ...tool.api, defer_loading: true } } : tool,
    ),
    serverTools: [...serverTools, toolSearchTool(normalized(config).variant)],
  };
}
