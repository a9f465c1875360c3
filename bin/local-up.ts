/**
 * `npm run local:up`: starts the local stack, creates an application user and
 * its secret, registers the rotation function (in process) with the Secrets
 * Manager endpoint and turns rotation on for the secret (as a deployed secret
 * has it), writes `.local/stack.json`, and stays up until SIGINT/SIGTERM.
 * The plain `aws secretsmanager rotate-secret --secret-id scram-rotator/local/app`
 * against the endpoint then rotates the seeded secret for real.
 *
 * It refuses to start over a stack file whose stack still runs: run a
 * second stack with its own `--stack-file`. Options: `npm run local:up -- --help`.
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import exitHook from 'async-exit-hook';
import { Option } from 'commander';
import { LOCAL_ENGINES, type LocalEngine, startLocalStack } from '../local/stack.js';
import { readStackFile, runningStack } from '../local/stack-file.js';
import { EXIT } from './cli/exit-codes.js';
import { newCommand, parseTool } from './cli/program.js';

const values = parseTool<{ stackFile: string; engine: LocalEngine }>(
  newCommand(
    'local:up',
    'start the local stack (embedded PostgreSQL over verify-full TLS, a local Secrets Manager, the rotation function in process) with a seeded secret, and keep it up until Ctrl-C',
  )
    .addOption(
      new Option(
        '--stack-file <path>',
        'where to describe the stack (endpoints, CA, admin login), for the CLIs and the AWS CLI; one per running stack',
      ).default('.local/stack.json'),
    )
    .addOption(
      new Option(
        '--engine <engine>',
        'postgres, or cockroachdb: the CockroachDB double in front of PostgreSQL, the user seeded with an admin secret in masterarn',
      )
        .choices(LOCAL_ENGINES)
        .default('postgres'),
    ),
);
const stackFile = resolve(values.stackFile);
const running = await runningStack(stackFile);
if (running !== undefined) {
  process.stderr.write(
    `local:up: ${stackFile} describes a stack that is still running (${running} answers). Stop that one (Ctrl-C where it runs), or start this one with its own file: npm run local:up -- --stack-file .local/stack-2.json\n`,
  );
  process.exit(EXIT.failed);
}

const stack = await startLocalStack({ engine: values.engine });
exitHook((done) => {
  // The file describes servers that are about to disappear; leave it alone
  // if another stack has written its own there since.
  if (readStackFile(stackFile)?.secretsManager.endpoint === stack.secretsManager.url) {
    rmSync(stackFile, { force: true });
  }
  void stack.stop().finally(done);
});

const { user } = await stack.createRotationTarget({
  username: 'app_user',
  secretName: 'scram-rotator/local/app',
});
// A log group named the way CloudFormation names the construct's (not
// /aws/lambda/<function>), so `npm run rotate` finds it here the way it
// does in AWS: through the function's logging configuration.
const logGroupName = 'ScramRotator-RotatorLogGroup254C4D64-LocalStack01';
const rotationFunctionArn = stack.registerRotationFunction({ logGroupName });
// Rotation on, with a 30-day schedule and without rotating now, as the
// construct's RotationSchedule leaves a deployed secret.
await stack.enableRotation(user.secretName, rotationFunctionArn);
await stack.writeStackFile(stackFile);

const { endpoint, region } = stack.describe().secretsManager;
process.stdout.write(
  [
    'scram-rotator local stack is up.',
    `  PostgreSQL        ${stack.postgres.host}:${stack.postgres.port} (TLS verify-full, SCRAM only; CA ${stack.postgres.caFile})`,
    ...(stack.cockroach
      ? [
          `  CockroachDB double ${stack.cockroach.host}:${stack.cockroach.port} (in front of PostgreSQL)`,
        ]
      : []),
    `  Secrets Manager   ${endpoint} (region ${region})`,
    `  Secret            ${user.secretName} -> role ${user.username}`,
    `  Rotation function ${rotationFunctionArn} (runs in this process; its logs appear here)`,
    `  Its log group     ${logGroupName}`,
    `  Server log        ${stack.postgres.serverLogFile}`,
    `  Stack file        ${stackFile}`,
    '',
    'Read the secret with the AWS CLI:',
    `  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws secretsmanager get-secret-value --endpoint-url ${endpoint} --region ${region} --secret-id ${user.secretName}`,
    '',
    'Rotate it (rotation is on, with the function above; it changes the password in PostgreSQL):',
    `  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws secretsmanager rotate-secret --endpoint-url ${endpoint} --region ${region} --secret-id ${user.secretName}`,
    'or follow a rotation step by step, with the reason if it fails:',
    `  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local npm run rotate -- --endpoint-url ${endpoint} --region ${region} --secret-id ${user.secretName}`,
    '',
    'Press Ctrl-C to stop; everything is removed.',
    '',
  ].join('\n'),
);
