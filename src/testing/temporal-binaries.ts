import { accessSync, constants, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Where the Temporal binaries are: the CLI (dev server) and the time-skipping test server. */
export interface TemporalBinaries {
  cli: string;
  testServer: string;
}

/** The project root (this file lives in src/testing or dist/testing). */
export const PROJECT_ROOT = resolve(__dirname, '..', '..');

const MANIFEST = join(PROJECT_ROOT, '.temporal', 'binaries.json');

/**
 * Resolves the Temporal binaries: `TEMPORAL_CLI_PATH` / `TEMPORAL_TEST_SERVER_PATH` first, else what
 * `scripts/install-temporal.mjs` recorded. Throws a message that says what to run when neither is there.
 */
export function temporalBinaries(): TemporalBinaries {
  let manifest: { cli?: { path?: string }; testServer?: { path?: string } } = {};
  try {
    manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as typeof manifest;
  } catch {
    // handled below, per binary
  }
  const pick = (env: string, recorded: string | undefined, what: string): string => {
    const path = process.env[env] || recorded;
    if (!path) {
      throw new Error(
        `No ${what} binary: run \`node scripts/install-temporal.mjs\` (npm install runs it) or set ${env}.`,
      );
    }
    try {
      accessSync(path, constants.X_OK);
    } catch {
      throw new Error(
        `The ${what} binary ${path} is missing or not executable: run \`node scripts/install-temporal.mjs\` or set ${env}.`,
      );
    }
    return path;
  };
  return {
    cli: pick('TEMPORAL_CLI_PATH', manifest.cli?.path, 'Temporal CLI'),
    testServer: pick('TEMPORAL_TEST_SERVER_PATH', manifest.testServer?.path, 'Temporal test server'),
  };
}
