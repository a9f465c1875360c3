import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUDGET, checkBudget } from '../../bench/budget.js';
import { MODES } from '../../bench/modes.js';

const PERFORMANCE = readFileSync(new URL('../../docs/performance.md', import.meta.url), 'utf8');

/** The budget table of docs/performance.md: its rows, by first cell. */
function statedBudget(): Map<string, string> {
  const section = PERFORMANCE.slice(PERFORMANCE.indexOf('## The budget\n'));
  const rows = section
    .split('\n')
    .filter((line) => line.startsWith('| '))
    .slice(2);
  return new Map(
    rows.map((row) => {
      const [what = '', budget = ''] = row
        .split('|')
        .slice(1)
        .map((cell) => cell.trim());
      return [what, budget];
    }),
  );
}

const fine = {
  bundle: { bytes: 450_000, floorBytes: 400_000, coldStartMs: 110, floorColdStartMs: 100 },
  modes: [
    { mode: 'single-user', smCalls: 11, dbLogins: 2, failedLogins: 0 },
    { mode: 'admin', smCalls: 12, dbLogins: 2, failedLogins: 0 },
  ],
} as const;

describe('the budget', () => {
  it('is the one docs/performance.md states', () => {
    const table = statedBudget();
    expect(table.get('bundle bytes')).toBe(`at most ${BUDGET.bundleRatio}x the floor's`);
    expect(table.get('cold start (import and first event, median)')).toBe(
      `at most ${BUDGET.coldStartRatio}x the floor's median`,
    );
    for (const [mode, limit] of Object.entries(BUDGET.modes)) {
      expect(table.get(`${mode} rotation`)).toBe(
        `at most ${limit.smCalls} Secrets Manager calls, ${limit.dbLogins} logins, ${limit.failedLogins} failed logins`,
      );
    }
  });

  it('has a line for every mode the bench rotates in', () => {
    expect(Object.keys(BUDGET.modes).sort()).toEqual([...MODES].sort());
  });

  it('passes a run within it', () => {
    expect(checkBudget(fine).every((check) => check.ok)).toBe(true);
  });

  it('fails a run over it, naming the figure that broke it', () => {
    const checks = checkBudget({
      bundle: { ...fine.bundle, bytes: 502_000 },
      modes: [
        { ...fine.modes[0], failedLogins: 1 },
        { ...fine.modes[1], smCalls: 13 },
      ],
    });
    expect(checks.filter((check) => !check.ok)).toEqual([
      {
        name: 'bundle',
        ok: false,
        figure: "502000 bytes, 1.255x the floor's 400000",
        limit: 'at most 1.25x (500000 bytes)',
      },
      {
        name: 'single-user: failed logins',
        ok: false,
        figure: '1 per rotation',
        limit: 'at most 0',
      },
      {
        name: 'admin: Secrets Manager calls',
        ok: false,
        figure: '13 per rotation',
        limit: 'at most 12',
      },
    ]);
  });

  it('fails a cold start over 1.2x the floor median', () => {
    const [, cold] = checkBudget({
      ...fine,
      bundle: { ...fine.bundle, coldStartMs: 121, floorColdStartMs: 100 },
    });
    expect(cold).toMatchObject({ name: 'cold start', ok: false });
    expect(cold?.figure).toBe("median 121 ms, 1.210x the floor's 100 ms");
  });

  it('judges on the exact bytes, not on the rounded ratio it prints', () => {
    const [bundle] = checkBudget({
      ...fine,
      bundle: { ...fine.bundle, bytes: 500_001 },
    });
    expect(bundle).toMatchObject({ ok: false, figure: "500001 bytes, 1.250x the floor's 400000" });
  });
});
