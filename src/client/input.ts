import { TEMPORAL_PAYLOAD_LIMIT } from '../api/bounds';
import {
  ConversationInputSchema,
  firstMessageProblem,
  type ConversationConfig,
  type ConversationInput,
} from '../api/conversation';
import { formatIssues } from '../api/issues';
import { AgentError } from './errors';

/**
 * A conversation's input as the workflow will check it, checked here first so a mistake fails before
 * anything starts (or is scheduled): its shape, its first message, and Temporal's payload limit (which
 * Temporal itself reports as a bare "Failed to start Workflow").
 */
export function checkConversationInput(input: ConversationInput): ConversationConfig {
  const parsed = ConversationInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new AgentError('invalid', `invalid conversation input: ${formatIssues(parsed.error)}`);
  }
  const firstMessage = firstMessageProblem(parsed.data);
  if (firstMessage) throw new AgentError('invalid', `invalid conversation input: ${firstMessage}`);
  const bytes = Buffer.byteLength(JSON.stringify(input));
  if (bytes > TEMPORAL_PAYLOAD_LIMIT) {
    throw new AgentError(
      'invalid',
      `the conversation input is ${bytes} bytes of JSON; Temporal's payload limit is ${TEMPORAL_PAYLOAD_LIMIT} (a large system prompt? send documents as messages)`,
    );
  }
  return parsed.data;
}
