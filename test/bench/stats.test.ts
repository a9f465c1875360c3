import { describe, expect, it } from 'vitest';
import { interleaved, stats } from '../../bench/stats.js';

describe('stats', () => {
  it('gives the median and the 10th-90th percentile spread', () => {
    const s = stats([5, 1, 4, 2, 3, 10, 6, 7, 9, 8]);
    expect(s).toEqual({ n: 10, median: 5.5, p10: 1.9, p90: 9.1, min: 1, max: 10 });
    expect(stats([7]).median).toBe(7);
  });

  it('interleaves two candidates, turning the order each round', async () => {
    const order: string[] = [];
    const run = (name: string, value: number) => async () => {
      order.push(name);
      return value;
    };
    const { a, b } = await interleaved(4, run('a', 1), run('b', 2));
    expect(order.join('')).toBe('abbaabba');
    expect(a).toEqual([1, 1, 1, 1]);
    expect(b).toEqual([2, 2, 2, 2]);
  });
});
