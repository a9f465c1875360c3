/**
 * `scram-rotator adopt --admin-secret-id <id> --users a,b,c`: brings
 * existing users under rotation (see bin/workflow/adopt.ts): for each, a
 * secret, a new password set through the admin, and the first rotation, so
 * that its old password, possibly once sent in cleartext, stops working.
 *
 * User names are taken exactly as given between the commas: ` app` is not `app`.
 * Exit 0 when every user was adopted (or passed over), 1 if any failed, 64 bad usage.
 */
import { type Command, Option } from 'commander';
import { PgConnector } from '../../lambda/adapters/database.js';
import { configFromEnv } from '../../lambda/config.js';
import { type AdoptResult, adopt } from '../workflow/adopt.js';
import { rotationFunctionArn, UsageError } from '../workflow/common.js';
import { logsClient, preflight, secretsClient } from './aws.js';
import { EXIT } from './exit-codes.js';
import {
  type AwsOptions,
  CHANGE_OPTIONS,
  type ChangeOptions,
  OPTIONS,
  withAwsOptions,
} from './options.js';
import { action, configure, required } from './program.js';
import { progressLine } from './progress.js';

interface AdoptOptions extends AwsOptions, ChangeOptions {
  readonly users?: string;
  readonly allLoginUsers?: boolean;
  readonly exclude?: string;
  readonly secretPrefix?: string;
  readonly ignoreUnreadableSecrets?: boolean;
  readonly json?: boolean;
}

/** Names between commas, exactly as given: a space is part of a name, never trimmed. */
const list = (text: string | undefined) => (text ?? '').split(',').filter((item) => item !== '');

async function run(options: AdoptOptions): Promise<number> {
  const users = list(options.users);
  const all = options.allLoginUsers === true;
  if (users.length > 0 === all) {
    throw new UsageError('give either --users or --all-login-users');
  }
  if (!all && options.exclude !== undefined) {
    throw new UsageError('--exclude goes with --all-login-users');
  }
  const config = configFromEnv(process.env);
  const rotationLambdaArn = rotationFunctionArn(options.rotationLambdaArn, options.stackOutputs);
  const secrets = secretsClient(options);
  const logs = logsClient(options);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const progress = progressLine('adopt', { quiet: options.json === true });
  let results: AdoptResult[];
  try {
    await preflight(secrets, 'adopt');
    results = await adopt(
      {
        adminSecretId: options.adminSecretId,
        users,
        allLoginUsers: all,
        exclude: list(options.exclude),
        secretPrefix: options.secretPrefix,
        rotationLambdaArn,
        schedule: options.schedule,
        rotationTimeoutMs: options.rotationTimeout * 1000,
        dryRun: options.dryRun === true,
        ignoreUnreadableSecrets: options.ignoreUnreadableSecrets === true,
      },
      { secrets, logs, database: new PgConnector(), config, out: progress.say, progress },
    );
  } finally {
    progress.done();
    secrets.destroy();
    logs.destroy();
  }
  const count = (status: AdoptResult['status']) =>
    results.filter((r) => r.status === status).length;
  const failed = count('failed');
  say(
    `adopt: ${count('rotated')} rotated, ${count('stored')} stored without rotation, ${count('skipped')} skipped, ${failed} failed${options.dryRun ? ' (dry run: nothing was changed)' : ''}`,
  );
  if (options.json) say(JSON.stringify({ ok: failed === 0, results }));
  return failed === 0 ? EXIT.ok : EXIT.failed;
}

/** Adds `adopt` to the program. */
export function registerAdopt(program: Command): void {
  const command = configure(
    program.command('adopt'),
    'bring existing users under rotation: for each, a secret, a new password set through the admin, and a first rotation, so the old password stops working',
  );
  command
    .addOption(required(CHANGE_OPTIONS.adminSecretId()))
    .addOption(new Option('--users <a,b,c>', 'the users to adopt, comma-separated'))
    .addOption(
      new Option(
        '--all-login-users',
        'every login role instead (the admin, privileged roles and --exclude are passed over)',
      ),
    )
    .addOption(new Option('--exclude <a,b>', 'with --all-login-users: users to pass over'))
    .addOption(
      new Option(
        '--secret-prefix <prefix>',
        'secret names <prefix><user> (default: beside the admin secret)',
      ),
    )
    .addOption(CHANGE_OPTIONS.rotationLambdaArn())
    .addOption(CHANGE_OPTIONS.stackOutputs())
    .addOption(CHANGE_OPTIONS.schedule())
    .addOption(CHANGE_OPTIONS.rotationTimeout())
    .addOption(
      new Option(
        '--ignore-unreadable-secrets',
        'go on when some secrets cannot be read (by default every user is refused: such a secret may manage it)',
      ),
    )
    .addOption(CHANGE_OPTIONS.dryRun())
    .addOption(OPTIONS.json());
  withAwsOptions(command).action(action(command, run));
}
