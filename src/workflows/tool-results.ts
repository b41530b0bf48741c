/**
 * Pure helpers that turn tool-call outcomes into the `tool_result` blocks the API wants. No I/O, so
 * unit tests need no server.
 */
import type { ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages';
import type { RunToolResult, ToolCallInfo } from '../api/activity-contract';

/** A `tool_result` block; `is_error` only when true (the API's default is false). */
export function toolResult(toolUseId: string, content: RunToolResult['content'], isError: boolean): ToolResultBlockParam {
  return { type: 'tool_result', tool_use_id: toolUseId, content, ...(isError && { is_error: true }) };
}

/** The result for a call whose input must not run (cut off or not JSON), asking for a shorter or valid one. */
export function notRunResult(call: ToolCallInfo, maxTokens: number): ToolResultBlockParam {
  const why =
    call.problem === 'truncated'
      ? `Your tool input was cut off: the response reached max_tokens (${maxTokens}) before the input was complete, ` +
        'so the tool was not run. Call it again with a shorter input, or split the work into several calls.'
      : 'Your tool input was not valid JSON, so the tool was not run. Call it again with a valid JSON object.';
  return toolResult(call.id, why, true);
}

/** The result for a call that could not be carried out at all (the activity gave up). */
export function failedResult(call: ToolCallInfo, reason: string): ToolResultBlockParam {
  return toolResult(call.id, `The tool ${call.name} could not be run: ${reason}`, true);
}
