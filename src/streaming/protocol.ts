/**
 * The live side channel's wire format. Workers publish model stream events to the hub (the ops server)
 * as batches of {@link Published}; observers receive {@link LiveMessage}s as server-sent events. None
 * of it goes through workflow history.
 */
import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';

/** What a worker publishes about one conversation's model call. */
export type Published =
  /** A call starts; `attempt` > 1 is a retry, and observers drop what the earlier attempt streamed. */
  | { workflowId: string; type: 'start'; turn: number; attempt: number; at: number }
  | { workflowId: string; type: 'event'; event: RawMessageStreamEvent; at: number }
  | { workflowId: string; type: 'end'; ok: boolean; error?: string; at: number };

/** One block of the call being streamed, as far as it has come. */
export interface LiveBlock {
  index: number;
  type: string;
  name?: string;
  id?: string;
  /** Text, thinking, or the tool input JSON so far (possibly incomplete). */
  text: string;
  done: boolean;
}

/** The current (or last) model call of a conversation, for observers that join late. */
export interface LiveCall {
  workflowId: string;
  turn: number;
  attempt: number;
  startedAt: number;
  blocks: LiveBlock[];
  stopReason?: string | null;
  ended: boolean;
  ok?: boolean;
  error?: string;
  /** Set when the call's text outgrew the hub's per-call bound and was cut. */
  truncated?: boolean;
}

/** What observers receive (SSE `event:` name = `type`). */
export type LiveMessage =
  | { type: 'snapshot'; call: LiveCall | null }
  | { type: 'reset'; turn: number; attempt: number }
  | { type: 'block_start'; index: number; blockType: string; name?: string; id?: string }
  | { type: 'delta'; index: number; kind: 'text' | 'thinking' | 'input_json'; text: string; at: number }
  | { type: 'block_stop'; index: number }
  | { type: 'end'; ok: boolean; stopReason?: string | null; error?: string };
