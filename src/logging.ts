import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';

const ORDER: Record<LogLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };

/**
 * Structured logs: one JSON object per line, with the workflow and activity ids Temporal attaches to
 * workflow and activity logs (`workflowId`, `runId`, `workflowType`, `activityId`, `activityType`,
 * `attempt`, `taskQueue`, ...), ready for a log pipeline.
 */
export class JsonLogger implements Logger {
  constructor(
    private readonly level: LogLevel = 'INFO',
    private readonly write: (line: string) => void = (line) => process.stdout.write(line),
  ) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (ORDER[level] < ORDER[this.level]) return;
    const entry: Record<string, unknown> = {
      time: new Date().toISOString(),
      level: level.toLowerCase(),
      message,
    };
    for (const [key, value] of Object.entries(meta ?? {})) {
      entry[key] = value instanceof Error ? { name: value.name, message: value.message } : value;
    }
    let line: string;
    try {
      line = JSON.stringify(entry);
    } catch {
      line = JSON.stringify({ time: entry.time, level: entry.level, message, meta: '[unserializable]' });
    }
    this.write(`${line}\n`);
  }

  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
