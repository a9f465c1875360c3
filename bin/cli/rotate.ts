/**
 * `scram-rotator rotate --secret-id <id>`: the manual trigger. Calls
 * RotateSecret and follows that rotation to its end, step by step, against
 * AWS or the local stack's endpoint.
 *
 * Progress comes from DescribeSecret (the version stages move as the steps
 * run); a failure's reason comes from the rotation function's CloudWatch Logs,
 * where Lambda's runtime writes the error the function threw (Secrets Manager's
 * API itself never says why a rotation failed). The log group is the one the
 * function's logging configuration names (Lambda GetFunctionConfiguration,
 * LoggingConfig.LogGroup): the CDK construct gives its function a log group
 * with a CloudFormation-generated name, not `/aws/lambda/<function>`.
 *
 * Exit codes: 0 rotated; 1 the rotation failed (reason printed); 2 timed out
 * (the rotation may still finish: Secrets Manager retries); 64 bad usage.
 */
import type { FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeSecretCommand,
  type DescribeSecretResponse,
  RotateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { type Command, Option } from 'commander';
import { lambdaClient, logsClient, preflight, secretsClient } from './aws.js';
import { EXIT } from './exit-codes.js';
import { type AwsOptions, OPTIONS, wholeNumber, withAwsOptions } from './options.js';
import { action, configure, required } from './program.js';

/** Why a rotation failed, as read from the function's log. */
interface Failure {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly step?: string;
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RotateOptions extends AwsOptions {
  readonly secretId: string;
  readonly rotationLambdaArn?: string;
  readonly logGroup?: string;
  /** Seconds. */
  readonly timeout: number;
  /** Milliseconds. */
  readonly interval: number;
}

/** `{version: [stages]}` rendered one version per line, AWSCURRENT first. */
function describeStages(stages: Record<string, string[]>, token: string | undefined): string[] {
  return Object.entries(stages)
    .sort(([, a], [, b]) => Number(b.includes('AWSCURRENT')) - Number(a.includes('AWSCURRENT')))
    .map(
      ([id, labels]) => `    ${id}${id === token ? ' (this rotation)' : ''}: ${labels.join(', ')}`,
    );
}

/**
 * Reads a failure for this rotation from the runtime's `Invoke Error` and
 * timeout lines, and the function's own `step failed` log lines (which carry
 * the token). Returns `undefined` when there is none yet.
 */
function failureIn(events: readonly FilteredLogEvent[], token: string): Failure | undefined {
  for (const event of events) {
    const message = event.message ?? '';
    if (message.includes('"step failed"') && message.includes(token)) {
      try {
        const line = JSON.parse(message) as Record<string, unknown>;
        return {
          errorType: String(line.errorName ?? 'Error'),
          errorMessage: String(line.errorMessage ?? ''),
          step: String(line.step ?? ''),
        };
      } catch {
        // Not the function's JSON line after all: look further.
      }
    }
    const invokeError = message.indexOf('Invoke Error');
    if (invokeError >= 0) {
      const json = message.slice(message.indexOf('{', invokeError));
      try {
        const body = JSON.parse(json) as { errorType?: string; errorMessage?: string };
        return { errorType: body.errorType ?? 'Error', errorMessage: body.errorMessage ?? '' };
      } catch {
        return { errorType: 'Error', errorMessage: message.slice(invokeError).trim() };
      }
    }
    const timedOut = message.match(/Task timed out after [\d.]+ seconds/);
    if (timedOut) return { errorType: 'Timeout', errorMessage: timedOut[0] };
  }
  return undefined;
}

/**
 * Where the function logs: its logging configuration's log group, else
 * Lambda's default `/aws/lambda/<name>` (with a line saying why).
 */
async function functionLogGroup(lambda: LambdaClient, lambdaArn: string): Promise<string> {
  const fallback = `/aws/lambda/${lambdaArn.split(':')[6] ?? lambdaArn}`;
  try {
    const configuration = await lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: lambdaArn }),
    );
    const logGroup = configuration.LoggingConfig?.LogGroup;
    if (logGroup) {
      say(`  log group ${logGroup} (the function's logging configuration)`);
      return logGroup;
    }
  } catch (error) {
    say(
      `  (cannot read the function's logging configuration: ${(error as Error).name}; looking in ${fallback}. Pass --log-group if it logs elsewhere.)`,
    );
    return fallback;
  }
  say(`  log group ${fallback}`);
  return fallback;
}

async function rotate(options: RotateOptions): Promise<number> {
  const timeoutMs = options.timeout * 1000;
  const secrets = secretsClient(options);
  const logs = logsClient(options);
  const lambda = lambdaClient(options);
  try {
    await preflight(secrets, 'rotate');
    const before = await secrets.send(new DescribeSecretCommand({ SecretId: options.secretId }));
    const lambdaArn = options.rotationLambdaArn ?? before.RotationLambdaARN;
    if (!lambdaArn) {
      say(
        `Rotation is not configured for ${before.Name}: deploy the CDK app for it, or pass --rotation-lambda-arn.`,
      );
      return EXIT.failed;
    }
    say(`Secret ${before.ARN}`);
    say(`  rotation function ${lambdaArn}`);
    say('  stages before:');
    for (const line of describeStages(before.VersionIdsToStages ?? {}, undefined)) say(line);

    const startedAt = Date.now();
    let token: string;
    try {
      const started = await secrets.send(
        new RotateSecretCommand({
          SecretId: options.secretId,
          ...(options.rotationLambdaArn ? { RotationLambdaARN: options.rotationLambdaArn } : {}),
        }),
      );
      token = started.VersionId ?? '';
      say(`RotateSecret: started, new version ${token}`);
    } catch (error) {
      // "A previous rotation isn't complete. That rotation will be reattempted."
      const pending = Object.entries(before.VersionIdsToStages ?? {}).find(
        ([, labels]) => labels.includes('AWSPENDING') && !labels.includes('AWSCURRENT'),
      );
      if ((error as Error).name !== 'InvalidRequestException' || pending === undefined) throw error;
      token = pending[0];
      say(`RotateSecret: ${(error as Error).message}`);
      say(`  following the reattempt of version ${token}`);
    }

    const logGroup = options.logGroup ?? (await functionLogGroup(lambda, lambdaArn));
    let logsReadable = true;
    let lastStages = '';
    const deadline = startedAt + timeoutMs;
    while (Date.now() < deadline) {
      const now: DescribeSecretResponse = await secrets.send(
        new DescribeSecretCommand({ SecretId: options.secretId }),
      );
      const stages = now.VersionIdsToStages ?? {};
      const rendered = describeStages(stages, token);
      if (rendered.join('\n') !== lastStages) {
        lastStages = rendered.join('\n');
        say(`  stages at +${((Date.now() - startedAt) / 1000).toFixed(1)} s:`);
        for (const line of rendered) say(line);
      }
      if (stages[token]?.includes('AWSCURRENT')) {
        say(`Rotated: AWSCURRENT is version ${token}.`);
        return EXIT.ok;
      }
      if (logsReadable) {
        try {
          const found = await logs.send(
            new FilterLogEventsCommand({
              logGroupName: logGroup,
              startTime: startedAt - 1_000,
              filterPattern: '?"Invoke Error" ?"Task timed out" ?"step failed"',
            }),
          );
          const failure = failureIn(found.events ?? [], token);
          if (failure) {
            say(
              `Rotation failed${failure.step ? ` in ${failure.step}` : ''}: ${failure.errorType}: ${failure.errorMessage}`,
            );
            say(
              '  AWSCURRENT is unchanged. Secrets Manager may retry; fix the cause, then run this again.',
            );
            return EXIT.failed;
          }
        } catch (error) {
          // No logs:FilterLogEvents permission, or no log group yet: follow
          // the stages only, and say that the reason will not be shown.
          logsReadable = false;
          say(
            `  (cannot read ${logGroup}: ${(error as Error).name}; failure reasons will not be shown)`,
          );
        }
      }
      await sleep(options.interval);
    }
    say(
      `Timed out after ${options.timeout} s: AWSPENDING is still on ${token}. The rotation may still finish; see ${logGroup}.`,
    );
    return EXIT.timedOut;
  } finally {
    secrets.destroy();
    logs.destroy();
    lambda.destroy();
  }
}

/** Adds `rotate` to the program. */
export function registerRotate(program: Command): void {
  const command = configure(
    program.command('rotate'),
    "call RotateSecret and follow the rotation to its end, step by step, with the function's error if it fails",
  );
  command
    .addOption(required(OPTIONS.secretId()))
    .addOption(
      new Option('--rotation-lambda-arn <arn>', 'turn rotation on with this function first'),
    )
    .addOption(
      new Option(
        '--log-group <name>',
        "the function's log group (default: the one its logging configuration names, else /aws/lambda/<function>)",
      ),
    )
    .addOption(
      new Option('--timeout <seconds>', 'give up waiting after this long')
        .argParser(wholeNumber(1))
        .default(300),
    )
    .addOption(
      new Option('--interval <ms>', 'how often to look at the stages')
        .argParser(wholeNumber(50))
        .default(1000),
    );
  withAwsOptions(command).action(action(command, rotate));
}
