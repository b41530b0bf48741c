/**
 * Scheduled conversations, on Temporal Schedules: a schedule starts `conversationWorkflow` with the same
 * input at the times it names (cron strings, an interval, or both), on the client's task queue. Reached
 * as `AgentClient.schedules`.
 */
import { randomUUID } from 'node:crypto';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
  type ScheduleOverlapPolicy,
  type ScheduleSpec,
  type ScheduleSpecDescription,
} from '@temporalio/client';
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { CONVERSATION_WORKFLOW, type ConversationInput, type ConversationStatus } from '../api/conversation';
import { MAX_REASON, quote } from '../api/bounds';
import { AGENT_STATUS } from '../api/search-attributes';
import type { conversationWorkflow } from '../workflows/conversation';
import { checkConversationInput } from './input';
import { AgentError, GRPC_STATUS, grpcErrorOf } from './errors';
import {
  SCHEDULE_ID_PATTERN,
  SCHEDULE_OVERLAPS,
  calendarToCron,
  formatInterval,
  parseEvery,
  type ScheduleOverlap,
} from './schedule-spec';

/** The id of the schedule that started a workflow: a search attribute the server sets on each run. */
const SCHEDULED_BY_ID = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);

/** What {@link ConversationSchedules.create} takes. */
export interface CreateScheduleOptions {
  /**
   * The schedule's id (default `schedule-<uuid>`): letters, digits, `.`, `_`, `-`, up to 200. Each run's
   * conversation id is this id and the time it was due: `daily-digest-2026-12-01T09:00:00Z`.
   */
  scheduleId?: string;
  /**
   * Cron strings (5 fields; 6 with a year, 7 with seconds; `@daily` and the like; a `# comment` after).
   * At least one of `cron` and `every`; given both, the runs are the union of their times.
   */
  cron?: string | string[];
  /** An interval: `90s`, `15m`, `1h`, `1d` (runs on its multiples since the epoch, in UTC). */
  every?: string;
  /** IANA time zone the cron strings are read in (default UTC), e.g. `Europe/Paris`. */
  timezone?: string;
  /**
   * The conversation each run starts, validated as `startConversation` validates it. It needs its first
   * `message` (no one is there to send one), and is `singleTurn` unless it says `singleTurn: false`: a
   * run that stayed open would wait for a message no one sends, up to its idle timeout (a day by
   * default), and with the `skip` overlap policy every run due meanwhile would be skipped.
   */
  input: ConversationInput;
  /** What a run due while the previous one still goes does (default `skip`; see {@link SCHEDULE_OVERLAPS}). */
  overlap?: ScheduleOverlap;
  /** Create it paused (default false). */
  paused?: boolean;
  /** A note shown with the schedule (why it is paused, say); up to 4,000 characters. */
  note?: string;
}

/** What {@link ConversationSchedules.update} changes; what it leaves out stays as it was. */
export interface UpdateScheduleOptions {
  /** New times: given `cron` or `every`, both are replaced (the one left out is cleared). */
  cron?: string | string[];
  every?: string;
  timezone?: string;
  /** A new conversation input, checked as on create. */
  input?: ConversationInput;
  overlap?: ScheduleOverlap;
}

/** One run a schedule started. */
export interface ScheduleRun {
  /**
   * The conversation's workflow id (`<scheduleId>-<time due>`, to the second). Two runs due or triggered
   * in the same second share it (the second starts only once the first has closed): the run id tells them apart.
   */
  workflowId: string;
  runId: string;
  /** When it was due (ISO). */
  scheduledAt: string;
  /** When it started (ISO). */
  startedAt: string;
}

/**
 * Where a run stands: the conversation's status while its workflow runs or after it completed, else
 * how the workflow closed (`failed`, `terminated`, `timed_out`), or `unknown` when it cannot be read
 * (past the namespace's retention, say).
 */
export type ScheduledRunStatus = ConversationStatus | 'failed' | 'terminated' | 'timed_out' | 'unknown';

/** A schedule as `list` shows it. */
export interface ConversationSchedule {
  scheduleId: string;
  /** The cron strings, rendered from the calendars the server compiled them into (`@daily` → `0 0 * * *`). */
  cron: string[];
  /** The intervals (`1h`; `1h/15m` with an offset). */
  every: string[];
  /** The time zone of the cron strings (`UTC` when none was given). */
  timezone: string;
  paused: boolean;
  /** The schedule's note ('' when none). */
  note: string;
  /** The next times it is due (ISO), as many as the server says (up to 10). */
  nextRuns: string[];
  /** The latest runs it started, manual triggers included, oldest first (up to 10). */
  recentRuns: ScheduleRun[];
  /** The latest run, with where it stands; null before the first. */
  lastRun: (ScheduleRun & { status: ScheduledRunStatus }) | null;
}

/** A schedule as `describe` shows it. */
export interface ScheduleDetails extends ConversationSchedule {
  overlap: ScheduleOverlap;
  /** The conversation each run starts. */
  input: ConversationInput;
  taskQueue: string;
  /** Workflow ids of its runs still going. */
  running: string[];
  actionsTaken: number;
  /** Runs not started because the previous one still went (`skip`). */
  skippedOverlap: number;
  /** Runs missed while the server was down past the catch-up window. */
  missedCatchup: number;
  createdAt: string;
  updatedAt: string | null;
}

/** What a trigger did, as far as it could tell in the time it waited. */
export type TriggerResult =
  | { outcome: 'started'; workflowId: string; runId: string }
  /** A run was still going and the overlap policy is `skip`. */
  | { outcome: 'skipped' }
  /** Neither seen yet: buffered behind a running one (`buffer_*`), or not taken yet. */
  | { outcome: 'pending' };

/** How long `trigger` watches for what its trigger did (default). */
const TRIGGER_WAIT_MS = 10_000;
/** Most schedules `list` answers with (default). */
const LIST_LIMIT = 100;

/**
 * Conversation schedules: create, list, describe, pause, unpause, trigger, update, delete. Only
 * schedules that start `conversationWorkflow` are shown or touched: others in the namespace are
 * `not_found` here. Every failure is an {@link AgentError}: `invalid` (a bad cron string, interval,
 * time zone, id or input: nothing is created), `not_found`, `refused` (the id is taken), `unavailable`.
 */
export class ConversationSchedules {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  /** Creates a schedule; answers with it as the server holds it (its next runs included). */
  async create(options: CreateScheduleOptions): Promise<ScheduleDetails> {
    const scheduleId = options.scheduleId ?? `schedule-${randomUUID()}`;
    if (!SCHEDULE_ID_PATTERN.test(scheduleId))
      throw new AgentError(
        'invalid',
        `invalid schedule id ${JSON.stringify(quote(scheduleId))}: letters, digits, '.', '_' and '-', starting with a letter or a digit, up to 200`,
      );
    const spec = scheduleSpec(options);
    const input = scheduledInput(options.input);
    const note = options.note ?? '';
    if (note.length > MAX_REASON)
      throw new AgentError('invalid', `the note is ${note.length} characters; the limit is ${MAX_REASON}`);
    await this.call(scheduleId, () =>
      this.client.schedule.create<typeof conversationWorkflow>({
        scheduleId,
        spec,
        action: {
          type: 'startWorkflow',
          workflowType: CONVERSATION_WORKFLOW,
          taskQueue: this.taskQueue,
          // Temporal appends the time each run was due: `<scheduleId>-2026-12-01T09:00:00Z`.
          workflowId: scheduleId,
          args: [input],
        },
        policies: { overlap: overlapPolicy(options.overlap ?? 'skip') },
        state: { paused: options.paused ?? false, note },
      }),
    );
    return this.describe(scheduleId);
  }

  /**
   * Conversation schedules (up to `limit`, 1 to 1000, default 100), each with its latest run's status.
   * The list comes from the visibility store: a schedule just created or deleted may take a moment to
   * appear or go.
   */
  async list(options: { limit?: number } = {}): Promise<ConversationSchedule[]> {
    const limit = options.limit ?? LIST_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000)
      throw new AgentError('invalid', `limit must be a positive integer up to 1000, not ${String(limit)}`);
    const rows = await this.call(undefined, async () => {
      const listed: ConversationSchedule[] = [];
      for await (const summary of this.client.schedule.list({ pageSize: limit })) {
        if (summary.action?.workflowType !== CONVERSATION_WORKFLOW) continue;
        listed.push({
          scheduleId: summary.scheduleId,
          ...specView(summary.spec),
          paused: summary.state.paused,
          note: summary.state.note ?? '',
          nextRuns: summary.info.nextActionTimes.map((t) => t.toISOString()),
          recentRuns: summary.info.recentActions.map(runOf),
          lastRun: null,
        });
        if (listed.length >= limit) break;
      }
      return listed;
    });
    // The latest run's status, a few describes at a time.
    let next = 0;
    const readNext = async (): Promise<void> => {
      for (let row = rows[next++]; row; row = rows[next++]) row.lastRun = await this.lastRun(row.recentRuns);
    };
    await Promise.all(Array.from({ length: Math.min(8, rows.length) }, readNext));
    return rows;
  }

  /** One schedule, in full: its input, overlap policy, counters and running runs. */
  async describe(scheduleId: string): Promise<ScheduleDetails> {
    const d = await this.described(scheduleId);
    const recentRuns = d.info.recentActions.map(runOf);
    const overlap = SCHEDULE_OVERLAPS.find((o) => overlapPolicy(o) === d.policies.overlap) ?? 'skip';
    return {
      scheduleId: d.scheduleId,
      ...specView(d.spec),
      paused: d.state.paused,
      note: d.state.note ?? '',
      nextRuns: d.info.nextActionTimes.map((t) => t.toISOString()),
      recentRuns,
      lastRun: await this.lastRun(recentRuns),
      overlap,
      input: d.action.args?.[0] as ConversationInput,
      taskQueue: d.action.taskQueue,
      running: d.info.runningActions.map((a) => a.workflow.workflowId),
      actionsTaken: d.info.numActionsTaken,
      skippedOverlap: d.info.numActionsSkippedOverlap,
      missedCatchup: d.info.numActionsMissedCatchupWindow,
      createdAt: d.info.createdAt.toISOString(),
      updatedAt: d.info.lastUpdatedAt?.toISOString() ?? null,
    };
  }

  /** Pauses it: no run starts at its times until unpaused (a trigger still starts one). */
  async pause(scheduleId: string, note = 'paused'): Promise<void> {
    const handle = await this.handle(scheduleId);
    await this.call(scheduleId, () => handle.pause(boundedNote(note)));
  }

  async unpause(scheduleId: string, note = 'unpaused'): Promise<void> {
    const handle = await this.handle(scheduleId);
    await this.call(scheduleId, () => handle.unpause(boundedNote(note)));
  }

  /**
   * Starts a run now. The schedule's own overlap policy applies (with `skip`, nothing starts while a
   * run still goes) unless `overlap` says otherwise for this trigger. Answers with what happened,
   * watching for up to `waitMs` (default 10 s): the run it started, `skipped`, or `pending` (buffered
   * behind a running one, or not taken yet). A run due at the same moment may be taken for it.
   */
  async trigger(
    scheduleId: string,
    options: { overlap?: ScheduleOverlap; waitMs?: number } = {},
  ): Promise<TriggerResult> {
    const before = await this.described(scheduleId);
    // By run id: a run triggered in the same second as the previous one gets the same workflow id.
    const seen = new Set(before.info.recentActions.map((a) => a.action.workflow.firstExecutionRunId));
    const handle = this.client.schedule.getHandle(scheduleId);
    // The SDK's own default for a trigger is allow_all: pass the schedule's policy instead.
    const policy = options.overlap ? overlapPolicy(options.overlap) : before.policies.overlap;
    await this.call(scheduleId, () => handle.trigger(policy));
    const deadline = Date.now() + (options.waitMs ?? TRIGGER_WAIT_MS);
    for (;;) {
      const now = await this.described(scheduleId);
      const started = now.info.recentActions.find((a) => !seen.has(a.action.workflow.firstExecutionRunId));
      if (started) {
        const { workflowId, firstExecutionRunId: runId } = started.action.workflow;
        return { outcome: 'started', workflowId, runId };
      }
      if (now.info.numActionsSkippedOverlap > before.info.numActionsSkippedOverlap)
        return { outcome: 'skipped' };
      if (Date.now() >= deadline) return { outcome: 'pending' };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Changes its times, time zone, conversation input or overlap policy. */
  async update(scheduleId: string, changes: UpdateScheduleOptions): Promise<ScheduleDetails> {
    const handle = await this.handle(scheduleId);
    const times = changes.cron !== undefined || changes.every !== undefined;
    const input = changes.input && scheduledInput(changes.input);
    // Checked here, before the update: the SDK may call the function below more than once.
    const spec = times ? scheduleSpec(changes) : undefined;
    await this.call(scheduleId, () =>
      handle.update((previous) => ({
        ...previous,
        spec: {
          ...(spec ?? previous.spec),
          timezone: changes.timezone ?? previous.spec.timezone,
        },
        action: { ...previous.action, ...(input && { args: [input] }) },
        policies: {
          ...previous.policies,
          ...(changes.overlap && { overlap: overlapPolicy(changes.overlap) }),
        },
      })),
    );
    return this.describe(scheduleId);
  }

  /** Deletes it. Runs it started go on (end or cancel them as conversations). */
  async delete(scheduleId: string): Promise<void> {
    const handle = await this.handle(scheduleId);
    await this.call(scheduleId, () => handle.delete());
  }

  /** The schedule that started a conversation, or undefined (not scheduled, or not readable). */
  async scheduledBy(workflowId: string): Promise<string | undefined> {
    try {
      const d = await this.client.workflow.getHandle(workflowId).describe();
      return d.typedSearchAttributes.get(SCHEDULED_BY_ID);
    } catch {
      return undefined;
    }
  }

  /** A conversation schedule's description; `not_found` for a schedule that starts something else. */
  private async described(scheduleId: string): Promise<ScheduleDescription> {
    if (scheduleId.length === 0 || scheduleId.length > 1000)
      throw new AgentError('invalid', 'a schedule id is 1 to 1000 characters');
    const d = await this.call(scheduleId, () => this.client.schedule.getHandle(scheduleId).describe());
    if (d.action.workflowType !== CONVERSATION_WORKFLOW)
      throw new AgentError('not_found', `no conversation schedule with id ${quote(scheduleId)}`);
    return d;
  }

  /** The handle of a conversation schedule that exists (checked first, so a mistake is `not_found`). */
  private async handle(scheduleId: string): Promise<ScheduleHandle> {
    await this.described(scheduleId);
    return this.client.schedule.getHandle(scheduleId);
  }

  /** The latest of `runs`, with where its conversation stands. */
  private async lastRun(runs: ScheduleRun[]): Promise<ConversationSchedule['lastRun']> {
    const run = runs.at(-1);
    if (!run) return null;
    return { ...run, status: await this.runStatus(run.workflowId) };
  }

  private async runStatus(workflowId: string): Promise<ScheduledRunStatus> {
    try {
      const d = await this.client.workflow.getHandle(workflowId).describe();
      switch (d.status.name) {
        case 'RUNNING':
          return (d.typedSearchAttributes.get(AGENT_STATUS) as ConversationStatus | undefined) ?? 'running';
        case 'COMPLETED':
          return 'completed';
        case 'CANCELLED':
          return 'cancelled';
        case 'FAILED':
          return 'failed';
        case 'TERMINATED':
          return 'terminated';
        case 'TIMED_OUT':
          return 'timed_out';
        default:
          return 'unknown';
      }
    } catch {
      return 'unknown';
    }
  }

  /** Runs a schedule call; says what went wrong as an {@link AgentError}. */
  private async call<T>(scheduleId: string | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw scheduleError(err, scheduleId);
    }
  }
}

/** A schedule call's failure as an {@link AgentError} (or itself, when it is not one we can name). */
function scheduleError(err: unknown, scheduleId: string | undefined): unknown {
  if (err instanceof AgentError) return err;
  const id = quote(scheduleId ?? '');
  if (err instanceof ScheduleNotFoundError)
    return new AgentError('not_found', `no conversation schedule with id ${id}`, { cause: err });
  if (err instanceof ScheduleAlreadyRunning)
    return new AgentError(
      'refused',
      `a schedule with id ${id} already exists (delete it, or choose another id)`,
      {
        cause: err,
      },
    );
  // The SDK turns the server's "Invalid schedule spec" (a bad cron string, time zone or interval) into
  // a TypeError with the server's reason; its own checks of the options throw TypeErrors too.
  if (err instanceof TypeError)
    return new AgentError('invalid', `invalid schedule: ${err.message}`, { cause: err });
  const grpc = grpcErrorOf(err);
  if (grpc?.code === GRPC_STATUS.INVALID_ARGUMENT)
    return new AgentError('invalid', `invalid schedule: ${quote(grpc.details, 500)}`, { cause: err });
  if (
    grpc?.code === GRPC_STATUS.UNAVAILABLE ||
    grpc?.code === GRPC_STATUS.DEADLINE_EXCEEDED ||
    grpc?.code === GRPC_STATUS.RESOURCE_EXHAUSTED
  )
    return new AgentError('unavailable', `the Temporal server did not answer: ${quote(grpc.details)}`, {
      cause: err,
    });
  return err;
}

/** The spec of `cron` and `every`; `invalid` for a missing or malformed one (the server checks cron strings). */
function scheduleSpec(options: Pick<CreateScheduleOptions, 'cron' | 'every' | 'timezone'>): ScheduleSpec {
  const cron = options.cron === undefined ? [] : [options.cron].flat();
  if (cron.length === 0 && options.every === undefined)
    throw new AgentError(
      'invalid',
      'a schedule needs its times: a cron string, an interval (every), or both',
    );
  for (const c of cron) {
    if (typeof c !== 'string' || !c.trim() || c.length > 500)
      throw new AgentError('invalid', `invalid cron string ${JSON.stringify(quote(String(c)))}`);
  }
  const every = options.every === undefined ? undefined : parseEvery(options.every);
  if (options.every !== undefined && every === undefined)
    throw new AgentError(
      'invalid',
      `invalid interval ${JSON.stringify(quote(String(options.every)))}: a whole number and s, m, h or d (90s, 15m, 1h, 1d)`,
    );
  return {
    cronExpressions: cron,
    intervals: every === undefined ? [] : [{ every }],
    ...(options.timezone !== undefined && { timezone: options.timezone }),
  };
}

/**
 * The input each run starts with: checked as `startConversation` checks it, with a first message, and
 * single-turn unless it says otherwise (see {@link CreateScheduleOptions.input}).
 */
function scheduledInput(input: ConversationInput): ConversationInput {
  const scheduled = { ...input, singleTurn: input.singleTurn ?? true };
  if (checkConversationInput(scheduled).message === undefined)
    throw new AgentError(
      'invalid',
      'a scheduled conversation needs its first message (input.message): no one is there to send it',
    );
  return scheduled;
}

function boundedNote(note: string): string {
  if (note.length > MAX_REASON)
    throw new AgentError('invalid', `the note is ${note.length} characters; the limit is ${MAX_REASON}`);
  return note;
}

/** Our overlap name as the SDK's policy. */
function overlapPolicy(overlap: ScheduleOverlap): ScheduleOverlapPolicy {
  if (!SCHEDULE_OVERLAPS.includes(overlap))
    throw new AgentError(
      'invalid',
      `unknown overlap policy ${JSON.stringify(quote(String(overlap), 40))}: one of ${SCHEDULE_OVERLAPS.join(', ')}`,
    );
  return overlap.toUpperCase() as ScheduleOverlapPolicy;
}

/** The times of a spec as people write them. */
function specView(
  spec: ScheduleSpecDescription | undefined,
): Pick<ConversationSchedule, 'cron' | 'every' | 'timezone'> {
  return {
    cron: (spec?.calendars ?? []).map(calendarToCron),
    every: (spec?.intervals ?? []).map(formatInterval),
    timezone: spec?.timezone || 'UTC',
  };
}

function runOf(action: ScheduleDescription['info']['recentActions'][number]): ScheduleRun {
  return {
    workflowId: action.action.workflow.workflowId,
    runId: action.action.workflow.firstExecutionRunId,
    scheduledAt: action.scheduledAt.toISOString(),
    startedAt: action.takenAt.toISOString(),
  };
}
