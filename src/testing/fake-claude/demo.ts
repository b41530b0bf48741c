import type {
  ContentBlockParam,
  MessageCreateParams,
  MessageParam,
  Tool,
  ToolResultBlockParam,
} from '@anthropic-ai/sdk/resources/messages';
import type { FakeMessageReply } from './types';
import { searchBlockFor } from './tool-search';

/** How deep `valueFromSchema` follows nested schemas; anything deeper becomes `null`. */
const MAX_DEPTH = 8;
/** Characters kept from a tool result or the user's text when quoting them. */
const QUOTE_CHARS = 200;
/** Words too common to say which tool a request is about. */
const STOP_WORDS = new Set([
  'the',
  'and',
  'for',
  'with',
  'this',
  'that',
  'from',
  'into',
  'you',
  'your',
  'please',
]);

/**
 * Answers any request sensibly, whatever tools it offers: the "demo model" used when no API key is
 * configured.
 *
 * - last message from the assistant (a prefill or continuation): `(continuing)`;
 * - last user message carrying `tool_result` blocks: a text summary of what each tool returned (or that it failed);
 * - custom tools offered and `tool_choice` not `none`: one `tool_use` of the forced tool, else of the tool whose
 *   name/description best matches the user's words (the first tool on no match), with an input built by
 *   {@link valueFromSchema} from its `input_schema`;
 * - otherwise a friendly text saying this is the demo model, echoing the user's last text (or, when
 *   `output_config.format` asks for JSON, a JSON value matching that schema).
 */
export function demoReply(body: MessageCreateParams): FakeMessageReply {
  const messages = body.messages;
  const last = messages[messages.length - 1];
  if (last?.role === 'assistant') return textReply('(continuing)');

  const results = blocksOf(last).filter((b): b is ToolResultBlockParam => b.type === 'tool_result');
  if (results.length > 0) return textReply(summarizeResults(results, messages));

  const userText = lastUserText(messages);
  const tools = (body.tools ?? []).filter(
    (t): t is Tool => 'input_schema' in t && (t.type === undefined || t.type === null || t.type === 'custom'),
  );
  const choice = body.tool_choice;
  if (tools.length > 0 && choice?.type !== 'none') {
    const forced = choice?.type === 'tool' ? tools.find((t) => t.name === choice.name) : undefined;
    const tool = forced ?? pickTool(tools, userText);
    const input = valueFromSchema(tool.input_schema);
    return {
      kind: 'message',
      content: [
        { type: 'text', text: `I'll use ${tool.name} for that.` },
        // A deferred tool is found first (the fake answers the search, see tool-search.ts).
        ...(tool.defer_loading ? searchBlockFor(body as never, tool.name) : []),
        { type: 'tool_use', name: tool.name, input: isRecord(input) ? input : {} },
      ],
      stop_reason: 'tool_use',
    };
  }

  const format = body.output_config?.format;
  if (format?.type === 'json_schema') return textReply(JSON.stringify(valueFromSchema(format.schema)));

  const gist = truncate(userText.trim().replace(/\s+/g, ' '));
  return textReply(
    "Hi! I'm the demo model: no API key is configured, so I can only give canned answers." +
      (gist ? ` You said: "${gist}"` : ''),
  );
}

/**
 * Builds a plausible value that satisfies a JSON Schema: the draft 2020-12 subset that zod's
 * `z.toJSONSchema` emits (`type`, `properties`, `items`/`prefixItems`, `enum`, `const`, `anyOf`/`oneOf`/`allOf`,
 * `$ref` to `#/$defs/...` or `#/definitions/...`, string formats and length bounds, number bounds, `minItems`).
 * `pattern` is not honoured. Every property is filled in, optional ones included, except inside a recursive `$ref`
 * (there only required ones and `minItems` elements); nesting stops at a depth of 8.
 *
 * @param schema The schema; `$ref`s are resolved against it.
 * @param hint The property name the value is for, used to word strings (`title` gives `"example title"`).
 */
export function valueFromSchema(schema: unknown, hint?: string): unknown {
  return build(schema, hint, { root: schema, depth: 0, refs: [], lean: false });
}

/** Where `build` is: `lean` (inside a recursive `$ref`) fills only required properties and `minItems`. */
interface Walk {
  root: unknown;
  depth: number;
  refs: string[];
  lean: boolean;
}

function build(schema: unknown, hint: string | undefined, walk: Walk): unknown {
  if (!isRecord(schema)) return 'example';
  if (walk.depth > MAX_DEPTH) return null;
  const s = schema;
  const inner: Walk = { ...walk, depth: walk.depth + 1 };
  const next = (sub: unknown, subHint = hint): unknown => build(sub, subHint, inner);

  if (typeof s.$ref === 'string') {
    const lean = walk.lean || walk.refs.includes(s.$ref);
    return build(resolveRef(s.$ref, walk.root), hint, { ...inner, lean, refs: [...walk.refs, s.$ref] });
  }
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if ('default' in s) return s.default;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  const options = s.anyOf ?? s.oneOf;
  if (Array.isArray(options) && options.length > 0) {
    return next(options.find((o) => !(isRecord(o) && o.type === 'null')) ?? options[0]);
  }
  if (Array.isArray(s.allOf)) {
    const parts = s.allOf.map((part) => next(part));
    return parts.every(isRecord) ? Object.assign({}, ...parts) : parts[0];
  }

  const type = Array.isArray(s.type) ? (s.type.find((t) => t !== 'null') ?? 'null') : s.type;
  switch (type) {
    case 'object': {
      const props = isRecord(s.properties) ? s.properties : {};
      const required = Array.isArray(s.required) ? s.required : [];
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(props)) {
        if (!walk.lean || required.includes(key)) out[key] = next(sub, key);
      }
      return out;
    }
    case 'array': {
      if (Array.isArray(s.prefixItems)) return s.prefixItems.map((item) => next(item));
      const count = typeof s.minItems === 'number' ? s.minItems : walk.lean ? 0 : 1;
      return Array.from({ length: count }, () => next(s.items, singular(hint)));
    }
    case 'string':
      return stringValue(s, hint);
    case 'number':
    case 'integer':
      return numberValue(s, type === 'integer');
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return 'example';
  }
}

const FORMATS: Record<string, string> = {
  'date-time': '2026-01-01T00:00:00Z',
  date: '2026-01-01',
  time: '12:00:00',
  email: 'demo@example.com',
  uri: 'https://example.com',
  url: 'https://example.com',
  uuid: '00000000-0000-4000-8000-000000000000',
  hostname: 'example.com',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
};

function stringValue(s: Record<string, unknown>, hint: string | undefined): string {
  const formatted = typeof s.format === 'string' ? FORMATS[s.format] : undefined;
  if (formatted !== undefined) return formatted;
  let text = `example ${hint ? hint.replace(/[_-]+/g, ' ') : 'text'}`;
  if (typeof s.minLength === 'number') text = text.padEnd(s.minLength, ' text');
  if (typeof s.maxLength === 'number') text = text.slice(0, s.maxLength);
  return text;
}

function numberValue(s: Record<string, unknown>, integer: boolean): number {
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  const [min, max, xmin, xmax] = [s.minimum, s.maximum, s.exclusiveMinimum, s.exclusiveMaximum].map(num);
  const fits = (v: number): boolean =>
    !(v < (min ?? -Infinity) || v > (max ?? Infinity) || v <= (xmin ?? -Infinity) || v >= (xmax ?? Infinity));
  let value = 42;
  if (min !== undefined && value < min) value = min;
  if (xmin !== undefined && value <= xmin) value = xmin + 1;
  if (max !== undefined && value > max) value = max;
  if (xmax !== undefined && value >= xmax) value = xmax - 1;
  const step = num(s.multipleOf);
  if (step) value = Math.ceil(value / step) * step;
  if (integer) value = Math.ceil(value);
  // A range too tight for those steps, e.g. (0, 1): take its middle.
  if (!fits(value)) value = ((min ?? xmin ?? 0) + (max ?? xmax ?? 0)) / 2;
  return value;
}

function resolveRef(ref: string, root: unknown): unknown {
  const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (ref === '#') return root;
  if (!match || !isRecord(root)) return undefined;
  const defs = root[match[1]];
  return isRecord(defs)
    ? defs[decodeURIComponent(match[2]).replace(/~1/g, '/').replace(/~0/g, '~')]
    : undefined;
}

function pickTool(tools: Tool[], userText: string): Tool {
  const words = new Set(wordsOf(userText));
  const score = (t: Tool): number =>
    2 * wordsOf(t.name.replace(/_/g, ' ')).filter((w) => words.has(w)).length +
    new Set(wordsOf(t.description ?? '').filter((w) => words.has(w))).size;
  let best = tools[0];
  for (const t of tools) if (score(t) > score(best)) best = t;
  return best;
}

function summarizeResults(results: ToolResultBlockParam[], messages: MessageParam[]): string {
  const names = new Map<string, string>();
  for (const m of messages) {
    if (m.role !== 'assistant') continue;
    for (const b of blocksOf(m)) if (b.type === 'tool_use') names.set(b.id, b.name);
  }
  const lines = results.map((r) => {
    const name = names.get(r.tool_use_id) ?? 'the tool';
    const content = truncate(resultText(r.content));
    return r.is_error
      ? `${name} failed: ${content || '(no message)'}`
      : `${name} returned: ${content || '(nothing)'}`;
  });
  const failed = results.some((r) => r.is_error);
  return `${failed ? 'Something went wrong.' : 'Done.'} ${lines.join('\n')}`;
}

function resultText(content: ToolResultBlockParam['content']): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  return content.map((b) => (b.type === 'text' ? b.text : `[${b.type}]`)).join(' ');
}

function lastUserText(messages: MessageParam[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    const text = m.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n');
    if (text) return text;
  }
  return '';
}

function blocksOf(message: MessageParam | undefined): ContentBlockParam[] {
  if (!message || typeof message.content === 'string') return [];
  return message.content;
}

function textReply(text: string): FakeMessageReply {
  return { kind: 'message', content: [{ type: 'text', text }], stop_reason: 'end_turn' };
}

function wordsOf(text: string): string[] {
  return (text.toLowerCase().match(/[a-z0-9]+/g) ?? []).filter((w) => w.length > 2 && !STOP_WORDS.has(w));
}

function truncate(text: string): string {
  return text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text;
}

function singular(hint: string | undefined): string | undefined {
  return hint?.endsWith('s') && hint.length > 3 ? hint.slice(0, -1) : hint;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
