/**
 * Operators signing in through OpenID Connect: authorization code with PKCE (S256), state and nonce,
 * through `openid-client`. `GET /auth/oidc/login` sends the browser to the provider; the provider sends
 * it back to `GET /auth/oidc/callback`, which exchanges the code, reads the ID token's claims (name,
 * role, groups: the claim names are configurable) and opens the same session a token sign-in does.
 *
 * A login in progress is kept here (state → verifier, nonce) and bound to the browser that started it
 * by an HttpOnly cookie (SameSite=Lax: it must come back on the provider's top-level redirect), so a
 * callback link someone else started cannot sign this browser in as them (login CSRF).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MAX_NAME } from '../../api/bounds';
import type * as OpenId from 'openid-client';
import type { Identity, Role } from './identity';
import { claimedName, groupsProblem, isRole } from './names';
import { makeRoomFor } from './bounded';
import { readCookie } from './sessions';

export interface OidcOptions {
  /** The provider's issuer URL (`OPS_OIDC_ISSUER`); its discovery document is read at startup. */
  issuer: string;
  clientId: string;
  /** None: a public client (PKCE alone). */
  clientSecret?: string;
  /** The ops page's public URL (`OPS_PUBLIC_URL`): the redirect URI is this + `/auth/oidc/callback`. */
  publicUrl: string;
  /** The claim holding the operator's name (default: `preferred_username`, else `email`, else `sub`). */
  nameClaim?: string;
  /** The claim holding the role (default `ops_role`); missing or unknown: `defaultRole`. */
  roleClaim?: string;
  /** The claim holding the groups, an array of strings (default `groups`). */
  groupsClaim?: string;
  /** The role of a user whose token names none (default `viewer`). */
  defaultRole?: Role;
  /** Allow an http issuer (tests and local providers only). */
  allowHttp?: boolean;
}

/** What the sign-in routes need of the sessions (auth.ts hands them its own). */
export interface SessionOpener {
  /** Signs `identity` in: a session cookie on `reply`. */
  openSession: (request: FastifyRequest, reply: FastifyReply, identity: Identity) => unknown;
  /** Whether cookies for `request` are Secure (served over https). */
  secureFor: (request: FastifyRequest) => boolean;
}

export interface OidcLogin {
  register(app: FastifyInstance, sessions: SessionOpener): void;
}

const PENDING_COOKIE = 'ops_oidc';
const PENDING_TTL_MS = 10 * 60_000;
const MAX_PENDING = 10_000;
/** Sign-ins in progress one client address holds at once (a person needs one or two). */
const MAX_PENDING_PER_ADDRESS = 20;
// openid-client is an ES module: loaded through import() (require(esm) under Node's CommonJS).
const loadClient = (): Promise<typeof OpenId> => import('openid-client');

/** Reads the provider's discovery document and returns the sign-in routes. */
export async function createOidcLogin(options: OidcOptions): Promise<OidcLogin> {
  const client = await loadClient();
  const config = await client.discovery(
    new URL(options.issuer),
    options.clientId,
    options.clientSecret,
    undefined,
    options.allowHttp ? { execute: [client.allowInsecureRequests] } : undefined,
  );
  const redirectUri = new URL('/auth/oidc/callback', options.publicUrl).href;
  const pending = new Map<
    string,
    { verifier: string; nonce: string; binding: string; address: string; expiresAt: number }
  >();

  const identityOf = (claims: Record<string, unknown>) => identityFromClaims(claims, options);

  const fail = (reply: FastifyReply, message: string) =>
    reply
      .code(303)
      .header('location', `/#login-error=${encodeURIComponent(message)}`)
      .send();

  return {
    register(app, sessions) {
      app.get('/auth/oidc/login', async (request, reply) => {
        const now = Date.now();
        for (const [k, p] of pending) if (p.expiresAt <= now) pending.delete(k);
        // One address's sign-ins in progress end only its own oldest: it cannot fill the table for others.
        makeRoomFor(pending, request.ip, (p) => p.address, MAX_PENDING_PER_ADDRESS);
        if (pending.size >= MAX_PENDING)
          return reply
            .code(503)
            .header('retry-after', '60')
            .send({ error: 'unavailable', message: 'too many sign-ins in progress; try again shortly' });
        const verifier = client.randomPKCECodeVerifier();
        const state = client.randomState();
        const nonce = client.randomNonce();
        const binding = randomBytes(32).toString('base64url');
        pending.set(state, {
          verifier,
          nonce,
          binding,
          address: request.ip,
          expiresAt: now + PENDING_TTL_MS,
        });
        const url = client.buildAuthorizationUrl(config, {
          redirect_uri: redirectUri,
          scope: 'openid profile email',
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        });
        return reply
          .code(303)
          .header(
            'set-cookie',
            `${PENDING_COOKIE}=${binding}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=${PENDING_TTL_MS / 1000}${sessions.secureFor(request) ? '; Secure' : ''}`,
          )
          .header('location', url.href)
          .send();
      });

      app.get('/auth/oidc/callback', async (request: FastifyRequest, reply) => {
        const current = new URL(request.url, options.publicUrl);
        const state = current.searchParams.get('state') ?? '';
        const login = pending.get(state);
        pending.delete(state);
        const binding = readCookie(request.headers.cookie, PENDING_COOKIE) ?? '';
        if (
          !login ||
          login.expiresAt <= Date.now() ||
          binding.length !== login.binding.length ||
          !timingSafeEqual(Buffer.from(binding), Buffer.from(login.binding))
        ) {
          return fail(reply, 'The sign-in expired or was not started in this browser. Try again.');
        }
        const error = current.searchParams.get('error');
        if (error) return fail(reply, `The identity provider refused: ${error.slice(0, 100)}`);
        let claims: Record<string, unknown>;
        try {
          const tokens = await client.authorizationCodeGrant(config, current, {
            pkceCodeVerifier: login.verifier,
            expectedState: state,
            expectedNonce: login.nonce,
            idTokenExpected: true,
          });
          claims = { ...(tokens.claims() ?? {}) };
        } catch (err) {
          return fail(reply, `The sign-in failed (${String((err as Error).message).slice(0, 200)}).`);
        }
        const identity = identityOf(claims);
        if ('problem' in identity) return fail(reply, `The sign-in was refused: ${identity.problem}.`);
        sessions.openSession(request, reply, identity);
        return reply
          .code(303)
          .header('location', '/#/approvals')
          .header('set-cookie', [
            reply.getHeader('set-cookie') as string,
            `${PENDING_COOKIE}=; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=0`,
          ])
          .send();
      });
    },
  };
}

// Control characters have no place in a subject identifier (ASCII, at most 255 characters).
const FORBIDDEN_SUBJECT = /[\u0000-\u001f\u007f-\u009f]/u;

/**
 * What an OpenID Connect user's decisions record: `oidc:<subject>/<label>`. The subject, percent-encoded
 * (or, past 64 characters, a SHA-256 prefix of it), is the person (src/api/person.ts counts it once
 * whatever the label); the label after the slash is for people reading the audit. Bounded to MAX_NAME.
 */
export function oidcName(subject: string, label: string): string {
  const encoded = encodeURIComponent(subject);
  const id =
    encoded.length <= 64
      ? encoded
      : `sha256-${createHash('sha256').update(subject).digest('hex').slice(0, 32)}`;
  return `oidc:${id}/${label}`.slice(0, MAX_NAME);
}

/**
 * The identity an ID token's claims stand for, or why the sign-in is refused: the person from `sub`
 * (see {@link oidcName}), the name claim as the label, the role and groups from their claims.
 */
export function identityFromClaims(
  claims: Record<string, unknown>,
  options: Pick<OidcOptions, 'nameClaim' | 'roleClaim' | 'groupsClaim' | 'defaultRole'>,
): Identity | { problem: string } {
  const nameValue = options.nameClaim
    ? claims[options.nameClaim]
    : (claims.preferred_username ?? claims.email ?? claims.sub);
  const named = claimedName(nameValue);
  if ('problem' in named) return named;
  // The person is the provider's subject (OpenID Connect: unique and never reassigned within an
  // issuer); the name claim is only a label, which anyone may choose (another operator's name,
  // `admin:ops-token`, a look-alike): it never decides who decided.
  const subject = claims.sub;
  if (
    typeof subject !== 'string' ||
    subject === '' ||
    subject.length > 255 ||
    FORBIDDEN_SUBJECT.test(subject)
  )
    return { problem: 'the sub claim is missing or not a valid subject identifier' };
  const roleValue = claims[options.roleClaim ?? 'ops_role'];
  const role = isRole(roleValue) ? roleValue : (options.defaultRole ?? 'viewer');
  const groupsValue = claims[options.groupsClaim ?? 'groups'] ?? [];
  if (!Array.isArray(groupsValue) || !groupsValue.every((g) => typeof g === 'string'))
    return { problem: 'the groups claim is not a list of names' };
  const problem = groupsProblem(groupsValue);
  if (problem) return { problem: `the groups claim: ${problem}` };
  return {
    name: oidcName(subject, named.name),
    label: named.name,
    role,
    groups: [...new Set(groupsValue)],
    channel: 'oidc',
  };
}
