/**
 * A worker process for test/integration/legacy-query-guard.test.ts: runs `queryCommandsWorkflow` from
 * the prebuilt bundle given, on the task queue given, and prints each change of its state on stdout
 * ("state RUNNING", ...). The SDK's fault leaves a worker stuck shutting down, so the test runs it apart
 * and kills it.
 *
 * Usage: node --import tsx test/support/query-commands-worker.ts <address> <taskQueue> <bundlePath>
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { installQuietRuntime } from '../../src/testing';

async function main(): Promise<void> {
  const [address, taskQueue, codePath] = process.argv.slice(2);
  installQuietRuntime('ERROR');
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({ connection, taskQueue, workflowBundle: { codePath } });
  let last = '';
  setInterval(() => {
    const state = worker.getState();
    if (state !== last) console.log(`state ${(last = state)}`);
  }, 50);
  await worker.run();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
