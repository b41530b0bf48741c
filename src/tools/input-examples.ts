import type { z } from 'zod';
import { formatIssues } from '../api/issues';

/**
 * A tool's `inputExamples`, each checked against the tool's own input schema, every constraint kept: an
 * example the tool itself would refuse teaches the model a wrong call, so it is refused at definition,
 * naming the tool and the example. Sent as they were written (`input_examples`), not as parsed.
 */
export function checkedInputExamples(
  tool: string,
  input: z.ZodObject,
  examples: readonly unknown[] | undefined,
): Array<Record<string, unknown>> | undefined {
  if (examples === undefined) return undefined;
  if (!Array.isArray(examples)) throw new Error(`tool ${tool}: inputExamples must be an array`);
  examples.forEach((example, i) => {
    const parsed = input.safeParse(example);
    if (!parsed.success)
      throw new Error(
        `tool ${tool}: inputExamples[${i}] does not match its input schema: ${formatIssues(parsed.error)}`,
      );
    try {
      JSON.stringify(example);
    } catch (err) {
      throw new Error(`tool ${tool}: inputExamples[${i}] is not JSON: ${(err as Error).message}`);
    }
  });
  return examples.length > 0 ? (examples as Array<Record<string, unknown>>) : undefined;
}
