/**
 * What `/stream/publish` accepts: each NDJSON line checked against the fields the hub reads before the
 * hub sees it, so a line with a missing or ill-typed field is a refused line, not a TypeError (a 500).
 */
import { z } from 'zod';
import { formatIssues } from '../api/issues';
import type { Published } from '../streaming/protocol';

/** A content block index past this is not a real message's (and would make the hub's arrays sparse). */
const MAX_BLOCK_INDEX = 4096;
const MAX_ID_CHARS = 1000;
/** A call's error text kept in the hub's snapshot. */
const MAX_ERROR_CHARS = 10_000;

const index = z.number().int().min(0).max(MAX_BLOCK_INDEX);
const optionalText = z.string().max(MAX_ID_CHARS).optional();

/** The deltas whose text the hub keeps: each must carry its text field. */
const DELTAS: Record<string, z.ZodType> = {
  text_delta: z.looseObject({ text: z.string() }),
  thinking_delta: z.looseObject({ thinking: z.string() }),
  input_json_delta: z.looseObject({ partial_json: z.string() }),
};

/** The events the hub reads fields of; others (message_start, ping, ...) pass by their type alone. */
const EVENTS: Record<string, z.ZodType> = {
  content_block_start: z.looseObject({
    index,
    content_block: z.looseObject({
      type: z.string(),
      name: optionalText,
      id: optionalText,
      text: z.string().optional(),
    }),
  }),
  content_block_delta: z.looseObject({
    index,
    delta: z
      .looseObject({ type: z.string() })
      .superRefine((delta, ctx) => check(DELTAS[delta.type], delta, ctx)),
  }),
  content_block_stop: z.looseObject({ index }),
  message_delta: z.looseObject({ delta: z.looseObject({ stop_reason: z.string().nullable().optional() }) }),
};

function check(schema: z.ZodType | undefined, value: unknown, ctx: z.RefinementCtx): void {
  const result = schema?.safeParse(value);
  if (result && !result.success)
    for (const { message, path } of result.error.issues) ctx.addIssue({ code: 'custom', message, path });
}

const base = { workflowId: z.string().min(1).max(MAX_ID_CHARS), at: z.number() };

const PublishedSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('start'),
    turn: z.number().int().min(0),
    attempt: z.number().int().min(1),
  }),
  z.object({
    ...base,
    type: z.literal('event'),
    event: z
      .looseObject({ type: z.string() })
      .superRefine((event, ctx) => check(EVENTS[event.type], event, ctx)),
  }),
  z.object({
    ...base,
    type: z.literal('end'),
    ok: z.boolean(),
    error: z.string().max(MAX_ERROR_CHARS).optional(),
  }),
]);

/** One line of a batch: the item, or why it was refused. */
export function parsePublishedLine(line: string): { item: Published } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { problem: 'not JSON' };
  }
  const parsed = PublishedSchema.safeParse(value);
  if (!parsed.success) return { problem: formatIssues(parsed.error, { root: '(line)', max: 3 }) };
  return { item: parsed.data as Published };
}
