/**
 * The testing kit for agent authors (`<package>/testing`): real Temporal servers with our search
 * attributes, the scripted fake Messages API, and a worker running the conversation workflow with your
 * tools. Node-only.
 *
 * ```ts
 * const env = await startAgentEnv({ tools: [myTool], timeSkipping: true });
 * const handle = await env.start({ message: 'Refund order A1', tools: ['refund'] });
 * env.fake.script(handle.workflowId, [reply.toolUse({ name: 'refund', input: {...} }), reply.text('Done.')]);
 * ```
 * @module
 */
export {
  startDevServer,
  startTimeSkippingServer,
  installQuietRuntime,
  quietBundlerLogger,
  searchAttributeFlags,
  DEV_SERVER_TUNING,
  devServerTuningFlags,
  type DevServerOptions,
} from './temporal-env';
export { temporalBinaries, type TemporalBinaries } from './temporal-binaries';
export {
  startAgentEnv,
  workflowBundle,
  shareWorkflowBundle,
  SHARED_BUNDLE_ENV,
  type AgentEnv,
  type AgentEnvOptions,
} from './agent-env';
export { FakeClaude, type FakeClaudeOptions } from './fake-claude/server';
export * as reply from './fake-claude/replies';
export type { FakeReply, FakeScript, FakeHandler, RecordedRequest } from './fake-claude/types';
