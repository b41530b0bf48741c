/**
 * Per-operator tokens, for the embedded default without an identity provider. `agent operators add`
 * makes a random token, prints it once and stores only its SHA-256 (a 256-bit random token needs no
 * slow hash: nothing short enough to guess ever hashes to it). The file is JSON under the state
 * directory, mode 0600, replaced atomically; the ops server reads it again whenever it changes, so an
 * operator added or removed takes effect without a restart (and their sessions end).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
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
  private cache: { mtimeMs: number; size: number; operators: OperatorRecord[] } | undefined;

  constructor(readonly file: string) {}

  /** Every operator, read fresh. A file that does not parse is an error naming it, never "no operators". */
  list(): OperatorRecord[] {
    if (!existsSync(this.file)) return [];
    const stat = statSync(this.file);
    if (this.cache && this.cache.mtimeMs === stat.mtimeMs && this.cache.size === stat.size)
      return this.cache.operators;
    let parsed: z.infer<typeof OperatorFileSchema>;
    try {
      parsed = OperatorFileSchema.parse(JSON.parse(readFileSync(this.file, 'utf8')));
    } catch (err) {
      throw new OperatorStoreError(`${this.file} is not a valid operators file (${(err as Error).message})`);
    }
    this.cache = { mtimeMs: stat.mtimeMs, size: stat.size, operators: parsed.operators };
    return parsed.operators;
  }

  /** Adds an operator; returns the token (shown once, stored only as its hash). */
  add(name: string, role: Role, groups: string[]): string {
    const nameProblem = loginNameProblem(name);
    if (nameProblem) throw new OperatorStoreError(nameProblem);
    const groupProblem = groupsProblem(groups);
    if (groupProblem) throw new OperatorStoreError(groupProblem);
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
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ version: 1, operators }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
    this.cache = undefined;
  }
}
