/**
 * Structured output: a conversation (or its agent) asks for its final answers in a JSON Schema. Every
 * model call carries the schema as `output_config.format` (the SDK's own tool runner keeps it on every
 * call of its tool loop too: tool calls are not constrained by it, the text of an answer is); the
 * answer that ends a turn is parsed and checked against the schema *with every constraint*, since the
 * schema sent to the API has those the API does not support moved into descriptions. Workflow-safe.
 */
import { z } from 'zod';
import { formatIssues } from './issues';

/** What became of a turn's final answer. */
export const OUTPUT_STATUSES = ['ok', 'invalid', 'refusal', 'max_tokens'] as const;
/**
 * - `ok`: the answer is JSON that passes the schema (`value`).
 * - `invalid`: it is not JSON, or fails the schema (after one corrective retry; `reason` says how).
 * - `refusal`: the model refused (`stop_reason: refusal`; `reason` from `stop_details`).
 * - `max_tokens`: the answer was cut by `max_tokens` before the JSON ended.
 */
export type OutputStatus = (typeof OUTPUT_STATUSES)[number];

/** The verdict on one answer, as the model-call activity records it (in history, so it replays). */
export interface OutputVerdict<O = unknown> {
  status: OutputStatus;
  /** With `ok`: the parsed, validated value. */
  value?: O;
  /** Why it is not `ok`. */
  reason?: string;
}

/** The last turn's structured output, as the state and the result carry it. */
export interface StructuredOutput<O = unknown> extends OutputVerdict<O> {
  /** The turn it answered. */
  turn: number;
  /** Answers judged in that turn: 2 after a corrective retry. */
  attempts: number;
}

/** Largest output schema accepted, in bytes of JSON (it travels in the input and every call). */
export const MAX_OUTPUT_SCHEMA_BYTES = 64 * 1024;

/**
 * An output schema in a conversation's input: a JSON Schema of an object (the final answer is one
 * JSON object), that zod can check answers against (`z.fromJSONSchema`).
 */
export const OutputSchemaSchema = z
  .looseObject({ type: z.literal('object', 'an output schema must be an object schema (type: "object")') })
  .superRefine((schema, ctx) => {
    const bytes = JSON.stringify(schema).length;
    if (bytes > MAX_OUTPUT_SCHEMA_BYTES) {
      ctx.addIssue({
        code: 'custom',
        message: `the output schema is ${bytes} bytes of JSON, the limit is ${MAX_OUTPUT_SCHEMA_BYTES}`,
      });
      return;
    }
    const problem = checkerProblem(schema);
    if (problem) ctx.addIssue({ code: 'custom', message: `not a usable JSON Schema: ${problem}` });
  });

export type OutputSchema = z.infer<typeof OutputSchemaSchema>;

/** Why zod cannot build a checker from `schema`, if it cannot. */
function checkerProblem(schema: Record<string, unknown>): string | undefined {
  try {
    z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** A checker of parsed answers: the value, or the schema's complaints on one line. */
export type OutputCheck = (value: unknown) => { ok: true; value: unknown } | { ok: false; error: string };

/** The checker of a JSON Schema (every constraint kept: minimum, lengths, patterns, ...). */
export function jsonSchemaCheck(schema: Record<string, unknown>): OutputCheck {
  const checker = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  return zodCheck(checker);
}

/** The checker of a zod schema (refinements included). */
export function zodCheck(schema: z.ZodType): OutputCheck {
  return (value) => {
    const parsed = schema.safeParse(value);
    return parsed.success
      ? { ok: true, value: parsed.data }
      : { ok: false, error: formatIssues(parsed.error, { max: 10 }) };
  };
}

/** The part of an answer the verdict needs. */
export interface JudgedAnswer {
  stopReason: string;
  stopDetails?: unknown;
  /** The answer's text (its text blocks, joined). */
  text: string;
  maxTokens?: number;
}

/**
 * The verdict on an answer that ends a turn: a refusal and a cut answer are statuses of their own
 * (never a parse error), then the text must parse as JSON and pass `check`.
 */
export function judgeOutput(answer: JudgedAnswer, check: OutputCheck): OutputVerdict {
  if (answer.stopReason === 'refusal')
    return { status: 'refusal', reason: refusalReason(answer.stopDetails) };
  if (answer.stopReason === 'max_tokens') {
    const limit = answer.maxTokens ? ` (${answer.maxTokens})` : '';
    return { status: 'max_tokens', reason: `the answer was cut by max_tokens${limit} before its JSON ended` };
  }
  let value: unknown;
  try {
    value = JSON.parse(answer.text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { status: 'invalid', reason: `the answer is not JSON: ${why}` };
  }
  const checked = check(value);
  return checked.ok
    ? { status: 'ok', value: checked.value }
    : { status: 'invalid', reason: `the answer does not match the schema: ${checked.error}` };
}

/** Why the model refused, from `stop_details` (`{type: 'refusal', category, explanation}`). */
function refusalReason(details: unknown): string {
  const d = (details && typeof details === 'object' ? details : {}) as Record<string, unknown>;
  const explanation = typeof d.explanation === 'string' ? d.explanation : undefined;
  const category = typeof d.category === 'string' ? d.category : undefined;
  if (explanation) return `the model refused${category ? ` (${category})` : ''}: ${explanation}`;
  return `the model refused${category ? ` (${category})` : ''}`;
}

/** The user message that asks once more, after an answer that failed the schema. */
export function correctionText(reason: string): string {
  return (
    `Your last answer was rejected: ${reason}. ` +
    'Answer again with only the JSON object, following the output schema and every constraint in its descriptions.'
  );
}
