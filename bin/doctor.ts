/**
 * `npm run doctor -- --secret-id <id>`: a read-only preflight to run before
 * turning rotation on. It reads the secret, logs in the way the function
 * will (verify-full TLS, SCRAM only), and checks the privileges, settings,
 * iteration count and HBA rules rotation relies on, on PostgreSQL and
 * CockroachDB. One line per check; exit 1 when any check fails.
 *
 * Options:
 *   --secret-id <id>        name or ARN (required)
 *   --region <region>       default: the SDK's (AWS_REGION, profile)
 *   --endpoint-url <url>    Secrets Manager endpoint (the local stack)
 *   --json                  print the results as one JSON line at the end
 *
 * It reads the function's settings (ROTATION_MODE, SCRAM_ITERATIONS,
 * CA_BUNDLE_PATH, ...) from the environment, as the function does: set them
 * as deployed to check the same thing.
 */
import { parseArgs } from 'node:util';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PgConnector } from '../lambda/adapters/database.js';
import { SdkSecretStore } from '../lambda/adapters/secrets-manager.js';
import { configFromEnv, type RotationConfig } from '../lambda/config.js';
import { type CheckResult, runChecks } from './doctor/checks.js';

const EXIT = { ok: 0, failed: 1, usage: 64 } as const;
const MARK = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' } as const;

function usage(text: string): never {
  process.stderr.write(
    `doctor: ${text}\nusage: npm run doctor -- --secret-id <id> [--region <r>] [--endpoint-url <url>] [--json]\n`,
  );
  process.exit(EXIT.usage);
}

async function main(): Promise<number> {
  const values = (() => {
    try {
      return parseArgs({
        options: {
          'secret-id': { type: 'string' },
          region: { type: 'string' },
          'endpoint-url': { type: 'string' },
          json: { type: 'boolean', default: false },
        },
      }).values;
    } catch (error) {
      return usage((error as Error).message);
    }
  })();
  const secretId = values['secret-id'];
  if (!secretId) usage('--secret-id is required');
  let config: RotationConfig;
  try {
    config = configFromEnv(process.env);
  } catch (error) {
    // The function would fail every step with the same error.
    process.stdout.write(`FAIL  configuration  ${(error as Error).message}\n`);
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ ok: false, results: [{ check: 'configuration', status: 'fail', detail: (error as Error).message }] })}\n`,
      );
    }
    return EXIT.failed;
  }
  const client = new SecretsManagerClient({
    ...(values.region ? { region: values.region } : {}),
    ...(values['endpoint-url'] ? { endpoint: values['endpoint-url'] } : {}),
  });
  let results: CheckResult[];
  try {
    // Missing credentials would otherwise surface as a failed DescribeSecret
    // ("check the secret id, the region and DescribeSecret permission").
    try {
      await client.config.credentials();
    } catch (error) {
      if ((error as Error).name !== 'CredentialsProviderError') throw error;
      process.stderr.write(
        'doctor: no AWS credentials: none in the environment, the shared config and credentials files, SSO or an instance role. Set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; against the local stack any values work: AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local npm run doctor -- --endpoint-url <endpoint> ...\n',
      );
      return EXIT.failed;
    }
    results = await runChecks({
      secretId,
      secrets: new SdkSecretStore(client),
      database: new PgConnector(),
      config,
      limits: {
        connectTimeoutMs: config.connectTimeoutMs,
        statementTimeoutMs: config.statementTimeoutMs,
        maxScramIterations: config.maxScramIterations,
      },
    });
  } finally {
    client.destroy();
  }
  const width = Math.max(...results.map((r) => r.check.length));
  for (const result of results) {
    process.stdout.write(
      `${MARK[result.status]}  ${result.check.padEnd(width)}  ${result.detail}\n`,
    );
    if (result.fix && (result.status === 'fail' || result.status === 'warn')) {
      process.stdout.write(`      ${' '.repeat(width)}  fix: ${result.fix}\n`);
    }
  }
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  process.stdout.write(
    failed > 0
      ? `${failed} check(s) failed: rotation would fail or be unsafe. Fix them and run doctor again.\n`
      : `Ready to rotate${warned > 0 ? ` (${warned} warning(s))` : ''}.\n`,
  );
  if (values.json) process.stdout.write(`${JSON.stringify({ ok: failed === 0, results })}\n`);
  return failed > 0 ? EXIT.failed : EXIT.ok;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const e = error as Error;
    process.stderr.write(`doctor: ${e.name}: ${e.message}\n`);
    process.exit(EXIT.failed);
  },
);
