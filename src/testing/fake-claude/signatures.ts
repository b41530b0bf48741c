import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signatures the fake issues and checks, the way the API signs what it wants back unchanged: `thinking`
 * blocks (`signature`), `redacted_thinking` blocks (`data`) and `compaction` blocks (`signature` over
 * `encrypted_content`).
 *
 * Everything is an HMAC-SHA256 under one secret. The default secret is drawn once per process, so two fakes
 * in one test process accept each other's blocks (like two API hosts of one organization) and a restarted
 * fake process refuses what the old one signed, unless both were given the same `secret`.
 */

/** Per-process default secret. */
const PROCESS_SECRET = randomBytes(32);

/** Where a compaction block came from: a `compaction` request, or a `compact_20260112` edit's threshold. */
export type CompactionOrigin = 'summarize' | 'compact_20260112';

/**
 * What a compaction block's `encrypted_content` records (base64url JSON, opaque to clients). Digests, not
 * the values, so the block stays small; they let the fake tell which field a client changed.
 */
export interface CompactionRecord {
  v: 1;
  origin: CompactionOrigin;
  /** sha256 of `content`. */
  content: string;
  /** sha256 of the canonical JSON of `tool_changes` (`null` when absent). */
  toolChanges: string;
  /** Makes every block unique, like the API's. */
  nonce: string;
}

/** The fields of a compaction block the signature covers, as sent or returned. */
export interface CompactionFields {
  content: string | null;
  encrypted_content?: string | null;
  signature?: string | null;
  tool_changes?: unknown[] | null;
}

/** A compaction block as the fake returns it. */
export interface SignedCompactionBlock {
  type: 'compaction';
  content: string;
  encrypted_content: string;
  signature: string;
  tool_changes: unknown[];
}

/** Why a compaction block does not verify, as the API's `error_code`. */
export type CompactionVerdict =
  | { ok: true; record: CompactionRecord }
  | {
      ok: false;
      code:
        'compaction_signature_invalid' | 'compaction_content_mismatch' | 'compaction_tool_changes_mismatch';
    };

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url');

/** JSON with sorted keys, so a client that reorders an object's keys has not changed it. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

const toolChangesDigest = (toolChanges: unknown): string => sha256(canonicalJson(toolChanges ?? null));

/** Constant-time string comparison (what a real verifier does; here mostly for form). */
function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Signer {
  /** Signatures and `data` the fake sent because a script said so (not HMACs): accepted back as issued. */
  private readonly scriptedThinking = new Map<string, Set<string>>();
  private readonly scriptedRedacted = new Set<string>();
  private readonly secret: Buffer;

  constructor(secret?: string) {
    this.secret = secret === undefined ? PROCESS_SECRET : Buffer.from(secret, 'utf8');
  }

  private mac(kind: string, text: string): string {
    return createHmac('sha256', this.secret).update(`${kind}\n`).update(text).digest('base64');
  }

  // ---- thinking ---------------------------------------------------------------------------------------

  /** The signature the fake gives a `thinking` block it emits: bound to the block's text. */
  signThinking(thinking: string): string {
    return this.mac('thinking', thinking);
  }

  /**
   * Records a signature a script chose, so that the block the fake sent with it comes back valid. It is
   * bound to the text it was sent with: the same signature on other text does not verify.
   */
  rememberThinking(thinking: string, signature: string): void {
    const texts = this.scriptedThinking.get(signature) ?? new Set<string>();
    texts.add(sha256(thinking));
    this.scriptedThinking.set(signature, texts);
  }

  /** Whether `signature` is one the fake issued for exactly this `thinking` text. */
  verifyThinking(thinking: string, signature: string): boolean {
    if (sameString(signature, this.signThinking(thinking))) return true;
    return this.scriptedThinking.get(signature)?.has(sha256(thinking)) ?? false;
  }

  // ---- redacted thinking ------------------------------------------------------------------------------

  /** Opaque `data` for a `redacted_thinking` block, verifiable by the fake (the payload is not secret). */
  redactedData(payload = randomBytes(12).toString('base64url')): string {
    return `${payload}.${this.mac('redacted_thinking', payload)}`;
  }

  rememberRedacted(data: string): void {
    this.scriptedRedacted.add(data);
  }

  verifyRedacted(data: string): boolean {
    if (this.scriptedRedacted.has(data)) return true;
    const dot = data.lastIndexOf('.');
    return dot > 0 && sameString(data.slice(dot + 1), this.mac('redacted_thinking', data.slice(0, dot)));
  }

  // ---- compaction -------------------------------------------------------------------------------------

  /**
   * A signed compaction block: `encrypted_content` records digests of `content` and `tool_changes`, and
   * `signature` is the HMAC of `encrypted_content`. A client that edits the summary therefore gets
   * `compaction_content_mismatch`, one that forges or garbles the signature (or the opaque metadata)
   * `compaction_signature_invalid`.
   */
  signCompaction(content: string, toolChanges: unknown[], origin: CompactionOrigin): SignedCompactionBlock {
    const record: CompactionRecord = {
      v: 1,
      origin,
      content: sha256(content),
      toolChanges: toolChangesDigest(toolChanges),
      nonce: randomBytes(9).toString('base64url'),
    };
    const encrypted = Buffer.from(JSON.stringify(record)).toString('base64url');
    return {
      type: 'compaction',
      content,
      encrypted_content: encrypted,
      signature: this.mac('compaction', encrypted),
      tool_changes: toolChanges,
    };
  }

  /** Checks a compaction block sent back: signature first, then what it recorded. */
  verifyCompaction(block: CompactionFields): CompactionVerdict {
    const { encrypted_content: encrypted, signature } = block;
    if (typeof encrypted !== 'string' || typeof signature !== 'string')
      return { ok: false, code: 'compaction_signature_invalid' };
    if (!sameString(signature, this.mac('compaction', encrypted)))
      return { ok: false, code: 'compaction_signature_invalid' };
    let record: CompactionRecord;
    try {
      record = JSON.parse(Buffer.from(encrypted, 'base64url').toString('utf8')) as CompactionRecord;
    } catch {
      return { ok: false, code: 'compaction_signature_invalid' };
    }
    if (record.content !== sha256(block.content ?? ''))
      return { ok: false, code: 'compaction_content_mismatch' };
    if (record.toolChanges !== toolChangesDigest(block.tool_changes))
      return { ok: false, code: 'compaction_tool_changes_mismatch' };
    return { ok: true, record };
  }
}
