/**
 * How a zod validation failure reads, everywhere it is reported (workflow validators, the client, the
 * ops API, configuration): `path: message` per issue, `(input)` for the value itself. Workflow-safe.
 */
import type { z } from 'zod';

/** Each issue as `path: message`. */
export function issueLines(error: z.ZodError, root = '(input)'): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || root}: ${issue.message}`);
}

/** The issues on one line, `; `-separated (at most `max`, then how many more). */
export function formatIssues(error: z.ZodError, options: { root?: string; max?: number } = {}): string {
  const lines = issueLines(error, options.root);
  const max = options.max ?? lines.length;
  const more = lines.length > max ? [`and ${lines.length - max} more`] : [];
  return [...lines.slice(0, max), ...more].join('; ');
}
