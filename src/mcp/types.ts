/**
 * MCP servers as tool sources: what an agent's configuration says about each server, what the worker
 * learns from it (tool snapshots), and what a call returns.
 */
import type { ImageBlockParam, TextBlockParam } from '@anthropic-ai/sdk/resources/messages';
import { z } from 'zod';
import { APPROVER_GROUP_PATTERN, MAX_APPROVALS_REQUIRED } from '../api/approvals';
import { formatIssues } from '../api/issues';
import type { ToolEffect } from '../api/tools';
import { MCP_SERVER_NAME_PATTERN } from './names';

/** Whether a tool's calls wait for an operator. */
export type McpApproval = 'never' | 'always';

/** Per-tool settings, by MCP tool name. */
export interface McpToolOverride {
  /** Overrides the server's `approval` and the annotation-derived default. */
  approval?: McpApproval;
  /** Longest one call may take, in ms; overrides the server's `timeoutMs`. */
  timeoutMs?: number;
  /** Overrides the effect derived from the tool's `readOnlyHint` annotation. */
  effect?: ToolEffect;
  /** Approver groups of this tool's calls; overrides the server's `approvers` (see `defineTool`). */
  approvers?: string[];
  /** Distinct approvals this tool's calls need; overrides the server's `approvalsRequired`. */
  approvalsRequired?: number;
}

interface McpServerCommon {
  /** `^[a-zA-Z0-9_-]{1,32}$`, unique within an agent; prefixes its tools' names (`github__create_issue`). */
  name: string;
  /** The MCP tool names to offer (default: all). Names the server does not have are ignored. */
  include?: string[];
  /** MCP tool names not to offer, applied after `include`. */
  exclude?: string[];
  /**
   * Approval for every tool of this server. Default per tool: `always` for write tools, `never` for
   * read tools, where a tool is read-only only if it says so (`readOnlyHint: true`).
   */
  approval?: McpApproval;
  /** Approver groups of every tool of this server whose calls wait for approval (see `defineTool`). */
  approvers?: string[];
  /** Distinct approvals every tool of this server needs (default 1). */
  approvalsRequired?: number;
  /** Longest one call may take, in ms (default 60 s). */
  timeoutMs?: number;
  /** Settings by MCP tool name (names the server does not have are ignored). */
  tools?: Record<string, McpToolOverride>;
  /**
   * With the agent's `toolSearch`: `false` keeps this server's tools loaded (the model sees them without
   * searching), `true` defers them (the default of `auto`). Ignored without tool search.
   */
  deferLoading?: boolean;
}

/** A server the worker starts as a child process and speaks to over stdin/stdout. */
export interface McpStdioServer extends McpServerCommon {
  transport: 'stdio';
  /** The executable (looked up on `PATH`); run without a shell. */
  command: string;
  args?: string[];
  /**
   * Added to a minimal inherited environment (`HOME`, `LOGNAME`, `PATH`, `SHELL`, `TERM`, `USER`): the
   * worker's own secrets, such as its API key, are not passed on.
   */
  env?: Record<string, string>;
  cwd?: string;
}

/** A server reached over MCP's streamable HTTP transport. */
export interface McpHttpServer extends McpServerCommon {
  transport: 'http';
  /** The MCP endpoint, `http:` or `https:`. */
  url: string;
  /** Sent with every request (e.g. `Authorization`). Never logged. */
  headers?: Record<string, string>;
}

export type McpServerConfig = McpStdioServer | McpHttpServer;

/** Default longest call, in ms. */
export const MCP_DEFAULT_TIMEOUT_MS = 60_000;

const approvalSchema = z.enum(['never', 'always']);
const timeoutSchema = z.number().int().positive().max(86_400_000);
const toolNames = z.array(z.string().min(1));
const approversSchema = z.array(z.string().regex(APPROVER_GROUP_PATTERN)).min(1).max(32);
const approvalsRequiredSchema = z.number().int().min(1).max(MAX_APPROVALS_REQUIRED);

const common = {
  name: z
    .string()
    .regex(
      MCP_SERVER_NAME_PATTERN,
      'must be 1 to 32 letters, digits, "_" or "-" (it prefixes the names of the tools)',
    ),
  include: toolNames.optional(),
  exclude: toolNames.optional(),
  approval: approvalSchema.optional(),
  approvers: approversSchema.optional(),
  approvalsRequired: approvalsRequiredSchema.optional(),
  timeoutMs: timeoutSchema.optional(),
  deferLoading: z.boolean().optional(),
  tools: z
    .record(
      z.string().min(1),
      z.strictObject({
        approval: approvalSchema.optional(),
        timeoutMs: timeoutSchema.optional(),
        effect: z.enum(['read', 'write']).optional(),
        approvers: approversSchema.optional(),
        approvalsRequired: approvalsRequiredSchema.optional(),
      }),
    )
    .optional(),
};
const stringMap = z.record(z.string(), z.string());

/** Validates one server's configuration; unknown keys are refused, so a typo is not silently ignored. */
export const mcpServerConfigSchema: z.ZodType<McpServerConfig> = z.discriminatedUnion(
  'transport',
  [
    z.strictObject({
      ...common,
      transport: z.literal('stdio'),
      command: z.string().min(1),
      args: z.array(z.string()).optional(),
      env: stringMap.optional(),
      cwd: z.string().min(1).optional(),
    }),
    z.strictObject({
      ...common,
      transport: z.literal('http'),
      url: z.url({ protocol: /^https?$/, error: 'must be an http: or https: URL' }),
      headers: stringMap.optional(),
    }),
  ],
  { error: 'transport must be "stdio" or "http"' },
);

/** Validates the servers of one agent: each valid, and their names unique. */
export const mcpServersSchema: z.ZodType<McpServerConfig[]> = z
  .array(mcpServerConfigSchema)
  .superRefine((servers, ctx) => {
    const seen = new Set<string>();
    servers.forEach((server, i) => {
      if (seen.has(server.name))
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `MCP server name ${JSON.stringify(server.name)} is used twice`,
        });
      seen.add(server.name);
    });
  });

/** The servers of one agent, validated; throws an `Error` listing every problem. */
export function parseMcpServers(value: unknown): McpServerConfig[] {
  const parsed = mcpServersSchema.safeParse(value);
  if (!parsed.success)
    throw new Error(`invalid MCP servers: ${formatIssues(parsed.error, { root: '(servers)' })}`);
  return parsed.data;
}

/**
 * One MCP tool as an agent offers it: what the model sees and what the worker needs to call it and
 * judge its calls. Plain JSON, so it can travel through workflow history.
 */
export interface McpToolSnapshot {
  /** The API tool name (`${server}__${tool}`, see `mcpToolNames`). */
  name: string;
  /** The server's configured name. */
  server: string;
  /** The tool's name on its server. */
  mcpName: string;
  description: string;
  /** The tool's input JSON Schema; `type` is always `'object'`. */
  inputSchema: { type: 'object'; [key: string]: unknown };
  effect: ToolEffect;
  approval: McpApproval;
  /** Approver groups (the tool's override, else the server's). */
  approvers?: string[];
  /** Distinct approvals needed (the tool's override, else the server's). */
  approvalsRequired?: number;
  timeoutMs: number;
}

/** What a call returns: tool_result content, and whether the tool reported an error. */
export interface McpCallResult {
  content: string | Array<TextBlockParam | ImageBlockParam>;
  isError: boolean;
}
