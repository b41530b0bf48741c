/**
 * The `agent` command line, parsed and validated before anything connects: a mistake is a usage error
 * (exit 2) whether or not Temporal is up, and only validated values reach the client.
 */
import { parseArgs } from 'node:util';
import { AGENT_NAME_PATTERN } from '../api/agents';
import { CONVERSATION_STATUSES, type ConversationStatus } from '../api/conversation';
import { TOOL_NAME_PATTERN } from '../api/tools';
import { hasControl, quoted } from './sanitize';

/** Bad usage: exit code 2, a one-line message. */
export class UsageError extends Error {}

/** A prompt or message given as `-` is read from stdin. */
export const FROM_STDIN = '-';

/** Temporal's default limit on a workflow id (`limit.maxIDLength`); tool-use ids get the same bound. */
export const MAX_ID_CHARS = 1000;
/** The most rows `list` asks for (the visibility store pages them). */
export const MAX_LIST_LIMIT = 1000;

export const USAGE = `usage: agent <command> [--json]
  start <prompt|-> [--agent NAME | --model M [--tools a,b] [--system S] [--max-tokens N]] [--single-turn] [--id ID] [--max-turns N] [--wait]
  send <workflowId> <message|->      show <workflowId>        list [--status S] [--agent NAME] [--limit N]
  watch <workflowId>                 (the live model stream, from the ops server: OPS_URL, OPS_TOKEN)
  pending                            approve <workflowId> <toolUseId> [--input JSON] [--reason R] [--by NAME]
  reject <workflowId> <toolUseId> --reason R [--by NAME]
  resume <workflowId> [--note N] [--by NAME]     end <workflowId> [--reason R] [--by NAME]     cancel <workflowId>
  - as the prompt or message reads it from stdin (at most 256 KiB)
  --agent: an agent the workers serve (defineAgent); it brings its model, system prompt, tools and max tokens
statuses: ${CONVERSATION_STATUSES.join(', ')}
exit codes: 0 done, 1 failed, 2 bad usage, 3 refused, 4 not found, 5 Temporal or worker unreachable`;

const OPTIONS = {
  json: { type: 'boolean' },
  tools: { type: 'string' },
  system: { type: 'string' },
  model: { type: 'string' },
  agent: { type: 'string' },
  id: { type: 'string' },
  'single-turn': { type: 'boolean' },
  'max-turns': { type: 'string' },
  'max-tokens': { type: 'string' },
  wait: { type: 'boolean' },
  status: { type: 'string' },
  limit: { type: 'string' },
  input: { type: 'string' },
  reason: { type: 'string' },
  note: { type: 'string' },
  by: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
type OptionName = keyof typeof OPTIONS;

/** Each command's positionals and the options it takes (besides --json and --help). */
const COMMANDS = {
  start: {
    positionals: ['prompt'],
    options: ['agent', 'tools', 'system', 'model', 'id', 'single-turn', 'max-turns', 'max-tokens', 'wait'],
  },
  send: { positionals: ['workflowId', 'message'], options: [] },
  show: { positionals: ['workflowId'], options: [] },
  list: { positionals: [], options: ['status', 'agent', 'limit'] },
  watch: { positionals: ['workflowId'], options: [] },
  pending: { positionals: [], options: [] },
  approve: { positionals: ['workflowId', 'toolUseId'], options: ['input', 'reason', 'by'] },
  reject: { positionals: ['workflowId', 'toolUseId'], options: ['reason', 'by'] },
  resume: { positionals: ['workflowId'], options: ['note', 'by'] },
  end: { positionals: ['workflowId'], options: ['reason', 'by'] },
  cancel: { positionals: ['workflowId'], options: [] },
} as const satisfies Record<string, { positionals: readonly string[]; options: readonly OptionName[] }>;
type CommandName = keyof typeof COMMANDS;

type Decided = { workflowId: string; toolUseId: string; reason?: string; by?: string };

/** A command line, validated. `prompt` and `message` may be {@link FROM_STDIN}. */
export type Command = { json: boolean } & (
  | { name: 'help' }
  | {
      name: 'start';
      prompt: string;
      /** The agent to talk to; without it the conversation is ad hoc (`model`, else the configured default). */
      agent?: string;
      tools: string[];
      system?: string;
      model?: string;
      id?: string;
      singleTurn: boolean;
      maxTurns?: number;
      maxTokens?: number;
      wait: boolean;
    }
  | { name: 'send'; workflowId: string; message: string }
  | { name: 'show' | 'watch' | 'cancel'; workflowId: string }
  | { name: 'list'; status?: ConversationStatus; agent?: string; limit: number }
  | { name: 'pending' }
  | ({ name: 'approve'; input?: Record<string, unknown> } & Decided)
  | ({ name: 'reject' } & Decided & { reason: string })
  | { name: 'resume'; workflowId: string; note?: string; by?: string }
  | { name: 'end'; workflowId: string; reason?: string; by?: string }
);

/** Parses and validates the arguments (without the node and script paths); throws {@link UsageError}. */
export function parseCommand(argv: string[]): Command {
  const { values, positionals } = parseOptions(argv);
  const json = values.json === true;
  if (values.help) return { name: 'help', json };
  const [name, ...args] = positionals;
  if (name === undefined) throw new UsageError('no command given (agent --help lists them)');
  if (!Object.hasOwn(COMMANDS, name))
    throw new UsageError(`unknown command ${quoted(name)} (agent --help lists them)`);
  const command = name as CommandName;
  const spec = COMMANDS[command];
  const allowed = new Set<string>(['json', 'help', ...spec.options]);
  for (const option of Object.keys(values))
    if (!allowed.has(option)) throw new UsageError(`${command} does not take --${option}`);
  const usage = `usage: agent ${command}${spec.positionals.map((p) => ` <${p}>`).join('')}`;
  if (args.length < spec.positionals.length)
    throw new UsageError(`${usage} (missing <${spec.positionals[args.length]}>)`);
  if (args.length > spec.positionals.length)
    throw new UsageError(
      `${usage} (unexpected argument ${quoted(args[spec.positionals.length])}${command === 'start' || command === 'send' ? '; quote the whole text' : ''})`,
    );
  const str = (option: OptionName) => values[option] as string | undefined;

  switch (command) {
    case 'start': {
      // An agent brings its model, prompt, tools and max tokens: the workflow would ignore these
      // beside it, so they are refused rather than silently dropped.
      const clash = (['model', 'system', 'tools', 'max-tokens'] as const).find(
        (o) => values[o] !== undefined,
      );
      if (values.agent !== undefined && clash)
        throw new UsageError(
          `--${clash} cannot be given with --agent (the agent's definition sets its model, system prompt, tools and max tokens)`,
        );
      return {
        name: command,
        json,
        prompt: text(args[0], 'the prompt'),
        ...optional('agent', str('agent'), agentName),
        tools: str('tools') === undefined ? [] : toolNames(str('tools')!),
        ...optional('system', str('system'), (v) => text(v, '--system')),
        ...optional('model', str('model'), (v) => text(v, '--model', 200)),
        ...optional('id', str('id'), newId),
        singleTurn: values['single-turn'] === true,
        ...optional('maxTurns', str('max-turns'), (v) => positiveInt(v, '--max-turns')),
        ...optional('maxTokens', str('max-tokens'), (v) => positiveInt(v, '--max-tokens')),
        wait: values.wait === true,
      };
    }
    case 'send':
      return {
        name: command,
        json,
        workflowId: id(args[0], 'workflowId'),
        message: text(args[1], 'the message'),
      };
    case 'show':
    case 'watch':
    case 'cancel':
      return { name: command, json, workflowId: id(args[0], 'workflowId') };
    case 'list':
      return {
        name: command,
        json,
        ...optional('status', str('status'), status),
        ...optional('agent', str('agent'), agentName),
        limit: str('limit') === undefined ? 50 : positiveInt(str('limit')!, '--limit', MAX_LIST_LIMIT),
      };
    case 'pending':
      return { name: command, json };
    case 'approve':
    case 'reject': {
      const decided = {
        workflowId: id(args[0], 'workflowId'),
        toolUseId: id(args[1], 'toolUseId'),
        ...optional('reason', str('reason'), (v) => text(v, '--reason', 4000)),
        ...optional('by', str('by'), operator),
      };
      if (command === 'approve')
        return { name: command, json, ...decided, ...optional('input', str('input'), jsonObject) };
      if (decided.reason === undefined) throw new UsageError('reject needs --reason (the model is told why)');
      return { name: command, json, ...decided, reason: decided.reason };
    }
    case 'resume':
      return {
        name: command,
        json,
        workflowId: id(args[0], 'workflowId'),
        ...optional('note', str('note'), (v) => text(v, '--note', 4000)),
        ...optional('by', str('by'), operator),
      };
    case 'end':
      return {
        name: command,
        json,
        workflowId: id(args[0], 'workflowId'),
        ...optional('reason', str('reason'), (v) => text(v, '--reason', 4000)),
        ...optional('by', str('by'), operator),
      };
  }
}

/**
 * node's parseArgs, with its errors as usage errors in one line of our own: an unknown option, a value
 * given to a flag (`--json=yes`), an option without its value or given twice.
 */
function parseOptions(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) throw err;
    throw new UsageError(describeParseError(argv));
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given twice`);
    seen.add(token.name);
  }
  return parsed;
}

/** What is wrong with a command line strict parseArgs refused, found again from its tokens. */
function describeParseError(argv: string[]): string {
  const { tokens } = parseArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = (OPTIONS as Record<string, { type: 'string' | 'boolean' } | undefined>)[token.name];
    if (!spec || !Object.hasOwn(OPTIONS, token.name))
      return `unknown option ${quoted(token.rawName)} (agent --help lists them; a text starting with - goes after --)`;
    if (spec.type === 'boolean' && token.value !== undefined) return `${token.rawName} takes no value`;
    if (
      spec.type === 'string' &&
      (token.value === undefined || (!token.inlineValue && isOptionLike(token.value)))
    )
      return `${token.rawName} needs a value (one starting with - is given as ${token.rawName}=-...)`;
  }
  return 'bad arguments (agent --help lists the commands and options)';
}

/** As parseArgs sees it: a value that looks like an option is taken for a missing value. */
function isOptionLike(value: string): boolean {
  return value.length > 1 && value.startsWith('-');
}

function optional<K extends string, T>(
  key: K,
  value: string | undefined,
  parse: (value: string) => T,
): { [P in K]?: T } {
  return (value === undefined ? {} : { [key]: parse(value) }) as { [P in K]?: T };
}

function text(value: string, what: string, max?: number): string {
  if (value === '') throw new UsageError(`${what} is empty`);
  if (max !== undefined && value.length > max)
    throw new UsageError(`${what} is ${value.length} characters; the limit is ${max}`);
  return value;
}

function id(value: string, what: string): string {
  return text(value, what, MAX_ID_CHARS);
}

/** An id for a new conversation: shown in lists, logs and the ops page, so no control characters. */
function newId(value: string): string {
  if (hasControl(value)) throw new UsageError('--id must not hold control characters');
  return id(value, '--id');
}

/** Who decides: recorded in the audit trail and shown to other operators. */
function operator(value: string): string {
  if (!value.trim()) throw new UsageError('--by is blank');
  if (hasControl(value)) throw new UsageError('--by must not hold control characters');
  return text(value, '--by', 200);
}

/** Digits only: `1e3`, `0x10`, ` 5`, `5.0` and `-1` are mistakes, not numbers to guess at. */
function positiveInt(value: string, name: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n > max)
    throw new UsageError(
      `${name} must be a positive integer${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}, not ${quoted(value, 20)}`,
    );
  return n;
}

/** A status the conversation can be in: the only values the visibility query is built from. */
function status(value: string): ConversationStatus {
  const known = CONVERSATION_STATUSES.find((s) => s === value);
  if (!known)
    throw new UsageError(
      `--status must be one of ${CONVERSATION_STATUSES.join(', ')}, not ${quoted(value, 40)}`,
    );
  return known;
}

/** An agent's name: the only kind of value `list --agent` puts in the visibility query (no quote can pass). */
function agentName(value: string): string {
  if (!AGENT_NAME_PATTERN.test(value))
    throw new UsageError(
      `--agent: ${quoted(value, 40)} is not an agent name (letters, digits, _ and -, up to 64)`,
    );
  return value;
}

function toolNames(value: string): string[] {
  const names = value
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const bad = names.find((n) => !TOOL_NAME_PATTERN.test(n));
  if (bad !== undefined)
    throw new UsageError(
      `--tools: ${quoted(bad, 40)} is not a tool name (letters, digits, _ and -, up to 64)`,
    );
  return names;
}

function jsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--input is not valid JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new UsageError('--input must be a JSON object');
  return value as Record<string, unknown>;
}
