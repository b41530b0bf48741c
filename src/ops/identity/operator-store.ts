/**
 * Per-operator tokens, for the embedded default without an identity provider. `agent operators add`
 * makes a random token, prints it once and stores only its SHA-256 (a 256-bit random token needs no
 * slow hash: nothing short enough to guess ever hashes to it). The file is JSON under the state
 * directory, mode 0600, replaced atomically; the ops server reads it again whenever it changes, so an
 * operator added or removed takes effect without a restart (and their sessions end).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Identity, Role } from './identity';
import { ROLES } from './identity';
import { groupsProblem, loginNameProblem } from './names';
import { personOf } from '../../api/person';

/** The file's name under the state directory. */
export const OPERATORS_FILE = 'operators.json';
/** What every operator token starts with: recognisable in a leaked log, never a valid OPS_TOKEN clash. */
export const TOKEN_PREFIX = 'opk_';

const OperatorRecordSchema = z.object({
  name: z.string().refine((n) => loginNameProblem(n) === null, 'invalid operator name'),
  role: z.enum(ROLES),
  groups: z.array(z.string()).refine((g) => groupsProblem(g) === null, 'invalid groups'),
  /** SHA-256 of the token, hex. */
  tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
});
const OperatorFileSchema = z.object({ version: z.literal(1), operators: z.array(OperatorRecordSchema) });

export type OperatorRecord = z.infer<typeof OperatorRecordSchema>;
/** An operator as `operators list` shows it: never the hash. */
export type OperatorListing = Omit<OperatorRecord, 'tokenHash'>;

export class OperatorStoreError extends Error {}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The operators file: read by the ops server, written by `agent operators`. */
export class OperatorStore {
  private cache: { ino: number; mtimeMs: number; size: number; operators: OperatorRecord[] } | undefined;

  constructor(readonly file: string) {}

  /** Every operator, read fresh. A file that does not parse is an error naming it, never "no operators". */
  list(): OperatorRecord[] {
    if (!existsSync(this.file)) return [];
    const stat = statSync(this.file);
    // Each write renames a new file in: a new inode, whatever the clock's resolution says of its mtime.
    const cached = this.cache;
    if (cached && cached.ino === stat.ino && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size)
      return cached.operators;
    let parsed: z.infer<typeof OperatorFileSchema>;
    try {
      parsed = OperatorFileSchema.parse(JSON.parse(readFileSync(this.file, 'utf8')));
    } catch (err) {
      throw new OperatorStoreError(`${this.file} is not a valid operators file (${(err as Error).message})`);
    }
    this.cache = { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, operators: parsed.operators };
    return parsed.operators;
  }

  /**
   * Adds an operator; returns the token (shown once, stored only as its hash) once it is stored. Adds
   * and removes from several processes at once are serialised by a lock file, each reading the file
   * afresh under it: none is lost.
   */
  add(name: string, role: Role, groups: string[]): string {
    const nameProblem = loginNameProblem(name);
    if (nameProblem) throw new OperatorStoreError(nameProblem);
    const groupProblem = groupsProblem(groups);
    if (groupProblem) throw new OperatorStoreError(groupProblem);
    return this.locked(() => this.addLocked(name, role, groups));
  }

  private addLocked(name: string, role: Role, groups: string[]): string {
    const operators = this.list();
    if (operators.some((o) => o.name === name))
      throw new OperatorStoreError(`an operator named ${name} exists (remove it first to issue a new token)`);
    // One person, one name: a look-alike of an existing name (compatibility forms, case, invisible or
    // look-alike letters) would count as a second approver.
    const twin = operators.find((o) => personOf(o.name) === personOf(name));
    if (twin)
      throw new OperatorStoreError(
        `${JSON.stringify(name)} reads as the existing operator ${twin.name}: choose a name that does not look like another`,
      );
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    this.write([
      ...operators,
      {
        name,
        role,
        groups: [...new Set(groups)],
        tokenHash: hashToken(token),
        createdAt: new Date().toISOString(),
      },
    ]);
    return token;
  }

  /** Removes an operator; false when there is none by that name. */
  remove(name: string): boolean {
    return this.locked(() => this.removeLocked(name));
  }

  private removeLocked(name: string): boolean {
    const operators = this.list();
    const kept = operators.filter((o) => o.name !== name);
    if (kept.length === operators.length) return false;
    this.write(kept);
    return true;
  }

  /**
   * The operator a token belongs to. Compares the token's hash with every stored hash in constant
   * time, without stopping at a match: no timing hint about which operator, or how close.
   */
  authenticate(token: string): { identity: Identity; tokenHash: string } | undefined {
    const presented = Buffer.from(hashToken(token), 'hex');
    let found: OperatorRecord | undefined;
    for (const operator of this.list()) {
      if (timingSafeEqual(presented, Buffer.from(operator.tokenHash, 'hex')) && !found) found = operator;
    }
    if (!found) return undefined;
    return {
      identity: { name: found.name, role: found.role, groups: [...found.groups], channel: 'token' },
      tokenHash: found.tokenHash,
    };
  }

  /** Whether a token (by hash) still belongs to an operator: a removed operator's sessions end. */
  holds(tokenHash: string): boolean {
    return this.list().some((o) => o.tokenHash === tokenHash);
  }

  private write(operators: OperatorRecord[]): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify({ version: 1, operators }, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
    this.cache = undefined;
  }

  /**
   * Runs `change` holding `<file>.lock` (created exclusively; it names its holder's pid). A lock whose
   * holder is gone is taken over; one held longer than {@link LOCK_WAIT_MS} is an error that says so.
   */
  private locked<T>(change: () => T): T {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const lock = `${this.file}.lock`;
    const until = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const fd = openSync(lock, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (holderGone(lock)) {
          rmSync(lock, { force: true });
          continue;
        }
        if (Date.now() > until)
          throw new OperatorStoreError(
            `${lock} has been held for ${LOCK_WAIT_MS / 1000} s by another "agent operators" command; try again, or remove it if no such command runs`,
          );
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
    try {
      this.cache = undefined;
      return change();
    } finally {
      rmSync(lock, { force: true });
    }
  }
}

/** How long a change waits for another process's lock on the operators file. */
const LOCK_WAIT_MS = 10_000;

/** Whether the process named in a lock file is gone (a lock left by a crash). */
function holderGone(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(lock, 'utf8'));
  } catch {
    return false; // just released, or being written: try again
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
