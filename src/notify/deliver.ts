/**
 * The `notify` activity: POSTs one notification to every configured receiver. Temporal owns the
 * retries (policy in src/workflows/notifications.ts); this decides what is worth retrying:
 *
 * - a network error, a timeout, 408, 429 and 5xx are retried (429/503's `retry-after` respected);
 * - any other answer outside 2xx (400, 401, 403, 404, 410, a redirect) will not change by itself: that
 *   receiver is given up (non-retryable once no other receiver is left to retry), and the failure, in
 *   history, names the receiver by its origin only (a webhook URL's path is often its credential).
 *
 * With several receivers, the ones already served are kept in the heartbeat details, which Temporal
 * hands to the next attempt: a retry for a failing receiver does not post twice to the others (Slack
 * does not deduplicate). Every attempt carries the same `X-Agent-Delivery` id, for receivers that do.
 */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { NotificationEvent } from '../api/notifications';
import { targetKey, targetLabel, type WebhookConfig, type WebhookTarget } from './config';
import { conversationLink, jsonPayload, slackPayload } from './payload';
import { SIGNATURE_HEADER, signBody } from './signature';

export const DELIVERY_HEADER = 'x-agent-delivery';
export const EVENT_HEADER = 'x-agent-event';
export const ATTEMPT_HEADER = 'x-agent-delivery-attempt';
const DEFAULT_TIMEOUT_MS = 10_000;
/** Longest `retry-after` honoured; the retry policy's own ceiling. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

export interface NotifyResult {
  /** Receivers served (this attempt and earlier ones). */
  delivered: number;
  /** Receivers given up (they answered with a permanent refusal). */
  refused: number;
  deliveryId: string;
}

/** The id a receiver deduplicates on: the same for every attempt and every receiver of one event. */
export function deliveryId(event: NotificationEvent): string {
  const what =
    event.kind === 'approval.waiting'
      ? [event.kind, event.workflowId, event.toolUseId]
      : [event.kind, event.workflowId, event.at];
  return `dlv_${createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 32)}`;
}

/** The body a receiver of `target`'s format gets. */
export function webhookBody(
  config: Pick<WebhookConfig, 'publicUrl'>,
  target: WebhookTarget,
  event: NotificationEvent,
): string {
  const link = conversationLink(config.publicUrl, event.workflowId);
  const body =
    target.format === 'slack' ? slackPayload(event, link) : jsonPayload(event, deliveryId(event), link);
  return JSON.stringify(body);
}

type Outcome = { ok: true } | { ok: false; retry: boolean; message: string; retryAfterMs?: number };

/** Builds the activity; without a configuration it does nothing (notifications are off). */
export function createNotify(config: WebhookConfig | undefined) {
  return async function notify(event: NotificationEvent): Promise<NotifyResult> {
    const id = deliveryId(event);
    if (!config) return { delivered: 0, refused: 0, deliveryId: id };
    const ctx = Context.current();
    const done = new Map<string, 'delivered' | 'refused'>(
      Object.entries(progressOf(ctx.info.heartbeatDetails)),
    );
    const outcomes = await Promise.all(
      config.targets.map(async (target, index) => {
        const key = targetKey(target);
        if (done.has(key)) return undefined;
        const outcome = await post(config, target, event, id, ctx);
        if (outcome.ok || !outcome.retry) {
          done.set(key, outcome.ok ? 'delivered' : 'refused');
          ctx.heartbeat({ progress: Object.fromEntries(done) });
        }
        return outcome.ok ? undefined : { ...outcome, label: targetLabel(target, index) };
      }),
    );
    const failed = outcomes.filter((o) => o !== undefined);
    const retryable = failed.filter((o) => o.retry);
    const message = failed.map((o) => `${o.label}: ${o.message}`).join('; ');
    if (retryable.length > 0) {
      const waits = retryable.map((o) => o.retryAfterMs).filter((ms) => ms !== undefined);
      throw ApplicationFailure.create({
        message,
        type: 'WebhookUnavailable',
        ...(waits.length > 0 && { nextRetryDelay: Math.min(Math.max(...waits), MAX_RETRY_AFTER_MS) }),
      });
    }
    const refused = [...done.values()].filter((v) => v === 'refused').length;
    if (refused === config.targets.length)
      throw ApplicationFailure.nonRetryable(message || 'every receiver refused', 'WebhookRefused');
    return { delivered: config.targets.length - refused, refused, deliveryId: id };
  };
}

async function post(
  config: WebhookConfig,
  target: WebhookTarget,
  event: NotificationEvent,
  id: string,
  ctx: Context,
): Promise<Outcome> {
  const body = webhookBody(config, target, event);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'claude-temporal-agent-webhook/1',
    [DELIVERY_HEADER]: id,
    [EVENT_HEADER]: event.kind,
    [ATTEMPT_HEADER]: String(ctx.info.attempt),
  };
  // Signed per attempt, with the attempt's time: a receiver refuses an old one (replay protection).
  if (config.secret) headers[SIGNATURE_HEADER] = signBody(config.secret, body, Math.floor(Date.now() / 1000));
  let response: Response;
  try {
    response = await fetch(target.url, {
      method: 'POST',
      headers,
      body,
      // A redirect would resend the (signed) body somewhere not configured: treated as a refusal.
      redirect: 'manual',
      signal: AbortSignal.any([
        AbortSignal.timeout(config.timeoutMs ?? DEFAULT_TIMEOUT_MS),
        ctx.cancellationSignal,
      ]),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    const name = (err as Error).name;
    return {
      ok: false,
      retry: true,
      message: name === 'TimeoutError' ? 'no answer in time' : `not reachable${cause ? ` (${cause})` : ''}`,
    };
  }
  // The answer's body is not needed; drop it so the connection is freed.
  await response.body?.cancel().catch(() => undefined);
  const { status } = response;
  if (status >= 200 && status < 300) return { ok: true };
  const retry = status === 408 || status === 429 || status >= 500;
  const retryAfterMs = retry ? retryAfter(response.headers.get('retry-after')) : undefined;
  return {
    ok: false,
    retry,
    message: `HTTP ${status}${retry ? '' : ' (not retried)'}`,
    ...(retryAfterMs !== undefined && { retryAfterMs }),
  };
}

/** `retry-after` (seconds or an HTTP date) in milliseconds, or undefined. */
export function retryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function progressOf(details: unknown): Record<string, 'delivered' | 'refused'> {
  const progress = (details as { progress?: unknown } | undefined)?.progress;
  if (typeof progress !== 'object' || progress === null) return {};
  return Object.fromEntries(
    Object.entries(progress).filter(([, v]) => v === 'delivered' || v === 'refused'),
  ) as Record<string, 'delivered' | 'refused'>;
}
