import { readFile, stat } from 'node:fs/promises';
import { jsonSchemaOutputFormat } from '@anthropic-ai/sdk/helpers/json-schema';
import { formatIssues } from '../api/issues';
import { MAX_OUTPUT_SCHEMA_BYTES, OutputSchemaSchema, type OutputSchema } from '../api/structured-output';
import { UsageError } from './parse';
import { quoted } from './sanitize';

/**
 * `--output-schema FILE`: a JSON Schema of an object, read and checked before anything connects, as
 * the workflow and the worker will use it: zod can check answers against it, and the SDK can transform
 * it for the API. A file that is missing, too big, not JSON or not such a schema is a usage error.
 */
export async function readOutputSchema(path: string): Promise<OutputSchema> {
  const what = `--output-schema ${quoted(path)}`;
  let text: string;
  try {
    const { size } = await stat(path);
    if (size > MAX_OUTPUT_SCHEMA_BYTES)
      throw new UsageError(
        `${what} is ${size} bytes; an output schema may be at most ${MAX_OUTPUT_SCHEMA_BYTES}`,
      );
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(
      `${what} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = OutputSchemaSchema.safeParse(schema);
  if (!parsed.success)
    throw new UsageError(`${what}: ${formatIssues(parsed.error, { root: 'schema', max: 3 })}`);
  try {
    jsonSchemaOutputFormat(parsed.data);
  } catch (err) {
    throw new UsageError(`${what}: the API cannot be sent this schema: ${(err as Error).message}`);
  }
  return parsed.data;
}
