/**
 * Who is calling the ops server: an operator signed in with their own token or through OpenID Connect,
 * or the shared `OPS_TOKEN` (administration and automation only). `decidedBy`, a budget raise's `by` and
 * a compaction's `by` come from here, never from a body, a form or a header the caller chooses.
 */

/** What an operator may do: read (viewer), also decide and spend (approver), also manage (admin). */
export const ROLES = ['viewer', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * How the caller proved who they are: their own token (`token`), an OpenID Connect login (`oidc`), or
 * the shared `OPS_TOKEN` (`admin`: a credential, not a person; its name is marked `admin:ops-token`).
 */
export type Channel = 'token' | 'oidc' | 'admin';

export interface Identity {
  /**
   * Who it is, as `decidedBy` records it: a token operator's name, `admin:ops-token[/label]`, or for
   * OpenID Connect `oidc:<subject>/<label>` (the provider's stable subject identifies the person).
   */
  name: string;
  /** The name to show, when it differs from `name` (an OpenID Connect user's display name). */
  label?: string;
  role: Role;
  /** The approver groups the operator belongs to (e.g. `finance`). */
  groups: string[];
  channel: Channel;
}

/** The name decisions made with the shared `OPS_TOKEN` are recorded under. */
export const ADMIN_TOKEN_NAME = 'admin:ops-token';

const RANK: Record<Role, number> = { viewer: 0, approver: 1, admin: 2 };

/** Whether `identity`'s role is at least `role`. */
export function hasRole(identity: Identity, role: Role): boolean {
  return RANK[identity.role] >= RANK[role];
}

/** What the page and `GET /api/session` show about the signed-in operator. */
export interface OperatorView {
  name: string;
  /** The name to show (the page shows it instead of `name`). */
  label?: string;
  role: Role;
  groups: string[];
  channel: Channel;
}

export function operatorView(identity: Identity): OperatorView {
  return {
    name: identity.name,
    ...(identity.label !== undefined && { label: identity.label }),
    role: identity.role,
    groups: [...identity.groups],
    channel: identity.channel,
  };
}
