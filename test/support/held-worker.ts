/**
 * The worker of src/worker.ts with one test-only behaviour: each `runTool` completion is held for
 * `CRASH_TEST_HOLD_AFTER_TOOL_MS` after the tool ran, so a crash test can kill the worker between a
 * tool's side effect and the workflow learning of it (kill point 2). An activity interceptor does it,
 * so nothing test-only passes through the production options.
 */
import type { ActivityInboundCallsInterceptor, WorkerPlugin } from '@temporalio/worker';
import { runWorker } from '../../src/worker';

const holdMs = Number(process.env.CRASH_TEST_HOLD_AFTER_TOOL_MS ?? 0);

const holdAfterTool: WorkerPlugin = {
  name: 'crash-test-hold-after-tool',
  configureWorker: (options) => ({
    ...options,
    interceptors: {
      ...options.interceptors,
      activity: [
        ...(options.interceptors?.activity ?? []),
        (context) => {
          const inbound: ActivityInboundCallsInterceptor = {
            async execute(input, next) {
              const result = await next(input);
              if (context.info.activityType === 'runTool' && holdMs > 0) {
                await new Promise((resolve) => setTimeout(resolve, holdMs));
              }
              return result;
            },
          };
          return { inbound };
        },
      ],
    },
  }),
};

runWorker({ plugins: [holdAfterTool] }).catch((err: unknown) => {
  console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
