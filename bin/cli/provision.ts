/**
 * `scram-rotator provision --admin-secret-id <id> --username <name>`:
 * creates a database user and its secret in one step (see
 * bin/workflow/provision.ts for the order of the steps and how a failure
 * half-way is undone).
 *
 * The function's settings (PASSWORD_LENGTH, SCRAM_ITERATIONS, CA_BUNDLE_PATH,
 * ALLOW_PRIVILEGED_TARGET, ...) come from the environment, as the function
 * reads them. Exit 0 provisioned, 1 refused or failed (with what is left and
 * how to finish), 64 bad usage.
 */
import { type Command, Option } from 'commander';
import { PgConnector } from '../../lambda/adapters/database.js';
import { configFromEnv } from '../../lambda/config.js';
import { rotationFunctionArn, UsageError } from '../workflow/common.js';
import { type ProvisionReport, provision } from '../workflow/provision.js';
import { logsClient, preflight, secretsClient } from './aws.js';
import { CliError } from './errors.js';
import { EXIT } from './exit-codes.js';
import {
  type AwsOptions,
  CHANGE_OPTIONS,
  type ChangeOptions,
  nonEmpty,
  OPTIONS,
  withAwsOptions,
} from './options.js';
import { action, configure, required } from './program.js';

interface ProvisionOptions extends AwsOptions, ChangeOptions {
  readonly username: string;
  readonly secretName?: string;
  readonly grant: string[];
  readonly like?: string;
  readonly singleUser?: boolean;
  readonly json?: boolean;
}

async function run(options: ProvisionOptions): Promise<number> {
  const config = configFromEnv(process.env);
  const rotationLambdaArn = rotationFunctionArn(options.rotationLambdaArn, options.stackOutputs);
  const secrets = secretsClient(options);
  const logs = logsClient(options);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  let report: ProvisionReport;
  try {
    await preflight(secrets, 'provision');
    report = await provision(
      {
        adminSecretId: options.adminSecretId,
        username: options.username,
        secretName: options.secretName,
        grants: options.grant,
        like: options.like,
        rotationLambdaArn,
        schedule: options.schedule,
        rotationTimeoutMs: options.rotationTimeout * 1000,
        singleUser: options.singleUser === true,
        dryRun: options.dryRun === true,
      },
      { secrets, logs, database: new PgConnector(), config, out: say },
    );
  } catch (error) {
    if (error instanceof UsageError || error instanceof CliError) throw error;
    const e = error as Error;
    say(`Refused: ${e.message}`);
    say('Nothing was changed.');
    report = { ok: false, username: options.username, rotated: false, error: e.message };
  } finally {
    secrets.destroy();
    logs.destroy();
  }
  if (options.json) say(JSON.stringify(report));
  return report.ok ? EXIT.ok : EXIT.failed;
}

/** Adds `provision` to the program. */
export function registerProvision(program: Command): void {
  const command = configure(
    program.command('provision'),
    'create a database user and its secret in one step, through an admin secret, and turn rotation on (a failure half-way is undone)',
  );
  command
    .addOption(required(CHANGE_OPTIONS.adminSecretId()))
    .addOption(
      required(
        new Option('--username <name>', 'the user to create').argParser(nonEmpty('the user name')),
      ),
    )
    .addOption(
      new Option(
        '--secret-name <name>',
        "the user's secret (default: beside the admin secret, named after the user)",
      ),
    )
    .addOption(
      new Option('--grant <role>', 'a role to grant (repeat the option for more)')
        .argParser((role: string, roles: string[]) => [...roles, role])
        .default([]),
    )
    .addOption(new Option('--like <role>', 'also grant every role this one is a direct member of'))
    .addOption(CHANGE_OPTIONS.rotationLambdaArn())
    .addOption(CHANGE_OPTIONS.stackOutputs())
    .addOption(CHANGE_OPTIONS.schedule())
    .addOption(CHANGE_OPTIONS.rotationTimeout())
    .addOption(
      new Option('--single-user', 'no masterarn in the secret: the user rotates its own password'),
    )
    .addOption(CHANGE_OPTIONS.dryRun())
    .addOption(OPTIONS.json());
  withAwsOptions(command).action(action(command, run));
}
