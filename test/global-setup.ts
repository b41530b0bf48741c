import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shareWorkflowBundle } from '../src/testing/agent-env';
import { temporalBinaries } from '../src/testing/temporal-binaries';
import { buildCli } from './support/cli-runs';
import { processesMatching } from './support/processes';

/**
 * Records which Temporal server processes already run before the suite (someone's `npm start`, say),
 * so the teardown can tell the suite's own orphans from them; builds the conversation workflow's bundle
 * once for every test file (each one bundled its own before: seconds of CPU per file), and the `agent`
 * CLI once for every run of it (tsx compiled it at each start: a second of CPU per run).
 */
export default async function globalSetup(): Promise<void> {
  const { cli, testServer } = temporalBinaries();
  // Temporal servers and worker processes the suite starts (crash tests, live stream, npm start).
  const needles = [
    cli,
    testServer,
    join(__dirname, '..', 'src', 'worker.ts'),
    join(__dirname, 'support', 'held-worker.ts'),
    join(__dirname, '..', 'scripts', 'start.ts'),
  ];
  // Every process the suite starts inherits this variable; the teardown looks only at those, so two
  // suites running at once on the machine do not take each other's servers for orphans.
  const marker = `AGENT_TEST_RUN=${process.pid}-${Date.now()}`;
  process.env.AGENT_TEST_RUN = marker.slice('AGENT_TEST_RUN='.length);
  const before = processesMatching(needles, marker);
  (globalThis as Record<string, unknown>).__temporalBefore = [...before.keys()];
  (globalThis as Record<string, unknown>).__temporalBinaries = needles;
  (globalThis as Record<string, unknown>).__testRunMarker = marker;
  const bundleDir = mkdtempSync(join(tmpdir(), 'agent-test-bundle-'));
  (globalThis as Record<string, unknown>).__bundleDir = bundleDir;
  await shareWorkflowBundle(bundleDir);
  (globalThis as Record<string, unknown>).__cliBuild = buildCli();
}
