import { defineConfig } from 'vitest/config';

/**
 * Three projects so that each kind of test can run on its own:
 * - unit: pure modules, no sockets, no processes (`*.test.ts`);
 * - integration: real PostgreSQL over TLS and the local Secrets Manager
 *   endpoint (`*.integration.test.ts`), driven also with psql and the AWS
 *   CLI, which test/setup/clients.ts finds or installs first;
 * - infra: CDK synthesis and assertions (`test/infra/**`).
 */
export default defineConfig({
  test: {
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
