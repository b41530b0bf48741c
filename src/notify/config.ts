/**
 * Webhook configuration from the environment (the variables are in src/config.ts's schema; the rules
 * that involve more than one of them are here). A mistake refuses to start the worker, saying which
 * variable is wrong: a notifier that silently sends nothing is found out only when nobody approves.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export type WebhookFormat = 'json' | 'slack';

export interface WebhookTarget {
  url: string;
  format: WebhookFormat;
}

/** Where and how the worker sends notifications. */
export interface WebhookConfig {
  targets: WebhookTarget[];
  /** The ops page's public base URL: notifications link to `<it>/#/conversations/<id>`. */
  publicUrl: string;
  /** Signs each body (see src/notify/signature.ts). */
  secret?: string;
  /** One request's time limit (default 10 s); a receiver slower than that is retried. */
  timeoutMs?: number;
}

/** Most receivers one worker notifies. */
export const MAX_WEBHOOK_TARGETS = 10;

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** `AGENT_WEBHOOK_URL`: one URL, or several separated by commas. */
export const WebhookUrlsSchema = z
  .string()
  .transform((text) =>
    text
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== ''),
  )
  .pipe(z.array(httpUrl).min(1).max(MAX_WEBHOOK_TARGETS));

/** The settings `webhookConfig` reads, as loadConfig parsed them. */
export interface WebhookSettings {
  AGENT_WEBHOOK_URL?: string[];
  AGENT_WEBHOOK_FORMAT?: WebhookFormat;
  AGENT_WEBHOOK_SECRET?: string;
  OPS_PUBLIC_URL?: string;
}

/** `OPS_PUBLIC_URL`. */
export const PublicUrlSchema = httpUrl;

/**
 * The webhook configuration of `config`, or undefined when no AGENT_WEBHOOK_URL is set. Throws, in
 * loadConfig's words, when settings only make sense together and one is missing.
 */
export function webhookConfig(config: WebhookSettings): WebhookConfig | undefined {
  const problems: string[] = [];
  const urls = config.AGENT_WEBHOOK_URL;
  if (!urls) {
    for (const name of ['AGENT_WEBHOOK_FORMAT', 'AGENT_WEBHOOK_SECRET'] as const)
      if (config[name] !== undefined) problems.push(`${name}: is set, but AGENT_WEBHOOK_URL is not`);
  } else if (!config.OPS_PUBLIC_URL) {
    problems.push(
      'OPS_PUBLIC_URL: required with AGENT_WEBHOOK_URL (notifications link to the ops page: the URL people open it at)',
    );
  }
  if (problems.length > 0)
    throw new Error(`invalid configuration:\n${problems.map((line) => `  ${line}`).join('\n')}`);
  if (!urls || !config.OPS_PUBLIC_URL) return undefined;
  const format = config.AGENT_WEBHOOK_FORMAT ?? 'json';
  return {
    targets: urls.map((url) => ({ url, format })),
    publicUrl: config.OPS_PUBLIC_URL,
    ...(config.AGENT_WEBHOOK_SECRET && { secret: config.AGENT_WEBHOOK_SECRET }),
  };
}

/**
 * How a receiver is named where others can read it (logs, failures in history, heartbeat details):
 * never its whole URL, whose path or query is often the credential (Slack's webhook URLs are).
 */
export function targetLabel(target: WebhookTarget, index: number): string {
  return `webhook ${index + 1} (${new URL(target.url).origin})`;
}

/** A stable key of a receiver (its URL hashed), for the delivery progress kept across retries. */
export function targetKey(target: WebhookTarget): string {
  return createHash('sha256').update(`${target.format} ${target.url}`).digest('hex').slice(0, 16);
}
