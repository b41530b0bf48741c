import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { Config } from './config';

/** Where and how to reach Temporal, for the worker, the CLI and the ops server alike. */
export interface TemporalConnectOptions {
  connectionOptions: NativeConnectionOptions & { address: string };
  namespace: string;
}

/**
 * Temporal connection settings through `@temporalio/envconfig`: `TEMPORAL_ADDRESS`,
 * `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY` (Temporal Cloud), `TEMPORAL_TLS*` (mTLS: client cert and key,
 * server CA, server name), `TEMPORAL_GRPC_META_*`, and profiles from a TOML file (`TEMPORAL_PROFILE`,
 * `TEMPORAL_CONFIG_FILE`). What none of them sets falls back to our defaults (localhost:7233, default).
 */
export function temporalConnectOptions(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): TemporalConnectOptions {
  const set = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  );
  const { connectionOptions, namespace } = loadClientConnectConfig({ overrideEnvVars: set });
  return {
    connectionOptions: {
      ...connectionOptions,
      address: connectionOptions.address ?? config.TEMPORAL_ADDRESS,
    },
    namespace: namespace ?? config.TEMPORAL_NAMESPACE,
  };
}
