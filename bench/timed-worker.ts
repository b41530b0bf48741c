/**
 * The worker of src/worker.ts, instrumented for bench/timeline.ts: it appends one JSON line per
 * activity execution and per transcript query to `BENCH_TIMING_FILE`, with wall-clock times in ms
 * (sub-millisecond: `performance.timeOrigin + performance.now()`), so they line up with the server's
 * history event times and the fake Messages API's request times on the same machine.
 *
 * `BENCH_WORKER_OPTIONS` (JSON) overrides Temporal WorkerOptions that src/config.ts does not expose
 * (e.g. `{"reuseV8Context": false}`), to try them before deciding whether they deserve a setting.
 */
import { appendFileSync } from 'node:fs';
import { activityInfo, getClient } from '@temporalio/activity';
import type { WorkerPlugin } from '@temporalio/worker';
import { messagesQuery } from '../src/api/conversation';
import { runWorker } from '../src/worker';

const file = process.env.BENCH_TIMING_FILE;
const now = () => performance.timeOrigin + performance.now();
let buffered: string[] = [];
const flush = () => {
  if (file && buffered.length > 0) appendFileSync(file, buffered.join(''));
  buffered = [];
};
setInterval(flush, 50).unref();
const record = (entry: Record<string, unknown>) => buffered.push(`${JSON.stringify(entry)}\n`);

type ActivityFn = (...args: unknown[]) => Promise<unknown>;

/** Wraps every activity to record when it starts and ends in this process. */
const timing: WorkerPlugin = {
  name: 'bench-timing',
  configureWorker(options) {
    const activities = Object.fromEntries(
      Object.entries(options.activities as Record<string, ActivityFn>).map(([name, fn]) => [
        name,
        async (...args: unknown[]) => {
          const start = now();
          const info = activityInfo();
          try {
            return await fn(...args);
          } finally {
            record({
              kind: 'activity',
              name,
              workflowId: info.workflowExecution?.workflowId,
              activityId: info.activityId,
              attempt: info.attempt,
              start,
              end: now(),
            });
          }
        },
      ]),
    );
    return { ...options, activities };
  },
};

/** Applies BENCH_WORKER_OPTIONS last, over everything else. */
const overrides: WorkerPlugin = {
  name: 'bench-options',
  configureWorker: (options) => ({
    ...options,
    ...(JSON.parse(process.env.BENCH_WORKER_OPTIONS || '{}') as object),
  }),
};

void runWorker({
  plugins: [...(file ? [timing] : []), overrides],
  readTranscript: async (workflowId, from, to) => {
    const start = now();
    const result = await getClient().workflow.getHandle(workflowId).query(messagesQuery, { from, to });
    record({ kind: 'query', workflowId, from, to, start, end: now() });
    return result;
  },
})
  .catch((err: unknown) => {
    console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  })
  .finally(flush);
