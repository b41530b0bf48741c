// The worker: the package's conversation workflow (prebuilt) serving the agents of AGENT_MODULE
// (./agents.mjs), configured from the environment. Stops on SIGINT/SIGTERM.
import { runWorker } from 'claude-temporal-agent/worker';

await runWorker();
