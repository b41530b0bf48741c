import { spawn, type ChildProcess } from 'node:child_process';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export interface StdioTransportOptions {
  command: string;
  args?: string[];
  /** Added to the SDK's minimal inherited environment (`getDefaultEnvironment`). */
  env?: Record<string, string>;
  cwd?: string;
  /** Largest message accepted from the server, in bytes; a bigger one ends the connection. */
  maxMessageBytes: number;
  /** How long the server has to exit after its stdin closes, then after SIGTERM, in ms. */
  closeGraceMs: number;
  /** Each chunk the server writes to stderr. */
  onStderr?: (text: string) => void;
}

/** How the server's process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const STDERR_TAIL_CHARS = 2000;

/**
 * The MCP stdio transport (newline-delimited JSON-RPC over a child's stdin/stdout), written here
 * rather than taken from the SDK because the pool must say *why* a server went away: its exit code,
 * signal and the end of its stderr; and because results of several MB should not be re-scanned and
 * re-copied on every chunk.
 */
export class StdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  /** How the process ended, once it has. */
  exit?: ProcessExit;
  /** Why this side ended the connection, when it did (an oversized message). */
  failure?: string;
  private child?: ChildProcess;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private tail = '';
  private closed = false;

  constructor(private readonly options: StdioTransportOptions) {}

  /** The server's pid while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last ~2000 characters the server wrote to stderr. */
  get stderrTail(): string {
    return this.tail;
  }

  start(): Promise<void> {
    if (this.child) throw new Error('StdioTransport already started');
    return new Promise((resolve, reject) => {
      const child = spawn(this.options.command, this.options.args ?? [], {
        env: { ...getDefaultEnvironment(), ...this.options.env },
        cwd: this.options.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        shell: false,
        windowsHide: true,
      });
      this.child = child;
      child.once('spawn', () => resolve());
      child.on('error', (error) => {
        reject(error);
        this.onerror?.(error);
      });
      child.once('close', (code, signal) => {
        this.exit = { code, signal };
        this.child = undefined;
        this.ended();
      });
      child.stdout!.on('data', (chunk: Buffer) => this.read(chunk));
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (text: string) => {
        this.tail = (this.tail + text).slice(-STDERR_TAIL_CHARS);
        this.options.onStderr?.(text);
      });
      // A server that dies mid-write makes stdin fail with EPIPE; `close` reports the death.
      child.stdin!.on('error', (error) => this.onerror?.(error));
    });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin?.writable) throw new Error('Not connected');
    const line = JSON.stringify(message) + '\n';
    await new Promise<void>((resolve, reject) => {
      const flushed = stdin.write(line, (error) => (error ? reject(error) : flushed && resolve()));
      if (!flushed) stdin.once('drain', resolve);
    });
  }

  /** Closes stdin and waits for the server to exit; SIGTERM, then SIGKILL, if it takes too long. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return this.ended();
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const grace = () =>
      Promise.race([exited, new Promise<void>((r) => setTimeout(r, this.options.closeGraceMs).unref())]);
    child.stdin?.end();
    await grace();
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      child.kill(signal);
      await grace();
    }
  }

  private read(chunk: Buffer): void {
    if (this.failure) return;
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      this.chunks.push(chunk.subarray(start, newline));
      const line = Buffer.concat(this.chunks).toString('utf8').replace(/\r$/, '');
      this.chunks = [];
      this.buffered = 0;
      start = newline + 1;
      if (line.trim()) this.deliver(line);
    }
    if (start < chunk.length) {
      this.chunks.push(chunk.subarray(start));
      this.buffered += chunk.length - start;
      if (this.buffered > this.options.maxMessageBytes) {
        this.failure = `a message from the server exceeded ${this.options.maxMessageBytes} bytes`;
        this.chunks = [];
        this.buffered = 0;
        this.onerror?.(new Error(this.failure));
        void this.close();
      }
    }
  }

  private deliver(line: string): void {
    let message: JSONRPCMessage;
    try {
      message = JSONRPCMessageSchema.parse(JSON.parse(line));
    } catch (error) {
      // Servers that print logs to stdout break the protocol; skip the line, as the SDK does.
      this.onerror?.(new Error(`not a JSON-RPC message on stdout: ${(error as Error).message}`));
      return;
    }
    this.onmessage?.(message);
  }

  private ended(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}
