#!/usr/bin/env node
// Makes sure a Chromium for the browser tests is here: CHROMIUM_PATH if set, else Debian's
// /usr/bin/chromium, installed with apt-get when missing and we are root. Browser downloads of
// test tools (e.g. `npx playwright install`) cannot work on machines without the open internet.
//
// Usage: node scripts/ensure-chromium.mjs [--quiet]   (prints nothing and exits 0 when present)
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

const quiet = process.argv.includes('--quiet');
const path = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

function executable(p) {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

if (executable(path)) {
  if (!quiet) console.log(`[ensure-chromium] ${path}`);
  process.exit(0);
}
if (process.env.CHROMIUM_PATH) {
  console.error(`[ensure-chromium] CHROMIUM_PATH=${path} is not an executable file.`);
  process.exit(1);
}
const root = typeof process.getuid === 'function' && process.getuid() === 0;
if (!root) {
  console.error('[ensure-chromium] /usr/bin/chromium is missing. Install it (Debian: `sudo apt-get install chromium`) or set CHROMIUM_PATH.');
  process.exit(1);
}
console.log('[ensure-chromium] installing Debian chromium with apt-get (once; takes a minute or two)...');
const started = Date.now();
try {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
} catch (err) {
  console.error(`[ensure-chromium] apt-get failed (${err.message}). Install chromium yourself or set CHROMIUM_PATH.`);
  process.exit(1);
}
if (!executable(path)) {
  console.error(`[ensure-chromium] chromium installed but ${path} is missing; set CHROMIUM_PATH.`);
  process.exit(1);
}
console.log(`[ensure-chromium] installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
