/** Why an MCP server could not serve a request. */
export type McpUnavailableReason =
  /** The command could not be run: not found, not executable, bad `cwd`. */
  | 'spawn'
  /** The server's process exited (before the handshake, or later). */
  | 'exited'
  /** Nothing answered at the URL: connection refused, unknown host, TLS trouble. */
  | 'connect'
  /** The URL answered with an HTTP error status. */
  | 'http'
  /** The server did not complete the MCP handshake in time. */
  | 'timeout'
  /** The connection closed during the request. */
  | 'closed'
  /** The server broke the protocol (bad handshake, unsupported version, failed tools/list). */
  | 'protocol';

/**
 * An MCP server could not be reached, started or kept: the call did not run, or its outcome is
 * unknown. Worth retrying later (the server may come back); a write retried with the same
 * idempotency key is safe if the server honours it.
 */
export class McpUnavailableError extends Error {
  override readonly name = 'McpUnavailableError';

  constructor(
    /** The server's configured name. */
    readonly server: string,
    readonly reason: McpUnavailableReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A tool call took longer than its `timeoutMs`; the server was told to cancel it. */
export class McpTimeoutError extends Error {
  override readonly name = 'McpTimeoutError';

  constructor(
    readonly server: string,
    /** The tool's name on its server. */
    readonly tool: string,
    readonly timeoutMs: number,
  ) {
    super(`MCP tool ${tool} of server "${server}" timed out after ${timeoutMs} ms`);
  }
}
