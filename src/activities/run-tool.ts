import type { ImageBlockParam, TextBlockParam } from '@anthropic-ai/sdk/resources/messages';
import { activityInfo, ApplicationFailure, cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { fromDefinition, type AgentTools, type OfferedTool } from '../agents/agent-tools';
import type { RunToolInput, RunToolResult } from '../api/activity-contract';
import { DEFAULT_TENANT } from '../api/tenants';
import { McpUnavailableError } from '../mcp/errors';
import { MemoryUnavailableError } from '../memory/store';
import type { ToolContext, ToolOutput } from '../tools/define-tool';

/** Failure type of a tool source that cannot be reached (an MCP server down): retried by Temporal. */
export const TOOL_SOURCE_UNAVAILABLE = 'ToolSourceUnavailable';

export interface RunToolDeps {
  agents: AgentTools;
  /** Largest tool output sent to the model, in characters (default 100,000); longer output is cut. */
  maxOutputChars?: number;
  heartbeatEveryMs?: number;
}

/**
 * Runs one tool call. A tool's failure is data for the model, not a workflow failure: unknown tool,
 * invalid input, a throw or a timeout all come back as an `is_error` result the model can act on.
 * Only the worker's own trouble (a crash, a lost heartbeat) makes Temporal retry the activity.
 */
export function createRunTool(deps: RunToolDeps) {
  const maxChars = deps.maxOutputChars ?? 100_000;
  return async function runTool(call: RunToolInput): Promise<RunToolResult> {
    const started = Date.now();
    const done = (
      content: RunToolResult['content'],
      isError: boolean,
      truncated?: boolean,
    ): RunToolResult => ({
      content,
      isError,
      ...(truncated && { truncated }),
      durationMs: Date.now() - started,
    });
    const tool = await findTool(deps.agents, call);
    if (!tool) {
      // Not the call's fault, and another worker (or this one, later) can run it: Temporal retries.
      // An agent this worker does not serve (a rolling deploy), or an MCP server it could not list.
      const unavailable = unavailableSource(deps.agents, call);
      if (unavailable)
        throw ApplicationFailure.create({ type: TOOL_SOURCE_UNAVAILABLE, message: unavailable });
    }
    if (!tool || tool.subAgent) {
      const available = call.offered ?? deps.agents.registry.tools.names();
      return done(`Unknown tool "${call.name}". Available tools: ${available.join(', ') || 'none'}.`, true);
    }
    const checked = tool.check(call.input);
    if (!checked.ok) {
      return done(
        `Invalid input for ${call.name}: ${checked.error}. Call the tool again with input that matches its schema.`,
        true,
      );
    }
    const timeoutMs = tool.definition?.timeoutMs ?? tool.mcp?.tool.timeoutMs ?? 60_000;

    // The tool's own deadline, and the activity's cancellation (conversation cancelled, worker
    // shutting down), both abort the signal the tool gets.
    const controller = new AbortController();
    const activitySignal = cancellationSignal();
    const onCancel = () => controller.abort(activitySignal.reason);
    activitySignal.addEventListener('abort', onCancel, { once: true });
    const timer = setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    const beat = setInterval(() => heartbeat(), deps.heartbeatEveryMs ?? 1000);
    const { attempt } = activityInfo();
    try {
      const idempotencyKey = `${call.workflowId}/${call.toolUseId}`;
      const context: ToolContext = {
        idempotencyKey,
        workflowId: call.workflowId,
        toolUseId: call.toolUseId,
        signal: controller.signal,
        heartbeat: (details) => heartbeat(details),
        attempt,
        tenant: call.tenant ?? DEFAULT_TENANT,
      };
      const running: Promise<{ content: RunToolResult['content']; isError: boolean }> = tool.mcp
        ? deps.agents.callMcp(tool.mcp, checked.value, {
            idempotencyKey,
            signal: controller.signal,
            timeoutMs,
          })
        : (tool.run
            ? tool.run(checked.value, context)
            : tool.definition!.run(checked.value as Record<string, unknown>, context)
          ).then((output) => ({ content: render(output), isError: false }));
      const output = await Promise.race([
        running,
        new Promise<never>((_, reject) => {
          controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
        }),
      ]);
      const [content, truncated] = cap(output.content, maxChars);
      return done(content, output.isError, truncated);
    } catch (err) {
      if (activitySignal.aborted) throw err;
      const message = err instanceof Error ? err.message : String(err);
      // The source is down (an MCP server, the memory backend), not the call wrong: Temporal retries; when retries run out the model gets
      // an error result that names the server (see tool-calls.ts).
      if (err instanceof McpUnavailableError || err instanceof MemoryUnavailableError) {
        throw ApplicationFailure.create({ type: TOOL_SOURCE_UNAVAILABLE, message, cause: err });
      }
      log.warn('tool failed', {
        tool: call.name,
        toolUseId: call.toolUseId,
        workflowId: call.workflowId,
        error: message,
      });
      return done(`Tool ${call.name} failed: ${message}`, true);
    } finally {
      clearTimeout(timer);
      clearInterval(beat);
      activitySignal.removeEventListener('abort', onCancel);
    }
  };
}

/** Why this worker cannot look the call's tool up now, if it cannot. */
function unavailableSource(agents: AgentTools, call: RunToolInput): string | undefined {
  if (!call.agent || (call.offered && !call.offered.includes(call.name))) return undefined;
  const agent = agents.registry.get(call.agent);
  if (!agent) return `this worker does not serve agent ${call.agent}`;
  const server = agents.unavailable(agent).find((u) => call.name.startsWith(`${u.server}__`));
  return server && `MCP server ${server.server} is unavailable: ${server.error}`;
}

/**
 * The tool a call names: the conversation's agent's (own or MCP), or the worker's own for an ad-hoc
 * one; only among those the model was offered (older workflows do not say: the worker's own, then).
 */
async function findTool(agents: AgentTools, call: RunToolInput): Promise<OfferedTool | undefined> {
  if (call.offered && !call.offered.includes(call.name)) return undefined;
  if (call.agent) {
    const agent = agents.registry.get(call.agent);
    return agent && (await agents.find(agent, call.name));
  }
  const tool = agents.registry.tools.get(call.name);
  return tool && fromDefinition(tool, 'worker');
}

/** Tool output as tool_result content: text and image blocks as they are, anything else as JSON text. */
function render(output: ToolOutput): RunToolResult['content'] {
  if (typeof output === 'string') return output;
  if (
    Array.isArray(output) &&
    output.every(
      (b) => b && typeof b === 'object' && 'type' in b && (b.type === 'text' || b.type === 'image'),
    )
  ) {
    return output as RunToolResult['content'];
  }
  return JSON.stringify(output ?? null);
}

/**
 * Most bytes of images one tool result carries (base64): with the text cap, a result stays far below
 * Temporal's payload limit (an activity result past it fails after the tool ran).
 */
const MAX_IMAGE_BYTES = 1024 * 1024;

/**
 * Cuts text content to `max` characters and images past {@link MAX_IMAGE_BYTES}, telling the model;
 * history stays healthy with huge outputs.
 */
function cap(content: RunToolResult['content'], max: number): [RunToolResult['content'], boolean] {
  const note = (omitted: number) =>
    `\n[output truncated: ${omitted} characters omitted; ask for less if you need the rest]`;
  if (typeof content === 'string') {
    return content.length <= max
      ? [content, false]
      : [content.slice(0, max) + note(content.length - max), true];
  }
  let budget = max;
  let imageBudget = MAX_IMAGE_BYTES;
  let truncated = false;
  const blocks = content.map((block): TextBlockParam | ImageBlockParam => {
    if (block.type === 'image') {
      const bytes = block.source.type === 'base64' ? block.source.data.length : 0;
      if (bytes <= imageBudget) {
        imageBudget -= bytes;
        return block;
      }
      truncated = true;
      return { type: 'text', text: `[image omitted: ${bytes} bytes of base64, past the tool output limit]` };
    }
    if (block.text.length <= budget) {
      budget -= block.text.length;
      return block;
    }
    truncated = true;
    const kept = block.text.slice(0, Math.max(0, budget));
    budget = 0;
    return { ...block, text: kept + note(block.text.length - kept.length) };
  });
  return [blocks, truncated];
}
