/**
 * One line of the doctor's report. Its own module so that the check
 * modules (`checks.ts` and the families it runs, `alternating.ts` and
 * `cockroach-release.ts`) share it without importing each other.
 *
 * @module
 */

/** The outcome of one check. */
export const CHECK_STATUSES = ['pass', 'warn', 'fail', 'skip'] as const;

/** One of {@link CHECK_STATUSES}. */
export type CheckStatus = (typeof CHECK_STATUSES)[number];

/** One line of the report. */
export interface CheckResult {
  /** Short stable name, e.g. `tls`. */
  readonly check: string;
  readonly status: CheckStatus;
  /** What was found. Never a secret value. */
  readonly detail: string;
  /** What to do, for `warn` and `fail`. */
  readonly fix?: string;
}
