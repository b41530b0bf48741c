/**
 * The page's sessions: a random id in an HttpOnly, SameSite=Strict cookie (Secure when the page is
 * served over https), an absolute expiry, and a CSRF token the page sends back in a header on every
 * state-changing request. Held in the ops server's memory, by the id's hash: a restart signs everyone
 * out, and nothing in memory is a usable cookie.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Identity } from './identity';
import { personOf } from '../../api/person';
import { makeRoomFor } from './bounded';
import { AgentError } from '../../client/errors';

/** The session cookie's name. */
export const SESSION_COOKIE = 'ops_session';
/** The header the page sends the CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';
/** Default session lifetime: a working day. */
export const DEFAULT_SESSION_TTL_MS = 8 * 60 * 60_000;

export interface Session {
  identity: Identity;
  csrf: string;
  expiresAt: number;
  /** For a session opened with an operator token: its hash, so removing the operator ends the session. */
  tokenHash?: string;
}

export interface SessionStoreOptions {
  ttlMs?: number;
  /**
   * Sessions held at once (default 10,000): past it a new sign-in is refused (503) until some expire,
   * never made by signing others out.
   */
  max?: number;
  /** Sessions one operator holds at once (default 20): their oldest ends when they open one more. */
  maxPerOperator?: number;
  now?: () => number;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  /** Who each session belongs to, as one person (src/api/person.ts), worked out once. */
  private readonly persons = new WeakMap<Session, string>();
  readonly ttlMs: number;
  private readonly max: number;
  private readonly maxPerOperator: number;
  private readonly now: () => number;

  constructor(options: SessionStoreOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_SESSION_TTL_MS;
    this.max = options.max ?? 10_000;
    this.maxPerOperator = options.maxPerOperator ?? 20;
    this.now = options.now ?? Date.now;
  }

  /** Opens a session; returns the cookie value (shown to nobody but the browser) and the session. */
  create(identity: Identity, tokenHash?: string): { id: string; session: Session } {
    this.sweep();
    // One operator's sign-ins end only their own sessions: their oldest goes past their bound.
    const person = personOf(identity.name);
    makeRoomFor(this.sessions, person, (s) => this.persons.get(s) ?? '', this.maxPerOperator);
    if (this.sessions.size >= this.max)
      throw new AgentError(
        'unavailable',
        `the ops server holds ${this.max} sessions, as many as it may; sign in again when some expire`,
      );
    const id = randomBytes(32).toString('base64url');
    const session: Session = {
      identity,
      csrf: randomBytes(32).toString('base64url'),
      expiresAt: this.now() + this.ttlMs,
      ...(tokenHash !== undefined && { tokenHash }),
    };
    this.sessions.set(key(id), session);
    this.persons.set(session, person);
    return { id, session };
  }

  /** The live session of a cookie value; an expired one is forgotten. */
  get(id: string): Session | undefined {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const k = key(id);
    const session = this.sessions.get(k);
    if (!session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(k);
      return undefined;
    }
    return session;
  }

  delete(id: string): void {
    this.sessions.delete(key(id));
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(k);
  }
}

function key(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

/** Whether the CSRF header matches the session's token (constant time). */
export function csrfMatches(session: Session, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const a = Buffer.from(header);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A cookie's value from a `Cookie` header (the first of that name), or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure over https. */
export function cookie(name: string, value: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${name}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}
