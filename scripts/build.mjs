#!/usr/bin/env node
// `npm run build` (and `npm pack`, through prepack): a fresh dist/ from src/.
//   1. tsc -p tsconfig.build.json: JavaScript and declarations;
//   2. the ops page's assets (src/ops/public), which tsc does not copy;
//   3. the conversation workflow pre-bundled into dist/workflow-bundle.js, so a worker started from the
//      package loads it instead of bundling our sources at start (src/worker.ts picks it up).
// dist/ is removed first: a module deleted from src must not linger in the package.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);
const started = Date.now();
const step = (what) => console.log(`[build] ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
step('compiled');

// The page's own tsconfig.json only type-checks its JavaScript; it is not an asset.
cpSync(join(root, 'src', 'ops', 'public'), join(dist, 'ops', 'public'), {
  recursive: true,
  filter: (source) => !source.endsWith('tsconfig.json'),
});
step('copied the ops page');

// Bundled from the compiled worker's own options, so the bundle is exactly what it would build at start.
const { bundleWorkflowCode } = require('@temporalio/worker');
const { CONVERSATION_BUNDLE_OPTIONS } = require(join(dist, 'worker.js'));
const quiet = { trace() {}, debug() {}, info() {}, log() {}, warn: console.warn, error: console.error };
const { code } = await bundleWorkflowCode({ ...CONVERSATION_BUNDLE_OPTIONS, logger: quiet });
// The code carries its source map inline.
writeFileSync(join(dist, 'workflow-bundle.js'), code);
step(`bundled the workflows (${(code.length / 2 ** 20).toFixed(1)} MiB)`);
