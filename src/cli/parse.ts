/**
 * Strict command-line parsing, shared by the `agent` commands (./args) and `agent schedule`
 * (./schedule): node's parseArgs with its errors turned into one-line usage errors of our own, a
 * command's options and positionals checked against its table, and the value parsers both use. Each
 * caller brings its own options table and wording; a mistake is a {@link UsageError} (exit 2).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AGENT_NAME_PATTERN } from '../api/agents';
import { TOOL_NAME_PATTERN } from '../api/tools';
import { hasControl, quoted } from './sanitize';

/** Bad usage: exit code 2, a one-line message. */
export class UsageError extends Error {}

/** An options table as parseArgs takes it; an option marked `multiple` may be given more than once. */
export type OptionsTable = NonNullable<ParseArgsConfig['options']>;

/** What {@link parseOptions} answers: parseArgs' own result for these options (named, for declarations). */
export type ParsedOptions<O extends OptionsTable> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true; tokens: true }>
>;

/** A command's positionals and the options it takes (besides --json and --help). */
export interface CommandSpec {
  readonly positionals: readonly string[];
  readonly options: readonly string[];
}

/**
 * node's parseArgs over `options` (strict, positionals allowed), with its errors as usage errors in
 * one line of our own: an unknown option, a value given to a flag (`--json=yes`), an option without
 * its value, or given twice when it is not `multiple`.
 */
export function parseOptions<O extends OptionsTable>(argv: string[], options: O): ParsedOptions<O> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) throw err;
    throw new UsageError(describeParseError(argv, options));
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option' || options[token.name]?.multiple) continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given twice`);
    seen.add(token.name);
  }
  return parsed;
}

/**
 * Checks what a command was given against its spec: an option it does not take, a missing or an extra
 * positional. `command` is how the messages name it (`start`, `schedule create`); `extraHint` ends the
 * message for an extra positional (`; quote the whole text` where a text is split by the shell).
 */
export function checkCommandShape(
  command: string,
  spec: CommandSpec,
  given: { options: string[]; positionals: string[] },
  extraHint = '',
): void {
  const allowed = new Set<string>(['json', 'help', ...spec.options]);
  for (const option of given.options)
    if (!allowed.has(option)) throw new UsageError(`${command} does not take --${option}`);
  const usage = `usage: agent ${command}${spec.positionals.map((p) => ` <${p}>`).join('')}`;
  const args = given.positionals;
  if (args.length < spec.positionals.length)
    throw new UsageError(`${usage} (missing <${spec.positionals[args.length]}>)`);
  if (args.length > spec.positionals.length)
    throw new UsageError(
      `${usage} (unexpected argument ${quoted(args[spec.positionals.length])}${extraHint})`,
    );
}

/** `{ key: parse(value) }`, or nothing when the option was not given. */
export function optional<K extends string, T>(
  key: K,
  value: string | undefined,
  parse: (value: string) => T,
): { [P in K]?: T } {
  return (value === undefined ? {} : { [key]: parse(value) }) as { [P in K]?: T };
}

/** A text that is not empty and, with `max`, at most `max` characters. */
export function text(value: string, what: string, max?: number): string {
  if (value === '') throw new UsageError(`${what} is empty`);
  if (max !== undefined && value.length > max)
    throw new UsageError(`${what} is ${value.length} characters; the limit is ${max}`);
  return value;
}

/** A value shown in lists, logs and the ops page, or sent to the server as a name: no control characters. */
export function printable(value: string, what: string, max: number): string {
  if (hasControl(value)) throw new UsageError(`${what} must not hold control characters`);
  return text(value, what, max);
}

/** Digits only: `1e3`, `0x10`, ` 5`, `5.0` and `-1` are mistakes, not numbers to guess at. */
export function positiveInt(value: string, name: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n > max)
    throw new UsageError(
      `${name} must be a positive integer${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}, not ${quoted(value, 20)}`,
    );
  return n;
}

/**
 * A positive decimal such as `0.5`, `2` or `12.75`: digits, an optional fraction, nothing else
 * (`1e3`, `.5`, `-1`, `0x10`, ` 5` and `0` are mistakes, not numbers to guess at).
 */
export function positiveNumber(value: string, name: string, max: number): number {
  const n = /^[0-9]{1,16}(\.[0-9]{1,12})?$/.test(value) ? Number(value) : NaN;
  if (!(n > 0) || n > max)
    throw new UsageError(`${name} must be a positive number up to ${max}, not ${quoted(value, 20)}`);
  return n;
}

/** One of `allowed`, given to `option`: nothing else reaches the server for it. */
export function oneOf<T extends string>(value: string, option: string, allowed: readonly T[]): T {
  const known = allowed.find((a) => a === value);
  if (!known)
    throw new UsageError(`${option} must be one of ${allowed.join(', ')}, not ${quoted(value, 40)}`);
  return known;
}

/** An agent's name: the only kind of value `list --agent` puts in the visibility query (no quote can pass). */
export function agentName(value: string): string {
  if (!AGENT_NAME_PATTERN.test(value))
    throw new UsageError(
      `--agent: ${quoted(value, 40)} is not an agent name (letters, digits, _ and -, up to 64)`,
    );
  return value;
}

/** `--tools a,b`: tool names, blanks dropped. */
export function toolNames(value: string): string[] {
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

/** What is wrong with a command line strict parseArgs refused, found again from its tokens. */
function describeParseError(argv: string[], options: OptionsTable): string {
  const { tokens } = parseArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (!spec)
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
