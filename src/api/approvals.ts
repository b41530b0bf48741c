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

/**
 * Where a decision came from: the ops page, the CLI, a client library, a signal, or direct Temporal
 * access (an administrator's: an update that names no channel is recorded as `admin`).
 */
export const DECISION_CHANNELS = ['ops', 'cli', 'client', 'signal', 'admin'] as const;
export type DecisionChannel = (typeof DECISION_CHANNELS)[number];

/** An approver group's name (`finance`, `ops:payments`): letters, digits and `_ . : -`, at most 64. */
export const APPROVER_GROUP_PATTERN = /^[a-zA-Z0-9_.:-]{1,64}$/;
/** Most groups one decider may name. */
export const MAX_DECIDER_GROUPS = 32;
/** Most distinct approvers a tool may require (four-eyes is 2). */
export const MAX_APPROVALS_REQUIRED = 10;

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
  /**
   * The decider's approver groups, checked against the tool's `approvers`. Filled in from the
   * operator's identity by the ops server; whoever can reach Temporal directly can claim any (see
   * README, "Approver groups and four-eyes").
   */
  groups: z
    .array(z.string().regex(APPROVER_GROUP_PATTERN, 'a group is 1 to 64 letters, digits or _ . : -'))
    .max(MAX_DECIDER_GROUPS)
    .optional(),
  /** Where the decision came from (default: `admin` for an update, `signal` for a signal). */
  channel: z.enum(DECISION_CHANNELS).optional(),
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
  /** The groups one of which a decider must be in (any decision: approve, edit or reject). */
  approvers?: string[];
  /** How many distinct people must approve before the call runs (absent: one). */
  approvalsRequired?: number;
  /**
   * The approvals collected so far (with `approvalsRequired`), oldest first. An edit supersedes the
   * approvals before it (they approved another input): those stay here, marked `superseded`.
   */
  approvals?: SignOff[];
  /** After an edit (with `approvalsRequired`): the input the approvals now collected are for. */
  editedInput?: Record<string, unknown>;
}

/** One person's approval (or edit) of a call that needs several. */
export interface SignOff {
  decision: 'approve' | 'edit';
  decidedBy: string;
  decidedAt: string;
  groups?: string[];
  channel?: DecisionChannel;
  via: 'update' | 'signal';
  reason?: string;
  /** With `edit`: the input this person approved instead. */
  input?: Record<string, unknown>;
  /** A later edit changed the input: this approval no longer counts. */
  superseded?: true;
}

/** How far a pending call's approvals are: "1 of 2 approvals (alice)". */
export function approvalProgress(p: Pick<PendingApproval, 'approvalsRequired' | 'approvals'>): {
  approvals: number;
  required: number;
  by: string[];
} {
  const by = (p.approvals ?? []).filter((s) => !s.superseded).map((s) => s.decidedBy);
  return { approvals: by.length, required: p.approvalsRequired ?? 1, by };
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
  /** The decider's groups, as the decision named them. */
  groups?: string[];
  /** Where it came from (absent for the deadline and the conversation's end). */
  channel?: DecisionChannel;
  /** With `approvalsRequired`: every approval collected (the deciding one included, if it approved). */
  approvals?: SignOff[];
  /**
   * Only in an update's answer: this approval was counted, but the call waits for more (nothing was
   * decided yet; the state's pending call shows the progress).
   */
  awaiting?: { approvals: number; required: number };
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
