/**
 * Replays recorded conversation histories (from the crash runs: kills mid-stream, after a tool's write,
 * while waiting for approval, in a pause_turn chain, a server restart, a graceful shutdown) against the
 * current workflow code. A change that breaks determinism for conversations already running fails
 * here: guard it with patched() (see src/workflows/patches.ts). Re-record with
 * `RECORD_HISTORIES=1 npx jest test/e2e/crash.test.ts`; record the integration suites' conversations with
 * `RECORD_HISTORIES_DIR=test/replay/histories/integration/<suite> npx jest test/integration/<suite>.test.ts`.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { workflowBundle } from '../support/agent-env';
import { installQuietRuntime } from '../../src/testing';

const dir = join(__dirname, 'histories');
// Top level: the crash runs. integration/<suite>/: every conversation the integration suites ran, as
// recorded before the loop redesign (RECORD_HISTORIES_DIR, see src/testing/agent-env.ts), and the
// agent suites' conversations (sub-agents included) as recorded when agents came.
const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.json')).sort();

/**
 * The workflow id a history ran under: recorded files are named `<workflowId>_<runId>.json` (ids with
 * only file-safe characters). A conversation that started sub-agents replays only under its own id
 * (each child's id is derived from it); the crash runs' files have no run id and replay under their name.
 */
function workflowIdOf(file: string): string {
  const name = file.split('/').pop()!;
  return /^(.+)_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.json$/.exec(name)?.[1] ?? file;
}

/**
 * Every history replayed by one replay worker (one per history cost ~0.3 s each): the error of each.
 * The whole batch runs here, with its own deadline: 12 s alone, several times that beside the heavy
 * suites on two cores, and no single case should carry the batch's time against its own timeout.
 */
const results = new Map<string, Error | undefined>();
beforeAll(async () => {
  installQuietRuntime('ERROR');
  const histories = files.map((file) => ({
    workflowId: workflowIdOf(file),
    history: historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8'))),
  }));
  let i = 0;
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: await workflowBundle(), replayName: 'recorded-histories' },
    histories,
  )) {
    // Yielded in the order given; a mismatch would pin a result on the wrong file.
    if (result.workflowId !== histories[i].workflowId)
      throw new Error(`replay results out of order at ${files[i]}: got ${result.workflowId}`);
    results.set(files[i++], result.error);
  }
}, 300_000);

describe('recorded histories', () => {
  it('are there to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(60);
  });

  it.each(files)('%s replays against the current workflow code', (file) => {
    const error = results.get(file);
    if (error) throw error;
    expect(results.has(file)).toBe(true);
  });
});
