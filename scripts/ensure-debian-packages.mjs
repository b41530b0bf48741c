#!/usr/bin/env node
// Makes sure the system tools the tests use are here, installing Debian's packages when they are
// missing and we are root: Chromium for the browser tests (CHROMIUM_PATH overrides it),
// docker-compose to validate docker-compose.yml (no Docker engine is needed for that), and
// PostgreSQL's server for the memory tests (they start their own; POSTGRES_BIN_DIR overrides it). Downloads of
// test tools' own browsers (e.g. `npx playwright install`) cannot work on machines without the open
// internet; Debian's packages can.
//
// Usage: node scripts/ensure-debian-packages.mjs [--quiet]
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const quiet = process.argv.includes('--quiet');
const TOOLS = [
  {
    path: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    pkg: 'chromium',
    override: process.env.CHROMIUM_PATH,
  },
  { path: '/usr/bin/docker-compose', pkg: 'docker-compose' },
  {
    // A getter: the version installed is known only after apt-get has run.
    get path() {
      return join(process.env.POSTGRES_BIN_DIR || postgresBinDir(), 'initdb');
    },
    pkg: 'postgresql',
    override: process.env.POSTGRES_BIN_DIR,
  },
];

/** Debian's newest /usr/lib/postgresql/<version>/bin, or bookworm's (15) when none is installed. */
function postgresBinDir() {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v)) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0] ?? '15';
  return join(base, newest, 'bin');
}

function executable(p) {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const missing = TOOLS.filter((t) => !executable(t.path));
for (const t of missing.filter((t) => t.override)) {
  console.error(`[ensure-debian-packages] ${t.path} (from the environment) is not an executable file.`);
  process.exit(1);
}
if (missing.length === 0) process.exit(0);
const packages = missing.map((t) => t.pkg);
const root = typeof process.getuid === 'function' && process.getuid() === 0;
if (!root) {
  console.error(
    `[ensure-debian-packages] missing: ${missing.map((t) => t.path).join(', ')}. Install ${packages.join(' ')} (Debian: sudo apt-get install ${packages.join(' ')}).`,
  );
  process.exit(1);
}
console.log(`[ensure-debian-packages] installing ${packages.join(' ')} with apt-get (once)...`);
const started = Date.now();
try {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], {
    stdio: 'inherit',
    env,
  });
} catch (err) {
  console.error(
    `[ensure-debian-packages] apt-get failed (${err.message}). Install ${packages.join(' ')} yourself (or set CHROMIUM_PATH).`,
  );
  process.exit(1);
}
const still = missing.filter((t) => !executable(t.path));
if (still.length > 0) {
  console.error(
    `[ensure-debian-packages] installed, but ${still.map((t) => t.path).join(', ')} still missing.`,
  );
  process.exit(1);
}
console.log(`[ensure-debian-packages] installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
