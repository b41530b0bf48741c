import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The Messages API wire fixtures live in ../shared/fixtures/anthropic-api, beside the checkout (CI has
 * them there). They are not copied into this repository; tests that need them say so when absent.
 */
export const SHARED_FIXTURES = resolve(__dirname, '..', '..', '..', 'shared', 'fixtures', 'anthropic-api');

export const haveSharedFixtures = existsSync(SHARED_FIXTURES);

if (!haveSharedFixtures) {
  console.warn(
    `[fixtures] ${SHARED_FIXTURES} is missing: the tests that replay the shared Messages API fixtures are skipped.`,
  );
}

export function sharedFixture(name: string): string {
  return join(SHARED_FIXTURES, name);
}
