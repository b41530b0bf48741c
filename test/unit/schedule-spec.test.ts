/**
 * The schedule spec as people write it and as the server gives it back: intervals parsed and printed,
 * and the structured calendars the server compiles cron strings into rendered as cron strings again.
 */
import { describe, expect, it } from '@jest/globals';
import type { CalendarSpecDescription, Range } from '@temporalio/client';
import { calendarToCron, formatEvery, formatInterval, parseEvery } from '../../src/client/schedule-spec';

const one = <T>(start: T, end: T = start, step = 1): Range<T> => ({ start, end, step });

/** A calendar as the server answers for `0 0 * * *` (Temporal 1.32), with overrides. */
function calendar(fields: Partial<CalendarSpecDescription> = {}): CalendarSpecDescription {
  return {
    second: [one(0)],
    minute: [one(0)],
    hour: [one(0)],
    dayOfMonth: [one(1, 31)],
    month: [one('JANUARY', 'DECEMBER')],
    year: [],
    dayOfWeek: [one('SUNDAY', 'SATURDAY')],
    comment: '',
    ...fields,
  };
}

describe('intervals', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseEvery(text)).toBe(ms);
  });

  it.each(['', '0s', '1', 'h', '1 h', '1.5h', '-1h', '1w', '01h', '1hour', '1h ', '1234567890s'])(
    '%j is not an interval',
    (text) => {
      expect(parseEvery(text)).toBeUndefined();
    },
  );

  it('prints an interval in the largest unit that divides it, with its offset', () => {
    expect(formatEvery(3_600_000)).toBe('1h');
    expect(formatEvery(5_400_000)).toBe('90m');
    expect(formatEvery(86_400_000)).toBe('1d');
    expect(formatEvery(1500)).toBe('1500ms');
    expect(formatInterval({ every: 3_600_000, offset: 0 })).toBe('1h');
    expect(formatInterval({ every: 3_600_000, offset: 900_000 })).toBe('1h/15m');
  });
});

describe('calendarToCron', () => {
  it.each<[string, Partial<CalendarSpecDescription>]>([
    ['0 0 * * *', {}],
    ['0 9 * * 1-5', { hour: [one(9)], dayOfWeek: [one('MONDAY', 'FRIDAY')] }],
    ['*/5 * * * *', { minute: [one(0, 59, 5)], hour: [one(0, 23)] }],
    [
      '0,30 8-18/2 1,15 3-4 0,6',
      {
        minute: [one(0), one(30)],
        hour: [one(8, 18, 2)],
        dayOfMonth: [one(1), one(15)],
        month: [one('MARCH', 'APRIL')],
        dayOfWeek: [one('SUNDAY'), one('SATURDAY')],
      },
    ],
    ['0 0 1 1 * 2099', { dayOfMonth: [one(1)], month: [one('JANUARY')], year: [one(2099)] }],
    ['30 0 0 * * * *', { second: [one(30)] }],
    ['0 0 * * * # midnight', { comment: 'midnight' }],
    // "If end < start, then end is interpreted as equal to start."
    ['0 7 * * *', { hour: [one(7, 3)] }],
  ])('%s', (cron, fields) => {
    expect(calendarToCron(calendar(fields))).toBe(cron);
  });
});
