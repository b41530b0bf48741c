/**
 * Signed webhook bodies (`AGENT_WEBHOOK_SECRET`): the header
 *
 *   X-Agent-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * A receiver recomputes the HMAC over the raw bytes it received (before parsing JSON), compares in
 * constant time, and refuses a `t` older than its tolerance (5 minutes here): a captured request
 * cannot be replayed later, and each retry is signed afresh with its own time. Deduplicate on
 * `X-Agent-Delivery`, which stays the same across retries. {@link verifySignature} does all of it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-agent-signature';
/** How old a signature may be, by default, when a receiver checks it. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The signature header's value for `body` sent at `timestamp` (unix seconds). */
export function signBody(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${hmac(secret, timestamp, body)}`;
}

/**
 * Checks a signature header against the raw body: true only when it was made with `secret` over this
 * body, no longer than `toleranceSeconds` ago (and not more than that in the future: clock skew).
 */
export function verifySignature(
  secret: string,
  header: string | undefined,
  body: string | Buffer,
  options: { now?: number; toleranceSeconds?: number } = {},
): boolean {
  if (!header) return false;
  const fields = new Map<string, string[]>();
  for (const part of header.split(',')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const key = part.slice(0, at).trim();
    fields.set(key, [...(fields.get(key) ?? []), part.slice(at + 1).trim()]);
  }
  const t = Number(fields.get('t')?.[0]);
  if (!Number.isSafeInteger(t)) return false;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return false;
  const expected = Buffer.from(hmac(secret, t, body), 'hex');
  // Several v1 values are allowed, so a receiver can accept while a secret is being rotated.
  return (fields.get('v1') ?? []).some((value) => {
    const given = Buffer.from(/^[0-9a-f]{64}$/.test(value) ? value : '', 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

function hmac(secret: string, timestamp: number, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}
