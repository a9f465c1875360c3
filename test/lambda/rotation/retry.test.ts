import { afterEach, describe, expect, it, vi } from 'vitest';
import { DatabaseBusyError, ReadOnlyDatabaseError } from '../../../lambda/errors.js';
import type { StepContext } from '../../../lambda/rotation/context.js';
import {
  BASE_BACKOFF_MS,
  backoffMs,
  MAX_BACKOFF_MS,
  retryTransient,
} from '../../../lambda/rotation/retry.js';

describe('backoffMs', () => {
  it('doubles the step with each retry, up to the cap', () => {
    const highest = (retry: number) => backoffMs(retry, () => 1);
    expect([1, 2, 3, 4, 5, 6].map(highest)).toEqual([100, 200, 400, 800, 1_600, 2_000]);
    expect(highest(50)).toBe(MAX_BACKOFF_MS);
  });

  it('waits at least half of the step and spreads the other half at random', () => {
    expect(backoffMs(1, () => 0)).toBe(BASE_BACKOFF_MS / 2);
    expect(backoffMs(3, () => 0.5)).toBe(300);
    const spread = new Set(Array.from({ length: 50 }, () => backoffMs(6)));
    expect(spread.size).toBeGreaterThan(10);
    for (const ms of spread) expect(ms).toBeGreaterThanOrEqual(MAX_BACKOFF_MS / 2);
  });
});

describe('retryTransient', () => {
  const busy = () => new DatabaseBusyError('db.example.com:5432', '53300');
  const contextWith = (transientRetryMs: number) => {
    const warnings: unknown[] = [];
    const ctx = {
      config: { transientRetryMs },
      remainingTimeMs: () => 600_000,
      logger: {
        info: () => undefined,
        debug: () => undefined,
        warn: (m: unknown) => warnings.push(m),
      },
    } as unknown as StepContext;
    return { ctx, warnings };
  };

  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('retries a transient failure until it clears, logging each retry', async () => {
    vi.useFakeTimers();
    const { ctx, warnings } = contextWith(30_000);
    let calls = 0;
    const result = retryTransient(ctx, 'setSecret', async (retries) => {
      calls++;
      if (retries < 3) throw busy();
      return 'done';
    });
    await vi.runAllTimersAsync();
    await expect(result).resolves.toBe('done');
    expect(calls).toBe(4);
    expect(warnings).toHaveLength(3);
  });

  it('gives one budget to a step, shared by a nested retry and the outer one', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const { ctx } = contextWith(5_000);
    const started = Date.now();
    let inner = 0;
    const result = retryTransient(ctx, 'setSecret', async () => {
      await retryTransient(ctx, 'login', async () => {
        inner++;
        throw busy();
      });
    });
    const failed = expect(result).rejects.toBeInstanceOf(DatabaseBusyError);
    await vi.runAllTimersAsync();
    await failed;
    expect(inner).toBeGreaterThan(3);
    // Fake time: retries stopped within TRANSIENT_RETRY_MS of the step's
    // first failure, not that much per nested call.
    expect(Date.now() - started).toBeLessThanOrEqual(5_000);
  });

  it('does not retry what is not transient', async () => {
    const { ctx } = contextWith(30_000);
    let calls = 0;
    await expect(
      retryTransient(ctx, 'setSecret', async () => {
        calls++;
        throw new ReadOnlyDatabaseError('db.example.com:5432');
      }),
    ).rejects.toBeInstanceOf(ReadOnlyDatabaseError);
    expect(calls).toBe(1);
  });
});
