import { describe, expect, it } from '@jest/globals';
import type { MessageCreateParams, Tool } from '@anthropic-ai/sdk/resources/messages';
import { z } from 'zod';
import { demoReply, valueFromSchema } from '../../src/testing/fake-claude/demo';
import type { FakeBlock, FakeMessageReply } from '../../src/testing/fake-claude/types';

const saveArticle = z.object({
  abstract: z.string().describe('A one-paragraph abstract of the article'),
  meta: z.object({ word_count: z.number().int(), review: z.string() }),
});

function tool(name: string, description: string, schema: z.ZodType): Tool {
  return { name, description, input_schema: z.toJSONSchema(schema) as Tool['input_schema'] };
}

const tools: Tool[] = [
  tool('search_web', 'Search the web for pages', z.object({ query: z.string().min(1) })),
  tool('save_article', 'Store the finished article', saveArticle),
];

function request(
  messages: MessageCreateParams['messages'],
  extra: Partial<MessageCreateParams> = {},
): MessageCreateParams {
  return { model: 'claude-demo', max_tokens: 1024, messages, ...extra };
}

function text(reply: FakeMessageReply): string {
  return reply.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
}

function toolUse(reply: FakeMessageReply): Extract<FakeBlock, { type: 'tool_use' | 'server_tool_use' }> {
  const block = reply.content.find((b) => b.type === 'tool_use');
  if (!block || block.type !== 'tool_use') throw new Error('no tool_use block');
  return block;
}

describe('valueFromSchema', () => {
  it('fills the product save_article schema so that zod accepts it', () => {
    const value = valueFromSchema(z.toJSONSchema(saveArticle));
    expect(saveArticle.parse(value)).toEqual(value);
    expect(value).toEqual({
      abstract: 'example abstract',
      meta: { word_count: 42, review: 'example review' },
    });
  });

  it('honours enums, literals, formats, lengths, bounds, arrays, nullables and defaults', () => {
    const schema = z.object({
      status: z.enum(['draft', 'published']),
      kind: z.literal('post'),
      created: z.iso.datetime(),
      day: z.iso.date(),
      email: z.email(),
      link: z.url(),
      id: z.uuid(),
      code: z.string().min(20).max(25),
      short: z.string().max(3),
      count: z.int().positive(),
      small: z.number().gt(0).lt(1),
      score: z.number().min(100).max(200),
      pages: z.int().max(10),
      step: z.number().multipleOf(5),
      flag: z.boolean(),
      note: z.string().nullable(),
      maybe: z.union([z.null(), z.number()]),
      tags: z.array(z.string()),
      rows: z.array(z.object({ cells: z.array(z.number().min(7)).min(3) })).min(2),
      pair: z.tuple([z.string(), z.number()]),
      lang: z.string().default('en'),
      extra: z.record(z.string(), z.number()).optional(),
    });
    const value = valueFromSchema(z.toJSONSchema(schema)) as z.infer<typeof schema>;
    expect(schema.parse(value)).toEqual(value);
    expect(value).toMatchObject({
      status: 'draft',
      kind: 'post',
      created: '2026-01-01T00:00:00Z',
      email: 'demo@example.com',
      link: 'https://example.com',
      count: 42,
      small: 0.5,
      score: 100,
      pages: 10,
      flag: true,
      note: 'example note',
      maybe: 42,
      tags: ['example tag'],
      lang: 'en',
      extra: {},
    });
    expect(value.code.length).toBeGreaterThanOrEqual(20);
    expect(value.short).toBe('exa');
    expect(value.rows).toHaveLength(2);
    expect(value.rows[0].cells).toEqual([42, 42, 42]);
  });

  it('resolves $ref against the root and stops on recursive schemas', () => {
    const category: z.ZodType<{ name: string; children?: { name: string }[] }> = z.object({
      name: z.string(),
      get children() {
        return z.array(category).optional();
      },
    });
    const schema = z.object({ root: category });
    const value = valueFromSchema(z.toJSONSchema(schema));
    expect(schema.parse(value)).toEqual(value);
    expect(value).toMatchObject({ root: { name: 'example name', children: [{ name: 'example name' }] } });

    const legacy = {
      type: 'object',
      properties: { user: { $ref: '#/definitions/User' } },
      definitions: { User: { type: 'object', properties: { mail: { type: 'string', format: 'email' } } } },
    };
    expect(valueFromSchema(legacy)).toEqual({ user: { mail: 'demo@example.com' } });
  });

  it('handles schemas without a type, with a type array, and plain null', () => {
    expect(valueFromSchema({})).toBe('example');
    expect(valueFromSchema({ type: ['null', 'integer'], minimum: 3 })).toBe(42);
    expect(valueFromSchema({ type: 'null' })).toBeNull();
    expect(valueFromSchema({ type: 'string' }, 'title')).toBe('example title');
    expect(valueFromSchema({ anyOf: [{ type: 'null' }, { type: 'boolean' }] })).toBe(true);
  });
});

describe('demoReply', () => {
  it('calls the tool whose name or description best matches the user text', () => {
    const reply = demoReply(
      request([{ role: 'user', content: 'Please save this article about otters' }], { tools }),
    );
    expect(reply.stop_reason).toBe('tool_use');
    expect(reply.content[0]).toEqual({ type: 'text', text: "I'll use save_article for that." });
    const use = toolUse(reply);
    expect(use.name).toBe('save_article');
    expect(use.id).toBeUndefined();
    expect(saveArticle.parse(use.input)).toEqual(use.input);
  });

  it('matches description words and reads text from content blocks', () => {
    const reply = demoReply(
      request([{ role: 'user', content: [{ type: 'text', text: 'Find PAGES on the web about otters' }] }], {
        tools: [...tools].reverse(),
      }),
    );
    expect(toolUse(reply).name).toBe('search_web');
  });

  it('falls back to the first tool when nothing matches', () => {
    const reply = demoReply(request([{ role: 'user', content: 'hello there' }], { tools }));
    expect(toolUse(reply).name).toBe('search_web');
  });

  it('uses the tool forced by tool_choice', () => {
    const reply = demoReply(
      request([{ role: 'user', content: 'search the web' }], {
        tools,
        tool_choice: { type: 'tool', name: 'save_article' },
      }),
    );
    expect(toolUse(reply).name).toBe('save_article');
  });

  it('ignores server tools and answers in text with tool_choice none', () => {
    const none = demoReply(
      request([{ role: 'user', content: 'save it' }], { tools, tool_choice: { type: 'none' } }),
    );
    expect(none.stop_reason).toBe('end_turn');
    expect(none.content.every((b) => b.type === 'text')).toBe(true);

    const serverOnly = demoReply(
      request([{ role: 'user', content: 'look it up' }], {
        tools: [{ type: 'web_search_20250305', name: 'web_search' }],
      }),
    );
    expect(serverOnly.stop_reason).toBe('end_turn');
  });

  it('summarizes tool results, naming each tool and reporting failures', () => {
    const long = JSON.stringify({ saved: true, padding: 'x'.repeat(500) });
    const reply = demoReply(
      request([
        { role: 'user', content: 'save and search' },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'toolu_1', name: 'save_article', input: {} },
            { type: 'tool_use', id: 'toolu_2', name: 'search_web', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: long },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_2',
              is_error: true,
              content: [{ type: 'text', text: 'network unreachable' }],
            },
          ],
        },
      ]),
    );
    expect(reply.stop_reason).toBe('end_turn');
    const summary = text(reply);
    expect(summary).toContain('save_article returned: {"saved":true');
    expect(summary).toContain('search_web failed: network unreachable');
    expect(summary.length).toBeLessThan(300);
  });

  it('says Done when every tool succeeded', () => {
    const reply = demoReply(
      request([
        { role: 'user', content: 'save' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'toolu_9', name: 'save_article', input: {} }],
        },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 'toolu_9', content: '{"saved":true}' }],
        },
      ]),
    );
    expect(text(reply)).toBe('Done. save_article returned: {"saved":true}');
  });

  it('answers as the demo model without tools, echoing the user', () => {
    const reply = demoReply(
      request([{ role: 'user', content: `Tell me about otters. ${'More. '.repeat(100)}` }]),
    );
    expect(reply.stop_reason).toBe('end_turn');
    const answer = text(reply);
    expect(answer).toMatch(/demo model/);
    expect(answer).toMatch(/no API key/);
    expect(answer).toContain('Tell me about otters.');
    expect(answer.length).toBeLessThan(400);
  });

  it('answers JSON matching output_config.format', () => {
    const schema = z.object({ title: z.string(), rating: z.int().min(1).max(5) });
    const reply = demoReply(
      request([{ role: 'user', content: 'rate it' }], {
        output_config: { format: { type: 'json_schema', schema: z.toJSONSchema(schema) } },
      }),
    );
    expect(schema.parse(JSON.parse(text(reply)))).toEqual({ title: 'example title', rating: 5 });
  });

  it('continues when the last message is from the assistant', () => {
    const reply = demoReply(
      request([
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'Hello' },
      ]),
    );
    expect(reply).toEqual({
      kind: 'message',
      content: [{ type: 'text', text: '(continuing)' }],
      stop_reason: 'end_turn',
    });
  });
});
