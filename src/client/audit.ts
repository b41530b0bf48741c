/**
 * The audit trail of operator actions across conversations, as rows: tool-call decisions (who decided
 * what, when, from where, in which groups, and the input the model asked for beside the one that ran)
 * and forks (who started a conversation from another's transcript, from where). Read from the
 * conversations' states (each run carries every decision of the runs before it through
 * continue-as-new), exported as JSON lines or CSV. Nothing here writes: decisions are the workflows'.
 */
import type { ConversationState } from '../api/conversation';
import type { DecisionChannel, RecordedDecision, SignOff } from '../api/approvals';

/**
 * One person's (or the system's) decision about one tool call (`action: 'decision'`), or one fork
 * (`action: 'fork'`: the row of the new conversation, `decidedBy` who forked it, `forkedFrom` its
 * origin; the tool-call fields are null).
 */
export interface AuditRow {
  action: 'decision' | 'fork';
  workflowId: string;
  /** The conversation's agent, if it has one. */
  agent: string | null;
  toolUseId: string | null;
  tool: string | null;
  decision: 'approve' | 'reject' | 'edit' | null;
  /** Who: for a fork started without a name (from code), `unknown`. */
  decidedBy: string;
  groups: string[];
  /** Where it came from; null for the deadline and the conversation's end (`via` says which). */
  channel: DecisionChannel | null;
  via: RecordedDecision['via'] | null;
  /** ISO time. */
  decidedAt: string;
  reason: string | null;
  /** What the model asked for (null for a fork). */
  originalInput: Record<string, unknown> | null;
  /** The input this decision approved instead (an edit), else null. */
  editedInput: Record<string, unknown> | null;
  /**
   * Whether this row decided the call. An approval of a call that needs several is not final until the
   * last; one a later edit superseded is `superseded`.
   */
  final: boolean;
  superseded: boolean;
  /** A fork's origin: the conversation and the index of the last message taken. */
  forkedFrom: { workflowId: string; index: number } | null;
}

/** Options of {@link AgentClient.audit}. */
export interface AuditOptions {
  /** Decisions taken at or after this time. */
  since: Date;
  /** And before this time (default: now). */
  until?: Date;
  /** Only this agent's conversations. */
  agent?: string;
  /** How many conversations to read at most (default 1000). */
  limit?: number;
}

/** What {@link AgentClient.audit} found: the rows, oldest first, and the conversations it could not read. */
export interface AuditResult {
  rows: AuditRow[];
  unreadable: Array<{ workflowId: string; error: string }>;
}

/**
 * The operator actions of one conversation's state as rows: its fork (when it is one and the time was
 * recorded) and its decisions (every approval of a multi-approver call its own).
 */
export function auditRowsOf(
  workflowId: string,
  state: Pick<ConversationState, 'decisions' | 'pendingApprovals'> &
    Partial<Pick<ConversationState, 'forkedFrom'>> & { agent?: { name: string } },
): AuditRow[] {
  const agent = state.agent?.name ?? null;
  const rows: AuditRow[] = [];
  const fork = state.forkedFrom;
  if (fork?.at !== undefined)
    rows.push({
      action: 'fork',
      workflowId,
      agent,
      toolUseId: null,
      tool: null,
      decision: null,
      decidedBy: fork.by ?? 'unknown',
      groups: [],
      channel: null,
      via: null,
      decidedAt: fork.at,
      reason: null,
      originalInput: null,
      editedInput: null,
      final: true,
      superseded: false,
      forkedFrom: { workflowId: fork.workflowId, index: fork.index },
    });
  const call = (c: { toolUseId: string; name: string; input: Record<string, unknown> }) => ({
    action: 'decision' as const,
    workflowId,
    agent,
    toolUseId: c.toolUseId,
    tool: c.name,
    originalInput: c.input,
    forkedFrom: null,
  });
  const signOffRow = (c: Parameters<typeof call>[0], s: SignOff): AuditRow => ({
    ...call(c),
    decision: s.decision,
    decidedBy: s.decidedBy,
    groups: s.groups ?? [],
    channel: s.channel ?? null,
    via: s.via,
    decidedAt: s.decidedAt,
    reason: s.reason ?? null,
    editedInput: s.input ?? null,
    final: false,
    superseded: s.superseded === true,
  });
  for (const d of state.decisions) {
    const c = { toolUseId: d.toolUseId, name: d.name, input: d.originalInput };
    // The deciding approval is in `approvals` too: it is the final row, not an extra one.
    const deciding = (s: SignOff) =>
      d.decision !== 'reject' && s.decidedBy === d.decidedBy && s.decidedAt === d.decidedAt;
    for (const s of d.approvals ?? []) if (!deciding(s)) rows.push(signOffRow(c, s));
    rows.push({
      ...call(c),
      decision: d.decision,
      decidedBy: d.decidedBy,
      groups: d.groups ?? [],
      channel: d.channel ?? null,
      via: d.via,
      decidedAt: d.decidedAt,
      reason: d.reason ?? null,
      editedInput: d.input ?? null,
      final: true,
      superseded: false,
    });
  }
  // Approvals of calls still waiting for more: decisions too.
  for (const p of state.pendingApprovals) for (const s of p.approvals ?? []) rows.push(signOffRow(p, s));
  return rows;
}

/** Rows taken in `[since, until)`, oldest first. */
export function inWindow(rows: AuditRow[], since: Date, until?: Date): AuditRow[] {
  const from = since.getTime();
  const to = until?.getTime() ?? Infinity;
  return rows
    .filter((r) => {
      const at = Date.parse(r.decidedAt);
      return at >= from && at < to;
    })
    .sort((a, b) => a.decidedAt.localeCompare(b.decidedAt) || a.workflowId.localeCompare(b.workflowId));
}

/** One JSON object a line. */
export function toJsonLines(rows: readonly AuditRow[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/** The CSV columns, in order. */
export const AUDIT_COLUMNS = [
  'decidedAt',
  'workflowId',
  'agent',
  'toolUseId',
  'tool',
  'decision',
  'final',
  'superseded',
  'decidedBy',
  'groups',
  'channel',
  'via',
  'reason',
  'originalInput',
  'editedInput',
  'action',
  'forkedFrom',
] as const satisfies ReadonlyArray<keyof AuditRow>;

/** RFC 4180 CSV (CRLF, every cell quoted), a header first; inputs as JSON, groups joined with `;`. */
export function toCsv(rows: readonly AuditRow[]): string {
  const lines = [AUDIT_COLUMNS.join(',')];
  for (const row of rows) {
    lines.push(
      AUDIT_COLUMNS.map((column) => {
        const value = row[column];
        if (value === null) return csvCell('');
        if (Array.isArray(value)) return csvCell(value.join(';'));
        if (typeof value === 'object') return csvCell(JSON.stringify(value));
        return csvCell(String(value));
      }).join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * One CSV cell, quoted. A cell a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`,
 * a tab or a carriage return: OWASP's list) is prefixed with `'`, so an operator's name or a tool input
 * such as `=HYPERLINK(...)` shows as text instead of running.
 */
export function csvCell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return `"${safe.replaceAll('"', '""')}"`;
}
