/**
 * What an operator's name and groups may hold. A name made by `agent operators add` is a plain login
 * (letters, digits, `._@-`): it lands in audit trails, terminals and the page. A name from an identity
 * provider is whatever its claim says, so it is checked the way the old `x-ops-operator` header was:
 * bounded, no control or bidirectional-override characters (the page renders it as text, never HTML).
 */
import { MAX_OPERATOR_CHARS } from '../operator';
import { ROLES, type Role } from './identity';

const LOGIN = /^[\p{L}\p{N}][\p{L}\p{N}\p{M}._@-]{0,63}$/u;
const GROUP = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
/** Most groups one operator carries (more are refused, not clipped: clipping could drop the one that matters). */
export const MAX_GROUPS = 32;
// Control characters (C0, DEL, C1) and the bidirectional overrides that reorder what an audit shows.
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

/** Why a login name for `agent operators add` is refused, or null. */
export function loginNameProblem(name: string): string | null {
  if (LOGIN.test(name)) return null;
  return 'an operator name is 1-64 characters: letters, digits and . _ @ - (starting with a letter or digit; no spaces, markup or control characters)';
}

/** Why a group name is refused, or null. */
export function groupProblem(group: string): string | null {
  if (GROUP.test(group)) return null;
  return 'a group name is 1-64 characters: letters, digits and . _ : - (starting with a letter or digit)';
}

/** Why a list of groups is refused, or null. */
export function groupsProblem(groups: readonly string[]): string | null {
  if (groups.length > MAX_GROUPS) return `at most ${MAX_GROUPS} groups`;
  for (const group of groups) {
    const problem = groupProblem(group);
    if (problem) return problem;
  }
  return null;
}

/** A name from an identity provider's claim, or why it is refused. */
export function claimedName(value: unknown): { name: string } | { problem: string } {
  if (typeof value !== 'string') return { problem: 'the name claim is missing or not a string' };
  const name = value.trim();
  if (!name) return { problem: 'the name claim is blank' };
  if (name.length > MAX_OPERATOR_CHARS)
    return { problem: `the name claim is longer than ${MAX_OPERATOR_CHARS} characters` };
  if (FORBIDDEN.test(name))
    return { problem: 'the name claim holds control or bidirectional-override characters' };
  return { name };
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
