import { Duration, Lazy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import {
  checkScheduleAndWindow,
  parseSchedule,
  parseWindow,
  renderWindow,
  ScheduleError,
} from '../../infra/schedule.js';

describe('parseSchedule', () => {
  it('reads a rate in days as one window a day at midnight', () => {
    expect(parseSchedule('rate(30 days)')).toEqual({
      kind: 'rate',
      windowStartHours: [0],
      intervalHours: undefined,
    });
    expect(parseSchedule('rate(1 day)').kind).toBe('rate');
  });

  it('reads a rate in hours with its interval', () => {
    expect(parseSchedule('rate(4 hours)').intervalHours).toBe(4);
  });

  it('refuses rates more often than every four hours, or of a day or more in hours', () => {
    expect(() => parseSchedule('rate(3 hours)')).toThrow(/from 4 to 23.*at most every four hours/);
    expect(() => parseSchedule('rate(24 hours)')).toThrow(/rate\(1 day\)/);
  });

  it('refuses rates of more than 999 days or of zero', () => {
    expect(() => parseSchedule('rate(1000 days)')).toThrow(/from 1 to 999/);
    expect(() => parseSchedule('rate(0 days)')).toThrow(ScheduleError);
  });

  it('expands the hours of a cron expression, stepped hours included', () => {
    expect(parseSchedule('cron(0 4/12 * * ? *)')).toEqual({
      kind: 'cron',
      windowStartHours: [4, 16],
      intervalHours: 12,
    });
    expect(parseSchedule('cron(0 2 ? * SUN *)').windowStartHours).toEqual([2]);
    expect(parseSchedule('cron(0 1-13/6 * * ? *)').windowStartHours).toEqual([1, 7, 13]);
    expect(parseSchedule('cron(0 0,8,16 L * ? *)').intervalHours).toBe(8);
  });

  it('refuses cron minutes other than 0, because windows open on the hour', () => {
    expect(() => parseSchedule('cron(30 2 ? * SUN *)')).toThrow(/minutes field must be 0/);
  });

  it('refuses a cron year other than *', () => {
    expect(() => parseSchedule('cron(0 2 ? * SUN 2027)')).toThrow(/year field must be \*/);
  });

  it('refuses a cron expression that sets both or neither day field', () => {
    expect(() => parseSchedule('cron(0 2 1 * SUN *)')).toThrow(/exactly one of Day-of-month/);
    expect(() => parseSchedule('cron(0 2 ? * ? *)')).toThrow(/exactly one of Day-of-month/);
  });

  it('refuses cron windows less than four hours apart', () => {
    expect(() => parseSchedule('cron(0 * * * ? *)')).toThrow(/1 hour\(s\) apart/);
    expect(() => parseSchedule('cron(0 1,3 * * ? *)')).toThrow(/2 hour\(s\) apart/);
  });

  it('refuses cron expressions with the wrong number of fields or unreadable hours', () => {
    expect(() => parseSchedule('cron(0 2 * * ?)')).toThrow(/six fields/);
    expect(() => parseSchedule('cron(0 25 * * ? *)')).toThrow(/hours field/);
    expect(() => parseSchedule('cron(0 5-1 * * ? *)')).toThrow(/hours field/);
  });

  it('refuses anything that is neither rate nor cron, saying what to write', () => {
    expect(() => parseSchedule('every 30 days')).toThrow(/rate\(N hours\), rate\(N days\) or cron/);
  });
});

describe('rotation windows', () => {
  it('renders whole hours as Secrets Manager writes them', () => {
    expect(renderWindow(Duration.hours(3))).toBe('3h');
    expect(renderWindow(Duration.minutes(120))).toBe('2h');
  });

  it('refuses windows shorter than an hour, longer than a day or not whole hours', () => {
    expect(() => renderWindow(Duration.minutes(30))).toThrow(/whole hours from 1 to 24/);
    expect(() => renderWindow(Duration.hours(25))).toThrow(/whole hours from 1 to 24/);
    expect(() => renderWindow(Duration.minutes(90))).toThrow(/whole hours/);
  });

  it('reads the 3h form of the app context', () => {
    expect(parseWindow('3h').toHours()).toBe(3);
    expect(() => parseWindow('3 hours')).toThrow(/e\.g\. 3h/);
  });
});

describe('checkScheduleAndWindow', () => {
  it('leaves the window to Secrets Manager when none is given', () => {
    expect(checkScheduleAndWindow('rate(30 days)', undefined)).toBeUndefined();
  });

  it('accepts a window that closes before the next one and before midnight', () => {
    expect(checkScheduleAndWindow('cron(0 4/12 * * ? *)', Duration.hours(8))).toBe('8h');
    expect(checkScheduleAndWindow('rate(30 days)', Duration.hours(24))).toBe('24h');
    expect(checkScheduleAndWindow('rate(6 hours)', Duration.hours(6))).toBe('6h');
  });

  it('refuses a window longer than the hours between windows', () => {
    expect(() => checkScheduleAndWindow('rate(4 hours)', Duration.hours(5))).toThrow(
      /longer than the 4 hours between windows/,
    );
  });

  it('refuses a window that would run into the next UTC day', () => {
    expect(() => checkScheduleAndWindow('cron(0 22 ? * SUN *)', Duration.hours(3))).toThrow(
      /next UTC day; shorten it to at most 2h/,
    );
    expect(() => checkScheduleAndWindow('cron(0 4/12 * * ? *)', Duration.hours(9))).toThrow(
      /longer than the 12 hours|next UTC day/,
    );
  });

  it('leaves an expression only known at deploy time unchecked', () => {
    const token = Lazy.string({ produce: () => 'rate(1 hours)' });
    expect(checkScheduleAndWindow(token, Duration.hours(2))).toBe('2h');
  });
});
