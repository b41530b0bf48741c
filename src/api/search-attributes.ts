import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Search attributes every conversation workflow keeps current, so operators and scripts can list
 * conversations by state (`AgentStatus = "awaiting_approval"`) across the namespace. Servers must
 * have them registered: the test helpers and `npm start` do it; production registers them in
 * docker-compose's setup.
 */
export const AGENT_STATUS = defineSearchAttributeKey('AgentStatus', SearchAttributeType.KEYWORD);
export const AGENT_LAST_ACTIVITY = defineSearchAttributeKey(
  'AgentLastActivityTime',
  SearchAttributeType.DATETIME,
);
export const AGENT_PENDING_APPROVALS = defineSearchAttributeKey(
  'AgentPendingApprovals',
  SearchAttributeType.INT,
);
export const AGENT_MODEL = defineSearchAttributeKey('AgentModel', SearchAttributeType.KEYWORD);
/** The conversation's agent (`defineAgent`); absent for ad-hoc conversations. */
export const AGENT_NAME = defineSearchAttributeKey('AgentName', SearchAttributeType.KEYWORD);

/** All of ours, for registration. */
export const AGENT_SEARCH_ATTRIBUTES = [
  AGENT_STATUS,
  AGENT_LAST_ACTIVITY,
  AGENT_PENDING_APPROVALS,
  AGENT_MODEL,
  AGENT_NAME,
];
