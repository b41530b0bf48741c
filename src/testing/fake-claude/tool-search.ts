/**
 * Tool search as the API runs it (`tool_search_tool_regex_20251119` / `tool_search_tool_bm25_20251119`,
 * GA in SDK 1.15: in the non-beta types, no beta header): the request rules around deferred tools
 * (`defer_loading: true`) and tool references, and the search itself, answered by the fake when a scripted
 * reply holds a `server_tool_use` of the tool search tool.
 *
 * The API searches deferred tools only (the others are already loaded) over their names, descriptions,
 * argument names and argument descriptions, and answers with `tool_reference`s to at most
 * {@link MAX_TOOL_SEARCH_RESULTS} of them, which the model may then call. The regex variant takes a
 * Python `re.search` pattern of at most 200 characters (`(?i)` for case-insensitive); BM25 takes words.
 */
import type { CodedProblem } from './compaction';
import type { FakeBlock } from './types';

type Obj = Record<string, unknown>;

export type ToolSearchVariant = 'regex' | 'bm25';

/** The tool search tools' names, by variant: the API accepts no other name for them. */
export const TOOL_SEARCH_NAMES: Record<ToolSearchVariant, string> = {
  regex: 'tool_search_tool_regex',
  bm25: 'tool_search_tool_bm25',
};

/** The `type`s of the tool search tools (dated, and the undated alias the SDK's types also allow). */
const TOOL_SEARCH_TYPES: Record<string, ToolSearchVariant> = {
  tool_search_tool_regex_20251119: 'regex',
  tool_search_tool_regex: 'regex',
  tool_search_tool_bm25_20251119: 'bm25',
  tool_search_tool_bm25: 'bm25',
};

/** Most references one search answers with (the API's docs: "3-5 most relevant tools"). */
export const MAX_TOOL_SEARCH_RESULTS = 5;
/** Longest query a search takes (the API's docs: a regex of at most 200 characters). */
export const MAX_TOOL_SEARCH_QUERY = 200;

/** A tool as the search reads it: the API tool definition. */
export interface SearchableTool {
  name: string;
  description?: string;
  input_schema?: unknown;
}

/** What one search answers: the names it found, or the API's error code for the search. */
export type SearchOutcome =
  { ok: true; names: string[] } | { ok: false; code: 'invalid_tool_input'; message: string };

const isObject = (value: unknown): value is Obj =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The variant of a tool search tool definition, or undefined for any other tool. */
export function toolSearchVariant(tool: unknown): ToolSearchVariant | undefined {
  return isObject(tool) && typeof tool.type === 'string' ? TOOL_SEARCH_TYPES[tool.type] : undefined;
}

const isCustomTool = (tool: Obj): boolean =>
  tool.type === undefined || tool.type === null || tool.type === 'custom';

/** The text a search reads for one tool: name, description, argument names and their descriptions. */
function searchText(tool: SearchableTool): string {
  const parts = [tool.name, tool.description ?? ''];
  const properties = isObject(tool.input_schema) ? tool.input_schema.properties : undefined;
  if (isObject(properties)) {
    for (const [name, schema] of Object.entries(properties)) {
      parts.push(name);
      if (isObject(schema) && typeof schema.description === 'string') parts.push(schema.description);
    }
  }
  return parts.join('\n');
}

/**
 * A Python `re.search` pattern as a JavaScript RegExp. Leading inline flags (`(?i)`, `(?s)`, `(?m)`) are
 * Python's; JavaScript takes them as flags. Undefined when the pattern does not compile.
 */
function compile(pattern: string): RegExp | undefined {
  const inline = /^\(\?([ims]+)\)/.exec(pattern);
  try {
    return new RegExp(inline ? pattern.slice(inline[0].length) : pattern, inline ? inline[1] : '');
  } catch {
    return undefined;
  }
}

/** The tools whose name, description or arguments match `pattern`, in the order they were defined. */
export function regexSearch(pattern: string, tools: readonly SearchableTool[]): SearchOutcome {
  const regex = compile(pattern);
  if (!regex) return { ok: false, code: 'invalid_tool_input', message: `invalid regex: ${pattern}` };
  const names = tools.filter((tool) => regex.test(searchText(tool))).map((tool) => tool.name);
  return { ok: true, names: names.slice(0, MAX_TOOL_SEARCH_RESULTS) };
}

/** Lower-case words: `get_weather` and `getWeather` are `get` and `weather`. */
export function terms(text: string): string[] {
  return (
    text
      .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
      .toLowerCase()
      .match(/[a-z0-9]+/g) ?? []
  );
}

/**
 * Okapi BM25 (k1 = 1.2, b = 0.75) of `query` over the tools' search text: the best-scoring tools first,
 * ties in definition order; tools that share no word with the query are not returned.
 */
export function bm25Search(query: string, tools: readonly SearchableTool[]): SearchOutcome {
  const k1 = 1.2;
  const b = 0.75;
  const docs = tools.map((tool) => terms(searchText(tool)));
  const averageLength = docs.reduce((sum, doc) => sum + doc.length, 0) / Math.max(docs.length, 1);
  const queryTerms = [...new Set(terms(query))];
  const scored = docs.map((doc, index) => {
    let score = 0;
    for (const term of queryTerms) {
      const frequency = doc.filter((t) => t === term).length;
      if (frequency === 0) continue;
      const containing = docs.filter((d) => d.includes(term)).length;
      const idf = Math.log(1 + (docs.length - containing + 0.5) / (containing + 0.5));
      score += (idf * frequency * (k1 + 1)) / (frequency + k1 * (1 - b + (b * doc.length) / averageLength));
    }
    return { index, score };
  });
  const names = scored
    .filter((s) => s.score > 0)
    .sort((x, y) => y.score - x.score || x.index - y.index)
    .slice(0, MAX_TOOL_SEARCH_RESULTS)
    .map((s) => tools[s.index].name);
  return { ok: true, names };
}

/** One search, as the tool search tool runs it on the model's input (`{query}`). */
export function searchTools(
  variant: ToolSearchVariant,
  input: unknown,
  tools: readonly SearchableTool[],
): SearchOutcome {
  const query = isObject(input) ? input.query : undefined;
  if (typeof query !== 'string' || query.trim() === '')
    return { ok: false, code: 'invalid_tool_input', message: 'query: a non-empty string is required' };
  if (query.length > MAX_TOOL_SEARCH_QUERY)
    return {
      ok: false,
      code: 'invalid_tool_input',
      message: `query: at most ${MAX_TOOL_SEARCH_QUERY} characters`,
    };
  return variant === 'regex' ? regexSearch(query, tools) : bm25Search(query, tools);
}

/** The request's tools that are deferred (`defer_loading: true`): what a search looks through. */
export function deferredTools(body: Obj): SearchableTool[] {
  const tools = Array.isArray(body.tools) ? (body.tools as unknown[]) : [];
  return tools.filter(
    (tool): tool is Obj & SearchableTool =>
      isObject(tool) && tool.defer_loading === true && typeof tool.name === 'string',
  );
}

/**
 * The scripted answer's blocks, with the `tool_search_tool_result` the API puts right after each
 * `server_tool_use` of the tool search tool (unless the script wrote one). A search of a tool search
 * tool the request did not offer answers the API's `unavailable` error.
 */
export function withToolSearchResults(content: FakeBlock[], body: Obj): FakeBlock[] {
  const tools = Array.isArray(body.tools) ? (body.tools as unknown[]) : [];
  const offered = new Map<string, ToolSearchVariant>();
  for (const tool of tools) {
    const variant = toolSearchVariant(tool);
    if (variant) offered.set((tool as Obj).name as string, variant);
  }
  const out: FakeBlock[] = [];
  content.forEach((block, i) => {
    out.push(block);
    if (block.type !== 'server_tool_use' || !Object.values(TOOL_SEARCH_NAMES).includes(block.name)) return;
    const next = content[i + 1] as Obj | undefined;
    if (next?.type === 'tool_search_tool_result' && next.tool_use_id === block.id) return;
    const variant = offered.get(block.name);
    const outcome: SearchOutcome | { ok: false; code: 'unavailable'; message: string } = variant
      ? searchTools(
          variant,
          block.rawInput !== undefined ? parseOrUndefined(block.rawInput) : block.input,
          deferredTools(body),
        )
      : { ok: false, code: 'unavailable', message: `${block.name} is not among the request's tools` };
    out.push({
      type: 'tool_search_tool_result',
      tool_use_id: block.id!,
      content: outcome.ok
        ? {
            type: 'tool_search_tool_search_result',
            tool_references: outcome.names.map((name) => ({ type: 'tool_reference', tool_name: name })),
          }
        : { type: 'tool_search_tool_result_error', error_code: outcome.code, error_message: outcome.message },
    });
  });
  return out;
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Request rules

/**
 * The request's tool search rules, first problem first:
 *  - `defer_loading` and `input_examples` well typed (`input_examples`: objects holding the schema's
 *    required properties; the API checks examples against the schema, we check what is cheap to check);
 *  - at most one tool search tool, named as its type says;
 *  - not every tool deferred (the API's own wording), and the tool search tool never deferred: it is
 *    what loads the others;
 *  - a deferred tool needs a tool search tool to be loaded by. Strict on purpose: the SDK's types leave
 *    open whether a request may defer tools with no tool search tool (a client-side search answering
 *    `tool_reference`s in a `tool_result`); our worker never sends that, so one that does has a bug;
 *  - every `tool_reference` names a tool of the request (the API's docs: "Tool reference 'x' has no
 *    corresponding tool definition");
 *  - a `tool_search_tool_result` follows the `server_tool_use` it answers, in the same message;
 *  - a `tool_use` of a deferred tool comes after a `tool_reference` that loaded it. The API's types do not
 *    say what it does otherwise; the model cannot see a deferred tool before a search returns it, so such
 *    a call in a transcript means the client dropped or altered the search result it got back. Refused, so
 *    a worker that does that fails here rather than confusing the model in production.
 */
export function toolSearchProblem(body: Obj): string | CodedProblem | undefined {
  const tools = Array.isArray(body.tools) ? (body.tools as unknown[]) : [];
  const searchTools: number[] = [];
  const deferred = new Set<string>();
  const defined = new Set<string>();
  for (const [i, tool] of tools.entries()) {
    if (!isObject(tool)) continue;
    const path = `tools.${i}`;
    if (typeof tool.name === 'string') defined.add(tool.name);
    if (
      tool.defer_loading !== undefined &&
      tool.defer_loading !== null &&
      typeof tool.defer_loading !== 'boolean'
    )
      return `${path}.defer_loading: Input should be a valid boolean`;
    if (tool.defer_loading === true && typeof tool.name === 'string') deferred.add(tool.name);
    const examples = inputExamplesProblem(tool, path);
    if (examples) return examples;
    const variant = toolSearchVariant(tool);
    if (!variant) continue;
    searchTools.push(i);
    if (tool.name !== TOOL_SEARCH_NAMES[variant])
      return `${path}.name: Input should be '${TOOL_SEARCH_NAMES[variant]}'`;
  }
  if (searchTools.length > 1)
    return `tools: at most one tool search tool may be provided, found ${searchTools.length} (${searchTools.map((i) => `tools.${i}`).join(', ')})`;
  if (tools.length > 0 && deferred.size === tools.length)
    return 'All tools have defer_loading set. At least one tool must be non-deferred.';
  if (searchTools.length === 1 && (tools[searchTools[0]] as Obj).defer_loading === true)
    return `tools.${searchTools[0]}: the tool search tool cannot have defer_loading set: it is what loads the deferred tools`;
  if (deferred.size > 0 && searchTools.length === 0) {
    const first = tools.findIndex((t) => isObject(t) && t.defer_loading === true);
    return (
      `tools.${first}: tool '${(tools[first] as Obj).name as string}' has defer_loading set, but no tool search tool ` +
      '(tool_search_tool_regex_20251119 or tool_search_tool_bm25_20251119) is provided to load it'
    );
  }
  return referencesProblem(body, defined, deferred);
}

/** `input_examples`: a list of objects, each with the schema's required properties. */
function inputExamplesProblem(tool: Obj, path: string): string | undefined {
  const examples = tool.input_examples;
  if (examples === undefined || examples === null) return undefined;
  if (!Array.isArray(examples)) return `${path}.input_examples: Input should be a valid list`;
  const schema = isCustomTool(tool) && isObject(tool.input_schema) ? tool.input_schema : undefined;
  const required = Array.isArray(schema?.required) ? (schema.required as unknown[]) : [];
  for (const [k, example] of examples.entries()) {
    if (!isObject(example)) return `${path}.input_examples.${k}: Input should be a valid dictionary`;
    const missing = required.find((key) => typeof key === 'string' && !(key in example));
    if (missing !== undefined)
      return `${path}.input_examples.${k}: example does not match the tool's input_schema: '${String(missing)}' is a required property`;
  }
  return undefined;
}

/** Tool references resolve, search results follow their search, deferred tools are loaded before use. */
function referencesProblem(body: Obj, defined: Set<string>, deferred: Set<string>): string | undefined {
  const messages = Array.isArray(body.messages) ? (body.messages as Obj[]) : [];
  const loaded = new Set<string>();
  for (const [i, message] of messages.entries()) {
    const content = Array.isArray(message.content) ? (message.content as Obj[]) : [];
    const searches = new Set<string>();
    for (const [j, block] of content.entries()) {
      const path = `messages.${i}.content.${j}`;
      if (block.type === 'server_tool_use' && typeof block.id === 'string') searches.add(block.id);
      const references: unknown[] = [];
      if (block.type === 'tool_search_tool_result') {
        if (!searches.has(block.tool_use_id as string))
          return `${path}: \`tool_search_tool_result\` block with tool_use_id '${String(block.tool_use_id)}' does not follow a \`server_tool_use\` block with that id`;
        const result = block.content;
        if (isObject(result) && Array.isArray(result.tool_references))
          references.push(...result.tool_references);
      } else if (block.type === 'tool_result' && Array.isArray(block.content)) {
        references.push(
          ...(block.content as unknown[]).filter((c) => isObject(c) && c.type === 'tool_reference'),
        );
      }
      for (const reference of references) {
        const name = isObject(reference) ? reference.tool_name : undefined;
        if (typeof name !== 'string') return `${path}: tool_reference.tool_name: Field required`;
        if (!defined.has(name))
          return `${path}: Tool reference '${name}' has no corresponding tool definition`;
        loaded.add(name);
      }
      if (
        block.type === 'tool_use' &&
        deferred.has(block.name as string) &&
        !loaded.has(block.name as string)
      )
        return (
          `${path}: \`tool_use\` of deferred tool '${block.name as string}', which no \`tool_reference\` earlier in ` +
          'the conversation loaded (send the tool search result back unchanged, or do not defer the tool)'
        );
    }
  }
  return undefined;
}

/**
 * The search the demo model makes before calling a deferred tool (it cannot call one it has not found):
 * a `server_tool_use` of the request's tool search tool whose query finds `name`, or none without one.
 */
export function searchBlockFor(body: Obj, name: string): FakeBlock[] {
  const tools = Array.isArray(body.tools) ? (body.tools as unknown[]) : [];
  const variant = tools.map(toolSearchVariant).find((v) => v !== undefined);
  if (!variant) return [];
  // The name on its own line of the search text (tool names hold no regex metacharacters).
  const query = variant === 'regex' ? `(?m)^${name}$` : terms(name).join(' ');
  return [{ type: 'server_tool_use', name: TOOL_SEARCH_NAMES[variant], input: { query } }];
}
