/**
 * `scram-rotator doctor --secret-id <id>`: a read-only preflight to run
 * before turning rotation on. It reads the secret, logs in the way the
 * function will (verify-full TLS, SCRAM only), and checks the privileges,
 * settings, iteration count and HBA rules rotation relies on, on PostgreSQL
 * and CockroachDB. One line per check; exit 1 when any check fails.
 *
 * It reads the function's settings (ROTATION_MODE, SCRAM_ITERATIONS,
 * CA_BUNDLE_PATH, ...) from the environment, as the function does: set them
 * as deployed to check the same thing.
 */
import type { Command } from 'commander';
import { PgConnector } from '../../lambda/adapters/database.js';
import { SdkSecretStore } from '../../lambda/adapters/secrets-manager.js';
import { configFromEnv, type RotationConfig } from '../../lambda/config.js';
import { type CheckResult, runChecks } from '../doctor/checks.js';
import { limitsOf } from '../workflow/common.js';
import { preflight, secretsClient } from './aws.js';
import { EXIT } from './exit-codes.js';
import { type AwsOptions, OPTIONS, withAwsOptions } from './options.js';
import { action, configure, required } from './program.js';

const MARK = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' } as const;

interface DoctorOptions extends AwsOptions {
  readonly secretId: string;
  readonly json?: boolean;
}

async function doctor(options: DoctorOptions): Promise<number> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  let config: RotationConfig;
  try {
    config = configFromEnv(process.env);
  } catch (error) {
    // The function would fail every step with the same error.
    say(`FAIL  configuration  ${(error as Error).message}`);
    if (options.json) {
      say(
        JSON.stringify({
          ok: false,
          results: [{ check: 'configuration', status: 'fail', detail: (error as Error).message }],
        }),
      );
    }
    return EXIT.failed;
  }
  const client = secretsClient(options);
  let results: CheckResult[];
  try {
    // A missing region or credentials would otherwise surface as a failed
    // DescribeSecret ("check the secret id, the region and DescribeSecret permission").
    await preflight(client, 'doctor');
    results = await runChecks({
      secretId: options.secretId,
      secrets: new SdkSecretStore(client),
      database: new PgConnector(),
      config,
      limits: limitsOf(config),
    });
  } finally {
    client.destroy();
  }
  const width = Math.max(...results.map((r) => r.check.length));
  for (const result of results) {
    say(`${MARK[result.status]}  ${result.check.padEnd(width)}  ${result.detail}`);
    if (result.fix && (result.status === 'fail' || result.status === 'warn')) {
      say(`      ${' '.repeat(width)}  fix: ${result.fix}`);
    }
  }
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  say(
    failed > 0
      ? `${failed} check(s) failed: rotation would fail or be unsafe. Fix them and run doctor again.`
      : `Ready to rotate${warned > 0 ? ` (${warned} warning(s))` : ''}.`,
  );
  if (options.json) say(JSON.stringify({ ok: failed === 0, results }));
  return failed > 0 ? EXIT.failed : EXIT.ok;
}

/** Adds `doctor` to the program. */
export function registerDoctor(program: Command): void {
  const command = configure(
    program.command('doctor'),
    "read-only preflight: log in as the function will and check the privileges, settings and HBA rules rotation needs (the function's settings come from the environment, as deployed)",
  );
  command.addOption(required(OPTIONS.secretId())).addOption(OPTIONS.json());
  withAwsOptions(command).action(action(command, doctor));
}
