/**
 * `agent audit --since TIME [--until TIME] [--format jsonl|csv] [--agent NAME]`: every tool-call
 * decision in the window, with who, groups, channel, time, and the original and edited input, on
 * stdout. Checked before anything connects (a usage error exits 2 with Temporal down).
 */
import type { AgentClient } from '../client';
import { toCsv, type AuditRow } from '../client/audit';
import { agentName, checkCommandShape, oneOf, optional, parseOptions, UsageError } from './parse';
import { forTerminal, jsonForTerminal, quoted } from './sanitize';

export const AUDIT_USAGE = `  audit --since TIME [--until TIME] [--format jsonl|csv] [--agent NAME]   (every decision in [since, until): JSON lines or CSV on stdout)`;

export const AUDIT_FORMATS = ['jsonl', 'csv'] as const;

export interface AuditCommand {
  name: 'audit';
  json: boolean;
  since: Date;
  until?: Date;
  format: (typeof AUDIT_FORMATS)[number];
  agent?: string;
}

const OPTIONS = {
  json: { type: 'boolean' },
  since: { type: 'string' },
  until: { type: 'string' },
  format: { type: 'string' },
  agent: { type: 'string' },
} as const;

/** Parses `audit`'s arguments (after the word `audit`); throws {@link UsageError}. */
export function parseAuditCommand(argv: string[]): AuditCommand {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  checkCommandShape(
    'audit',
    { positionals: [], options: ['since', 'until', 'format', 'agent'] },
    { options: Object.keys(values), positionals },
  );
  if (values.since === undefined)
    throw new UsageError('audit needs --since (an ISO time, e.g. 2026-12-01T00:00:00Z)');
  const since = time(values.since, '--since');
  const until = values.until === undefined ? undefined : time(values.until, '--until');
  if (until && until.getTime() <= since.getTime()) throw new UsageError('--until must be after --since');
  return {
    name: 'audit',
    json: values.json === true,
    since,
    ...(until && { until }),
    // --json means JSON lines, like every command's --json means machine-readable.
    format: values.format === undefined ? 'jsonl' : oneOf(values.format, '--format', AUDIT_FORMATS),
    ...optional('agent', values.agent, agentName),
  };
}

/** `agent audit ...`: parses, connects as configured, prints. */
export async function auditCli(argv: string[]): Promise<number> {
  const command = parseAuditCommand(argv);
  // The client (and the Temporal SDK under it) loads only now: a usage error does not wait for it.
  const { loadConfig } = await import('../config');
  const { AgentClient } = await import('../client');
  const agent = await AgentClient.fromConfig(loadConfig());
  try {
    return await runAudit(agent, command);
  } finally {
    await agent.client.connection.close();
  }
}

/** Prints the audit; exit 1 when a conversation could not be read (the rows printed are then incomplete). */
export async function runAudit(agent: AgentClient, command: AuditCommand): Promise<number> {
  const { rows, unreadable } = await agent.audit({
    since: command.since,
    ...(command.until && { until: command.until }),
    ...(command.agent !== undefined && { agent: command.agent }),
  });
  process.stdout.write(render(rows, command.format));
  for (const u of unreadable) console.error(forTerminal(`audit: could not read ${u.workflowId}: ${u.error}`));
  return unreadable.length > 0 ? 1 : 0;
}

/**
 * The rows as the format says, safe for a terminal: JSON lines with every control character escaped
 * (the same values), CSV with control characters shown as symbols and LF line ends (a CR is one of
 * them; spreadsheets read either; JSON lines keep every character exactly).
 */
export function render(rows: readonly AuditRow[], format: AuditCommand['format']): string {
  if (format === 'jsonl') return rows.map((r) => `${jsonForTerminal(r)}\n`).join('');
  return toCsv(rows)
    .split('\r\n')
    .map((line) => forTerminal(line))
    .join('\n');
}

function time(value: string, option: string): Date {
  // ISO 8601 with a date and, if a time, a zone: `2026-12-01`, `2026-12-01T00:00:00Z`, `...+02:00`.
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
  const at = iso.test(value) ? new Date(value) : undefined;
  if (!at || Number.isNaN(at.getTime()))
    throw new UsageError(`${option} must be an ISO time such as 2026-12-01T00:00:00Z, not ${quoted(value)}`);
  return at;
}
