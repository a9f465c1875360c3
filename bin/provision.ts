/**
 * `npm run provision -- --admin-secret-id <id> --username <name>`: creates a
 * database user and its secret in one step (see bin/workflow/provision.ts
 * for the order of the steps and how a failure half-way is undone).
 *
 * Options:
 *   --admin-secret-id <id>        the admin's secret (AWS database secret JSON)
 *   --username <name>             the user to create
 *   --secret-name <name>          default: beside the admin secret, named after the user
 *   --grant <role>                a role to grant (repeat)
 *   --like <role>                 also grant every role this one is a direct member of
 *   --rotation-lambda-arn <arn>   enable rotation with this function and rotate once
 *   --stack-outputs <file>        or find the function's ARN in `cdk deploy --outputs-file`
 *                                 output (or .local/stack.json)
 *   --schedule <expr>             rotation schedule (default rate(30 days))
 *   --single-user                 no masterarn: the user rotates its own password
 *   --dry-run                     print the statements (verifier redacted); change nothing
 *   --json                        end with one JSON line
 *   --region, --endpoint-url      Secrets Manager (and CloudWatch Logs) endpoint
 *
 * The function's settings (PASSWORD_LENGTH, SCRAM_ITERATIONS, CA_BUNDLE_PATH,
 * ALLOW_PRIVILEGED_TARGET, ...) come from the environment, as the function
 * reads them. Exit 0 provisioned, 1 refused or failed (with what is left and
 * how to finish), 64 bad usage.
 */
import { PgConnector } from '../lambda/adapters/database.js';
import { configFromEnv } from '../lambda/config.js';
import {
  AWS_OPTIONS,
  EXIT,
  parseOptions,
  rotationFunctionArn,
  runCommand,
  secretsClient,
  UsageError,
} from './workflow/common.js';
import { type ProvisionReport, provision } from './workflow/provision.js';
import { logsClient } from './workflow/rotation.js';

const USAGE =
  'npm run provision -- --admin-secret-id <id> --username <name> [--grant <role>]... [--like <role>] [--secret-name <name>] [--rotation-lambda-arn <arn> | --stack-outputs <file>] [--schedule <expr>] [--single-user] [--dry-run] [--json] [--region <r>] [--endpoint-url <url>]';

async function main(): Promise<number> {
  const values = parseOptions(process.argv.slice(2), {
    ...AWS_OPTIONS,
    'admin-secret-id': { type: 'string' },
    username: { type: 'string' },
    'secret-name': { type: 'string' },
    grant: { type: 'string', multiple: true, default: [] },
    like: { type: 'string' },
    'rotation-lambda-arn': { type: 'string' },
    'stack-outputs': { type: 'string' },
    schedule: { type: 'string', default: 'rate(30 days)' },
    'rotation-timeout': { type: 'string', default: '120' },
    'single-user': { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  const adminSecretId = values['admin-secret-id'];
  const username = values.username;
  if (!adminSecretId) throw new UsageError('--admin-secret-id is required');
  if (!username) throw new UsageError('--username is required');
  const timeout = Number(values['rotation-timeout']);
  if (!(timeout > 0)) throw new UsageError('--rotation-timeout takes a number of seconds');
  const config = configFromEnv(process.env);
  const secrets = secretsClient(values);
  const logs = logsClient(values);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  let report: ProvisionReport;
  try {
    report = await provision(
      {
        adminSecretId,
        username,
        secretName: values['secret-name'],
        grants: values.grant ?? [],
        like: values.like,
        rotationLambdaArn: rotationFunctionArn(
          values['rotation-lambda-arn'],
          values['stack-outputs'],
        ),
        schedule: values.schedule ?? 'rate(30 days)',
        rotationTimeoutMs: timeout * 1000,
        singleUser: values['single-user'] === true,
        dryRun: values['dry-run'] === true,
      },
      { secrets, logs, database: new PgConnector(), config, out: say },
    );
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const e = error as Error;
    say(`Refused: ${e.message}`);
    say('Nothing was changed.');
    report = { ok: false, username, rotated: false, error: e.message };
  } finally {
    secrets.destroy();
    logs.destroy();
  }
  if (values.json) say(JSON.stringify(report));
  return report.ok ? EXIT.ok : EXIT.failed;
}

runCommand('provision', USAGE, main);
