/**
 * Pure helpers that turn tool-call outcomes into the `tool_result` blocks the API wants. No I/O, so
 * unit tests need no server.
 */
import type { ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages';
import type { RunToolResult, ToolCallInfo } from '../api/activity-contract';
import type { RecordedDecision } from '../api/approvals';

/** A `tool_result` block; `is_error` only when true (the API's default is false). */
export function toolResult(
  toolUseId: string,
  content: RunToolResult['content'],
  isError: boolean,
): ToolResultBlockParam {
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

/** The result for a call an operator (or the deadline, or the end of the conversation) rejected. */
export function rejectedResult(decision: RecordedDecision): ToolResultBlockParam {
  const text =
    decision.via === 'deadline'
      ? `This call was not approved in time (${decision.reason}); it was not run.`
      : decision.via === 'end'
        ? 'The conversation ended before this call was approved; it was not run.'
        : `An operator (${decision.decidedBy}) rejected this call${decision.reason ? `: ${sentence(decision.reason)}` : '.'} It was not run.`;
  return toolResult(decision.toolUseId, text, true);
}

/** The result of a call that ran with an operator's edited input: the model is told what actually ran. */
export function editedResult(decision: RecordedDecision, result: RunToolResult): ToolResultBlockParam {
  const note =
    `An operator (${decision.decidedBy}) edited the input before the call ran${decision.reason ? ` (${decision.reason})` : ''}. ` +
    `The input that ran: ${JSON.stringify(decision.input)}\n\nResult:\n`;
  const content: RunToolResult['content'] =
    typeof result.content === 'string'
      ? note + result.content
      : [{ type: 'text', text: note }, ...result.content];
  return toolResult(decision.toolUseId, content, result.isError);
}

/** A reason as a sentence: ends with a full stop unless it already ends with punctuation. */
function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
