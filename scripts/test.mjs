#!/usr/bin/env node
// `npm test` after the binaries are in place: jest, and beside it the static checks (the types, the ops
// page's types, the formatting, the lint). One after another the checks take about a minute of CPU;
// jest's workers leave about a fifth of the two cores idle while they wait on servers, timers and
// kills, so the checks run there, at a lower priority, instead of holding jest back for a minute.
// Every check still has to pass: one that fails stops jest at once and prints what it found. Arguments
// go to jest (`npm test -- test/unit`).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants, setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const CHECKS = [
  ['types', bin('tsc'), ['--noEmit']],
  ['page types', bin('tsc'), ['-p', 'src/ops/public/tsconfig.json']],
  ['formatting', bin('prettier'), ['--check', '--log-level', 'warn', '.']],
  ['lint', bin('eslint'), ['.']],
];
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

for (const [, file] of CHECKS) {
  if (!existsSync(file)) {
    console.error(`test: ${file} is missing; run npm install first`);
    process.exit(1);
  }
}

// Jest in its own process group, so a failed check stops its workers and the servers they started.
const jest = spawn(bin('jest'), process.argv.slice(2), { cwd: root, stdio: 'inherit', detached: true });
const jestExit = new Promise((resolve) => jest.once('exit', (code, signal) => resolve(code ?? signal)));
let stopping = false;
function stopJest(signal = 'SIGTERM') {
  if (stopping) return;
  stopping = true;
  try {
    process.kill(-jest.pid, signal);
  } catch {
    return; // already gone
  }
  // Jest lets its workers and suites close first; whatever is left after 10 s is killed.
  setTimeout(() => {
    try {
      process.kill(-jest.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }, 10_000).unref();
}
// Ctrl-C and a CI's stop reach jest too (it is not in the terminal's foreground group).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => stopJest(signal));

/** One check to its end: its output kept, shown only if it fails. */
function check([name, file, args]) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      setPriority(child.pid, constants.priority.PRIORITY_BELOW_NORMAL);
    } catch {
      // Not allowed here: it runs at the normal priority.
    }
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', (err) => resolve({ name, ok: false, output: String(err), took: seconds(started) }));
    child.once('exit', (code) => resolve({ name, ok: code === 0, output, took: seconds(started) }));
  });
}

const checks = (async () => {
  for (const spec of CHECKS) {
    const result = await check(spec);
    if (!result.ok) return result;
    console.log(`[checks] ${result.name}: passed (${result.took})`);
  }
  return undefined;
})();

const failed = await checks;
if (failed) {
  console.error(`\n[checks] ${failed.name} failed (${failed.took}); stopping jest:\n${failed.output}`);
  stopJest();
  await jestExit;
  process.exit(1);
}
const outcome = await jestExit;
process.exit(outcome === 0 ? 0 : 1);
