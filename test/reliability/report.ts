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

/** Adds `n` to a key of the report, from the test whose meta this is. */
export function count(meta: TaskMeta, key: ReportKey, n: number): void {
  meta.reliability = { ...meta.reliability, [key]: (meta.reliability?.[key] ?? 0) + n };
}

/** Adds a line to the printed summary. */
export function summarize(meta: TaskMeta, what: string, result: string): void {
  meta.reliabilitySummary = [...(meta.reliabilitySummary ?? []), [what, result]];
}
