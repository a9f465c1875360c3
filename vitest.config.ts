import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { RELIABILITY_REPEATS } from './vitest.reliability.config.js';

/**
 * Three projects so that each kind of test can run on its own:
 * - unit: pure modules, no sockets, no processes (`*.test.ts`);
 * - integration: real PostgreSQL over TLS and the local Secrets Manager
 *   endpoint (`*.integration.test.ts`), driven also with psql and the AWS
 *   CLI, which test/setup/clients.ts finds or installs first;
 * - infra: CDK synthesis and assertions (`test/infra/**`).
 *
 * SKIP_RELIABILITY_REPEATS=1 leaves out the files the reliability run
 * (vitest.reliability.config.ts) runs too; CI sets it and runs that right
 * after, on the same Node.js, so each file still runs once there.
 */
export default defineConfig({
  test: {
    // Vitest's default is one worker fewer than the cores: a single worker
    // on a 2-core CI machine. Most files here wait on other processes
    // (PostgreSQL, the CLIs, cdk, tsc, npm pack), so a second worker uses
    // the core the first leaves idle.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    exclude: [
      '**/node_modules/**',
      ...(process.env.SKIP_RELIABILITY_REPEATS === '1' ? RELIABILITY_REPEATS : []),
    ],
    // The function's JSON logs and metrics are printed only for failed tests,
    // where they help; the leak checks spy on them either way. The setup
    // file routes direct stdout/stderr writes through the console for that.
    silent: 'passed-only',
    setupFiles: ['test/setup/quiet-output.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [
            'test/**/*.integration.test.ts',
            'test/infra/**',
            // npm run test:reliability (vitest.reliability.config.ts)
            'test/reliability/**',
            '**/node_modules/**',
          ],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.integration.test.ts'],
          // psql and the AWS CLI: located (or installed) before any test.
          globalSetup: ['test/setup/clients.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
    ],
  },
});
