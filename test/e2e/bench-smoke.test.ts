/** The benchmark's smoke version, so `npm run bench` keeps working. It checks that figures come out, not targets. */
import { expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

it('npm run bench -- --smoke prints its table and writes its figures', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'bench-')), 'results.json');
  const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(__dirname, '../../bench/run.ts'), '--smoke', '--out', out],
      { cwd: join(__dirname, '../..') },
      (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
    );
  });
  expect(code).toBe(0);
  expect(stdout).toMatch(/overhead per turn/);
  const results = JSON.parse(readFileSync(out, 'utf8')) as Record<string, Record<string, unknown>>;
  expect(results.overhead).toMatchObject({
    oursMs: { p50: expect.any(Number) },
    sdkToolRunnerMs: { p50: expect.any(Number) },
  });
  expect(results.history).toMatchObject({ linear: true });
  expect(results.peer).toMatchObject({
    perTurnMs: { p50: expect.any(Number) },
    history: [{ turns: 10, bytes: expect.any(Number) }],
  });
  expect(results.historyVsPeer).toMatchObject({
    peerBytesOverOurs: [{ turns: 10, ratio: expect.any(Number) }],
  });
  expect(results.throughput).toMatchObject({
    conversations: 20,
    wallMs: expect.any(Number),
    workerPeakRssMiB: expect.any(Number),
  });
  expect(results.streamLatency).toMatchObject({ deltas: 50, p99Ms: expect.any(Number) });
  expect(results.caching).toMatchObject({
    turns: 5,
    cached: { calls: 10, cachedShare: expect.any(Number), costUsd: expect.any(Number) },
    uncached: { costUsd: expect.any(Number) },
  });
  expect((results.caching.cached as { cacheReadInputTokens: number }).cacheReadInputTokens).toBeGreaterThan(
    0,
  );
  // The long conversation, 12 turns at a 6k threshold: to the end, compacting, one run per compaction.
  expect(stdout).toMatch(/long conversation \(compaction\)/);
  const variant = {
    turns: 12,
    status: 'completed',
    prompt: { calls: 24, maxTokens: expect.any(Number), every10th: expect.any(Array) },
    refused: [],
    usage: { costUsd: expect.any(Number) },
  };
  expect(results.long).toMatchObject({
    turns: 12,
    compacted: variant,
    uncompacted: { ...variant, compactions: { count: 0 } },
    costRatio: expect.any(Number),
    met: true,
  });
  const compacted = results.long.compacted as { compactions: { count: number }; runs: unknown[] };
  expect(compacted.compactions.count).toBeGreaterThanOrEqual(2);
  expect(compacted.runs).toHaveLength(compacted.compactions.count + 1);
}, 180_000);
