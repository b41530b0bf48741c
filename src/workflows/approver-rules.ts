/**
 * Who may decide a tool call, and when enough people approved it: approver groups and N distinct
 * approvals (four-eyes). Pure, so the update's validator, the signal handler and unit tests share it.
 *
 * - A call with `approvers` may be decided (approved, edited or rejected) only by someone in one of
 *   those groups: a rejection too, so nobody outside finance can block a refund either.
 * - A call with `approvalsRequired: n` runs after the n-th distinct person approves it. The same person
 *   again is refused (not counted). One rejection rejects at once. An edit supersedes the approvals
 *   collected so far (they approved another input) and counts as its author's approval of the new one.
 * - People are told apart by `decidedBy`, as {@link personOf} reads it (`strict`): one credential is
 *   one person (`OPS_TOKEN` with any label), and names that differ only in compatibility forms, case,
 *   invisible characters or confusable characters (Unicode TR39) are one person. `lookalikes` and
 *   `legacy` are the comparisons conversations used before (a hand table of look-alikes; trimmed and
 *   case-insensitive), for decisions already recorded to replay the same way.
 */
import { approvalProgress, type DecisionRequest, type PendingApproval, type SignOff } from '../api/approvals';
import { quote } from '../api/bounds';
import { legacyPersonOf, lookalikePersonOf, personOf } from '../api/person';

/** How decision makers are told apart: see the module comment. */
export type PersonRule = 'strict' | 'lookalikes' | 'legacy';

const PERSON_RULES: Record<PersonRule, (name: string) => string> = {
  strict: personOf,
  lookalikes: lookalikePersonOf,
  legacy: legacyPersonOf,
};

/** Why `request` may not decide `call`, or undefined when it may. */
export function deciderProblem(
  call: PendingApproval,
  request: DecisionRequest,
  persons: PersonRule = 'strict',
): string | undefined {
  const approvers = call.approvers ?? [];
  if (approvers.length > 0 && !(request.groups ?? []).some((g) => approvers.includes(g))) {
    const named = request.groups?.length ? `in ${request.groups.slice(0, 5).join(', ')}` : 'in no group';
    return `${quote(request.decidedBy)} (${named}) may not decide ${quote(call.toolUseId)}: ${call.name} needs an approver in ${approvers.join(' or ')}`;
  }
  if (request.decision === 'approve' && alreadyApproved(call, request.decidedBy, persons)) {
    const { approvals, required } = approvalProgress(call);
    return `${quote(request.decidedBy)} already approved ${quote(call.toolUseId)} (${approvals} of ${required} approvals): the same person counts once, another approver must decide`;
  }
  return undefined;
}

/** Whether `who` has an approval of the call's current input. */
export function alreadyApproved(call: PendingApproval, who: string, persons: PersonRule = 'strict'): boolean {
  const of = PERSON_RULES[persons];
  const person = of(who);
  return (call.approvals ?? []).some((s) => !s.superseded && of(s.decidedBy) === person);
}

/**
 * Adds an approval or edit to a call that needs several; answers how many now count. An edit marks
 * the earlier approvals superseded and makes the edited input the one being approved.
 */
export function addSignOff(call: PendingApproval, signOff: SignOff): number {
  const earlier = call.approvals ?? [];
  if (signOff.decision === 'edit') {
    call.approvals = [...earlier.map((s): SignOff => ({ ...s, superseded: true })), signOff];
    call.editedInput = signOff.input;
  } else {
    call.approvals = [...earlier, signOff];
  }
  return approvalProgress(call).approvals;
}
