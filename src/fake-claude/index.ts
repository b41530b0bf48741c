/**
 * The fake Messages API, for tests and demo mode. Node-only: never import it from workflow code.
 * @module
 */
export { FakeClaude, type FakeClaudeOptions } from './server';
export * as reply from './replies';
export { demoReply, valueFromSchema } from './demo';
export { validateRequest } from './validate';
export { accumulateEvents, parseSse, type SseEvent } from './sse';
export type * from './types';
