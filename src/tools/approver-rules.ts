import { APPROVER_GROUP_PATTERN, MAX_APPROVALS_REQUIRED } from '../api/approvals';

/** Who must approve a tool's calls: approver groups and distinct approvals (see `defineTool`). */
export interface ApproverRules {
  approvers?: string[];
  approvalsRequired?: number;
}

/** Refuses, at definition, approver rules the workflow could not apply; `what` names the tool. */
export function checkApproverRules(what: string, rules: ApproverRules): void {
  const { approvers, approvalsRequired } = rules;
  if (approvers !== undefined) {
    if (!Array.isArray(approvers) || approvers.length === 0 || approvers.length > 32)
      throw new Error(`${what}: approvers must list 1 to 32 groups`);
    const bad = approvers.find((g) => typeof g !== 'string' || !APPROVER_GROUP_PATTERN.test(g));
    if (bad !== undefined)
      throw new Error(`${what}: approver group ${JSON.stringify(bad)} must match ${APPROVER_GROUP_PATTERN}`);
  }
  if (
    approvalsRequired !== undefined &&
    (!Number.isSafeInteger(approvalsRequired) ||
      approvalsRequired < 1 ||
      approvalsRequired > MAX_APPROVALS_REQUIRED)
  )
    throw new Error(`${what}: approvalsRequired must be an integer from 1 to ${MAX_APPROVALS_REQUIRED}`);
}

/** The rules as a tool call carries them: only what differs from the default (anyone, one approval). */
export function approverRulesOf(rules: ApproverRules): ApproverRules {
  return {
    ...(rules.approvers?.length && { approvers: [...rules.approvers] }),
    ...(rules.approvalsRequired !== undefined &&
      rules.approvalsRequired > 1 && { approvalsRequired: rules.approvalsRequired }),
  };
}
