import type { IncomingHttpHeaders } from 'node:http';
import type { BetaStopReason } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { MessageCreateParams, Usage } from '@anthropic-ai/sdk/resources/messages';

/**
 * One content block of a scripted answer. The fake server streams it the way the API does:
 * `text` as `text_delta`s, `thinking` as `thinking_delta`s then one `signature_delta`, `tool_use` and
 * `server_tool_use` as `input_json_delta`s, `compaction` as one `compaction_delta` (its `signature` and
 * `tool_changes` in `content_block_start`); any other block (`redacted_thinking`, `web_search_tool_result`,
 * ...) arrives whole in its `content_block_start`, with no deltas.
 */
export type FakeBlock =
  | { type: 'text'; text: string }
  | {
      type: 'thinking';
      thinking: string;
      /**
       * Default: one the fake signs, bound to `thinking`. A scripted signature is sent as it is and accepted
       * back with the same text (the fake remembers it); any other signature is refused.
       */
      signature?: string;
    }
  | {
      type: 'tool_use' | 'server_tool_use';
      /** Default: a fresh `toolu_...` / `srvtoolu_...` id. */
      id?: string;
      name: string;
      /** The tool input; serialized to JSON and streamed in pieces. */
      input?: Record<string, unknown>;
      /**
       * The raw input JSON to stream instead of `input`, verbatim: lets a script send incomplete or
       * invalid JSON, as fine-grained tool streaming can (above all on `max_tokens`).
       */
      rawInput?: string;
      /**
       * `tool_use` only: who called it. A programmatic call from code execution is
       * `{type: 'code_execution_20250825', tool_id: <the server_tool_use id>}` (see code-execution.ts).
       */
      caller?: { type: string; tool_id?: string };
    }
  /** `data` is accepted back only if the fake sent it (scripted or from `Signer.redactedData`). */
  | { type: 'redacted_thinking'; data: string }
  /** A compaction block; the fake makes and signs these itself (see compaction.ts). */
  | {
      type: 'compaction';
      content: string | null;
      encrypted_content: string | null;
      signature?: string | null;
      tool_changes?: unknown[] | null;
    }
  | { type: `${string}_tool_result`; tool_use_id: string; content: unknown; [key: string]: unknown };

/** Faults injected into a streamed answer, counted in SSE events sent (`ping`s included). */
export interface StreamFaults {
  /** After this many events, send `event: error` with `error` and end the stream. */
  errorAfterEvents?: number;
  /** The mid-stream error; default `overloaded_error` / `Overloaded`. */
  error?: { type: string; message: string };
  /** After this many events, destroy the socket: the client sees a dropped connection. */
  dropAfterEvents?: number;
}

/** Delays, to make a stream look like a real one or to leave time to kill a process mid-stream. */
export interface Latency {
  /** Before the status line and headers. */
  firstByteMs?: number;
  /** Between two SSE events. */
  betweenEventsMs?: number;
}

/** A scripted model answer. Streamed when the request has `stream: true`, else sent as one JSON message. */
export interface FakeMessageReply {
  kind: 'message';
  content: FakeBlock[];
  /** The beta set, which adds `compaction` (answers the fake makes itself) to the API's stop reasons. */
  stop_reason: BetaStopReason;
  stop_sequence?: string | null;
  /** E.g. `{type: 'refusal', category, explanation}` with `stop_reason: 'refusal'`. */
  stop_details?: Record<string, unknown> | null;
  /** Overrides of the computed usage (input tokens are estimated from the request). */
  usage?: Partial<Usage>;
  /** Default: the request's model. */
  model?: string;
  /** Default: a fresh `msg_...` id. */
  id?: string;
  /** Characters per text/JSON delta; a `[min, max]` range cuts at varying points. Default `[1, 24]`. */
  chunkSize?: number | [number, number];
  faults?: StreamFaults;
  latency?: Latency;
  headers?: Record<string, string>;
}

/** An HTTP error with the API's error body `{"type":"error","error":{type,message},"request_id"}`. */
export interface FakeErrorReply {
  kind: 'error';
  status: number;
  /** `error.type`, e.g. `rate_limit_error`, `overloaded_error`, `invalid_request_error`. */
  type: string;
  message: string;
  /** E.g. `{'retry-after': '2'}` or `{'retry-after-ms': '150'}`. */
  headers?: Record<string, string>;
  latency?: Latency;
}

/** Replays a recorded `.sse` file byte for byte (streaming requests), or its accumulated message (others). */
export interface FakeFixtureReply {
  kind: 'fixture';
  path: string;
  latency?: Latency;
  /** Extra response headers; `request-id` is always added. */
  headers?: Record<string, string>;
}

/** A non-streamed JSON answer sent verbatim, status and headers included (e.g. a recorded exchange). */
export interface FakeRawJsonReply {
  kind: 'json';
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
  latency?: Latency;
}

export type FakeReply = FakeMessageReply | FakeErrorReply | FakeFixtureReply | FakeRawJsonReply;

/** A request the fake server received, kept for assertions. */
export interface RecordedRequest {
  /** Sequence number across the server, from 1. */
  seq: number;
  /** `x-agent-conversation-id` header, or `*` when absent. */
  conversation: string;
  /** 1-based index of this request within its conversation. */
  index: number;
  method: string;
  /** Path with query, e.g. `/v1/messages?beta=true`. */
  path: string;
  route: 'messages' | 'count_tokens';
  headers: IncomingHttpHeaders;
  body: MessageCreateParams;
  receivedAt: number;
  /** The validation error returned with a 400, if the request was invalid. */
  invalid?: string;
  /** Set when the client went away before the whole response was sent (an aborted stream). */
  clientClosed?: boolean;
  /** When each SSE event of a streamed answer was written (ms since epoch), for latency measurements. */
  sentAt?: number[];
}

/** Computes the answer to one request. */
export type FakeHandler = (request: RecordedRequest) => FakeReply | Promise<FakeReply>;

/** What a conversation is scripted with: answers consumed in order, or a function. */
export type FakeScript = FakeReply[] | FakeHandler;
