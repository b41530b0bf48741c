/**
 * Who an OpenID Connect sign-in is (second probe, finding 5): the provider's `sub`, never its
 * `preferred_username`, which the spec says is neither unique nor stable. IdP users who called
 * themselves `admin:ops-token`, `system:deadline`, `alice` (a token operator) or `bob` with a zero-width
 * character were recorded under those names; now each one decides as `oidc:<sub>/<label>`, which no
 * token operator, `OPS_TOKEN` or other subject can be, and one subject is one person whatever its label.
 * The real sign-in through a provider is in test/e2e/ops-oidc.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { personOf } from '../../src/api/person';
import { identityFromClaims, oidcName } from '../../src/ops/identity/oidc';
import type { Identity } from '../../src/ops/identity/identity';

const claims = (sub: string, preferred_username: string) => ({
  sub,
  preferred_username,
  ops_role: 'approver',
});
const identity = (sub: string, name: string) => identityFromClaims(claims(sub, name), {}) as Identity;

describe('an OpenID Connect identity', () => {
  it.each([
    ['admin:ops-token', 'admin:ops-token'],
    ['system:deadline', 'system:deadline'],
    ['alice', 'alice'],
    ['bob\u200b', 'bob'],
    ['ａlice', 'alice'],
  ])('that calls itself %j is not %j', (label, impersonated) => {
    const who = identity(`idp-user-${label.length}`, label);
    expect(who.name.startsWith('oidc:')).toBe(true);
    expect(who.label).toBe(label);
    expect(personOf(who.name)).not.toBe(personOf(impersonated));
  });

  it('is its subject: the same sub under two labels is one person; two subs with one label are two', () => {
    expect(personOf(identity('sub-1', 'Alice').name)).toBe(personOf(identity('sub-1', 'alice.new').name));
    expect(personOf(identity('sub-1', 'alice').name)).not.toBe(personOf(identity('sub-2', 'alice').name));
  });

  it('of a subject with slashes, spaces or 255 characters stays one bounded name', () => {
    for (const sub of ['a/b', 'a b', 'x'.repeat(255)]) {
      const name = oidcName(sub, 'label');
      expect(name.length).toBeLessThanOrEqual(200);
      expect(personOf(name)).not.toContain('label');
    }
    expect(personOf(oidcName('a/b', 'x'))).not.toBe(personOf(oidcName('a', 'x')));
  });

  it('is refused without a valid subject', () => {
    for (const sub of [undefined, '', 'x'.repeat(256), 'a\u0000b'])
      expect(identityFromClaims({ sub, preferred_username: 'alice' }, {})).toEqual({
        problem: expect.stringMatching(/sub claim/),
      });
  });
});
