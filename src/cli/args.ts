/**
 * The `agent` command line, parsed and validated before anything connects: a mistake is a usage error
 * (exit 2) whether or not Temporal is up, and only validated values reach the client.
 */
import { CONVERSATION_STATUSES, type Budget, type ConversationStatus } from '../api/conversation';
import {
  agentName,
  checkCommandShape,
  oneOf,
  optional,
  parseOptions,
  positiveInt,
  positiveNumber,
  printable,
  text,
  toolNames,
  UsageError,
  type CommandSpec,
} from './parse';
import { jsonDepth, MAX_JSON_DEPTH } from '../api/bounds';
import { quoted } from './sanitize';

/** A prompt or message given as `-` is read from stdin. */
export const FROM_STDIN = '-';

/** Temporal's default limit on a workflow id (`limit.maxIDLength`); tool-use ids get the same bound. */
export const MAX_ID_CHARS = 1000;
/** The most rows `list` asks for (the visibility store pages them). */
export const MAX_LIST_LIMIT = 1000;
/** The contract's bounds on a budget (BudgetSchema): refused here, before anything connects. */
const MAX_BUDGET_USD = 1e9;
const MAX_BUDGET_TOKENS = 1e15;

export const USAGE = `usage: agent <command> [--json]
  start <prompt|-> [--agent NAME | --model M [--tools a,b] [--system S] [--max-tokens N]] [--single-turn] [--id ID] [--max-turns N]
        [--budget-usd N] [--budget-tokens N] [--output-schema FILE] [--wait]
  send <workflowId> <message|->      show <workflowId>        list [--status S] [--agent NAME] [--limit N]
  watch <workflowId>                 (the live model stream, from the ops server: OPS_URL, OPS_TOKEN)
  pending                            approve <workflowId> <toolUseId> [--input JSON] [--reason R] [--by NAME]
  reject <workflowId> <toolUseId> --reason R [--by NAME]
  resume <workflowId> [--note N] [--by NAME]     end <workflowId> [--reason R] [--by NAME]     cancel <workflowId>
  budget <workflowId> [--usd N] [--tokens N] [--note N] [--by NAME]   (new ceilings; a conversation parked on its budget goes on)
  compact <workflowId> [--instructions TEXT] [--note N] [--by NAME]   (summarize it now; the prompt starts at the summary)
  fork <workflowId> --at N [--message TEXT] [--id ID] [--by NAME]   (a new conversation from its transcript up to message N)
  - as the prompt or message reads it from stdin (at most 256 KiB)
  --agent: an agent the workers serve (defineAgent); it brings its model, system prompt, tools and max tokens
  --budget-usd, --budget-tokens, --usd, --tokens: a ceiling on the conversation's spend, in US dollars and/or tokens
  --output-schema: a JSON Schema file (an object schema); each answer is that JSON, checked; --wait prints it
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
  'budget-usd': { type: 'string' },
  'budget-tokens': { type: 'string' },
  'output-schema': { type: 'string' },
  usd: { type: 'string' },
  tokens: { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  input: { type: 'string' },
  reason: { type: 'string' },
  note: { type: 'string' },
  instructions: { type: 'string' },
  at: { type: 'string' },
  message: { type: 'string' },
  by: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
type OptionName = keyof typeof OPTIONS;

/** Each command's positionals and the options it takes (besides --json and --help). */
const COMMANDS = {
  start: {
    positionals: ['prompt'],
    options: [
      'agent',
      'tools',
      'system',
      'model',
      'id',
      'single-turn',
      'max-turns',
      'max-tokens',
      'budget-usd',
      'budget-tokens',
      'output-schema',
      'wait',
    ],
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
  budget: { positionals: ['workflowId'], options: ['usd', 'tokens', 'note', 'by'] },
  compact: { positionals: ['workflowId'], options: ['instructions', 'note', 'by'] },
  fork: { positionals: ['workflowId'], options: ['at', 'message', 'id', 'by'] },
} as const satisfies Record<string, CommandSpec & { options: readonly OptionName[] }>;
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
      /** A ceiling on its spend (at least one of the two). */
      budget?: Budget;
      /** A JSON Schema file for structured output (read and checked before anything connects). */
      outputSchemaFile?: string;
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
  | ({ name: 'budget'; workflowId: string; note?: string; by?: string } & Budget)
  | { name: 'compact'; workflowId: string; instructions?: string; note?: string; by?: string }
  | { name: 'fork'; workflowId: string; at: number; message?: string; id?: string; by?: string }
);

/** Parses and validates the arguments (without the node and script paths); throws {@link UsageError}. */
export function parseCommand(argv: string[]): Command {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  const json = values.json === true;
  if (values.help) return { name: 'help', json };
  const [name, ...args] = positionals;
  if (name === undefined) throw new UsageError('no command given (agent --help lists them)');
  if (!Object.hasOwn(COMMANDS, name))
    throw new UsageError(`unknown command ${quoted(name)} (agent --help lists them)`);
  const command = name as CommandName;
  checkCommandShape(
    command,
    COMMANDS[command],
    { options: Object.keys(values), positionals: args },
    command === 'start' || command === 'send' ? '; quote the whole text' : '',
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
      const ceilings = budget(str('budget-usd'), str('budget-tokens'), '--budget-');
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
        ...(ceilings && { budget: ceilings }),
        ...optional('outputSchemaFile', str('output-schema'), (v) => text(v, '--output-schema', 4096)),
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
    case 'budget': {
      const ceilings = budget(str('usd'), str('tokens'), '--');
      if (!ceilings) throw new UsageError('budget needs --usd and/or --tokens (the new ceilings)');
      return {
        name: command,
        json,
        workflowId: id(args[0], 'workflowId'),
        ...ceilings,
        ...optional('note', str('note'), (v) => text(v, '--note', 4000)),
        ...optional('by', str('by'), operator),
      };
    }
    case 'end':
      return {
        name: command,
        json,
        workflowId: id(args[0], 'workflowId'),
        ...optional('reason', str('reason'), (v) => text(v, '--reason', 4000)),
        ...optional('by', str('by'), operator),
      };
    case 'compact':
      return {
        name: command,
        json,
        workflowId: id(args[0], 'workflowId'),
        ...optional('instructions', str('instructions'), (v) => text(v, '--instructions', 20_000)),
        ...optional('note', str('note'), (v) => text(v, '--note', 4000)),
        ...optional('by', str('by'), operator),
      };
    case 'fork': {
      const at = str('at');
      if (at === undefined) throw new UsageError('fork needs --at N (the index of the last message to take)');
      return {
        name: command,
        json,
        workflowId: id(args[0], 'workflowId'),
        at: at === '0' ? 0 : positiveInt(at, '--at'),
        ...optional('message', str('message'), (v) => text(v, '--message', 256 * 1024)),
        ...optional('id', str('id'), newId),
        ...optional('by', str('by'), operator),
      };
    }
  }
}

/** `--usd`/`--tokens` (with `prefix` `--`) or `--budget-usd`/`--budget-tokens`; undefined when neither is given. */
function budget(usd: string | undefined, tokens: string | undefined, prefix: string): Budget | undefined {
  if (usd === undefined && tokens === undefined) return undefined;
  return {
    ...optional('usd', usd, (v) => positiveNumber(v, `${prefix}usd`, MAX_BUDGET_USD)),
    ...optional('tokens', tokens, (v) => positiveInt(v, `${prefix}tokens`, MAX_BUDGET_TOKENS)),
  };
}

function id(value: string, what: string): string {
  return text(value, what, MAX_ID_CHARS);
}

/** An id for a new conversation: shown in lists, logs and the ops page, so no control characters. */
function newId(value: string): string {
  return printable(value, '--id', MAX_ID_CHARS);
}

/** Who decides: recorded in the audit trail and shown to other operators. */
function operator(value: string): string {
  if (!value.trim()) throw new UsageError('--by is blank');
  return printable(value, '--by', 200);
}

/** A status the conversation can be in: the only values the visibility query is built from. */
function status(value: string): ConversationStatus {
  return oneOf(value, '--status', CONVERSATION_STATUSES);
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
  // The workflow refuses it too, but past a few thousand levels it cannot even be encoded to send.
  if (jsonDepth(value) > MAX_JSON_DEPTH)
    throw new UsageError(`--input is nested deeper than ${MAX_JSON_DEPTH} levels`);
  return value as Record<string, unknown>;
}
