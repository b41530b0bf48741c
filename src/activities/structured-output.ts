/**
 * Structured output, worker side: the `output_config.format` a call sends (built by the SDK's own
 * helpers, so the schema is transformed exactly as the SDK transforms it for the API: constraints the
 * API does not support move into descriptions, objects get `additionalProperties: false`), and the
 * check of the answer against the original schema, every constraint kept.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { jsonSchemaOutputFormat } from '@anthropic-ai/sdk/helpers/json-schema';
import { zodOutputFormat } from '@anthropic-ai/sdk/helpers/zod';
import type { JSONOutputFormat } from '@anthropic-ai/sdk/resources/messages';
import type { z } from 'zod';
import {
  jsonSchemaCheck,
  judgeOutput,
  zodCheck,
  type OutputCheck,
  type OutputVerdict,
} from '../api/structured-output';

/** What a call asks of its final answer: the format it sends, and how the answer is checked. */
export interface OutputSpec {
  format: JSONOutputFormat;
  check: OutputCheck;
}

/** Specs built from JSON Schemas, by their JSON (the same schema comes with every call of a conversation). */
const fromJson = new Map<string, OutputSpec>();
const MAX_CACHED = 200;

/**
 * The spec of a JSON Schema (a conversation's `outputSchema`): the SDK's `jsonSchemaOutputFormat` (with
 * its transform) for the wire, zod's `fromJSONSchema` of the original for the check. Throws when the SDK
 * cannot transform it (a sub-schema without a type, say): a configuration error.
 */
export function outputSpecFromJsonSchema(schema: Record<string, unknown>): OutputSpec {
  const key = JSON.stringify(schema);
  const cached = fromJson.get(key);
  if (cached) return cached;
  let spec: OutputSpec;
  try {
    const { type, schema: wire } = jsonSchemaOutputFormat(schema as { type: 'object' });
    spec = { format: { type, schema: wire }, check: jsonSchemaCheck(schema) };
  } catch (err) {
    throw new Error(`the output schema cannot be used: ${(err as Error).message}`);
  }
  if (fromJson.size >= MAX_CACHED) fromJson.delete(fromJson.keys().next().value!);
  fromJson.set(key, spec);
  return spec;
}

/** The spec of an agent's zod `output`: the SDK's `zodOutputFormat` for the wire, the zod schema itself for the check. */
export function outputSpecFromZod(schema: z.ZodType): OutputSpec {
  const { type, schema: wire } = zodOutputFormat(schema);
  return { format: { type, schema: wire }, check: zodCheck(schema) };
}

/**
 * The verdict on an answer, when it ends the turn: not for a tool call, a paused turn, a compaction
 * or a full context window (the turn goes on, or parks).
 */
export function outputVerdict(
  message: Pick<Anthropic.Message, 'content' | 'stop_reason'> & { stop_details?: unknown },
  spec: OutputSpec,
  maxTokens: number,
): OutputVerdict | undefined {
  const reason = message.stop_reason ?? 'end_turn';
  const hasToolCall = message.content.some((b) => b.type === 'tool_use');
  if (!['end_turn', 'stop_sequence', 'refusal', 'max_tokens'].includes(reason)) return undefined;
  if (reason === 'max_tokens' && hasToolCall) return undefined; // its tool calls get error results
  const text = message.content
    .filter((b): b is Anthropic.TextBlock => b.type === 'text')
    .map((b) => b.text)
    .join('');
  return judgeOutput({ stopReason: reason, stopDetails: message.stop_details, text, maxTokens }, spec.check);
}
