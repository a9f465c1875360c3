/**
 * Sums what the reliability tests counted (their `task.meta`, see
 * report.ts) into `reliability-report.json` at the project root, with
 * exactly the report's keys, and prints a summary table. A key no test
 * counted is 0; a failed test's counts are kept, and the run fails anyway.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { COUNTED_SUITES, LEAK_CHECK, REPORT_KEYS, type ReliabilityReport } from './report.js';

/** Where the report goes (git-ignored). */
export const REPORT_FILE = resolve('reliability-report.json');

export default class ReliabilityReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const report = Object.fromEntries(REPORT_KEYS.map((key) => [key, 0])) as ReliabilityReport;
    const rows: [string, string][] = [];
    let failed = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const meta = test.meta();
        for (const key of REPORT_KEYS) report[key] += meta.reliability?.[key] ?? 0;
        rows.push(...(meta.reliabilitySummary ?? []));
        const state = test.result().state;
        if (state === 'failed') failed++;
        for (const counted of COUNTED_SUITES) {
          const inSuite = !('suite' in counted) || test.fullName.startsWith(`${counted.suite} > `);
          if (
            module.relativeModuleId === counted.file &&
            inSuite &&
            test.name !== LEAK_CHECK &&
            state === 'passed'
          ) {
            report[counted.key]++;
          }
        }
      }
    }
    writeFileSync(REPORT_FILE, `${JSON.stringify(report, null, 2)}\n`);
    const table: [string, string][] = [
      ...REPORT_KEYS.map((key): [string, string] => [key, String(report[key])]),
      ...rows,
      ['tests failed', String(failed)],
    ];
    const width = Math.max(...table.map(([what]) => what.length));
    const lines = [
      '',
      'Reliability summary',
      ...table.map(([what, result]) => `  ${what.padEnd(width)}  ${result}`),
      `  written to ${REPORT_FILE}`,
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
