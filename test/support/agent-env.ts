/** The project's own tests use the testing kit that agent authors use. */
export {
  startAgentEnv,
  workflowBundle,
  shareWorkflowBundle,
  type AgentEnv,
  type AgentEnvOptions,
} from '../../src/testing/agent-env';
