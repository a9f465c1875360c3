/**
 * The function's budget, as docs/performance.md states it (a unit test keeps the
 * two in step), and the checks that hold a bench run to it. A check that
 * fails names the figure that broke it.
 *
 * @module
 */
import type { StrategyName } from '../lambda/strategies/strategy.js';

/** What one successful rotation may cost in a mode. */
export interface ModeBudget {
  /** Secrets Manager requests, at most. */
  readonly smCalls: number;
  /** Successful database logins, at most. */
  readonly dbLogins: number;
  /** Failed database logins, at most (none on the success path). */
  readonly failedLogins: number;
}

/** The budget. */
export const BUDGET = {
  /**
   * Function bundle bytes over the floor bundle's, at most. 1.2x until the
   * proven clone pair, operator-intent checks, roll-back of a failed test
   * in alternating mode, the runtime CA bundle and RDS master secrets
   * (issues 17 and 19) added 9.6 KB of checks no user should go without;
   * cold start, what the budget guards, stayed under the floor's.
   */
  bundleRatio: 1.25,
  /** Median cold start (import and first event) over the floor's median, at most. */
  coldStartRatio: 1.2,
  modes: {
    // createSecret 4 (Describe, Get current, Get pending, Put), setSecret 3
    // (Describe, Get current, Get pending), testSecret 2 (Describe, Get
    // pending), finishSecret 2 (Describe, Update); AWSPREVIOUS only when
    // AWSCURRENT fails to log in. Logins: the change and the test.
    'single-user': { smCalls: 11, dbLogins: 2, failedLogins: 0 },
    // The same, plus GetSecretValue of the admin secret in setSecret; the
    // admin's login replaces the user's.
    admin: { smCalls: 12, dbLogins: 2, failedLogins: 0 },
    // As admin: the admin logs in and changes the user AWSCURRENT does not
    // name (the clone, created by the first rotation, or the user).
    alternating: { smCalls: 12, dbLogins: 2, failedLogins: 0 },
  } satisfies Record<StrategyName, ModeBudget>,
} as const;

/** One budget check. */
export interface Check {
  /** What is checked, e.g. `bundle`, `cold start`, `admin: Secrets Manager calls`. */
  readonly name: string;
  readonly ok: boolean;
  /** The measured figure, in words: `505089 bytes, 1.29x the floor's 392830`. */
  readonly figure: string;
  /** The limit, in words: `at most 1.2x`. */
  readonly limit: string;
}

/** The measurements the budget is about. */
export interface BudgetInput {
  readonly bundle: {
    readonly bytes: number;
    readonly floorBytes: number;
    readonly coldStartMs: number;
    readonly floorColdStartMs: number;
  };
  readonly modes: readonly {
    readonly mode: StrategyName;
    readonly smCalls: number;
    readonly dbLogins: number;
    readonly failedLogins: number;
  }[];
}

/** A ratio for reading, to three decimals (`1.200`, not `1.2` for 1.19969). */
const ratio = (a: number, b: number) => (a / b).toFixed(3);

/** Checks a run against {@link BUDGET}. */
export function checkBudget(input: BudgetInput): Check[] {
  const { bundle } = input;
  const bundleRatio = ratio(bundle.bytes, bundle.floorBytes);
  const coldRatio = ratio(bundle.coldStartMs, bundle.floorColdStartMs);
  // Judged on the exact figures; the rounded ratios are for reading.
  const checks: Check[] = [
    {
      name: 'bundle',
      ok: bundle.bytes <= bundle.floorBytes * BUDGET.bundleRatio,
      figure: `${bundle.bytes} bytes, ${bundleRatio}x the floor's ${bundle.floorBytes}`,
      limit: `at most ${BUDGET.bundleRatio}x (${Math.floor(bundle.floorBytes * BUDGET.bundleRatio)} bytes)`,
    },
    {
      name: 'cold start',
      ok: bundle.coldStartMs <= bundle.floorColdStartMs * BUDGET.coldStartRatio,
      figure: `median ${bundle.coldStartMs} ms, ${coldRatio}x the floor's ${bundle.floorColdStartMs} ms`,
      limit: `at most ${BUDGET.coldStartRatio}x`,
    },
  ];
  for (const mode of input.modes) {
    const budget = BUDGET.modes[mode.mode];
    const each = [
      ['Secrets Manager calls', mode.smCalls, budget.smCalls],
      ['database logins', mode.dbLogins, budget.dbLogins],
      ['failed logins', mode.failedLogins, budget.failedLogins],
    ] as const;
    for (const [what, figure, limit] of each) {
      checks.push({
        name: `${mode.mode}: ${what}`,
        ok: figure <= limit,
        figure: `${figure} per rotation`,
        limit: `at most ${limit}`,
      });
    }
  }
  return checks;
}
