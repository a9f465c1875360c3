/**
 * What the reliability suite counts, and how a test reports it: each test
 * adds its counts (and lines for the printed summary) to its own
 * `task.meta`, and the reporter (reporter.ts) sums them into
 * `reliability-report.json` at the project root.
 *
 * @module
 */
import type { TaskMeta } from 'vitest';

/** The report's keys, exactly. */
export const REPORT_KEYS = [
  'crashPointsFound',
  'crashPointsCovered',
  'hostileInputs',
  'hostileServers',
  'concurrentRotations',
  'concurrentFailures',
  'restartsSurvived',
  'leaks',
  'alternatingCases',
] as const;

/** One of {@link REPORT_KEYS}. */
export type ReportKey = (typeof REPORT_KEYS)[number];

/** The report. */
export type ReliabilityReport = Record<ReportKey, number>;

declare module 'vitest' {
  interface TaskMeta {
    /** Counts this test adds to the reliability report. */
    reliability?: Partial<ReliabilityReport>;
    /** Lines this test adds to the printed summary: [what, result]. */
    reliabilitySummary?: [string, string][];
  }
}

/**
 * The security suites (issue 9: hostile inputs, hostile servers; issue 17:
 * alternating users) the reliability run includes and counts: each passing test case in them is
 * one case, except a suite's own leak check. A `suite` narrows a file to
 * the describe block of that name.
 */
export const COUNTED_SUITES = [
  { key: 'hostileInputs', file: 'test/lambda/confinement.integration.test.ts' },
  { key: 'hostileInputs', file: 'test/lambda/core/confinement.test.ts' },
  { key: 'hostileServers', file: 'test/lambda/hostile-servers.integration.test.ts' },
  {
    key: 'hostileServers',
    file: 'test/lambda/adapters/database.integration.test.ts',
    suite: 'PgConnector against a hostile server',
  },
  // Issue 17: alternating users on PostgreSQL and the CockroachDB double
  // (clone proof, operator intent, roll-back, settings, convergence).
  { key: 'alternatingCases', file: 'test/lambda/alternating.integration.test.ts' },
] as const satisfies readonly { key: ReportKey; file: string; suite?: string }[];

/** The leak check each suite ends with: run, but not a case of its own. */
export const LEAK_CHECK = 'printed no password or verifier in any log line or error message';

/** Adds `n` to a key of the report, from the test whose meta this is. */
export function count(meta: TaskMeta, key: ReportKey, n: number): void {
  meta.reliability = { ...meta.reliability, [key]: (meta.reliability?.[key] ?? 0) + n };
}

/** Adds a line to the printed summary. */
export function summarize(meta: TaskMeta, what: string, result: string): void {
  meta.reliabilitySummary = [...(meta.reliabilitySummary ?? []), [what, result]];
}
