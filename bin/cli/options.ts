/**
 * The options that mean the same thing in every command, defined once:
 * `--secret-id`, `--region`, `--endpoint-url`, `--profile` and `--json`,
 * and the value checks commands share. A check that fails throws commander's
 * InvalidArgumentError with a reason that never quotes the value (it may be
 * a password typed in the wrong place); bin/cli/program.ts prints it with
 * the option's name.
 *
 * @module
 */
import { type Command, InvalidArgumentError, Option } from 'commander';

/**
 * An endpoint URL: http or https, with a host. An empty value is refused
 * rather than read as "not given", which would send the request to AWS.
 */
export function parseEndpointUrl(text: string): string {
  if (text.trim() === '') {
    throw new InvalidArgumentError(
      "is empty: give the endpoint's URL (e.g. the local stack's http://127.0.0.1:<port>), or leave the option out to use AWS",
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError('is not a URL: give one such as http://127.0.0.1:4566');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw new InvalidArgumentError('must be an http:// or https:// URL with a host');
  }
  // AWS requests are signed, never sent with a URL's user name and password;
  // one here would only be repeated in "cannot connect to <endpoint>".
  if (url.username !== '' || url.password !== '') {
    throw new InvalidArgumentError(
      'must not hold a user name or password (user:password@): AWS requests are signed with your credentials',
    );
  }
  return text;
}

/**
 * The environment variables the AWS SDK reads an endpoint from, for the
 * services the commands call (service-specific first, as the SDK reads them).
 */
export const ENDPOINT_ENVIRONMENT = [
  'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  'AWS_ENDPOINT_URL_LAMBDA',
  'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS',
  'AWS_ENDPOINT_URL',
] as const;

/**
 * Checks the endpoint variables of `env` as `--endpoint-url` is checked:
 * the SDK reads a set but empty one as unset, so `AWS_ENDPOINT_URL=$UNSET`
 * would send the requests to AWS, and a malformed one fails without saying
 * which variable. Returns why the first bad one is refused, naming the
 * variable and never its value.
 */
export function endpointEnvironmentProblem(
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  for (const name of ENDPOINT_ENVIRONMENT) {
    const value = env[name];
    if (value === undefined) continue;
    try {
      parseEndpointUrl(value);
    } catch (error) {
      return `${name} ${(error as Error).message}, or unset it`;
    }
  }
  return undefined;
}

/** A value that must not be empty (an empty one would fall back to a default quietly). */
export function nonEmpty(what: string): (text: string) => string {
  return (text) => {
    if (text.trim() === '') throw new InvalidArgumentError(`is empty: give ${what}`);
    return text;
  };
}

/** An AWS region name such as eu-west-1. */
function parseRegion(text: string): string {
  if (!/^[a-z]{2}(-[a-z0-9]+)+$/.test(text)) {
    throw new InvalidArgumentError('is not a region name such as eu-west-1');
  }
  return text;
}

/** A whole number from `min` to `max`, for options counted in units. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const value = /^[0-9]{1,16}$/.test(text) ? Number(text) : Number.NaN;
    if (!(value >= min && value <= max)) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `takes a whole number from ${min}`
          : `takes a whole number from ${min} to ${max}`,
      );
    }
    return value;
  };
}

/** The shared options, each a fresh Option (commander options belong to one command). */
export const OPTIONS = {
  secretId: () =>
    new Option('--secret-id <id>', 'the secret: its name or ARN').argParser(
      nonEmpty("the secret's name or ARN"),
    ),
  region: () =>
    new Option(
      '--region <region>',
      "AWS region (default: AWS_REGION, then the profile's region)",
    ).argParser(parseRegion),
  endpointUrl: () =>
    new Option(
      '--endpoint-url <url>',
      "Secrets Manager endpoint (also Lambda's and CloudWatch Logs'), e.g. the local stack's; an empty or malformed URL is refused",
    ).argParser(parseEndpointUrl),
  profile: () =>
    new Option(
      '--profile <name>',
      'AWS profile from the shared config and credentials files (default: AWS_PROFILE)',
    ).argParser(nonEmpty('a profile name')),
  json: () =>
    new Option('--json', 'print one JSON object as the last line of stdout, and no progress lines'),
} as const;

/** The options of the commands that create or take over users (provision, adopt). */
export const CHANGE_OPTIONS = {
  adminSecretId: () =>
    new Option(
      '--admin-secret-id <id>',
      "the admin's secret (name or ARN): the role that creates users and sets passwords",
    ).argParser(nonEmpty("the admin secret's name or ARN")),
  rotationLambdaArn: () =>
    new Option(
      '--rotation-lambda-arn <arn>',
      'turn rotation on with this function and rotate once',
    ).conflicts('stackOutputs'),
  stackOutputs: () =>
    new Option(
      '--stack-outputs <file>',
      "or find the function's ARN in cdk deploy --outputs-file output (or the local stack's .local/stack.json)",
    ),
  schedule: () =>
    new Option('--schedule <expression>', 'rotation schedule')
      .argParser(nonEmpty('a schedule such as rate(30 days)'))
      .default('rate(30 days)'),
  rotationTimeout: () =>
    new Option('--rotation-timeout <seconds>', 'how long to wait for the first rotation')
      .argParser(wholeNumber(1))
      .default(120),
  dryRun: () =>
    new Option(
      '--dry-run',
      'print what would be done, statements included (verifiers redacted); change nothing',
    ),
} as const;

/** What {@link CHANGE_OPTIONS} hold once parsed. */
export interface ChangeOptions {
  readonly adminSecretId: string;
  readonly rotationLambdaArn?: string;
  readonly stackOutputs?: string;
  readonly schedule: string;
  readonly rotationTimeout: number;
  readonly dryRun?: boolean;
}

/** What the AWS options hold once parsed. */
export interface AwsOptions {
  readonly region?: string;
  readonly endpointUrl?: string;
  readonly profile?: string;
}

/** Adds `--region`, `--endpoint-url` and `--profile` to a command. */
export function withAwsOptions(command: Command): Command {
  return command
    .addOption(OPTIONS.region())
    .addOption(OPTIONS.endpointUrl())
    .addOption(OPTIONS.profile());
}
