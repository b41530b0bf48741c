import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ToolContext } from './define-tool';

/** Where an {@link IdempotentStore} keeps its records. */
export interface IdempotentStoreOptions {
  /** A directory of record files, created on first write. One store per directory. */
  dir: string;
}

/** What {@link IdempotentStore.once} returns. */
export interface OnceResult<T> {
  /** The effect's result, as recorded (see {@link IdempotentStore.once} on JSON). */
  result: T;
  /** True when this call did not run the effect: it found a record, or joined a run already in flight. */
  replayed: boolean;
}

/** The hex sha256 of an idempotency key: record file names (keys contain `/`), and a stable id source. */
export function keyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Runs in flight in this process, by record file, shared by every store on the same directory: two
 * stores on one directory are one store, and a second caller must join the first run, not race it.
 */
const inFlight = new Map<string, Promise<OnceResult<unknown>>>();

/**
 * A durable key → result record on disk, so a write side effect happens once per idempotency key even
 * though activities run at least once: a worker may die after the effect but before the activity
 * completes, and Temporal then retries the call with the same key.
 *
 * The contract, honestly:
 * - **Local effects: exactly once.** When the effect *is* the record, or is written in the same place
 *   and atomically with it (like `save_article`, whose article file is the record), a crash either
 *   left no record (the effect did not happen, so running it again is right) or left one (so it is
 *   never run again).
 * - **Remote effects: at least once, unless the remote system dedupes.** A crash between the remote
 *   effect and the local record repeats the effect on retry, and no local bookkeeping can close that
 *   gap. Pass the key to the remote system as its idempotency key (e.g. an `Idempotency-Key` header);
 *   this store then saves you the round trip on replays and keeps the first result.
 * - **One process.** Concurrent calls with the same key share one run only within this process. Two
 *   processes (an old attempt still running after a heartbeat timeout, say) may both run the effect;
 *   the last record written wins. A local effect that *is* the record (like `save_article`'s article
 *   file, named by the key) still leaves exactly one, since both writes land on the same file.
 * - Results must be JSON values: what is recorded and returned is the JSON round trip of the result
 *   (`undefined` becomes `null`, a `Date` a string), so the first call and every replay see the same.
 */
export class IdempotentStore {
  /** The directory the records live in. */
  readonly dir: string;

  constructor(options: IdempotentStoreOptions) {
    this.dir = resolve(options.dir);
  }

  /**
   * Runs `effect` once per key: the first call runs it and records its result durably; later calls
   * with the same key return the recorded result without running it. Concurrent calls with the same
   * key in this process share one run (and its error, if it throws). A throwing effect records
   * nothing, so the next call runs it again.
   */
  async once<T>(key: string, effect: () => Promise<T>): Promise<OnceResult<T>> {
    const file = this.fileFor(key);
    const running = inFlight.get(file) as Promise<OnceResult<T>> | undefined;
    if (running) return { result: (await running).result, replayed: true };
    const run = this.runOnce(file, effect);
    inFlight.set(file, run);
    try {
      return await run;
    } finally {
      inFlight.delete(file);
    }
  }

  /** The recorded result for `key`, or `undefined` if no call with it has completed. */
  async get<T>(key: string): Promise<T | undefined> {
    return this.read<T>(this.fileFor(key));
  }

  /** The record file for a key. */
  fileFor(key: string): string {
    if (key.length === 0) throw new Error('idempotency key must not be empty');
    return join(this.dir, `${keyHash(key)}.json`);
  }

  private async runOnce<T>(file: string, effect: () => Promise<T>): Promise<OnceResult<T>> {
    const recorded = await this.read<T>(file);
    if (recorded !== undefined) return { result: recorded, replayed: true };
    const result = await effect();
    // JSON.stringify(undefined) is not JSON; record null so the record exists.
    const text = JSON.stringify(result === undefined ? null : result);
    await writeAtomically(file, text);
    return { result: JSON.parse(text) as T, replayed: false };
  }

  private async read<T>(file: string): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    // Records are renamed into place whole, so a bad one is damage, not a torn write: say so rather
    // than silently running the effect a second time.
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new Error(`idempotency record ${file} is not valid JSON: ${(error as Error).message}`);
    }
  }
}

/**
 * Runs a tool's write effect once per call: `store.once(ctx.idempotencyKey, …)`. The effect gets the
 * key so it can pass it on to a remote system as its idempotency key (see {@link IdempotentStore}).
 *
 * ```ts
 * const store = new IdempotentStore({ dir: '/var/lib/agent/payments' });
 * run: async (input, ctx) => {
 *   const { result } = await idempotentWrite(store, ctx, (key) =>
 *     payments.charge(input, { headers: { 'Idempotency-Key': key } }));
 *   return result;
 * }
 * ```
 */
export function idempotentWrite<T>(
  store: IdempotentStore,
  ctx: Pick<ToolContext, 'idempotencyKey'>,
  effect: (idempotencyKey: string) => Promise<T>,
): Promise<OnceResult<T>> {
  return store.once(ctx.idempotencyKey, () => effect(ctx.idempotencyKey));
}

/**
 * Writes `text` to `file` so that after a crash the file is either absent/old or complete: a temp file
 * in the same directory (rename is atomic only within a file system), fsynced, renamed over the
 * target, then the directory fsynced so the rename itself survives a power loss.
 */
export async function writeAtomically(file: string, text: string): Promise<void> {
  const dir = join(file, '..');
  await mkdir(dir, { recursive: true });
  // A unique name: a concurrent writer in another process must not share our temp file.
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch (error) {
    // Some platforms (Windows) cannot open a directory; nothing more we can do there.
    if (['EISDIR', 'EPERM', 'EACCES'].includes((error as NodeJS.ErrnoException).code ?? '')) return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems reject fsync on a directory; the rename has still happened.
    if (!['EINVAL', 'EPERM', 'EISDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await handle.close();
  }
}
