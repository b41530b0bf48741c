import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { keyHash, writeAtomically } from '../tools/idempotent-write';
import { displayPath, parentOf } from './paths';
import {
  MemoryError,
  MemoryUnavailableError,
  type MemoryChange,
  type MemoryEntry,
  type MemoryNode,
  type MemoryPlan,
  type MemoryScope,
  type MemoryStore,
  type MemoryView,
  type MemoryWriteResult,
} from './store';

/** A write's record: `pending` while its changes may be half applied, `done` once they are all in. */
type WriteRecord =
  { state: 'pending'; changes: MemoryChange[]; result: string } | { state: 'done'; result: string };

/** A lock file older than this was left by a dead process (a write takes milliseconds). */
const STALE_LOCK_MS = 30_000;
/** How long a write waits for its scope's lock before the activity fails (and is retried). */
const LOCK_WAIT_MS = 10_000;

/**
 * Memory in a directory: `<dir>/<agent>/<tenant>/memories/…` holds the files as the model names them,
 * `…/writes/` one record per write, `…/.lock` serialises the writes of one scope across processes.
 *
 * Writes are a redo log: the plan's changes are recorded (`pending`) before they are applied and the
 * record marked `done` after, so a crash anywhere leaves either no record (nothing applied: the retry
 * plans again) or a record the retry completes and answers from. Each change is idempotent (a whole
 * file written, a path removed, a move skipped once made), so applying one twice is harmless.
 *
 * Symlinks are never followed: a path through one is refused, listings leave them out, files are opened
 * with `O_NOFOLLOW`. For workers on one machine (or one shared volume with working `O_EXCL`); several
 * machines share memory through PostgreSQL.
 */
export class FilesystemMemoryStore implements MemoryStore {
  readonly kind = 'filesystem' as const;
  readonly dir: string;
  /** Writes in flight in this process, by scope: chained, so the lock file is only contended across processes. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(options: { dir: string }) {
    this.dir = resolve(options.dir);
  }

  view(scope: MemoryScope): MemoryView {
    const root = this.memoriesDir(scope);
    return {
      get: (path) => getNode(root, path),
      descendants: (path) => listUnder(root, path),
    };
  }

  write(
    scope: MemoryScope,
    key: string,
    plan: (view: MemoryView) => Promise<MemoryPlan>,
  ): Promise<MemoryWriteResult> {
    const base = this.scopeDir(scope);
    const previous = this.queues.get(base) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.writeLocked(scope, key, plan));
    this.queues.set(base, run);
    void run
      .finally(() => {
        if (this.queues.get(base) === run) this.queues.delete(base);
      })
      .catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {}

  private async writeLocked(
    scope: MemoryScope,
    key: string,
    plan: (view: MemoryView) => Promise<MemoryPlan>,
  ): Promise<MemoryWriteResult> {
    const base = this.scopeDir(scope);
    const root = this.memoriesDir(scope);
    const recordFile = join(base, 'writes', `${keyHash(key)}.json`);
    await mkdir(root, { recursive: true, mode: 0o700 });
    const unlock = await lockFile(join(base, '.lock'));
    try {
      const recorded = await readRecord(recordFile);
      if (recorded?.state === 'done') return { result: recorded.result, replayed: true };
      if (recorded?.state === 'pending') {
        // A crash between recording the plan and finishing it: finish it, answer as the first time.
        await applyAll(root, recorded.changes);
        await writeAtomically(recordFile, JSON.stringify({ state: 'done', result: recorded.result }));
        return { result: recorded.result, replayed: true };
      }
      const planned = await plan(this.view(scope));
      const pending: WriteRecord = { state: 'pending', ...planned };
      await writeAtomically(recordFile, JSON.stringify(pending));
      await applyAll(root, planned.changes);
      await writeAtomically(recordFile, JSON.stringify({ state: 'done', result: planned.result }));
      return { result: planned.result, replayed: false };
    } finally {
      await unlock();
    }
  }

  private scopeDir(scope: MemoryScope): string {
    // Agent and tenant names are checked (letters, digits, `_`, `-`): safe as directory names.
    return join(this.dir, scope.agent, scope.tenant.toLowerCase());
  }

  private memoriesDir(scope: MemoryScope): string {
    return join(this.scopeDir(scope), 'memories');
  }
}

/**
 * Walks `relative` from the root one name at a time with `lstat`, refusing symlinks: the file-system
 * path of a checked relative path, or undefined when part of it does not exist.
 */
async function walk(root: string, relative: string): Promise<{ file: string; isDir: boolean } | undefined> {
  let current = root;
  let isDir = true;
  for (const segment of relative === '' ? [] : relative.split('/')) {
    if (!isDir) return undefined;
    current = join(current, segment);
    let info;
    try {
      info = await lstat(current);
    } catch (err) {
      if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return undefined;
      throw err;
    }
    if (info.isSymbolicLink())
      throw new MemoryError(`Path ${displayPath(relative)} would escape /memories directory via symlink`);
    if (!info.isDirectory() && !info.isFile())
      throw new MemoryError(`Unsupported file type for ${displayPath(relative)}`);
    isDir = info.isDirectory();
  }
  return { file: current, isDir };
}

async function getNode(root: string, relative: string): Promise<MemoryNode | undefined> {
  if (relative === '') return { kind: 'dir' };
  const found = await walk(root, relative);
  if (!found) return undefined;
  if (found.isDir) return { kind: 'dir' };
  // O_NOFOLLOW: a symlink swapped in since the walk is refused, not read.
  let handle;
  try {
    handle = await open(found.file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP')
      throw new MemoryError(`Path ${displayPath(relative)} would escape /memories directory via symlink`);
    throw err;
  }
  try {
    // The walk checked the path, the open the last name: check the file opened too, for a directory
    // swapped for a symlink in between (the open follows a symlink anywhere but in the last name).
    await openedWithin(handle, root, relative);
    return { kind: 'file', content: await handle.readFile('utf8') };
  } finally {
    await handle.close();
  }
}

/**
 * Refuses a file that was opened outside `root` (through a directory some process swapped for a
 * symlink after the path was checked): where the open file really is, from `/proc/self/fd` (Linux),
 * else the same file found again by a walk that follows no symlink.
 */
export async function openedWithin(handle: FileHandle, root: string, relative: string): Promise<void> {
  const outside = () =>
    new MemoryError(`Path ${displayPath(relative)} would escape /memories directory via symlink`);
  const realRoot = await realpath(root);
  const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
  if (opened !== undefined) {
    if (!opened.startsWith(`${realRoot}${sep}`)) throw outside();
    return;
  }
  const [info, found] = await Promise.all([handle.stat(), walk(root, relative)]);
  const again = found && (await lstat(found.file).catch(() => undefined));
  if (!again || again.ino !== info.ino || again.dev !== info.dev) throw outside();
}

async function listUnder(root: string, relative: string): Promise<MemoryEntry[]> {
  const found = relative === '' ? { file: root, isDir: true } : await walk(root, relative);
  if (!found?.isDir) return [];
  const entries: MemoryEntry[] = [];
  const visit = async (dir: string, prefix: string): Promise<void> => {
    let items;
    try {
      items = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const item of items) {
      const path = prefix === '' ? item.name : `${prefix}/${item.name}`;
      // Dirent types come from lstat: a symlink is neither a directory nor a file here.
      if (item.isDirectory()) {
        entries.push({ path, kind: 'dir', size: 0 });
        await visit(join(dir, item.name), path);
      } else if (item.isFile()) {
        entries.push({ path, kind: 'file', size: (await stat(join(dir, item.name))).size });
      }
    }
  };
  await visit(found.file, relative);
  return entries;
}

async function applyAll(root: string, changes: MemoryChange[]): Promise<void> {
  for (const change of changes) {
    switch (change.op) {
      case 'put': {
        const file = join(root, change.path);
        await mkdir(dirname(file), { recursive: true, mode: 0o700 });
        await writeFileAtomically(root, file, change.content);
        break;
      }
      case 'remove':
        await rm(join(root, change.path), { recursive: true, force: true });
        break;
      case 'move': {
        const from = join(root, change.from);
        if (!(await exists(from))) break; // made before a crash
        await mkdir(join(root, parentOf(change.to)), { recursive: true, mode: 0o700 });
        await rename(from, join(root, change.to));
        break;
      }
    }
  }
}

/** A whole file, atomically, through a hidden temp file (listings leave hidden names out). */
async function writeFileAtomically(root: string, file: string, content: string): Promise<void> {
  const temp = join(dirname(file), `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      // The directory it was created in is inside the scope's memories: not a symlink swapped in.
      await openedWithin(handle, root, relative(root, temp));
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function readRecord(file: string): Promise<WriteRecord | undefined> {
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as WriteRecord;
}

/** An exclusive lock file (`O_EXCL`), taken over when a dead process left it behind. */
async function lockFile(file: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.close();
      return () => unlink(file).catch(() => undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = await stat(file).catch(() => undefined);
    if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) await unlink(file).catch(() => undefined);
    if (Date.now() > deadline)
      throw new MemoryUnavailableError(`memory is locked by another writer (${file})`);
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
  }
}
