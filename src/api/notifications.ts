/**
 * What the conversation workflow tells the `notify` activity when a conversation starts waiting for
 * people: a tool call waiting for approval, or the conversation parked in `needs_attention`. Built in
 * the workflow, so it is bounded here: the tool input enters as a short summary (its full text is
 * already in history once, in the model call's result). Workflow-safe.
 */
import type { AttentionReason } from './conversation';

/** Longest input summary, in characters (a webhook is a pointer to the page, not a copy of the call). */
export const MAX_INPUT_SUMMARY_CHARS = 1000;
/** Longest parked message carried, in characters. */
export const MAX_ATTENTION_MESSAGE_CHARS = 500;

interface EventBase {
  /** The conversation's workflow id. */
  workflowId: string;
  /** Its agent, when it has one. */
  agent?: string;
  tenant?: string;
}

/** A tool call started waiting for an operator's decision. */
export interface ApprovalWaitingEvent extends EventBase {
  kind: 'approval.waiting';
  toolUseId: string;
  tool: string;
  /** The input as JSON, cut to {@link MAX_INPUT_SUMMARY_CHARS} (`truncated` says so). */
  inputSummary: string;
  truncated: boolean;
  turn: number;
  requestedAt: string;
  /** When the call is rejected if nobody decides. */
  deadline: string;
}

/** The conversation parked for an operator (resume or end it). */
export interface NeedsAttentionEvent extends EventBase {
  kind: 'conversation.needs_attention';
  reason: AttentionReason;
  message: string;
  /** When it parked (also what tells two parks of one conversation apart). */
  at: string;
}

export type NotificationEvent = ApprovalWaitingEvent | NeedsAttentionEvent;

/** `input` as JSON, at most `max` characters (never cutting a surrogate pair in two). */
export function summarizeInput(
  input: unknown,
  max = MAX_INPUT_SUMMARY_CHARS,
): { inputSummary: string; truncated: boolean } {
  let text: string;
  try {
    text = JSON.stringify(input) ?? 'null';
  } catch {
    text = '"(not JSON)"';
  }
  return { inputSummary: clip(text, max), truncated: text.length > max };
}

/** `text` cut to `max` characters, a lone high surrogate at the cut dropped. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}
