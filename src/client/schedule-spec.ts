/**
 * The pure part of conversation schedules: the names, the patterns and the spec as people write it
 * (cron strings, `every 1h`) and as the server gives it back (structured calendars). No SDK values, so
 * the CLI checks its arguments with it before the Temporal client loads.
 */
import type { CalendarSpecDescription, IntervalSpecDescription, Range } from '@temporalio/client';

/**
 * A schedule id: letters, digits, `.`, `_` and `-`, starting with a letter or a digit, up to 200.
 * Conversation ids derive from it (`<scheduleId>-<time>`), so it stays short and printable.
 */
export const SCHEDULE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/**
 * What a run due while the previous one still goes does (Temporal's overlap policies):
 * - `skip` (default): it does not run.
 * - `buffer_one`: it runs when the current one ends (one at most waits; later ones are dropped).
 * - `buffer_all`: every one runs, one after the other.
 * - `cancel_other`: the current run is cancelled, then it runs.
 * - `terminate_other`: the current run is terminated, and it runs at once.
 * - `allow_all`: it runs alongside.
 */
export const SCHEDULE_OVERLAPS = [
  'skip',
  'buffer_one',
  'buffer_all',
  'cancel_other',
  'terminate_other',
  'allow_all',
] as const;
export type ScheduleOverlap = (typeof SCHEDULE_OVERLAPS)[number];

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * The milliseconds of an interval written `<n><unit>` (`90s`, `15m`, `1h`, `1d`), or undefined when
 * it is not one. Temporal's smallest interval is a second.
 */
export function parseEvery(every: string): number | undefined {
  const match = /^([1-9][0-9]{0,8})([smhd])$/.exec(every);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** An interval in the largest unit that divides it (`3600000` → `1h`, `5400000` → `90m`). */
export function formatEvery(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms > 0 && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/** An interval as the server holds it, with its offset when it has one (`1h/15m`, cron's `@every` phase). */
export function formatInterval(interval: IntervalSpecDescription): string {
  const every = formatEvery(interval.every);
  return interval.offset ? `${every}/${formatEvery(interval.offset)}` : every;
}

const MONTHS = [
  'JANUARY',
  'FEBRUARY',
  'MARCH',
  'APRIL',
  'MAY',
  'JUNE',
  'JULY',
  'AUGUST',
  'SEPTEMBER',
  'OCTOBER',
  'NOVEMBER',
  'DECEMBER',
];
const DAYS = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];

/** One cron field from the ranges the server compiled it into; `*` for the field's whole range. */
function cronField<T>(ranges: Range<T>[], number: (value: T) => number, min?: number, max?: number): string {
  if (ranges.length === 0) return '*';
  return ranges
    .map(({ start, end, step }) => {
      const first = number(start);
      const last = Math.max(first, number(end));
      const every = step > 1 ? `/${step}` : '';
      if (first === min && last === max) return `*${every}`;
      return first === last ? `${first}` : `${first}-${last}${every}`;
    })
    .join(',');
}

/**
 * A calendar as a cron string again. The server compiles every cron string into a structured calendar
 * and never gives the string back, so what a schedule shows is rendered from what the server will
 * actually run: `0 9 * * 1-5` comes back as written, `@daily` as `0 0 * * *`. Five fields, six with a
 * year, seven with seconds (Temporal's cron forms); a comment after `#`.
 */
export function calendarToCron(calendar: CalendarSpecDescription): string {
  const n = (value: number) => value;
  const second = cronField(calendar.second, n, 0, 59);
  const fields = [
    cronField(calendar.minute, n, 0, 59),
    cronField(calendar.hour, n, 0, 23),
    cronField(calendar.dayOfMonth, n, 1, 31),
    cronField(calendar.month, (m) => MONTHS.indexOf(m) + 1, 1, 12),
    cronField(calendar.dayOfWeek, (d) => DAYS.indexOf(d), 0, 6),
  ];
  const year = cronField(calendar.year, n);
  const cron =
    second !== '0'
      ? [second, ...fields, year].join(' ')
      : year !== '*'
        ? [...fields, year].join(' ')
        : fields.join(' ');
  return calendar.comment ? `${cron} # ${calendar.comment}` : cron;
}
