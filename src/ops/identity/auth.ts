/**
 * How the ops server knows who calls it. Three credentials:
 * - `Authorization: Bearer <operator token>` (made by `agent operators add`): that operator;
 * - the session cookie the page gets at sign-in (operator token or OpenID Connect), with the CSRF
 *   header on every state-changing request;
 * - `Authorization: Bearer <OPS_TOKEN>`: administration and automation (workers publishing streams,
 *   the CLI's `watch`, the codec), recorded as `admin:ops-token` on the `admin` channel. Such a caller
 *   may still label itself with `x-ops-operator` (the old shared-token flow); the label is recorded
 *   behind the marked name, `admin:ops-token/<label>`, so an audit never mistakes it for a person.
 * Credentials in a URL's query string are refused outright: they end up in logs, history and referrers.
 * Wrong credentials count against the caller's address: after too many, its wrong guesses get 429
 * instead of 401 (and are not counted further); a valid credential is never refused for them. The
 * address is the client's own, or the one a trusted proxy forwarded (`OPS_TRUSTED_PROXIES`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { MAX_NAME } from '../../api/bounds';
import { OPERATOR_HEADER, operatorFrom } from '../operator';
import {
  ADMIN_TOKEN_NAME,
  hasRole,
  operatorView,
  type Identity,
  type OperatorView,
  type Role,
} from './identity';
import type { OidcLogin } from './oidc';
import type { OperatorStore } from './operator-store';
import { LoginLimiter, type LoginLimitOptions } from './rate-limit';
import {
  cookie,
  CSRF_HEADER,
  csrfMatches,
  readCookie,
  SESSION_COOKIE,
  SessionStore,
  type Session,
  type SessionStoreOptions,
} from './sessions';

export interface IdentityOptions {
  /** The per-operator tokens (default: none; only OPS_TOKEN and OpenID Connect sign in). */
  operators?: OperatorStore;
  /** Sessions: lifetime (default 8 h), clock. */
  sessions?: SessionStoreOptions;
  /** Failed sign-ins allowed per address (default 10 per 15 minutes). */
  loginLimit?: LoginLimitOptions;
  /** OpenID Connect sign-in (authorization code + PKCE), when configured. */
  oidc?: OidcLogin;
  /** The page's public URL (`OPS_PUBLIC_URL`): https there marks cookies Secure behind a TLS proxy. */
  publicUrl?: string;
}

/** `POST /auth/login` takes this. */
export interface LoginBody {
  token: string;
}
/** `POST /auth/login` and `GET /api/session` answer with who is signed in and the CSRF token. */
export interface SignedIn {
  operator: OperatorView;
  /** Send it back as `x-csrf-token` on every POST (only with a session cookie). */
  csrfToken?: string;
  /** When the session ends (ISO time; only with a session cookie). */
  expiresAt?: string;
}
/** `GET /auth/methods`: how the page can sign in. */
export interface SignInMethods {
  token: true;
  oidc: boolean;
}

const LoginBodySchema = z.strictObject({ token: z.string().min(1).max(4096) });
/** Query parameters that carry credentials, refused wherever they appear. */
const CREDENTIAL_PARAMS = new Set([
  'token',
  'access_token',
  'id_token',
  'ops_token',
  'bearer',
  'authorization',
  'auth',
  'session',
  'ops_session',
  'csrf',
  'api_key',
  'apikey',
]);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

interface Resolved {
  identity: Identity;
  session?: Session;
}

export interface Auth {
  /** The `onRequest` hook of every authenticated route: 401 / 403 / 429, or the caller is known. */
  authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  /** The caller of an authenticated request. */
  identityOf: (request: FastifyRequest) => Identity;
  /** Who is signed in, for `GET /api/session`. */
  signedIn: (request: FastifyRequest) => SignedIn;
  /** A `preHandler` refusing callers below `role` (403). */
  requireRole: (role: Role) => (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

/** Registers the sign-in routes (`/auth/*`) and the query-string refusal; returns the API's hooks. */
export function registerAuth(app: FastifyInstance, adminToken: string, options: IdentityOptions = {}): Auth {
  const adminDigest = digest(adminToken);
  const sessions = new SessionStore(options.sessions);
  const limiter = new LoginLimiter(options.loginLimit);
  const resolved = new WeakMap<FastifyRequest, Resolved>();
  const secureFor = (request: FastifyRequest) =>
    request.protocol === 'https' || (options.publicUrl?.startsWith('https:') ?? false);

  const tooMany = (reply: FastifyReply, seconds: number) =>
    reply
      .code(429)
      .header('retry-after', String(seconds))
      .send({ error: 'rate_limited', message: `too many failed sign-ins; try again in ${seconds} s` });
  const unauthorized = (reply: FastifyReply, message: string) =>
    reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message });

  /** The identity a bearer token stands for, or undefined. */
  const fromBearer = (token: string, request: FastifyRequest): Identity | { problem: string } | undefined => {
    if (timingSafeEqual(digest(token), adminDigest)) {
      const label = request.headers[OPERATOR_HEADER];
      if (label === undefined) return { name: ADMIN_TOKEN_NAME, role: 'admin', groups: [], channel: 'admin' };
      const named = operatorFrom(label);
      if ('problem' in named) return named;
      const name = `${ADMIN_TOKEN_NAME}/${named.name}`.slice(0, MAX_NAME);
      return { name, role: 'admin', groups: [], channel: 'admin' };
    }
    return options.operators?.authenticate(token)?.identity;
  };

  // Credentials never travel in a URL: refused before routing, on every path.
  app.addHook('onRequest', async (request, reply) => {
    const at = request.url.indexOf('?');
    if (at < 0) return;
    for (const name of new URLSearchParams(request.url.slice(at + 1)).keys()) {
      if (CREDENTIAL_PARAMS.has(name.toLowerCase()))
        return reply.code(400).send({
          error: 'invalid',
          message: `credentials are never accepted in a URL (the "${name.slice(0, 40)}" parameter); send Authorization: Bearer or sign in`,
        });
    }
  });

  const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
      const identity = token ? fromBearer(token, request) : undefined;
      if (identity && 'problem' in identity)
        return reply.code(400).send({ error: 'invalid', message: identity.problem });
      if (!identity) {
        // Guesses are what the limit costs: a valid credential is never refused for failures (its
        // holder's or someone else's behind the same address).
        const wait = limiter.retryAfter(request.ip);
        if (wait) return tooMany(reply, wait);
        limiter.fail(request.ip);
        return unauthorized(reply, 'a valid bearer token (an operator token or OPS_TOKEN) is required');
      }
      resolved.set(request, { identity });
      return;
    }
    const id = readCookie(request.headers.cookie, SESSION_COOKIE);
    const session = id === undefined ? undefined : sessions.get(id);
    if (!session || (session.tokenHash !== undefined && !options.operators?.holds(session.tokenHash))) {
      if (id !== undefined) {
        sessions.delete(id);
        reply.header('set-cookie', cookie(SESSION_COOKIE, '', 0, secureFor(request)));
      }
      return unauthorized(
        reply,
        id === undefined ? 'sign in (or send Authorization: Bearer)' : 'the session has ended; sign in again',
      );
    }
    // A cookie rides along with any request the browser makes: a state change needs proof that the
    // page made it (SameSite=Strict and the origin check already stop other sites; this is the second lock).
    if (!SAFE_METHODS.has(request.method) && !csrfMatches(session, request.headers[CSRF_HEADER]))
      return reply
        .code(403)
        .send({ error: 'forbidden', message: `a state-changing request needs the ${CSRF_HEADER} header` });
    resolved.set(request, { identity: session.identity, session });
  };

  const identityOf = (request: FastifyRequest): Identity => {
    const found = resolved.get(request);
    if (!found) throw new Error('identityOf: the request was not authenticated');
    return found.identity;
  };

  const signedIn = (request: FastifyRequest): SignedIn => {
    const found = resolved.get(request);
    if (!found) throw new Error('signedIn: the request was not authenticated');
    return {
      operator: operatorView(found.identity),
      ...(found.session && {
        csrfToken: found.session.csrf,
        expiresAt: new Date(found.session.expiresAt).toISOString(),
      }),
    };
  };

  const requireRole = (role: Role) => async (request: FastifyRequest, reply: FastifyReply) => {
    const identity = identityOf(request);
    if (!hasRole(identity, role))
      return reply.code(403).send({
        error: 'forbidden',
        message: `this needs the ${role} role; ${identity.name} is a ${identity.role}`,
      });
  };

  /** Opens a session and sets its cookie; the answer the page reads. */
  const openSession = (
    request: FastifyRequest,
    reply: FastifyReply,
    identity: Identity,
    tokenHash?: string,
  ) => {
    const { id, session } = sessions.create(identity, tokenHash);
    reply.header('set-cookie', cookie(SESSION_COOKIE, id, sessions.ttlMs / 1000, secureFor(request)));
    return {
      operator: operatorView(identity),
      csrfToken: session.csrf,
      expiresAt: new Date(session.expiresAt).toISOString(),
    } satisfies SignedIn;
  };

  app.get(
    '/auth/methods',
    async () => ({ token: true, oidc: options.oidc !== undefined }) satisfies SignInMethods,
  );

  app.post('/auth/login', async (request, reply) => {
    const body = LoginBodySchema.safeParse(request.body);
    if (!body.success)
      return reply.code(400).send({ error: 'invalid', message: 'send {"token": "<your operator token>"}' });
    const token = body.data.token.trim();
    if (timingSafeEqual(digest(token), adminDigest))
      return openSession(request, reply, {
        name: ADMIN_TOKEN_NAME,
        role: 'admin',
        groups: [],
        channel: 'admin',
      });
    const found = options.operators?.authenticate(token);
    if (!found) {
      const wait = limiter.retryAfter(request.ip);
      if (wait) return tooMany(reply, wait);
      limiter.fail(request.ip);
      return unauthorized(reply, 'the token was not recognised');
    }
    return openSession(request, reply, found.identity, found.tokenHash);
  });

  app.post('/auth/logout', async (request, reply) => {
    const id = readCookie(request.headers.cookie, SESSION_COOKIE);
    const session = id === undefined ? undefined : sessions.get(id);
    if (session && !csrfMatches(session, request.headers[CSRF_HEADER]))
      return reply
        .code(403)
        .send({ error: 'forbidden', message: `signing out needs the ${CSRF_HEADER} header` });
    if (id !== undefined) sessions.delete(id);
    reply.header('set-cookie', cookie(SESSION_COOKIE, '', 0, secureFor(request)));
    return { ok: true };
  });

  if (options.oidc) options.oidc.register(app, { openSession, secureFor });

  return { authenticate, identityOf, signedIn, requireRole };
}

/** What the OpenID Connect routes need from the session machinery. */

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
