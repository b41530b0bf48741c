import { z } from 'zod';
import { MEMORY_BACKENDS, type MemoryBackendKind } from './store';

/** The memory tool's name, as the API requires it for `memory_20250818`. */
export const MEMORY_TOOL_NAME = 'memory';
/** The memory tool's type (the API's client tool; the worker runs its commands). */
export const MEMORY_TOOL_TYPE = 'memory_20250818';

/** An agent's memory: `defineAgent({ memory: {} })` gives it the memory tool. */
export interface MemoryConfig {
  /**
   * Where its memory lives: `filesystem` (a directory, for one machine) or `postgres` (shared by every
   * worker). Default: the worker's (`AGENT_MEMORY_BACKEND`, else `postgres` when
   * `AGENT_MEMORY_DATABASE_URL` is set, else `filesystem`).
   */
  backend?: MemoryBackendKind;
  /** Commands that wait for an operator's approval (default: none). */
  approval?: { delete?: boolean; rename?: boolean };
}

export const MemoryConfigSchema = z.strictObject({
  backend: z.enum(MEMORY_BACKENDS).optional(),
  approval: z.strictObject({ delete: z.boolean().optional(), rename: z.boolean().optional() }).optional(),
}) satisfies z.ZodType<MemoryConfig>;
