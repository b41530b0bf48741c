/**
 * HTTP helpers of the ops API's hostile suite: requests with the token, requests no client library
 * would send (raw bytes on a socket), and the checks every answer must pass.
 */
import { expect } from '@jest/globals';
import { connect } from 'node:net';

export const TOKEN = 'hostile-token-0123456789abcdef';

/**
 * An `AgentClient` stand-in for an ops server whose tested routes never reach Temporal (sign-in,
 * sessions, the codec): only the retry listener the server installs at start.
 */
export const NO_TEMPORAL_AGENT = { onUpdateRetry: () => () => undefined } as never;

/** The page's security headers, as the ops API promises them on every answer. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** What came back: the status, the headers (lower-case names) and the body as text. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** A request through fetch, with the bearer token unless `auth` is false. */
export async function call(
  base: string,
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string>; auth?: boolean } = {},
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    body: init.body,
    headers: {
      ...(init.auth !== false && { authorization: `Bearer ${TOKEN}` }),
      ...(init.body !== undefined && { 'content-type': 'application/json' }),
      ...init.headers,
    },
  });
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => (headers[name] = value));
  return { status: res.status, headers, text: await res.text() };
}

/**
 * Raw bytes on a socket, for requests fetch refuses to send (latin-1 header bytes, malformed request
 * lines, oversized headers); reads the answer until the server closes or `timeoutMs` passes. Header
 * values are decoded as latin-1, as they are on the wire.
 */
export function rawRequest(base: string, request: Buffer | string, timeoutMs = 5000): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      const so = Buffer.concat(chunks).toString('latin1');
      const end = so.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(so.slice(0, end));
      if (end >= 0 && length && Buffer.concat(chunks).length >= end + 4 + Number(length[1])) socket.end();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks).toString('latin1');
      const end = all.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = all.slice(0, end < 0 ? all.length : end).split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
      if (!status) return reject(new Error(`no HTTP answer: ${JSON.stringify(all.slice(0, 200))}`));
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const at = line.indexOf(':');
        headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      resolve({ status, headers, text: end < 0 ? '' : all.slice(end + 4) });
    });
    socket.write(request);
  });
}

/** A raw HTTP/1.1 request's bytes. */
export function rawHttp(
  method: string,
  path: string,
  headers: Record<string, string | Buffer>,
  body?: Buffer | string,
): Buffer {
  const parts: Buffer[] = [
    Buffer.from(`${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n`),
  ];
  const all = {
    ...headers,
    ...(body !== undefined && { 'content-length': String(Buffer.byteLength(body)) }),
  };
  for (const [name, value] of Object.entries(all))
    parts.push(
      Buffer.from(`${name}: `),
      Buffer.isBuffer(value) ? value : Buffer.from(value),
      Buffer.from('\r\n'),
    );
  parts.push(Buffer.from('\r\n'));
  if (body !== undefined) parts.push(Buffer.isBuffer(body) ? body : Buffer.from(body));
  return Buffer.concat(parts);
}

/** Every answer carries the page's security headers, whoever made it. */
export function expectSecurityHeaders(answer: Answer): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS))
    expect({ status: answer.status, [name]: answer.headers[name] }).toEqual({
      status: answer.status,
      [name]: value,
    });
}

/**
 * An error answer as the API promises it: the status, JSON `{error, message}` with a message under
 * 1 KB (a refused value is never echoed whole), the security headers, and `retry-after` on a 503.
 */
export function expectError(
  answer: Answer,
  status: number,
  message?: RegExp,
): { error: string; message: string } {
  expect({ status: answer.status, text: answer.text.slice(0, 300) }).toEqual({
    status,
    text: expect.any(String),
  });
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(answer.text) as { error: string; message: string };
  expect(body).toEqual({ error: expect.any(String), message: expect.any(String) });
  expect(body.message.length).toBeLessThan(1024);
  if (message) expect(body.message).toMatch(message);
  expectSecurityHeaders(answer);
  if (status === 503) expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
  return body;
}
