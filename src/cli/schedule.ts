/**
 * `agent schedule <sub-command>`: scheduled conversations (Temporal Schedules). Parsed and checked as
 * strictly as the other commands, before anything connects (a mistake exits 2); the schedule's cron
 * strings and time zone are checked by the server (an `invalid` error, also exit 2).
 */
import type { ConversationInput } from '../api/conversation';
import type { AgentClient, ConversationSchedule, ScheduleDetails } from '../client';
import {
  SCHEDULE_ID_PATTERN,
  SCHEDULE_OVERLAPS,
  parseEvery,
  type ScheduleOverlap,
} from '../client/schedule-spec';
import type { Config } from '../config';
import { MAX_ID_CHARS, MAX_LIST_LIMIT, type Command } from './args';
import { messageText } from './message-text';
import {
  agentName,
  checkCommandShape,
  oneOf,
  optional,
  parseOptions,
  positiveInt,
  printable,
  text,
  toolNames,
  UsageError,
  type CommandSpec,
} from './parse';
import { forTerminal, jsonForTerminal, quoted } from './sanitize';

export const SCHEDULE_USAGE = `schedules (Temporal Schedules that start a conversation; each run is single-turn):
  schedule create <prompt|-> --cron EXPR [--cron EXPR...] | --every 1h  [--timezone TZ] [--agent NAME] [--model M]
                  [--tools a,b] [--system S] [--id ID] [--overlap P] [--paused] [--note N]
  schedule list [--limit N]          schedule show <scheduleId>          schedule delete <scheduleId>
  schedule pause <scheduleId> [--note N]     schedule unpause <scheduleId> [--note N]
  schedule trigger <scheduleId> [--overlap P]   (runs it now; the schedule's overlap policy applies unless given)
  overlap policies: ${SCHEDULE_OVERLAPS.join(', ')} (default skip: no run starts while one still goes)`;

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  cron: { type: 'string', multiple: true },
  every: { type: 'string' },
  timezone: { type: 'string' },
  agent: { type: 'string' },
  model: { type: 'string' },
  tools: { type: 'string' },
  system: { type: 'string' },
  id: { type: 'string' },
  overlap: { type: 'string' },
  paused: { type: 'boolean' },
  note: { type: 'string' },
  limit: { type: 'string' },
} as const;
type OptionName = keyof typeof OPTIONS;

const ACTIONS = {
  create: {
    positionals: ['prompt'],
    options: [
      'cron',
      'every',
      'timezone',
      'agent',
      'model',
      'tools',
      'system',
      'id',
      'overlap',
      'paused',
      'note',
    ],
  },
  list: { positionals: [], options: ['limit'] },
  show: { positionals: ['scheduleId'], options: [] },
  pause: { positionals: ['scheduleId'], options: ['note'] },
  unpause: { positionals: ['scheduleId'], options: ['note'] },
  trigger: { positionals: ['scheduleId'], options: ['overlap'] },
  delete: { positionals: ['scheduleId'], options: [] },
} as const satisfies Record<string, CommandSpec & { options: readonly OptionName[] }>;
type ActionName = keyof typeof ACTIONS;

/** An `agent schedule ...` command line, validated (the prompt already read when it was `-`). */
export type ScheduleCommand = { name: 'schedule'; json: boolean } & (
  | {
      action: 'create';
      prompt: string;
      cron: string[];
      every?: string;
      timezone?: string;
      agent?: string;
      model?: string;
      tools: string[];
      system?: string;
      id?: string;
      overlap?: ScheduleOverlap;
      paused: boolean;
      note?: string;
    }
  | { action: 'list'; limit: number }
  | { action: 'show' | 'delete'; scheduleId: string }
  | { action: 'pause' | 'unpause'; scheduleId: string; note?: string }
  | { action: 'trigger'; scheduleId: string; overlap?: ScheduleOverlap }
);

/**
 * Parses `schedule ...` (the arguments after `schedule`) and reads a `-` prompt from stdin; throws
 * {@link UsageError}. `--help` answers the general help command.
 */
export async function parseScheduleCommand(
  argv: string[],
): Promise<ScheduleCommand | Extract<Command, { name: 'help' }>> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  const json = values.json === true;
  if (values.help) return { name: 'help', json };
  const [action, ...args] = positionals;
  if (action === undefined)
    throw new UsageError(`schedule needs a sub-command: ${Object.keys(ACTIONS).join(', ')}`);
  if (!Object.hasOwn(ACTIONS, action))
    throw new UsageError(
      `unknown schedule sub-command ${quoted(action)} (one of ${Object.keys(ACTIONS).join(', ')})`,
    );
  const name = action as ActionName;
  checkCommandShape(
    `schedule ${name}`,
    ACTIONS[name],
    { options: Object.keys(values), positionals: args },
    name === 'create' ? '; quote the whole prompt' : '',
  );
  const str = (option: OptionName) => values[option] as string | undefined;
  const base = { name: 'schedule' as const, json };

  switch (name) {
    case 'create': {
      const cron = ((values.cron as string[] | undefined) ?? []).map((c) => text(c, '--cron', 500));
      const every = str('every');
      if (cron.length === 0 && every === undefined)
        throw new UsageError('schedule create needs --cron EXPR (one or more) or --every INTERVAL');
      if (every !== undefined && parseEvery(every) === undefined)
        throw new UsageError(
          `--every must be a whole number and s, m, h or d (90s, 15m, 1h, 1d), not ${quoted(every, 20)}`,
        );
      const agent = str('agent') === undefined ? undefined : agentName(str('agent')!);
      // As for `agent start`: the agent's definition sets these, the workflow would ignore them.
      const clash = (['model', 'system', 'tools'] as const).find((o) => str(o) !== undefined);
      if (agent !== undefined && clash)
        throw new UsageError(
          `--${clash} cannot be given with --agent (the agent's definition sets its model, system prompt and tools)`,
        );
      const id = str('id');
      if (id !== undefined && !SCHEDULE_ID_PATTERN.test(id))
        throw new UsageError(
          `--id: ${quoted(id, 40)} is not a schedule id (letters, digits, '.', '_' and '-', starting with a letter or a digit, up to 200)`,
        );
      return {
        ...base,
        action: name,
        // Read last: every other mistake is reported without waiting for stdin.
        prompt: await messageText(text(args[0], 'the prompt'), 'the prompt'),
        cron,
        ...(every !== undefined && { every }),
        ...optional('timezone', str('timezone'), (v) => printable(v, '--timezone', 100)),
        ...(agent !== undefined && { agent }),
        ...optional('model', str('model'), (v) => text(v, '--model', 200)),
        tools: str('tools') === undefined ? [] : toolNames(str('tools')!),
        ...optional('system', str('system'), (v) => text(v, '--system')),
        ...(id !== undefined && { id }),
        ...optional('overlap', str('overlap'), overlap),
        paused: values.paused === true,
        ...optional('note', str('note'), (v) => text(v, '--note', 4000)),
      };
    }
    case 'list':
      return {
        ...base,
        action: name,
        limit: str('limit') === undefined ? 100 : positiveInt(str('limit')!, '--limit', MAX_LIST_LIMIT),
      };
    case 'show':
    case 'delete':
      return { ...base, action: name, scheduleId: scheduleId(args[0]) };
    case 'pause':
    case 'unpause':
      return {
        ...base,
        action: name,
        scheduleId: scheduleId(args[0]),
        ...optional('note', str('note'), (v) => text(v, '--note', 4000)),
      };
    case 'trigger':
      return {
        ...base,
        action: name,
        scheduleId: scheduleId(args[0]),
        ...optional('overlap', str('overlap'), overlap),
      };
  }
}

/** Runs a schedule command; answers with the exit code. */
export async function runSchedule(
  agent: AgentClient,
  config: Config,
  command: ScheduleCommand,
  by: string,
): Promise<number> {
  const out = (json: unknown, text: string) =>
    console.log(command.json ? jsonForTerminal(json, 2) : forTerminal(text));
  const schedules = agent.schedules;
  switch (command.action) {
    case 'create': {
      // Without --agent the model is --model or the configured default; with one, the agent's.
      const model = command.model ?? (command.agent === undefined ? config.AGENT_MODEL : undefined);
      const input: ConversationInput = {
        ...(command.agent !== undefined && { agent: command.agent }),
        ...(model !== undefined && { model }),
        message: command.prompt,
        tools: command.tools,
        ...(command.system !== undefined && { system: command.system }),
        singleTurn: true,
      };
      const created = await schedules.create({
        scheduleId: command.id,
        cron: command.cron,
        every: command.every,
        timezone: command.timezone,
        input,
        overlap: command.overlap,
        paused: command.paused,
        note: command.note,
      });
      out(created, `created schedule ${created.scheduleId}\n${renderTimes(created)}`);
      return 0;
    }
    case 'list': {
      const rows = await schedules.list({ limit: command.limit });
      out(rows, rows.map(renderRow).join('\n') || 'no conversation schedules');
      return 0;
    }
    case 'show': {
      const details = await schedules.describe(command.scheduleId);
      out(details, renderDetails(details));
      return 0;
    }
    case 'pause':
    case 'unpause': {
      const note = command.note ?? `${command.action}d by ${by}`;
      await (command.action === 'pause'
        ? schedules.pause(command.scheduleId, note)
        : schedules.unpause(command.scheduleId, note));
      out(
        { scheduleId: command.scheduleId, paused: command.action === 'pause', note },
        `${command.action}d ${command.scheduleId}`,
      );
      return 0;
    }
    case 'trigger': {
      const result = await schedules.trigger(command.scheduleId, { overlap: command.overlap });
      out(
        { scheduleId: command.scheduleId, ...result },
        result.outcome === 'started'
          ? `started ${result.workflowId}`
          : result.outcome === 'skipped'
            ? 'skipped: a run is still going (overlap policy skip; --overlap allow_all runs it alongside)'
            : 'triggered; no run seen yet (buffered behind the running one, or not taken yet): see schedule show',
      );
      return 0;
    }
    case 'delete': {
      await schedules.delete(command.scheduleId);
      out({ scheduleId: command.scheduleId, deleted: true }, `deleted ${command.scheduleId}`);
      return 0;
    }
  }
}

function renderTimes(s: ConversationSchedule): string {
  const times = [...s.cron.map((c) => `cron ${JSON.stringify(c)}`), ...s.every.map((e) => `every ${e}`)].join(
    ', ',
  );
  return `times: ${times} (${s.timezone})${s.paused ? `\npaused: ${s.note}` : ''}\nnext: ${s.nextRuns[0] ?? 'none'}`;
}

function renderRow(s: ConversationSchedule): string {
  const times = [...s.cron.map((c) => JSON.stringify(c)), ...s.every.map((e) => `every ${e}`)].join(' ');
  const last = s.lastRun ? `  last ${s.lastRun.workflowId} ${s.lastRun.status}` : '';
  return `${s.scheduleId}  ${s.paused ? 'paused ' : 'active '} ${times} ${s.timezone}  next ${s.nextRuns[0] ?? 'none'}${last}`;
}

function renderDetails(s: ScheduleDetails): string {
  const input = s.input as ConversationInput & { agent?: string };
  const prompt = typeof input.message === 'string' ? input.message : JSON.stringify(input.message);
  const lines = [
    `schedule: ${s.scheduleId}  ${s.paused ? 'paused' : 'active'}${s.note ? `  note: ${s.note}` : ''}`,
    renderTimes({ ...s, paused: false }),
    `overlap: ${s.overlap}  task queue: ${s.taskQueue}  runs: ${s.actionsTaken} (skipped ${s.skippedOverlap}, missed ${s.missedCatchup})`,
    `conversation: ${input.agent !== undefined ? `agent ${input.agent}` : `model ${input.model ?? ''}`}${input.tools?.length ? `  tools ${input.tools.join(',')}` : ''}${input.singleTurn === false ? '  multi-turn' : ''}`,
    `prompt: ${prompt}`,
  ];
  for (const run of s.recentRuns) lines.push(`run: ${run.workflowId}  started ${run.startedAt}`);
  if (s.lastRun) lines.push(`last run: ${s.lastRun.workflowId} ${s.lastRun.status}`);
  return lines.join('\n');
}

function scheduleId(value: string): string {
  return text(value, 'the schedule id', MAX_ID_CHARS);
}

function overlap(value: string): ScheduleOverlap {
  return oneOf(value, '--overlap', SCHEDULE_OVERLAPS);
}
