import { temporalBinaries } from '../src/testing/temporal-binaries';
import { processesMatching } from './helpers/processes';

/**
 * Records which Temporal server processes already run before the suite (someone's `npm start`, say),
 * so the teardown can tell the suite's own orphans from them.
 */
export default async function globalSetup(): Promise<void> {
  const { cli, testServer } = temporalBinaries();
  const before = processesMatching([cli, testServer]);
  (globalThis as Record<string, unknown>).__temporalBefore = [...before.keys()];
  (globalThis as Record<string, unknown>).__temporalBinaries = [cli, testServer];
}
