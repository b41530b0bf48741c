import { activityInfo, ApplicationFailure } from '@temporalio/activity';
import { AgentConfigurationError, type AgentTools } from '../agents/agent-tools';
import { CONFIGURATION_ERROR } from '../api/activity-contract';
import { AGENT_NOT_SERVED, UNKNOWN_AGENT, type AgentSnapshot, type PrepareAgentInput } from '../api/agents';
import { TOOL_SOURCE_UNAVAILABLE } from './run-tool';

/**
 * Attempts before an agent this worker does not serve refuses the conversation: in a rolling deploy an
 * older worker may get the call first, and a retry may reach one that serves it.
 */
const RETRY_UNKNOWN_AGENT_ATTEMPTS = 3;

/** Attempts on which an MCP server that cannot be listed fails the listing (so Temporal retries it). */
const RETRY_UNAVAILABLE_ATTEMPTS = 3;

/**
 * Lists a conversation's agent for a run: the workflow records the answer, so the run's model, limits
 * and tool set (MCP tools included) replay. An agent this worker does not serve is not retried: the
 * error names the agents it serves.
 */
export function createPrepareAgent(agents: AgentTools) {
  return async function prepareAgent(input: PrepareAgentInput): Promise<AgentSnapshot> {
    if (!agents.registry.get(input.agent)) {
      let message: string;
      try {
        agents.registry.resolve(input.agent);
        message = `unknown agent ${input.agent}`;
      } catch (err) {
        message = (err as Error).message;
      }
      const last = activityInfo().attempt >= RETRY_UNKNOWN_AGENT_ATTEMPTS;
      throw ApplicationFailure.create({
        type: last ? UNKNOWN_AGENT : AGENT_NOT_SERVED,
        message,
        nonRetryable: last,
      });
    }
    // An MCP server that is down is retried a few times; then the run goes on without its tools and
    // the listing (and so the conversation's state) says which server and why.
    const retryUnavailable = activityInfo().attempt < RETRY_UNAVAILABLE_ATTEMPTS;
    try {
      return await agents.snapshot(input.agent, { retryUnavailable });
    } catch (err) {
      if (err instanceof AgentConfigurationError) {
        throw ApplicationFailure.create({
          type: CONFIGURATION_ERROR,
          message: err.message,
          nonRetryable: true,
        });
      }
      throw ApplicationFailure.create({
        type: TOOL_SOURCE_UNAVAILABLE,
        message: err instanceof Error ? err.message : String(err),
        cause: err instanceof Error ? err : undefined,
      });
    }
  };
}
