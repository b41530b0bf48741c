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
 * `scripts/install-temporal.mjs` recorded. Each is resolved when read, so a project that has only the
 * CLI can start dev servers. Throws a message that says what to set when neither is there.
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
        `No ${what} binary: set ${env} (in this repository, \`node scripts/install-temporal.mjs\` installs it; npm install runs it).`,
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
    get cli() {
      return pick('TEMPORAL_CLI_PATH', manifest.cli?.path, 'Temporal CLI');
    },
    get testServer() {
      return pick('TEMPORAL_TEST_SERVER_PATH', manifest.testServer?.path, 'Temporal test server');
    },
  };
}
