import { describe, expect, it } from 'vitest';
import { BASE_BACKOFF_MS, backoffMs, MAX_BACKOFF_MS } from '../../../lambda/steps/retry.js';

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
