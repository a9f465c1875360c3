/**
 * `npm run adopt -- --admin-secret-id <id> --users a,b,c`: brings existing
 * users under rotation (see bin/workflow/adopt.ts): for each, a secret, a
 * new password set through the admin, and the first rotation, so that its
 * old password, possibly once sent in cleartext, stops working.
 *
 * Options:
 *   --admin-secret-id <id>        the admin's secret
 *   --users <a,b,c>               the users to adopt
 *   --all-login-users             every login role instead (the admin, privileged
 *                                 roles and --exclude are passed over)
 *   --exclude <a,b>               with --all-login-users
 *   --secret-prefix <prefix>      secret names <prefix><user>; default beside the admin secret
 *   --rotation-lambda-arn <arn> | --stack-outputs <file>
 *   --schedule <expr>             default rate(30 days)
 *   --ignore-unreadable-secrets   go on when some secrets cannot be read (by default
 *                                 every user is refused: such a secret may manage it)
 *   --dry-run, --json, --region, --endpoint-url
 *
 * User names are taken exactly as given between the commas: ` app` is not `app`.
 * Exit 0 when every user was adopted (or passed over), 1 if any failed, 64 bad usage.
 */
import { PgConnector } from '../lambda/adapters/database.js';
import { configFromEnv } from '../lambda/config.js';
import { type AdoptResult, adopt } from './workflow/adopt.js';
import {
  AWS_OPTIONS,
  EXIT,
  parseOptions,
  rotationFunctionArn,
  runCommand,
  secretsClient,
  UsageError,
} from './workflow/common.js';
import { logsClient } from './workflow/rotation.js';

const USAGE =
  'npm run adopt -- --admin-secret-id <id> (--users <a,b,c> | --all-login-users [--exclude <a,b>]) [--secret-prefix <p>] [--rotation-lambda-arn <arn> | --stack-outputs <file>] [--ignore-unreadable-secrets] [--dry-run] [--json] [--region <r>] [--endpoint-url <url>]';

/** Names between commas, exactly as given: a space is part of a name, never trimmed. */
const list = (text: string | undefined) => (text ?? '').split(',').filter((item) => item !== '');

async function main(): Promise<number> {
  const values = parseOptions(process.argv.slice(2), {
    ...AWS_OPTIONS,
    'admin-secret-id': { type: 'string' },
    users: { type: 'string' },
    'all-login-users': { type: 'boolean', default: false },
    exclude: { type: 'string' },
    'secret-prefix': { type: 'string' },
    'rotation-lambda-arn': { type: 'string' },
    'stack-outputs': { type: 'string' },
    schedule: { type: 'string', default: 'rate(30 days)' },
    'rotation-timeout': { type: 'string', default: '120' },
    'ignore-unreadable-secrets': { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  const adminSecretId = values['admin-secret-id'];
  if (!adminSecretId) throw new UsageError('--admin-secret-id is required');
  const users = list(values.users);
  const all = values['all-login-users'] === true;
  if (users.length > 0 === all) {
    throw new UsageError('give either --users or --all-login-users');
  }
  if (!all && values.exclude !== undefined) {
    throw new UsageError('--exclude goes with --all-login-users');
  }
  const config = configFromEnv(process.env);
  const secrets = secretsClient(values);
  const logs = logsClient(values);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  let results: AdoptResult[];
  try {
    results = await adopt(
      {
        adminSecretId,
        users,
        allLoginUsers: all,
        exclude: list(values.exclude),
        secretPrefix: values['secret-prefix'],
        rotationLambdaArn: rotationFunctionArn(
          values['rotation-lambda-arn'],
          values['stack-outputs'],
        ),
        schedule: values.schedule ?? 'rate(30 days)',
        rotationTimeoutMs: Number(values['rotation-timeout']) * 1000,
        dryRun: values['dry-run'] === true,
        ignoreUnreadableSecrets: values['ignore-unreadable-secrets'] === true,
      },
      { secrets, logs, database: new PgConnector(), config, out: say },
    );
  } finally {
    secrets.destroy();
    logs.destroy();
  }
  const count = (status: AdoptResult['status']) =>
    results.filter((r) => r.status === status).length;
  const failed = count('failed');
  say(
    `adopt: ${count('rotated')} rotated, ${count('stored')} stored without rotation, ${count('skipped')} skipped, ${failed} failed${values['dry-run'] ? ' (dry run: nothing was changed)' : ''}`,
  );
  if (values.json) say(JSON.stringify({ ok: failed === 0, results }));
  return failed === 0 ? EXIT.ok : EXIT.failed;
}

runCommand('adopt', USAGE, main);
