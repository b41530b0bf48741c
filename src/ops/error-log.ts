/**
 * The ops server's error log: one JSON line on stderr per answer with a 5xx status (and per answer
 * whose update the client had to send again), so "see the ops
 * server log" has something to see even with request logging off. It names the request and the error,
 * never the Authorization header, the token, or a body.
 */
import { quote } from '../api/bounds';

/** One logged failure (`error`), or an update the client had to send again (`warn`). */
export interface OpsErrorLogEntry {
  level: 'error' | 'warn';
  time: string;
  msg: 'ops request failed' | 'update sent again';
  reqId: string;
  method: string;
  /** The route's pattern (`/api/conversations/:id`), not the URL with its ids. */
  route: string | null;
  status: number;
  /** What was thrown, when the answer came from an error. */
  error?: { type: string; code?: string; cause?: string; message: string };
  /** The updates sent again while answering (operation, the attempt refused, the server's reason). */
  retries?: Array<{ operation: string; attempt: number; reason: string }>;
}

/** What every entry says of its request: when, which request and route, and the answer's status. */
export function requestFields(
  request: { id: string; method: string; routeOptions: { url?: string } },
  status: number,
): Pick<OpsErrorLogEntry, 'time' | 'reqId' | 'method' | 'route' | 'status'> {
  return {
    time: new Date().toISOString(),
    reqId: request.id,
    method: request.method,
    route: request.routeOptions.url ?? null,
    status,
  };
}

/** Writes an entry as one JSON line on stderr. */
export function logToStderr(entry: OpsErrorLogEntry): void {
  process.stderr.write(`${JSON.stringify(entry)}\n`);
}

/** The error part of an entry: its class, its code (an AgentError's), the class of its cause. */
export function describeError(error: unknown): OpsErrorLogEntry['error'] {
  if (!(error instanceof Error)) return { type: typeof error, message: quote(String(error), 500) };
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    ...(typeof code === 'string' && { code }),
    ...(error.cause instanceof Error && { cause: error.cause.name }),
    message: quote(error.message, 500),
  };
}
