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
export default defineConfig({
  test: {
    name: 'reliability',
    include: [
      'test/reliability/**/*.test.ts',
      // The security suites whose cases the report counts (report.ts).
      ...COUNTED_SUITES.map((suite) => suite.file),
      // Racing deliveries of each step.
      'test/lambda/races.integration.test.ts',
    ],
    fileParallelism: false,
    testTimeout: 1_800_000,
    hookTimeout: 120_000,
    silent: 'passed-only',
    setupFiles: ['test/setup/quiet-output.ts'],
    reporters: ['default', './test/reliability/reporter.ts'],
  },
});
