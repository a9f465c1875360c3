/**
 * `npm run rotate -- --secret-id <id>`: the manual trigger. Calls RotateSecret
 * and follows that rotation to its end, step by step, against AWS or the
 * local stack's endpoint.
 *
 * Progress comes from DescribeSecret (the version stages move as the steps
 * run); a failure's reason comes from the rotation function's CloudWatch Logs,
 * where Lambda's runtime writes the error the function threw (Secrets Manager's
 * API itself never says why a rotation failed). The log group is the one the
 * function's logging configuration names (Lambda GetFunctionConfiguration,
 * LoggingConfig.LogGroup): the CDK construct gives its function a log group
 * with a CloudFormation-generated name, not `/aws/lambda/<function>`.
 *
 * Options:
 *   --secret-id <id>             name or ARN (required)
 *   --region <region>            default: the SDK's (AWS_REGION, profile)
 *   --endpoint-url <url>         Secrets Manager, Lambda and CloudWatch Logs endpoint (local stack)
 *   --rotation-lambda-arn <arn>  turn rotation on with this function first
 *   --log-group <name>           the function's log group; default: the one its
 *                                logging configuration names (needs
 *                                lambda:GetFunctionConfiguration), else
 *                                /aws/lambda/<function>
 *   --timeout <seconds>          give up waiting after this long (default 300)
 *   --interval <ms>              polling interval (default 1000)
 *
 * Exit codes: 0 rotated; 1 the rotation failed (reason printed); 2 timed out
 * (the rotation may still finish: Secrets Manager retries); 64 bad usage.
 */
import { parseArgs } from 'node:util';
import {
  CloudWatchLogsClient,
  type FilteredLogEvent,
  FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeSecretCommand,
  type DescribeSecretResponse,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

const EXIT = { rotated: 0, failed: 1, timedOut: 2, usage: 64 } as const;

/** Why a rotation failed, as read from the function's log. */
interface Failure {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly step?: string;
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function usage(message: string): never {
  process.stderr.write(
    `rotate: ${message}\nusage: npm run rotate -- --secret-id <id> [--region <r>] [--endpoint-url <url>] [--rotation-lambda-arn <arn>] [--log-group <name>] [--timeout <s>]\n`,
  );
  process.exit(EXIT.usage);
}

const OPTIONS = {
  'secret-id': { type: 'string' },
  region: { type: 'string' },
  'endpoint-url': { type: 'string' },
  'rotation-lambda-arn': { type: 'string' },
  'log-group': { type: 'string' },
  timeout: { type: 'string', default: '300' },
  interval: { type: 'string', default: '1000' },
} as const;

function parseOptions() {
  const values = (() => {
    try {
      return parseArgs({ options: OPTIONS }).values;
    } catch (error) {
      return usage((error as Error).message);
    }
  })();
  const secretId = values['secret-id'];
  if (!secretId) usage('--secret-id is required');
  const timeoutS = Number(values.timeout);
  const intervalMs = Number(values.interval);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) usage('--timeout takes a number of seconds');
  if (!Number.isInteger(intervalMs) || intervalMs < 50)
    usage('--interval takes milliseconds (>= 50)');
  return {
    secretId,
    region: values.region,
    endpoint: values['endpoint-url'],
    rotationLambdaArn: values['rotation-lambda-arn'],
    logGroup: values['log-group'],
    timeoutMs: timeoutS * 1000,
    intervalMs,
  };
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

/** The SDK's error when no credential source gave any. */
function isMissingCredentials(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'CredentialsProviderError';
}

async function main(): Promise<number> {
  const options = parseOptions();
  const clientConfig = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  };
  const secrets = new SecretsManagerClient(clientConfig);
  const logs = new CloudWatchLogsClient(clientConfig);
  const lambda = new LambdaClient(clientConfig);
  try {
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
    const deadline = startedAt + options.timeoutMs;
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
        return EXIT.rotated;
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
      await sleep(options.intervalMs);
    }
    say(
      `Timed out after ${options.timeoutMs / 1000} s: AWSPENDING is still on ${token}. The rotation may still finish; see ${logGroup}.`,
    );
    return EXIT.timedOut;
  } finally {
    secrets.destroy();
    logs.destroy();
    lambda.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const e = error as Error;
    process.stderr.write(
      isMissingCredentials(error)
        ? 'rotate: no AWS credentials: none in the environment, the shared config and credentials files, SSO or an instance role. Set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; against the local stack any values work: AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local npm run rotate -- --endpoint-url <endpoint> ...\n'
        : `rotate: ${e.name}: ${e.message}\n`,
    );
    process.exit(EXIT.failed);
  },
);
