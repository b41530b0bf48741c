import { approvalProgress, type PendingApproval, type RecordedDecision } from '../api/approvals';

/** Who may decide a pending call and how far its approvals are: `  approvers finance  1 of 2 approvals (alice)`. */
export function approverText(p: PendingApproval): string {
  const groups = p.approvers?.length ? `  approvers ${p.approvers.join(', ')}` : '';
  const { approvals, required, by } = approvalProgress(p);
  const progress =
    required > 1 ? `  ${approvals} of ${required} approvals${by.length ? ` (${by.join(', ')})` : ''}` : '';
  return `${groups}${progress}`;
}

/** What the CLI says about a decision it sent: recorded, or counted and waiting for more approvers. */
export function decisionText(d: RecordedDecision): string {
  if (d.awaiting)
    return `${d.decision} of ${d.toolUseId} (${d.name}) by ${d.decidedBy} counted: ${d.awaiting.approvals} of ${d.awaiting.required} approvals, it waits for another approver`;
  return `${d.decision} of ${d.toolUseId} (${d.name}) recorded, by ${d.decidedBy} at ${d.decidedAt}`;
}
