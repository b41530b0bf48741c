/**
 * Structured output and strict tools, the pure parts: the verdict on a final answer (ok, invalid,
 * refusal, max_tokens), the format the worker sends (the SDK's transform) and the check it keeps (every
 * constraint), strict tool definitions, an agent's zod `output`, the contract's output schema, the
 * fake's validation of `output_config` and strict tools, and the CLI's `--output-schema`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import {
  outputSpecFromJsonSchema,
  outputSpecFromZod,
  outputVerdict,
} from '../../src/activities/structured-output';
import { defineAgent } from '../../src/agents/define-agent';
import { ConversationInputSchema } from '../../src/api/conversation';
import { judgeOutput, jsonSchemaCheck, OutputSchemaSchema } from '../../src/api/structured-output';
import { parseCommand } from '../../src/cli/args';
import { readOutputSchema } from '../../src/cli/output-schema';
import { UsageError } from '../../src/cli/parse';
import { strictSchemaProblem } from '../../src/testing/fake-claude/strict-schema';
import { validateRequest } from '../../src/testing/fake-claude/validate';
import { defineTool } from '../../src/tools/define-tool';

const rating = {
  type: 'object',
  properties: { title: { type: 'string', minLength: 2 }, stars: { type: 'integer', minimum: 1, maximum: 5 } },
  required: ['title', 'stars'],
} as const;

describe('judgeOutput', () => {
  const check = jsonSchemaCheck(rating);
  const judge = (text: string, stopReason = 'end_turn', stopDetails?: unknown) =>
    judgeOutput({ text, stopReason, stopDetails, maxTokens: 256 }, check);

  it('parses and validates a final answer', () => {
    expect(judge('{"title":"Dune","stars":5}')).toEqual({ status: 'ok', value: { title: 'Dune', stars: 5 } });
  });

  it('says why an answer is invalid: not JSON, or a constraint the schema keeps', () => {
    expect(judge('Dune, five stars')).toEqual({
      status: 'invalid',
      reason: expect.stringMatching(/^the answer is not JSON: /),
    });
    expect(judge('{"title":"Dune","stars":9}')).toEqual({
      status: 'invalid',
      reason: 'the answer does not match the schema: stars: Too big: expected number to be <=5',
    });
  });

  it('a refusal and a cut answer are statuses, never a parse error', () => {
    expect(judge('', 'refusal', { type: 'refusal', category: 'cyber', explanation: 'Not that.' })).toEqual({
      status: 'refusal',
      reason: 'the model refused (cyber): Not that.',
    });
    expect(judge('', 'refusal', null)).toEqual({ status: 'refusal', reason: 'the model refused' });
    expect(judge('{"title":"Du', 'max_tokens')).toEqual({
      status: 'max_tokens',
      reason: 'the answer was cut by max_tokens (256) before its JSON ended',
    });
  });
});

describe('the format sent and the check kept', () => {
  it("a JSON Schema: the SDK's transform on the wire, every constraint in the check", () => {
    const spec = outputSpecFromJsonSchema(rating);
    expect(spec.format).toEqual({
      type: 'json_schema',
      schema: {
        type: 'object',
        properties: {
          title: { type: 'string', description: '{minLength: 2}' },
          stars: { type: 'integer', description: '{minimum: 1, maximum: 5}' },
        },
        additionalProperties: false,
        required: ['title', 'stars'],
      },
    });
    expect(strictSchemaProblem(spec.format.schema, 'schema')).toBeUndefined();
    expect(spec.check({ title: 'D', stars: 0 })).toEqual({
      ok: false,
      error:
        'title: Too small: expected string to have >=2 characters; stars: Too small: expected number to be >=1',
    });
  });

  it('a schema the SDK cannot transform is a clear error', () => {
    expect(() => outputSpecFromJsonSchema({ type: 'object', properties: { x: {} } })).toThrow(
      /^the output schema cannot be used: JSON schema must have a type defined/,
    );
  });

  it("an agent's zod output: zodOutputFormat on the wire, the zod schema (refinements too) in the check", () => {
    const schema = z
      .object({ from: z.int(), to: z.int() })
      .refine((r) => r.from <= r.to, { message: 'from must not be after to' });
    const spec = outputSpecFromZod(schema);
    expect(spec.format.schema).toMatchObject({ type: 'object', additionalProperties: false });
    expect(spec.check({ from: 3, to: 1 })).toEqual({
      ok: false,
      error: '(input): from must not be after to',
    });
  });

  it('judges only answers that end the turn', () => {
    const spec = outputSpecFromJsonSchema(rating);
    const text = (t: string) => ({ type: 'text' as const, text: t, citations: null });
    const toolUse = { type: 'tool_use' as const, id: 'toolu_1', name: 'x', input: {}, caller: undefined };
    expect(
      outputVerdict({ content: [text('{}'), toolUse] as never, stop_reason: 'tool_use' }, spec, 10),
    ).toBe(undefined);
    expect(outputVerdict({ content: [toolUse] as never, stop_reason: 'max_tokens' }, spec, 10)).toBe(
      undefined,
    );
    expect(outputVerdict({ content: [text('{}')], stop_reason: 'pause_turn' }, spec, 10)).toBe(undefined);
    expect(
      outputVerdict(
        { content: [text('{"title":'), text('"Dune","stars":4}')], stop_reason: 'end_turn' },
        spec,
        10,
      ),
    ).toEqual({ status: 'ok', value: { title: 'Dune', stars: 4 } });
  });
});

describe('strict tools', () => {
  const refund = defineTool({
    name: 'refund',
    description: 'Refunds an order',
    input: z.object({ orderId: z.string().regex(/^A\d+$/), amount: z.number().positive().max(500) }),
    effect: 'read',
    strict: true,
    run: async () => 'ok',
  });

  it("sends strict: true and the SDK's transform of the schema; keeps the original for checks", () => {
    const api = refund.toApiTool();
    expect(api.strict).toBe(true);
    expect(api.input_schema).toEqual({
      type: 'object',
      properties: {
        orderId: { type: 'string', description: '{pattern: "^A\\\\d+$"}' },
        amount: { type: 'number', description: '{exclusiveMinimum: 0, maximum: 500}' },
      },
      additionalProperties: false,
      required: ['orderId', 'amount'],
    });
    expect(strictSchemaProblem(api.input_schema, 'tools.0.input_schema')).toBeUndefined();
    expect(refund.inputJsonSchema).toMatchObject({ properties: { amount: { maximum: 500 } } });
    expect(refund.input.safeParse({ orderId: 'A1', amount: 900 }).success).toBe(false);
  });

  it('a tool without strict is sent as before', () => {
    const plain = defineTool({ ...refund, strict: undefined });
    expect(plain.toApiTool()).not.toHaveProperty('strict');
    expect(plain.toApiTool().input_schema).toMatchObject({ properties: { amount: { maximum: 500 } } });
  });
});

describe("an agent's output", () => {
  const base = { name: 'rater', model: 'claude-sonnet-5-5' };

  it('is part of the fingerprint', () => {
    const a = defineAgent({ ...base, output: z.object({ stars: z.int() }) });
    const b = defineAgent({ ...base, output: z.object({ stars: z.int().max(5) }) });
    expect(a.fingerprint).not.toBe(b.fingerprint);
    expect(defineAgent({ ...base, output: z.object({ stars: z.int() }) }).fingerprint).toBe(a.fingerprint);
  });

  it('is refused at definition when it is no zod object, or the SDK cannot send it', () => {
    expect(() => defineAgent({ ...base, output: z.string() as never })).toThrow(
      /agent "rater": output: output must be a zod object schema/,
    );
    expect(() => defineAgent({ ...base, output: z.object({ any: z.unknown() }) })).toThrow(
      /^agent rater: output: JSON schema must have a type defined/,
    );
  });
});

describe('the output schema of a conversation', () => {
  it('is a JSON Schema of an object that zod can check, bounded', () => {
    expect(OutputSchemaSchema.safeParse(rating).success).toBe(true);
    expect(OutputSchemaSchema.safeParse({ type: 'array' }).error?.issues[0].message).toBe(
      'an output schema must be an object schema (type: "object")',
    );
    const huge = { type: 'object', description: 'x'.repeat(70_000) };
    expect(OutputSchemaSchema.safeParse(huge).error?.issues[0].message).toMatch(/the limit is 65536$/);
    const parsed = ConversationInputSchema.safeParse({ model: 'm', outputSchema: rating });
    expect(parsed.success && parsed.data.outputSchema).toEqual(rating);
  });
});

describe("the fake's validation", () => {
  const body = (extra: Record<string, unknown>) => ({
    model: 'claude-sonnet-5-5',
    max_tokens: 100,
    messages: [{ role: 'user', content: 'hi' }],
    ...extra,
  });
  const format = (schema: unknown) => body({ output_config: { format: { type: 'json_schema', schema } } });

  it("accepts the SDK's transformed schemas", () => {
    expect(validateRequest(format(outputSpecFromJsonSchema(rating).format.schema), 'messages')).toEqual({
      ok: true,
    });
    expect(validateRequest(body({ output_config: { effort: 'high' } }), 'messages')).toEqual({ ok: true });
  });

  it('refuses what structured outputs do not support, saying where and what', () => {
    const refused = (value: Record<string, unknown>) => validateRequest(value, 'messages');
    expect(refused(format(rating))).toEqual({
      ok: false,
      message:
        "output_config.format.schema: For 'object' type, 'additionalProperties' must be explicitly set to false in strict mode",
    });
    const numeric = { ...rating, additionalProperties: false };
    expect(refused(format(numeric))).toEqual({
      ok: false,
      message:
        "output_config.format.schema.properties.title: For 'string' type, property minLength is not supported in strict mode",
    });
    expect(refused(body({ output_config: { format: { type: 'json_object' } } }))).toEqual({
      ok: false,
      message:
        "output_config.format: Input tag 'json_object' found using 'type' does not match any of the expected tags: 'json_schema'",
    });
    expect(refused(body({ output_config: { format: { type: 'json_schema' } } }))).toEqual({
      ok: false,
      message: 'output_config.format.json_schema.schema: Field required',
    });
    expect(refused(body({ output_config: { effort: 'extreme' } }))).toMatchObject({ ok: false });
  });

  it('checks strict tools: additionalProperties false, no numeric constraints; other tools as before', () => {
    const tool = (strict: boolean | undefined) => ({
      name: 'refund',
      input_schema: { type: 'object', properties: { amount: { type: 'number', maximum: 5 } } },
      ...(strict !== undefined && { strict }),
    });
    expect(validateRequest(body({ tools: [tool(undefined)] }), 'messages')).toEqual({ ok: true });
    expect(validateRequest(body({ tools: [tool(true)] }), 'messages')).toEqual({
      ok: false,
      message:
        "tools.0.input_schema: For 'object' type, 'additionalProperties' must be explicitly set to false in strict mode",
    });
    const closed = {
      ...tool(true),
      input_schema: { ...tool(true).input_schema, additionalProperties: false },
    };
    expect(validateRequest(body({ tools: [closed] }), 'messages')).toEqual({
      ok: false,
      message:
        "tools.0.input_schema.properties.amount: For 'number' type, property maximum is not supported in strict mode",
    });
  });

  it('walks $defs, anyOf and items; refuses oneOf, bad formats, minItems over 1, external refs', () => {
    const closed = (properties: Record<string, unknown>) => ({
      type: 'object',
      properties,
      additionalProperties: false,
    });
    expect(strictSchemaProblem(closed({ a: { oneOf: [{ type: 'string' }] } }), 's')).toBe(
      's.properties.a: For schemas, property oneOf is not supported in strict mode',
    );
    expect(strictSchemaProblem(closed({ a: { type: 'string', format: 'phone' } }), 's')).toMatch(
      /^s\.properties\.a: String format 'phone' is not supported/,
    );
    expect(
      strictSchemaProblem(closed({ a: { type: 'array', items: { type: 'string' }, minItems: 2 } }), 's'),
    ).toMatch(/minItems/);
    expect(strictSchemaProblem(closed({ a: { $ref: 'http://x/y.json' } }), 's')).toMatch(
      /^s\.properties\.a\.\$ref/,
    );
    expect(
      strictSchemaProblem(
        { ...closed({ a: { $ref: '#/$defs/b' } }), $defs: { b: { type: 'object', properties: {} } } },
        's',
      ),
    ).toMatch(/^s\.\$defs\.b: For 'object' type/);
    expect(strictSchemaProblem(closed({ a: { anyOf: [{ type: 'integer', minimum: 0 }] } }), 's')).toMatch(
      /^s\.properties\.a\.anyOf\.0: For 'integer' type/,
    );
  });

  it('refuses a format on a compaction request', () => {
    const schema = outputSpecFromJsonSchema(rating).format.schema;
    expect(
      validateRequest(
        body({
          compaction: { type: 'summarize' },
          output_config: { format: { type: 'json_schema', schema } },
          messages: [
            { role: 'user', content: 'hi' },
            { role: 'assistant', content: 'hello' },
          ],
        }),
        'messages',
      ),
    ).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^output_config\.format: cannot be used with `compaction`/),
    });
  });
});

describe('agent start --output-schema', () => {
  const dir = mkdtempSync(join(tmpdir(), 'output-schema-'));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('is parsed as a start option and read as an object schema', async () => {
    const path = file('ok.json', JSON.stringify(rating));
    expect(parseCommand(['start', 'Rate Dune', '--output-schema', path, '--wait'])).toMatchObject({
      name: 'start',
      outputSchemaFile: path,
      wait: true,
    });
    await expect(readOutputSchema(path)).resolves.toEqual(rating);
  });

  it('refuses a missing file, bad JSON, a non-object schema or one the SDK cannot send, as usage errors', async () => {
    const refused = async (path: string, message: RegExp) => {
      const err = await readOutputSchema(path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(message);
    };
    await refused(join(dir, 'missing.json'), /cannot be read: ENOENT$/);
    await refused(file('bad.json', '{"type":'), /is not valid JSON: /);
    await refused(file('array.json', '{"type":"array"}'), /an output schema must be an object schema/);
    await refused(
      file('untyped.json', '{"type":"object","properties":{"x":{}}}'),
      /the API cannot be sent this schema: JSON schema must have a type defined/,
    );
  });
});
