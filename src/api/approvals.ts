/**
 * Human approval of tool calls: what operators send (update or signal) and what the conversation
 * records. Workflow-safe.
 */
import { defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import {
  MAX_EDIT_INPUT_BYTES,
  MAX_JSON_DEPTH,
  MAX_NAME,
  MAX_REASON,
  MAX_TOOL_USE_ID,
  jsonDepth,
} from './bounds';
import type { ToolEffect } from './tools';

/** What an operator can decide about a tool call: run it, refuse it, or run it with an edited input. */
export const DECISION_KINDS = ['approve', 'reject', 'edit'] as const;
export type DecisionKind = (typeof DECISION_KINDS)[number];

/** One operator decision about one pending tool call. */
export const DecisionRequestSchema = z.object({
  toolUseId: z.string().min(1).max(MAX_TOOL_USE_ID),
  decision: z.enum(DECISION_KINDS),
  /** With `edit`: the input to run instead (validated against the tool's schema). */
  input: z
    .record(z.string(), z.unknown())
    .superRefine((input, ctx) => {
      if (jsonDepth(input) > MAX_JSON_DEPTH) {
        ctx.addIssue({ code: 'custom', message: `nested deeper than ${MAX_JSON_DEPTH} levels` });
      } else if (JSON.stringify(input).length > MAX_EDIT_INPUT_BYTES) {
        ctx.addIssue({ code: 'custom', message: `larger than ${MAX_EDIT_INPUT_BYTES} bytes of JSON` });
      }
    })
    .optional(),
  /** Why; shown to the model on a rejection. */
  reason: z.string().max(MAX_REASON).optional(),
  /** Who decided (the ops UI puts the operator's name here). */
  decidedBy: z.string().trim().min(1, 'decidedBy is required').max(MAX_NAME),
});
export type DecisionRequest = z.infer<typeof DecisionRequestSchema>;

/** One decision, or several at once (for parallel calls). */
export const DecideToolCallSchema = z.union([
  DecisionRequestSchema,
  z.object({ decisions: z.array(DecisionRequestSchema).min(1).max(64) }),
]);
export type DecideToolCallInput = z.infer<typeof DecideToolCallSchema>;

/**
 * The rules decisions were applied by before the bounds above. A recorded decision must apply again the
 * same way when its history is replayed (validators do not run on replay, handlers do): the update
 * handler applies by these, and the signal does until `PATCHES.boundedSignals`.
 */
const UnboundedDecisionSchema = DecisionRequestSchema.extend({
  toolUseId: z.string().min(1),
  input: z.record(z.string(), z.unknown()).optional(),
});
export const UnboundedDecideToolCallSchema = z.union([
  UnboundedDecisionSchema,
  z.object({ decisions: z.array(UnboundedDecisionSchema).min(1).max(64) }),
]);

/** A tool call waiting for an operator. */
export interface PendingApproval {
  toolUseId: string;
  name: string;
  input: Record<string, unknown>;
  turn: number;
  /** ISO times. */
  requestedAt: string;
  deadline: string;
  effect?: ToolEffect;
}

/** A decision as the conversation recorded it: the audit trail. */
export interface RecordedDecision {
  toolUseId: string;
  name: string;
  decision: DecisionKind;
  decidedBy: string;
  decidedAt: string;
  reason?: string;
  /** What the model asked for. */
  originalInput: Record<string, unknown>;
  /** What ran instead, for `edit`. */
  input?: Record<string, unknown>;
  /** How it arrived: an update, a signal, the deadline, or the conversation ending. */
  via: 'update' | 'signal' | 'deadline' | 'end';
}

/** A signal-borne decision the conversation could not apply (signals cannot be refused to the sender). */
export interface RefusedDecision {
  at: string;
  toolUseId?: string;
  decidedBy?: string;
  error: string;
}

/** Decides one or more pending tool calls; refused (with the reason) before anything is recorded if invalid. */
export const decideToolCallUpdate = defineUpdate<RecordedDecision[], [DecideToolCallInput]>('decideToolCall');
/** The same decision as a signal, for systems that can only signal; refusals land in the state. */
export const decideToolCallSignal = defineSignal<[DecideToolCallInput]>('decideToolCallSignal');

/** The decisions of a request, as a list. */
export function decisionsOf(input: DecideToolCallInput): DecisionRequest[] {
  return 'decisions' in input ? input.decisions : [input];
}
