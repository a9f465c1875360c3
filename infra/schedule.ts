/**
 * Rotation schedules as Secrets Manager accepts them, checked at synth time.
 *
 * CloudFormation takes `RotationRules.ScheduleExpression` and `Duration` as
 * plain strings and Secrets Manager only rejects a bad pair at deploy time,
 * after the stack has started changing. The rules below are those of the
 * Secrets Manager User Guide, "Rotation schedules" (rotate-secrets_schedule):
 *
 * - `rate(N hours|days)`: at most every four hours, at least every 999 days;
 *   windows of a rate in days open at midnight UTC.
 * - `cron(Minutes Hours Day-of-month Month Day-of-week Year)`: minutes must
 *   be `0` (windows open on the hour) and year `*`.
 * - The window (`Duration`, e.g. `3h`) is at least one hour and must end
 *   before the next window opens and before the end of the UTC day.
 *
 * @module
 */
import { Duration, Token } from 'aws-cdk-lib';

/** Secrets Manager's limits on schedules and windows. */
export const SCHEDULE_LIMITS = {
  /** "You can rotate a secret as often as every four hours." */
  minIntervalHours: 4,
  /** "The maximum rotation period is 999 days." */
  maxRateDays: 999,
  /** A rate of a day or more is written in days. */
  maxRateHours: 23,
  /** "You can set the rotation window as small as one hour." */
  minWindowHours: 1,
  /** A window never runs into the next UTC day. */
  maxWindowHours: 24,
} as const;

/** What a schedule expression means for the rotation window. */
export interface ParsedSchedule {
  /** `rate` or `cron`. */
  readonly kind: 'rate' | 'cron';
  /**
   * UTC hours of a day at which a window opens, ascending, for schedules
   * that start over each day (a cron expression's hours field). A rate is
   * counted from midnight UTC, so its first window opens at 0.
   */
  readonly windowStartHours: readonly number[];
  /**
   * Hours between two windows on the same day, or `undefined` when at most
   * one window opens per day.
   */
  readonly intervalHours: number | undefined;
}

/** A schedule or window that Secrets Manager would refuse. */
export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

const RATE = /^rate\((\d+) (hours?|days?)\)$/;
const CRON = /^cron\((.*)\)$/;
// Characters Secrets Manager lists as cron wildcards, plus names of months and weekdays.
const CRON_FIELD = /^[0-9A-Za-z,\-*?/L#]+$/;

function intervalsOf(hours: readonly number[]): number | undefined {
  let smallest: number | undefined;
  for (let i = 1; i < hours.length; i++) {
    const gap = (hours[i] as number) - (hours[i - 1] as number);
    smallest = smallest === undefined ? gap : Math.min(smallest, gap);
  }
  return smallest;
}

function parseRate(expression: string, match: RegExpMatchArray): ParsedSchedule {
  const value = Number(match[1]);
  const unit = match[2] as string;
  if (unit.startsWith('hour')) {
    if (value < SCHEDULE_LIMITS.minIntervalHours || value > SCHEDULE_LIMITS.maxRateHours) {
      throw new ScheduleError(
        `${expression}: a rate in hours must be from ${SCHEDULE_LIMITS.minIntervalHours} to ` +
          `${SCHEDULE_LIMITS.maxRateHours} (Secrets Manager rotates at most every four hours; ` +
          'write a day or more in days, e.g. rate(1 day))',
      );
    }
    // The User Guide bounds a window of a rate in hours only by the interval.
    return { kind: 'rate', windowStartHours: [0], intervalHours: value };
  }
  if (value < 1 || value > SCHEDULE_LIMITS.maxRateDays) {
    throw new ScheduleError(
      `${expression}: a rate in days must be from 1 to ${SCHEDULE_LIMITS.maxRateDays}`,
    );
  }
  return { kind: 'rate', windowStartHours: [0], intervalHours: undefined };
}

/** Expands a cron hours field (`4`, `*`, `4/12`, `*\/6`, `1-5`, `1-9/4`, lists) to hours. */
function cronHours(expression: string, field: string): number[] {
  const hours = new Set<number>();
  const bad = () =>
    new ScheduleError(
      `${expression}: cannot read the hours field "${field}"; use hours 0-23 with , - * /`,
    );
  for (const part of field.split(',')) {
    const [range, stepText, extra] = part.split('/');
    if (range === undefined || extra !== undefined) throw bad();
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw bad();
    let from: number;
    let to: number;
    if (range === '*') {
      from = 0;
      to = 23;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-').map(Number);
      if (a === undefined || b === undefined) throw bad();
      from = a;
      to = b;
    } else {
      from = Number(range);
      // "4/12" means from 4 every 12 hours to the end of the day.
      to = stepText === undefined ? from : 23;
    }
    if (
      !Number.isInteger(from) ||
      !Number.isInteger(to) ||
      from < 0 ||
      to > 23 ||
      from > to ||
      range === ''
    ) {
      throw bad();
    }
    for (let hour = from; hour <= to; hour += step) hours.add(hour);
  }
  return [...hours].sort((a, b) => a - b);
}

function parseCron(expression: string, body: string): ParsedSchedule {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new ScheduleError(
      `${expression}: a cron expression has six fields (Minutes Hours Day-of-month Month ` +
        `Day-of-week Year), this one has ${fields.length}`,
    );
  }
  const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (minutes !== '0') {
    throw new ScheduleError(
      `${expression}: the minutes field must be 0, because Secrets Manager rotation windows open on the hour`,
    );
  }
  if (year !== '*') {
    throw new ScheduleError(
      `${expression}: the year field must be *, because Secrets Manager does not support schedules more than a year apart`,
    );
  }
  for (const field of [dayOfMonth, month, dayOfWeek]) {
    if (!CRON_FIELD.test(field)) {
      throw new ScheduleError(`${expression}: "${field}" is not a valid cron field`);
    }
  }
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
    throw new ScheduleError(
      `${expression}: exactly one of Day-of-month and Day-of-week must be ?, e.g. cron(0 2 ? * SUN *) or cron(0 2 1 * ? *)`,
    );
  }
  const starts = cronHours(expression, hours);
  const interval = intervalsOf(starts);
  if (interval !== undefined && interval < SCHEDULE_LIMITS.minIntervalHours) {
    throw new ScheduleError(
      `${expression}: windows open ${interval} hour(s) apart; Secrets Manager rotates at most every ${SCHEDULE_LIMITS.minIntervalHours} hours`,
    );
  }
  return { kind: 'cron', windowStartHours: starts, intervalHours: interval };
}

/**
 * Parses a Secrets Manager schedule expression.
 *
 * @throws {@link ScheduleError} with what to change, for an expression
 *   Secrets Manager would refuse
 *
 * @example
 * ```ts
 * parseSchedule('cron(0 4/12 * * ? *)'); // { kind: 'cron', windowStartHours: [4, 16], intervalHours: 12 }
 * ```
 */
export function parseSchedule(expression: string): ParsedSchedule {
  const trimmed = expression.trim();
  const rate = RATE.exec(trimmed);
  if (rate) return parseRate(trimmed, rate);
  const cron = CRON.exec(trimmed);
  if (cron) return parseCron(trimmed, cron[1] as string);
  throw new ScheduleError(
    `"${expression}" is not a schedule expression: use rate(N hours), rate(N days) or ` +
      'cron(0 H Day-of-month Month Day-of-week *), in UTC',
  );
}

/**
 * Renders a window as Secrets Manager's `Duration` (`3h`), after checking
 * that it is whole hours from 1 to 24.
 *
 * @throws {@link ScheduleError} for anything else
 */
export function renderWindow(window: Duration): string {
  const minutes = window.toMinutes({ integral: false });
  const hours = minutes / 60;
  if (
    !Number.isInteger(hours) ||
    hours < SCHEDULE_LIMITS.minWindowHours ||
    hours > SCHEDULE_LIMITS.maxWindowHours
  ) {
    throw new ScheduleError(
      `rotation window ${window.toHumanString()}: Secrets Manager takes whole hours from ` +
        `${SCHEDULE_LIMITS.minWindowHours} to ${SCHEDULE_LIMITS.maxWindowHours}`,
    );
  }
  return `${hours}h`;
}

/**
 * Reads a window written as Secrets Manager writes it (`3h`), as the app's
 * context value is.
 *
 * @throws {@link ScheduleError} for anything but `<hours>h`
 */
export function parseWindow(text: string): Duration {
  const match = /^(\d+)h$/.exec(text.trim());
  if (!match) {
    throw new ScheduleError(
      `rotation window "${text}": write whole hours as Secrets Manager does, e.g. 3h`,
    );
  }
  return Duration.hours(Number(match[1]));
}

/**
 * Checks that a window fits its schedule: it must close before the next
 * window opens and before the end of the UTC day.
 *
 * @returns the `Duration` string to put in `RotationRules`, or `undefined`
 *   when no window is given (Secrets Manager's default: one hour for
 *   schedules in hours, the rest of the day for schedules in days)
 * @throws {@link ScheduleError} saying which limit the pair breaks
 */
export function checkScheduleAndWindow(
  expression: string,
  window: Duration | undefined,
): string | undefined {
  const duration = window === undefined ? undefined : renderWindow(window);
  // A token (a parameter, an import) is only known at deploy time.
  if (Token.isUnresolved(expression)) return duration;
  const schedule = parseSchedule(expression);
  if (window === undefined) return duration;
  const hours = window.toHours();
  if (schedule.intervalHours !== undefined && hours > schedule.intervalHours) {
    throw new ScheduleError(
      `rotation window ${duration} is longer than the ${schedule.intervalHours} hours between ` +
        `windows of ${expression}; it must close before the next one opens`,
    );
  }
  const lastStart = schedule.windowStartHours[schedule.windowStartHours.length - 1] ?? 0;
  if (lastStart + hours > 24) {
    throw new ScheduleError(
      `rotation window ${duration} opening at ${lastStart}:00 UTC (${expression}) would run into ` +
        `the next UTC day; shorten it to at most ${24 - lastStart}h or open it earlier`,
    );
  }
  return duration;
}
