import type { StopReason } from '@anthropic-ai/sdk/resources/messages';
import type { FakeBlock, FakeErrorReply, FakeFixtureReply, FakeMessageReply, StreamFaults } from './types';

type MessageOptions = Partial<Omit<FakeMessageReply, 'kind' | 'content'>>;

/** A model answer made of `blocks`, ending with `stop_reason` (default `end_turn`). */
export function message(blocks: FakeBlock[], options: MessageOptions = {}): FakeMessageReply {
  return { kind: 'message', content: blocks, stop_reason: 'end_turn', ...options };
}

/** A text answer; `end_turn` unless told otherwise. */
export function text(value: string, options: MessageOptions = {}): FakeMessageReply {
  return message([{ type: 'text', text: value }], options);
}

/** One tool call to make. `rawInput` streams verbatim instead of `input` (e.g. truncated JSON). */
export interface ToolCall {
  name: string;
  input?: Record<string, unknown>;
  rawInput?: string;
  id?: string;
}

/** An answer calling one or more tools (in parallel), optionally after some text: `stop_reason: tool_use`. */
export function toolUse(
  calls: ToolCall | ToolCall[],
  options: MessageOptions & { text?: string } = {},
): FakeMessageReply {
  const { text: preamble, ...rest } = options;
  const blocks: FakeBlock[] = preamble ? [{ type: 'text', text: preamble }] : [];
  for (const call of Array.isArray(calls) ? calls : [calls]) blocks.push({ type: 'tool_use', ...call });
  return message(blocks, { stop_reason: 'tool_use', ...rest });
}

/** An HTTP error with the API's error body. */
export function error(
  status: number,
  type: string,
  messageText: string,
  headers?: Record<string, string>,
): FakeErrorReply {
  return { kind: 'error', status, type, message: messageText, headers };
}

/** The API's usual error for a status: `429 rate_limit_error`, `529 overloaded_error`, ... */
export function httpError(status: number, headers?: Record<string, string>): FakeErrorReply {
  const known: Record<number, [string, string]> = {
    400: ['invalid_request_error', 'Invalid request'],
    401: ['authentication_error', 'invalid x-api-key'],
    403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
    404: ['not_found_error', 'Not found'],
    408: ['timeout_error', 'Request timed out'],
    409: ['conflict_error', 'Conflict'],
    413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
    429: ['rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit'],
    500: ['api_error', 'Internal server error'],
    529: ['overloaded_error', 'Overloaded'],
  };
  const [type, msg] = known[status] ?? ['api_error', `HTTP ${status}`];
  return error(status, type, msg, headers);
}

/** A streamed answer that fails part way: `event: error` (default `overloaded_error`) after `afterEvents`. */
export function streamError(
  reply: FakeMessageReply,
  afterEvents: number,
  err?: StreamFaults['error'],
): FakeMessageReply {
  return { ...reply, faults: { ...reply.faults, errorAfterEvents: afterEvents, error: err } };
}

/** A streamed answer whose connection is cut after `afterEvents` events. */
export function dropConnection(reply: FakeMessageReply, afterEvents: number): FakeMessageReply {
  return { ...reply, faults: { ...reply.faults, dropAfterEvents: afterEvents } };
}

/** Replays a recorded `.sse` file verbatim. */
export function fixture(path: string): FakeFixtureReply {
  return { kind: 'fixture', path };
}

/** Shorthand for a stop reason other than the default. */
export function stop(
  reason: StopReason,
  blocks: FakeBlock[],
  options: MessageOptions = {},
): FakeMessageReply {
  return message(blocks, { ...options, stop_reason: reason });
}
