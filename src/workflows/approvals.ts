/**
 * Approval bookkeeping for one conversation: which tool calls wait for an operator, the decisions taken
 * (the audit trail), and the checks a decision must pass. Pure and deterministic, so the update's
 * validator, the signal handler and unit tests share it.
 */
import { z } from 'zod';
import { quote } from '../api/bounds';
import { formatIssues } from '../api/issues';
import {
  DecideToolCallSchema,
  UnboundedDecideToolCallSchema,
  decisionsOf,
  type DecideToolCallInput,
  type DecisionRequest,
  type PendingApproval,
  type RecordedDecision,
  type RefusedDecision,
  type SignOff,
} from '../api/approvals';
import { addSignOff, deciderProblem, type PersonRule } from './approver-rules';

interface Waiting extends PendingApproval {
  /** The tool's input JSON Schema, to validate an edited input. */
  schema?: Record<string, unknown>;
}

export class ApprovalBook {
  private readonly waiting = new Map<string, Waiting>();
  private readonly decided = new Map<string, RecordedDecision>();
  /** Signal-borne decisions that could not apply (the newest 50), carried on their own. */
  private readonly refusedList: RefusedDecision[];

  constructor(
    carried?: { pending: Waiting[]; decisions: RecordedDecision[] },
    refused: RefusedDecision[] = [],
  ) {
    for (const p of carried?.pending ?? []) this.waiting.set(p.toolUseId, p);
    for (const d of carried?.decisions ?? []) this.decided.set(d.toolUseId, d);
    this.refusedList = refused;
  }

  /** Signal-borne decisions that could not apply, with why (the newest 50). */
  get refused(): RefusedDecision[] {
    return this.refusedList;
  }

  /** Keeps a signal-borne decision that could not apply, so operators see why. */
  refuse(refused: RefusedDecision): void {
    this.refusedList.push(refused);
    if (this.refusedList.length > 50) this.refusedList.shift();
  }

  /** Puts a call in the queue for a decision. */
  request(call: Waiting): void {
    this.waiting.set(call.toolUseId, call);
  }

  get pending(): PendingApproval[] {
    return [...this.waiting.values()].map(({ schema: _schema, ...rest }) => rest);
  }

  get decisions(): RecordedDecision[] {
    return [...this.decided.values()];
  }

  decisionFor(toolUseId: string): RecordedDecision | undefined {
    return this.decided.get(toolUseId);
  }

  /** What continue-as-new must carry. */
  snapshot(): { pending: Waiting[]; decisions: RecordedDecision[] } {
    return { pending: [...this.waiting.values()], decisions: this.decisions };
  }

  /**
   * Checks a request without applying it; throws an Error that says what is wrong: unknown ids,
   * ids already decided differently, an edit without input or whose input fails the tool's schema.
   * A repeat of a recorded decision passes (it is answered, not applied again). `rules`: `bounded`
   * (sizes, depth) where input enters; `unbounded` where a recorded decision is applied again on
   * replay, so a decision taken before the bounds applies the same way.
   */
  check(
    input: DecideToolCallInput,
    rules: 'bounded' | 'unbounded' = 'bounded',
    persons: PersonRule = 'strict',
  ): DecisionRequest[] {
    const schema = rules === 'bounded' ? DecideToolCallSchema : UnboundedDecideToolCallSchema;
    const parsed = schema.safeParse(input);
    if (!parsed.success) throw new Error(`invalid decision: ${formatIssues(parsed.error)}`);
    const requests = decisionsOf(parsed.data);
    const seen = new Set<string>();
    for (const r of requests) {
      if (seen.has(r.toolUseId))
        throw new Error(`tool_use_id ${quote(r.toolUseId)} appears twice in one request`);
      seen.add(r.toolUseId);
      const recorded = this.decided.get(r.toolUseId);
      if (recorded) {
        if (sameDecision(recorded, r)) continue;
        throw new Error(
          `tool call ${quote(r.toolUseId)} is already decided: ${recorded.decision} by ${recorded.decidedBy} at ${recorded.decidedAt}`,
        );
      }
      const waiting = this.waiting.get(r.toolUseId);
      if (!waiting)
        throw new Error(
          `unknown tool_use_id ${quote(r.toolUseId)}: no tool call of this conversation waits for a decision with that id`,
        );
      const notAllowed = deciderProblem(waiting, r, persons);
      if (notAllowed) throw new Error(notAllowed);
      if (r.decision === 'edit') {
        if (!r.input) throw new Error(`an edit of ${quote(r.toolUseId)} needs the input to run`);
        const problem = schemaProblem(waiting.schema, r.input);
        if (problem)
          throw new Error(
            `the edited input of ${quote(r.toolUseId)} does not match the ${waiting.name} schema: ${problem}`,
          );
      } else if (r.input !== undefined) {
        throw new Error(`only an edit carries an input (${quote(r.toolUseId)} is a ${r.decision})`);
      }
    }
    return requests;
  }

  /** Applies checked decisions; answers with the recorded decision of each (the earlier one for a repeat). */
  apply(requests: DecisionRequest[], via: RecordedDecision['via'], at: string): RecordedDecision[] {
    return requests.map((r) => {
      const recorded = this.decided.get(r.toolUseId);
      if (recorded) return recorded;
      const waiting = this.waiting.get(r.toolUseId)!;
      // An update that names no channel came straight through Temporal: an administrator's access.
      const channel = r.channel ?? (via === 'update' ? 'admin' : via === 'signal' ? 'signal' : undefined);
      const who = { ...(r.groups !== undefined && { groups: r.groups }), ...(channel && { channel }) };
      const required = waiting.approvalsRequired ?? 1;
      if (required > 1 && r.decision !== 'reject' && (via === 'update' || via === 'signal')) {
        const signOff: SignOff = {
          decision: r.decision,
          decidedBy: r.decidedBy,
          decidedAt: at,
          ...who,
          via,
          ...(r.reason !== undefined && { reason: r.reason }),
          ...(r.decision === 'edit' && { input: r.input }),
        };
        const approvals = addSignOff(waiting, signOff);
        if (approvals < required) {
          // Counted, not decided: the call keeps waiting for the next approver.
          const { schema: _schema, ...call } = waiting;
          return {
            toolUseId: r.toolUseId,
            name: call.name,
            decision: r.decision,
            decidedBy: r.decidedBy,
            decidedAt: at,
            originalInput: call.input,
            ...(r.decision === 'edit' && { input: r.input }),
            via,
            ...who,
            approvals: call.approvals,
            awaiting: { approvals, required },
          } satisfies RecordedDecision;
        }
      }
      // With several approvals, the input that runs is the last edit's, whoever approved it last.
      const edited =
        r.decision === 'edit' ? r.input : r.decision === 'approve' ? waiting.editedInput : undefined;
      const decision: RecordedDecision = {
        toolUseId: r.toolUseId,
        name: waiting.name,
        decision: r.decision === 'reject' ? 'reject' : edited ? 'edit' : 'approve',
        decidedBy: r.decidedBy,
        decidedAt: at,
        ...(r.reason !== undefined && { reason: r.reason }),
        originalInput: waiting.input,
        ...(edited && { input: edited }),
        via,
        ...who,
        ...(waiting.approvals && { approvals: waiting.approvals }),
      };
      this.decided.set(r.toolUseId, decision);
      this.waiting.delete(r.toolUseId);
      return decision;
    });
  }

  /** Rejects a call nobody decided in time (or left pending when the conversation ended). */
  expire(toolUseId: string, via: 'deadline' | 'end', reason: string, at: string): RecordedDecision {
    return this.apply(
      [
        {
          toolUseId,
          decision: 'reject',
          reason,
          decidedBy: via === 'deadline' ? 'system:deadline' : 'system:end',
        },
      ],
      via,
      at,
    )[0];
  }
}

function sameDecision(recorded: RecordedDecision, r: DecisionRequest): boolean {
  return (
    recorded.decision === r.decision &&
    recorded.decidedBy === r.decidedBy &&
    (recorded.reason ?? '') === (r.reason ?? '') &&
    JSON.stringify(recorded.input ?? null) ===
      JSON.stringify(r.decision === 'edit' ? (r.input ?? null) : null)
  );
}

/** The first schema errors of `input`, or undefined when it passes (or there is no schema to check). */
function schemaProblem(
  schema: Record<string, unknown> | undefined,
  input: Record<string, unknown>,
): string | undefined {
  if (!schema) return undefined;
  const result = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]).safeParse(input);
  if (result.success) return undefined;
  return formatIssues(result.error, { max: 5 });
}
