/** The project's own tests use the testing kit that agent authors use. */
export {
  startAgentEnv,
  workflowBundle,
  type AgentEnv,
  type AgentEnvOptions,
} from '../../src/testing/agent-env';
