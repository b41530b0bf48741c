/**
 * The fake Messages API, for tests and demo mode. Node-only: never import it from workflow code.
 * @module
 */
export { FakeClaude, type FakeClaudeOptions } from './server';
export * as reply from './replies';
export { demoReply, valueFromSchema } from './demo';
export { validateRequest } from './validate';
export { accumulateEvents, parseSse, type SseEvent } from './sse';
export { promptTokens } from './prompt-cache';
export { contextWindowOf, DEFAULT_CONTEXT_WINDOW, promptTooLong, type ContextWindow } from './context-window';
export { DEFAULT_COMPACT_TRIGGER, summarize } from './compaction';
export { CLEARED_TOOL_RESULT, applyContextEdits, type AppliedEdit } from './context-edits';
export { Signer, type SignedCompactionBlock } from './signatures';
export type * from './types';
