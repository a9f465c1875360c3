import { defineConfig } from 'vitest/config';
import { COUNTED_SUITES } from './test/reliability/report.js';

/**
 * `npm run test:reliability`: the fault, load, restart and endurance suite
 * (test/reliability/), with the suites whose cases the report also counts.
 * Files run one after another: they start servers, exhaust and restart
 * them, and measure. Not part of `npm test`; CI runs its quick mode
 * (RELIABILITY_QUICK=1). The reporter prints a summary and writes
 * reliability-report.json.
 */
/**
 * The files of `npm test` that this run runs too: the security suites whose
 * cases the report counts (report.ts) and the racing deliveries of each
 * step. CI runs them here only (vitest.config.ts, SKIP_RELIABILITY_REPEATS).
 */
export const RELIABILITY_REPEATS = [
  ...COUNTED_SUITES.map((suite) => suite.file),
  'test/lambda/races.integration.test.ts',
] as const;

export default defineConfig({
  test: {
    name: 'reliability',
    include: ['test/reliability/**/*.test.ts', ...RELIABILITY_REPEATS],
    fileParallelism: false,
    testTimeout: 1_800_000,
    hookTimeout: 120_000,
    silent: 'passed-only',
    setupFiles: ['test/setup/quiet-output.ts'],
    reporters: ['default', './test/reliability/reporter.ts'],
  },
});
