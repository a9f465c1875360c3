/**
 * Turning rotation on for a secret and following its first rotation to the
 * end, as provision and adopt do: RotateSecret with the function's ARN, then
 * DescribeSecret until the new version is AWSCURRENT, reading the reason of
 * a failure from the function's log (Secrets Manager's API never says why).
 *
 * @module
 */
import { type CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeSecretCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

/** How a first rotation ended. */
export type RotationResult =
  | { readonly ok: true; readonly version: string }
  | { readonly ok: false; readonly reason: string };

/** Options of {@link rotateOnce}. */
export interface RotateOnceInput {
  readonly secretId: string;
  readonly lambdaArn: string;
  /** Schedule for later rotations, e.g. `rate(30 days)`. */
  readonly schedule: string;
  readonly timeoutMs: number;
  /** @default 250 */
  readonly intervalMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A failure in the function's log: its own `step failed` JSON line for this
 * rotation's token, or the Lambda runtime's `Invoke Error` line (which
 * carries the error the handler threw), as `<Error>: <message>`.
 */
export function failureFrom(messages: readonly string[], token: string): string | undefined {
  for (const message of messages) {
    if (message.includes('"step failed"') && message.includes(token)) {
      try {
        const line = JSON.parse(message) as Record<string, unknown>;
        return `${String(line.errorName ?? 'Error')}: ${String(line.errorMessage ?? '')}`;
      } catch {
        // Not the function's JSON line: look further.
      }
    }
    const at = message.indexOf('Invoke Error');
    if (at >= 0) {
      try {
        const body = JSON.parse(message.slice(message.indexOf('{', at))) as {
          errorType?: string;
          errorMessage?: string;
        };
        return `${body.errorType ?? 'Error'}: ${body.errorMessage ?? ''}`;
      } catch {
        return message.slice(at).trim();
      }
    }
  }
  return undefined;
}

/**
 * Enables rotation with `lambdaArn` and rotates once, waiting for the new
 * version to become AWSCURRENT. The failure reason comes from the
 * function's log group when it can be read (`logs:FilterLogEvents`).
 */
export async function rotateOnce(
  client: SecretsManagerClient,
  logs: CloudWatchLogsClient,
  input: RotateOnceInput,
): Promise<RotationResult> {
  const started = Date.now();
  const out = await client.send(
    new RotateSecretCommand({
      SecretId: input.secretId,
      RotationLambdaARN: input.lambdaArn,
      RotationRules: { ScheduleExpression: input.schedule },
      RotateImmediately: true,
    }),
  );
  const token = out.VersionId ?? '';
  const functionName = input.lambdaArn.split(':')[6] ?? input.lambdaArn;
  let logsReadable = true;
  while (Date.now() - started < input.timeoutMs) {
    const described = await client.send(new DescribeSecretCommand({ SecretId: input.secretId }));
    if (described.VersionIdsToStages?.[token]?.includes('AWSCURRENT')) {
      return { ok: true, version: token };
    }
    if (logsReadable) {
      try {
        const found = await logs.send(
          new FilterLogEventsCommand({
            logGroupName: `/aws/lambda/${functionName}`,
            startTime: started - 1_000,
            filterPattern: '"step failed"',
          }),
        );
        const reason = failureFrom(
          (found.events ?? []).map((e) => e.message ?? ''),
          token,
        );
        if (reason) return { ok: false, reason };
      } catch {
        logsReadable = false;
      }
    }
    await sleep(input.intervalMs ?? 250);
  }
  return {
    ok: false,
    reason: `version ${token} was not AWSCURRENT after ${Math.round(input.timeoutMs / 1000)} s; see the function's log group /aws/lambda/${functionName}`,
  };
}
