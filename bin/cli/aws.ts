/**
 * AWS clients for `--region`, `--endpoint-url` and `--profile`, built the
 * same way by every command, and what makes their failures say what to do:
 * a preflight for the region and credentials (no request is sent), and a
 * connection failure that names the endpoint and asks whether the local
 * stack is running.
 *
 * @module
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { UsageError } from '../workflow/common.js';
import { EndpointUnreachableError, MissingCredentialsError, MissingRegionError } from './errors.js';
import { type AwsOptions, endpointEnvironmentProblem } from './options.js';

/** Network failures that mean the endpoint is not there, not that a request failed. */
const UNREACHABLE = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ETIMEDOUT: 'connection timed out',
  ECONNRESET: 'connection reset',
} as const;

/** How a command was started, for hints: `npm run doctor --` or `scram-rotator doctor`. */
export function invokedAs(command: string): string {
  const script = process.env.npm_lifecycle_event;
  return script ? `npm run ${script} --` : `scram-rotator ${command}`;
}

/** The connection failure `error` stands for, if it is one. */
function unreachable(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code in UNREACHABLE
    ? UNREACHABLE[code as keyof typeof UNREACHABLE]
    : undefined;
}

/**
 * `error`, or an {@link EndpointUnreachableError} naming the endpoint when
 * the endpoint could not be reached at all.
 */
export function explainAwsError(error: unknown, options: AwsOptions): unknown {
  const why = unreachable(error);
  if (why === undefined) return error;
  const at = error as { address?: string; port?: number; hostname?: string };
  if (options.endpointUrl !== undefined) {
    return new EndpointUnreachableError(
      `cannot connect to ${options.endpointUrl} (${why}). Is the local stack running? Start it with npm run local:up in the scram-rotator checkout, and pass the endpoint it prints.`,
      { cause: error },
    );
  }
  const where = at.hostname ?? (at.address ? `${at.address}:${at.port ?? ''}` : 'AWS');
  return new EndpointUnreachableError(
    `cannot connect to ${where} (${why}): check the network, a proxy or firewall, and --region.`,
    { cause: error },
  );
}

/** The client settings `--region`, `--endpoint-url` and `--profile` give. */
export function awsClientConfig(options: AwsOptions) {
  return {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
  };
}

/** An SDK middleware that rewrites connection failures with {@link explainAwsError}. */
function connectionHint(options: AwsOptions) {
  return <A, R>(next: (args: A) => Promise<R>) =>
    async (args: A): Promise<R> => {
      try {
        return await next(args);
      } catch (error) {
        throw explainAwsError(error, options);
      }
    };
}

const HINT = { step: 'initialize', name: 'scramRotatorConnectionHint' } as const;

/** A Secrets Manager client for the AWS options. */
export function secretsClient(options: AwsOptions): SecretsManagerClient {
  const client = new SecretsManagerClient(awsClientConfig(options));
  client.middlewareStack.add(connectionHint(options), HINT);
  return client;
}

/** A CloudWatch Logs client for the same options (the function's log group). */
export function logsClient(options: AwsOptions): CloudWatchLogsClient {
  const client = new CloudWatchLogsClient(awsClientConfig(options));
  client.middlewareStack.add(connectionHint(options), HINT);
  return client;
}

/** A Lambda client for the same options (the function's logging configuration). */
export function lambdaClient(options: AwsOptions): LambdaClient {
  const client = new LambdaClient(awsClientConfig(options));
  client.middlewareStack.add(connectionHint(options), HINT);
  return client;
}

/**
 * Checks the SDK's endpoint variables (see endpointEnvironmentProblem), and
 * resolves the region and the credentials before any request, so that a
 * missing one is reported as such (the SDK's "Region is missing", or a
 * failed first call that reads like a wrong secret id, say neither what is
 * missing nor how to give it).
 */
export async function preflight(
  client: Pick<SecretsManagerClient, 'config'>,
  command: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<void> {
  const endpointProblem = endpointEnvironmentProblem(env);
  if (endpointProblem !== undefined) throw new UsageError(endpointProblem);
  try {
    await client.config.region();
  } catch (error) {
    throw new MissingRegionError(
      'none was given and none is configured. Pass --region <region> (e.g. --region eu-west-1), set AWS_REGION, or give your profile one: aws configure set region <region>',
      { cause: error },
    );
  }
  try {
    await client.config.credentials();
  } catch (error) {
    if ((error as Error).name !== 'CredentialsProviderError') throw error;
    throw new MissingCredentialsError(
      `none in the environment, the shared config and credentials files, SSO or an instance role. Set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; against the local stack any values work: AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local ${invokedAs(command)} --endpoint-url <endpoint> ...`,
      { cause: error },
    );
  }
}
