// worker.mjs: the package's worker (its workflow code comes prebundled), configured from the environment.
import { runWorker } from 'claude-temporal-agent/worker';
await runWorker();
