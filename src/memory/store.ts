/**
 * The contract of a memory backend. The commands (commands.ts) read through a {@link MemoryView} and
 * plan their writes as {@link MemoryChange}s; a backend applies a plan atomically together with the
 * record of its result, so the same idempotency key never applies twice.
 */

/** The backends a worker can keep memory in. */
export const MEMORY_BACKENDS = ['filesystem', 'postgres'] as const;
export type MemoryBackendKind = (typeof MEMORY_BACKENDS)[number];

/** Whose memory: one agent's, for one tenant. Both names are checked (safe as directory names). */
export interface MemoryScope {
  agent: string;
  tenant: string;
}

/** One file or directory under a directory (relative path, `''` is the root). */
export interface MemoryEntry {
  path: string;
  kind: 'file' | 'dir';
  /** Bytes of a file's UTF-8 content (directories: 0; listings add up what they hold). */
  size: number;
}

/** What a path holds. */
export type MemoryNode = { kind: 'file'; content: string } | { kind: 'dir' };

/** Reads of one scope. The root (`''`) is always a directory, empty at first. */
export interface MemoryView {
  get(path: string): Promise<MemoryNode | undefined>;
  /** Everything under directory `path` (not itself), at any depth; symlinks and the like are left out. */
  descendants(path: string): Promise<MemoryEntry[]>;
}

/**
 * One write of a plan. Each is idempotent by itself (a backend may redo a plan after a crash): `put`
 * writes a whole file (creating its directories), `remove` deletes a file or a directory with
 * everything under it, `move` renames a file or a directory (creating the new parent).
 */
export type MemoryChange =
  | { op: 'put'; path: string; content: string }
  | { op: 'remove'; path: string }
  | { op: 'move'; from: string; to: string };

/** A write command's plan: the changes to apply and the text the model gets. */
export interface MemoryPlan {
  changes: MemoryChange[];
  result: string;
}

/** What {@link MemoryStore.write} returns. */
export interface MemoryWriteResult {
  result: string;
  /** True when the key was already recorded: nothing was applied this time. */
  replayed: boolean;
}

/** A memory backend: one per worker, shared by its agents (each scope is its own tree). */
export interface MemoryStore {
  readonly kind: MemoryBackendKind;
  /** Reads of a scope. */
  view(scope: MemoryScope): MemoryView;
  /**
   * Applies a write once per `key`: if `key` is recorded, returns its result and plans nothing;
   * otherwise runs `plan` against the scope's current state (writes of one scope are serialised),
   * applies its changes and records the result under `key`, atomically (a crash leaves either none of
   * it or all of it, or a record the next call with the key completes). A `plan` that throws records
   * nothing.
   */
  write(
    scope: MemoryScope,
    key: string,
    plan: (view: MemoryView) => Promise<MemoryPlan>,
  ): Promise<MemoryWriteResult>;
  /** Releases connections (PostgreSQL); the store is not used after. */
  close(): Promise<void>;
}

/** A refused or impossible command (bad path, missing file, ...): the model gets it as an `is_error` result. */
export class MemoryError extends Error {
  override name = 'MemoryError';
}

/**
 * The backend cannot be reached or failed (a lost database connection, a full disk): not the call's
 * fault, so the activity fails and Temporal retries it; the write's record makes the retry safe.
 */
export class MemoryUnavailableError extends Error {
  override name = 'MemoryUnavailableError';
}
