import { rmSync } from 'node:fs';
import { processesMatching } from './support/processes';

/**
 * Fails the run if a Temporal server started by the suite outlived it (a test that forgot
 * `teardown()`), after killing it, so no orphan is ever left behind.
 */
export default async function globalTeardown(): Promise<void> {
  const g = globalThis as Record<string, unknown>;
  const before = new Set(g.__temporalBefore as number[]);
  const binaries = g.__temporalBinaries as string[];
  const marker = g.__testRunMarker as string;
  rmSync(g.__bundleDir as string, { recursive: true, force: true });
  rmSync(g.__cliBuild as string, { force: true });
  // Give servers torn down in the last afterAll a moment to exit.
  let orphans = new Map<number, string>();
  for (let attempt = 0; attempt < 20; attempt++) {
    orphans = new Map([...processesMatching(binaries, marker)].filter(([pid]) => !before.has(pid)));
    if (orphans.size === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const pid of orphans.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  throw new Error(
    `Orphan Temporal server or worker processes after the suite (killed now):\n${[...orphans.values()].join('\n')}`,
  );
}
