/**
 * `agent operators add` run many times at once (second probe, finding 10): ten parallel adds printed
 * ten tokens and stored six. Now each add holds the operators file's lock while it reads and writes
 * it, and prints its token only once it is stored: every printed token signs in, every name is there.
 * Real CLI processes on one file; the ops side reads it as the ops server does.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperatorStore } from '../../src/ops/identity/operator-store';
import { runCli } from '../support/cli-runs';

const dir = mkdtempSync(join(tmpdir(), 'operators-concurrent-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('operators add, in parallel', () => {
  it('twelve processes at once: twelve tokens printed, twelve stored, each one signs in as its operator', async () => {
    const file = join(dir, 'operators.json');
    const names = Array.from({ length: 12 }, (_, i) => `op${i}`);
    const runs = await Promise.all(
      names.map((name) =>
        runCli(['operators', 'add', name, '--role', 'approver', '--json'], {
          env: { OPS_OPERATORS_FILE: file },
        }),
      ),
    );
    for (const run of runs) expect(run).toMatchObject({ code: 0 });
    const printed = runs.map((run) => JSON.parse(run.stdout) as { name: string; token: string });
    const store = new OperatorStore(file);
    expect(
      store
        .list()
        .map((o) => o.name)
        .sort(),
    ).toEqual([...names].sort());
    for (const { name, token } of printed) expect(store.authenticate(token)?.identity.name).toBe(name);
  }, 120_000);

  it('a lock left by a process that died is taken over', () => {
    const file = join(dir, 'stale.json');
    // A pid no process has (the kernel's pid_max is far below it).
    writeFileSync(`${file}.lock`, '2147483646');
    const store = new OperatorStore(file);
    const token = store.add('late', 'viewer', []);
    expect(store.authenticate(token)?.identity.name).toBe('late');
  });
});
