import { MAX_UPDATE_BYTES } from '../api/bounds';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { AGENT_SEARCH_ATTRIBUTES } from '../api/search-attributes';
import { freePort } from './ports';
import { temporalBinaries } from './temporal-binaries';

let runtimeInstalled = false;

/** A logger for `bundleWorkflowCode` that shows errors only (its webpack report is long). */
export const quietBundlerLogger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: console.error,
  log: () => undefined,
};

/** `--search-attribute NAME=Type` flags of `temporal server start-dev` for our search attributes. */
export function searchAttributeFlags(): string[] {
  const cliType: Record<string, string> = {
    KEYWORD: 'Keyword',
    DATETIME: 'Datetime',
    INT: 'Int',
    TEXT: 'Text',
    BOOL: 'Bool',
    DOUBLE: 'Double',
  };
  return AGENT_SEARCH_ATTRIBUTES.flatMap((key) => [
    '--search-attribute',
    `${key.name}=${cliType[key.type] ?? key.type}`,
  ]);
}

/**
 * The most the in-flight updates of one workflow may carry, in bytes: 2 MiB − 256 KiB. The server
 * (1.27+) refuses an update past it at admission (`RESOURCE_EXHAUSTED`, "limit on total payload size
 * of in-flight updates has been reached"), before a worker sees it. Without it (default 20 MiB), an
 * update over 2 MiB sent straight to Temporal wedged its conversation: the worker's rejection echoes
 * the whole request, the SDK will not send a rejection over the 2 MiB blob limit (`TMPRL1103`), so
 * every workflow task failed while the server held the update. The server counts the request (ids,
 * name, arguments); the rejection adds the ids again and the validator's failure (~0.5 KiB measured),
 * so the 256 KiB of room keeps the rejection of any update it admits under 2 MiB. Production sets the
 * same value in deploy/dynamicconfig/production.yaml.
 */
export const MAX_IN_FLIGHT_UPDATE_PAYLOADS = MAX_UPDATE_BYTES;

/**
 * Dev server safety limits, on every dev server this project starts ({@link startDevServer}, `npm start`
 * and the crash tests through {@link devServerTuningFlags}), tuned or not.
 */
export const DEV_SERVER_LIMITS: Record<string, string | number | boolean> = {
  'history.maxInFlightUpdatePayloads': MAX_IN_FLIGHT_UPDATE_PAYLOADS,
};

/** `--dynamic-config-value KEY=JSON` flags of `temporal server start-dev`. */
function dynamicConfigFlags(values: Record<string, string | number | boolean>): string[] {
  return Object.entries(values).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
}

/**
 * Dev server settings for speed (bench/sweep.ts measured each; figures in bench/TUNING.md):
 * - `history.transferProcessorMaxPollRPS` (and the timer and visibility queues'): history reads its
 *   queue of tasks for matching at most 20 times a second per shard by default, and the dev server has
 *   one shard, so once a conversation moves faster than that each workflow or activity task waits for
 *   the next read (up to 50 ms). Raising it took a turn from ~110 to ~90 ms on the SQLite file, and it is
 *   what makes a faster store pay off at all (WAL or in memory alone: ~148 ms, pinned to the limiter).
 * - SQLite in WAL mode with `synchronous=NORMAL`: the default rollback journal costs ~40% more server
 *   CPU per conversation (85 vs 50 s of server CPU for 1,000 conversations). Still a file; a power cut
 *   may lose the last transactions, a crash of the server does not.
 * - one task queue partition (default 4): one worker per queue here; with several, polls and tasks meet
 *   through forwarding. Small effect; kept because it removes a source of jitter.
 */
export const DEV_SERVER_TUNING = {
  dynamicConfig: {
    'history.transferProcessorMaxPollRPS': 10_000,
    'history.timerProcessorMaxPollRPS': 10_000,
    'history.visibilityProcessorMaxPollRPS': 10_000,
    'matching.numTaskqueueReadPartitions': 1,
    'matching.numTaskqueueWritePartitions': 1,
  } as Record<string, string | number | boolean>,
  sqlitePragmas: { journal_mode: 'WAL', synchronous: 'NORMAL' } as Record<string, string>,
};

/**
 * `temporal server start-dev` flags of {@link DEV_SERVER_TUNING} (the pragmas apply with `--db-filename`),
 * always with {@link DEV_SERVER_LIMITS}: a safety limit, not a tuning, so no `tuning` leaves it out (a
 * `tuning` that names the same key replaces its value).
 */
export function devServerTuningFlags(
  tuning: {
    dynamicConfig?: Record<string, string | number | boolean>;
    sqlitePragmas?: Record<string, string>;
  } = DEV_SERVER_TUNING,
): string[] {
  const args = dynamicConfigFlags({ ...DEV_SERVER_LIMITS, ...tuning.dynamicConfig });
  for (const [key, value] of Object.entries(tuning.sqlitePragmas ?? {}))
    args.push('--sqlite-pragma', `${key}=${value}`);
  return args;
}

/** Installs a quiet Temporal runtime logger once per process (the default one is chatty in tests). */
export function installQuietRuntime(level: 'WARN' | 'ERROR' = 'WARN'): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger(level) });
  } catch {
    // Already installed by someone else in this process: keep theirs.
  }
}

/** Options of {@link startDevServer}. */
export interface DevServerOptions {
  /** SQLite file to persist to; in memory when absent. */
  dbFilename?: string;
  namespace?: string;
  /** Fixed port; a free one when absent. */
  port?: number;
  /** Extra `temporal server start-dev` arguments (after {@link DEV_SERVER_LIMITS}' flags). */
  extraArgs?: string[];
}

/**
 * Starts the Temporal CLI dev server (a real Temporal server, SQLite-backed) on a free port with our
 * search attributes and {@link DEV_SERVER_LIMITS}. Call `teardown()` on the result (in `afterAll`) to
 * stop it.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  installQuietRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalBinaries().cli },
      namespace: options.namespace,
      dbFilename: options.dbFilename,
      // Outside the ephemeral range (see ports.ts): told before it binds, it must still be free then.
      port: options.port ?? (await freePort()),
      searchAttributes: AGENT_SEARCH_ATTRIBUTES,
      extraArgs: [...dynamicConfigFlags(DEV_SERVER_LIMITS), ...(options.extraArgs ?? [])],
      log: { format: 'pretty', level: 'error' },
    },
  });
}

/**
 * Starts the time-skipping test server on a free port, with our search attributes registered. Time
 * skips whenever a client awaits a workflow result. Call `teardown()` on the result to stop it. It is
 * Temporal's Java reimplementation of the server: it takes no dynamic config, so not
 * {@link DEV_SERVER_LIMITS} either.
 */
export async function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  installQuietRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalBinaries().testServer } },
  });
  try {
    await registerSearchAttributes(env);
  } catch (err) {
    await env.teardown();
    throw err;
  }
  return env;
}

/** Registers our search attributes through the operator service (what the dev server does at start). */
async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  const { SearchAttributeType } = await import('@temporalio/common');
  const { temporal } = await import('@temporalio/proto');
  const typeMap: Record<string, number> = {
    [SearchAttributeType.KEYWORD]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    [SearchAttributeType.DATETIME]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    [SearchAttributeType.INT]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  };
  const searchAttributes: Record<string, number> = {};
  for (const key of AGENT_SEARCH_ATTRIBUTES) searchAttributes[key.name] = typeMap[key.type];
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes,
  });
}
