import { resolve } from 'node:path';
import { z } from 'zod';
import { PriceTableSchema } from './activities/pricing';
import { issueLines } from './api/issues';
import { PublicUrlSchema, WebhookUrlsSchema } from './notify/config';

const positiveInt = z.coerce.number().int().positive();

/**
 * Every setting comes from the environment through this one schema; nothing else reads `process.env`.
 * Names marked "stable" are part of the product's interface (see README).
 */

/** `OPS_TRUSTED_PROXIES`: IPv4/IPv6 addresses or CIDR ranges, comma-separated. */
const TrustedProxiesSchema = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(
        z
          .string()
          .regex(
            /^[0-9a-fA-F:.]+(\/\d{1,3})?$/,
            'OPS_TRUSTED_PROXIES takes addresses or CIDR ranges, comma-separated',
          ),
      )
      .min(1, 'OPS_TRUSTED_PROXIES takes addresses or CIDR ranges, comma-separated'),
  );

export const EnvSchema = z.object({
  /** Stable. The only place the API key lives: the worker's environment. */
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  /** Stable (the SDK's own). Point it at the fake Messages API for demos and tests. */
  ANTHROPIC_BASE_URL: z.url().optional(),
  /** Stable. */
  TEMPORAL_ADDRESS: z.string().min(1).default('localhost:7233'),
  /** Stable. */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Stable. */
  AGENT_TASK_QUEUE: z.string().min(1).default('claude-agent'),
  /** Where tools keep their data (save_article's articles). */
  AGENT_DATA_DIR: z.string().min(1).default('.data'),
  /**
   * Memory (agents with `memory`): the default backend (`filesystem`, or `postgres` when
   * AGENT_MEMORY_DATABASE_URL is set), the filesystem backend's directory (default AGENT_DATA_DIR/memory)
   * and PostgreSQL's connection string (`postgres://user:pass@host:5432/db`), shared by every worker.
   */
  AGENT_MEMORY_BACKEND: z.enum(['filesystem', 'postgres']).optional(),
  AGENT_MEMORY_DIR: z.string().min(1).optional(),
  AGENT_MEMORY_DATABASE_URL: z.string().min(1).optional(),
  /** Default model for conversations started without one. */
  AGENT_MODEL: z.string().min(1).default('claude-sonnet-5-5'),
  /**
   * Worker tuning (defaults and the measurements behind them: WORKER_TUNING_DEFAULTS in src/worker.ts):
   * workflows kept in memory, concurrent activities, concurrent workflow tasks, concurrent workflow
   * and activity task polls, the share of workflow task polls on the shared (non-sticky) queue, and
   * the activity slots a workflow task may reserve for eager execution (0: off).
   */
  AGENT_MAX_CACHED_WORKFLOWS: positiveInt.optional(),
  AGENT_MAX_CONCURRENT_ACTIVITIES: positiveInt.optional(),
  AGENT_MAX_CONCURRENT_WORKFLOW_TASKS: positiveInt.optional(),
  AGENT_WORKFLOW_TASK_POLLERS: z.coerce.number().int().min(2).optional(),
  AGENT_ACTIVITY_TASK_POLLERS: positiveInt.optional(),
  AGENT_NON_STICKY_POLL_RATIO: z.coerce.number().gt(0).max(1).optional(),
  AGENT_MAX_EAGER_ACTIVITIES: z.coerce.number().int().nonnegative().optional(),
  /** Stable. The ops server's port and bind address (127.0.0.1: not reachable from other machines). */
  OPS_PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  OPS_HOST: z.string().min(1).default('127.0.0.1'),
  /** Stable. The bearer token of the ops API; without it `npm run ops` makes one per run. */
  OPS_TOKEN: z.string().min(16, 'OPS_TOKEN must be at least 16 characters').optional(),
  /**
   * Where the worker publishes live model streams: the ops server's base URL (with OPS_TOKEN). Unset:
   * no live stream (conversations are unaffected either way).
   */
  AGENT_STREAM_URL: z.url().optional(),
  /**
   * Where `agent watch` finds the ops server (default http://OPS_HOST:OPS_PORT). With
   * OPS_OPERATOR_TOKEN, the CLI's decisions (approve, reject, resume, end, budget, compact) go there.
   */
  OPS_URL: z.url().optional(),
  /** An operator's own token (`agent operators add`): the CLI decides through OPS_URL as that operator. */
  OPS_OPERATOR_TOKEN: z.string().min(16, 'OPS_OPERATOR_TOKEN must be at least 16 characters').optional(),
  /**
   * Operators signing in through OpenID Connect (src/ops/identity/oidc.ts): the provider's issuer URL,
   * this client's id and secret (none: a public client, PKCE only), and the claims that carry the name
   * (default `preferred_username`, then `email`, then `sub`), the role (`ops_role`; default role
   * `viewer`) and the groups (`groups`). The redirect URI is OPS_PUBLIC_URL + /auth/oidc/callback.
   */
  OPS_OIDC_ISSUER: z.url().optional(),
  OPS_OIDC_CLIENT_ID: z.string().min(1).optional(),
  OPS_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  OPS_OIDC_NAME_CLAIM: z.string().min(1).optional(),
  OPS_OIDC_ROLE_CLAIM: z.string().min(1).default('ops_role'),
  OPS_OIDC_GROUPS_CLAIM: z.string().min(1).default('groups'),
  OPS_OIDC_DEFAULT_ROLE: z.enum(['viewer', 'approver', 'admin']).default('viewer'),
  /** Where the per-operator tokens are kept (default AGENT_STATE_DIR/operators.json). */
  OPS_OPERATORS_FILE: z.string().min(1).optional(),
  /**
   * Notifications (src/notify): the receivers of a webhook when a tool call starts waiting for approval
   * or a conversation needs attention (one URL or several, comma-separated), their body's shape, the
   * secret that signs it, and the ops page's address the notifications link to (required with a URL).
   */
  AGENT_WEBHOOK_URL: WebhookUrlsSchema.optional(),
  AGENT_WEBHOOK_FORMAT: z.enum(['json', 'slack']).optional(),
  AGENT_WEBHOOK_SECRET: z.string().min(16, 'AGENT_WEBHOOK_SECRET must be at least 16 characters').optional(),
  OPS_PUBLIC_URL: PublicUrlSchema.optional(),
  /**
   * The proxies in front of the ops server (addresses or CIDR ranges, comma-separated; e.g. the TLS
   * proxy at 10.0.0.5): their `X-Forwarded-For` and `X-Forwarded-Proto` are believed, so sign-in limits
   * count each client's own address. Unset: no forwarding header is believed.
   */
  OPS_TRUSTED_PROXIES: TrustedProxiesSchema.optional(),
  /** Live streams (the page's feeds, `agent watch`) one caller may hold open at once. */
  OPS_MAX_STREAMS_PER_CALLER: z.coerce.number().int().min(1).max(10_000).default(64),
  /**
   * Encryption at rest: "id:base64key,id2:base64key" (32-byte keys; `openssl rand -base64 32`). Set the
   * same keys on the worker, the ops server and the CLI. Unset: payloads are stored as JSON.
   */
  AGENT_ENCRYPTION_KEYS: z.string().min(1).optional(),
  /** The key new payloads are encrypted with (default: the first). */
  AGENT_ENCRYPTION_KEY_ID: z.string().min(1).optional(),
  /** The Temporal UI's origin, allowed to call the ops server's codec endpoint (CORS), e.g. http://localhost:8233. */
  AGENT_CODEC_CORS_ORIGIN: z.string().min(1).optional(),
  /** OpenTelemetry tracing of workflows and activities: `otlp` (OTEL_EXPORTER_OTLP_ENDPOINT) or `console`. Off when unset. */
  AGENT_OTEL: z.enum(['otlp', 'console']).optional(),
  /** `json`: one JSON object per line with workflow and activity ids; `pretty` (default): for people. */
  AGENT_LOG_FORMAT: z.enum(['pretty', 'json']).default('pretty'),
  /** The worker's log level (Temporal runtime logger). */
  AGENT_LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('WARN'),
  /**
   * Your module of agents and tools (e.g. `./agents.ts`): the worker serves what it exports (see
   * src/agents/load-module.ts). Unset: the demo agent and the built-in tools.
   */
  AGENT_MODULE: z.string().min(1).optional(),
  /** A workflow bundle prebuilt with `bundleWorkflowCode` (a JS file); default: bundle at start. */
  AGENT_WORKFLOW_BUNDLE: z.string().min(1).optional(),
  /** Bytes of transcripts the worker caches (default 128 MiB). */
  AGENT_TRANSCRIPT_CACHE_BYTES: positiveInt.optional(),
  /**
   * Model prices in US dollars per million tokens, JSON, added to (or replacing) the list prices the
   * worker knows: `{"claude-sonnet-5-5": {"input": 3, "output": 15}}` (cache writes and reads default
   * to 1.25x / 2x / 0.1x the input price; `cacheWrite5m`, `cacheWrite1h`, `cacheRead` override them).
   */
  AGENT_MODEL_PRICES: z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `not JSON: ${(err as Error).message}` });
        return z.NEVER;
      }
    })
    .pipe(PriceTableSchema)
    .optional(),
});

export type Config = z.infer<typeof EnvSchema> & { dataDir: string };

/** Reads and validates the configuration; a bad value fails with every problem named. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable is an unset one (docker compose passes `FOO=` for an unset ${FOO:-}).
  const set = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = EnvSchema.safeParse(set);
  if (!result.success) {
    const problems = issueLines(result.error, '(environment)')
      .map((line) => `  ${line}`)
      .join('\n');
    throw new Error(`invalid configuration:\n${problems}`);
  }
  return { ...result.data, dataDir: resolve(result.data.AGENT_DATA_DIR) };
}
