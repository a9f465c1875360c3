/**
 * What the workflow commands (hash, provision, adopt, audit) share: the
 * usage error, reading a database
 * secret with the function's own parser, logging in the way the function
 * does, the tags that mark a secret as managed, and where the rotation
 * function's ARN comes from.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type {
  DatabaseConnector,
  DatabaseSession,
  LoginLimits,
} from '../../lambda/adapters/database.js';
import type { RotationConfig } from '../../lambda/config.js';
import { type DatabaseSecret, parseDatabaseSecret } from '../../lambda/core/secret.js';
import { loginTarget } from '../../lambda/rotation/load.js';
import { confirmSessionUser } from '../../lambda/strategies/strategy.js';

/**
 * Thrown for bad command-line usage; the command prints it on one line and
 * exits 64. Its message names the option, never the value given.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A database secret read from Secrets Manager, with its ARN and name. */
export interface LoadedSecret {
  readonly arn: string;
  readonly name: string;
  readonly secret: DatabaseSecret;
}

/** Reads and parses a secret's AWSCURRENT value with the function's parser. */
export async function loadSecret(
  client: SecretsManagerClient,
  secretId: string,
  label: string,
): Promise<LoadedSecret> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (out.SecretString === undefined) {
    throw new UsageError(`${label} ${secretId} has no string value`);
  }
  return {
    arn: out.ARN ?? secretId,
    name: out.Name ?? secretId,
    secret: parseDatabaseSecret(out.SecretString, { label }),
  };
}

/** Whether a secret of that name or ARN exists (scheduled deletion included). */
export async function secretExists(client: SecretsManagerClient, secretId: string) {
  try {
    return await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/**
 * What became of a CreateSecret that answered an error: `created` when a
 * secret of that name holds a version whose id is our ClientRequestToken
 * (the call took effect and its answer was lost), `absent` when not (no
 * secret, or another's of the same name), `unknown` when Secrets Manager
 * could not be asked.
 */
export type CreateOutcome =
  | { readonly state: 'created'; readonly arn: string }
  | { readonly state: 'absent' }
  | { readonly state: 'unknown' };

/**
 * After a failed CreateSecret, finds out whether it took effect anyway: the
 * request token tells a secret this call created from one another created
 * under the same name.
 */
export async function createOutcome(
  client: SecretsManagerClient,
  name: string,
  token: string,
): Promise<CreateOutcome> {
  let described: Awaited<ReturnType<typeof secretExists>>;
  try {
    described = await secretExists(client, name);
  } catch {
    return { state: 'unknown' };
  }
  return described && Object.keys(described.VersionIdsToStages ?? {}).includes(token)
    ? { state: 'created', arn: described.ARN ?? name }
    : { state: 'absent' };
}

/**
 * Why a secret cannot be called `name`, or `undefined` when it can: the
 * CreateSecret reference allows 1 to 512 characters, ASCII letters and
 * digits and `/_+=.@-` only.
 */
export function secretNameProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > 512) return 'a secret name is 1 to 512 characters';
  return /^[A-Za-z0-9/_+=.@-]+$/.test(name)
    ? undefined
    : 'a secret name holds only ASCII letters, digits and /_+=.@-';
}

/** Login limits from the function's configuration. */
export function limitsOf(config: RotationConfig): LoginLimits {
  return {
    connectTimeoutMs: config.connectTimeoutMs,
    statementTimeoutMs: config.statementTimeoutMs,
    maxScramIterations: config.maxScramIterations,
  };
}

/** Logs in as a secret's user (verify-full, SCRAM only) and checks the server agrees who it is. */
export async function loginAs(
  database: DatabaseConnector,
  secret: DatabaseSecret,
  config: RotationConfig,
  label: string,
): Promise<DatabaseSession> {
  const session = await database.login(loginTarget(secret, config), limitsOf(config));
  await confirmSessionUser(session, secret.username, label);
  return session;
}

/**
 * Tags provision and adopt put on the secrets they create, so that audit
 * finds which secret manages which user with ListSecrets alone (no
 * GetSecretValue), and `audit --mark-phase2` records its time.
 */
export const TAGS = {
  username: 'scram-rotator:username',
  server: 'scram-rotator:server',
  strictHbaSince: 'scram-rotator:strict-hba-since',
} as const;

/** The server tag's value: where a secret's user lives. */
export function serverTag(secret: Pick<DatabaseSecret, 'host' | 'port'>): string {
  return `${secret.host}:${secret.port}`;
}

/** A Lambda function ARN. */
const LAMBDA_ARN = /^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(?::[\w$-]+)?$/;

/**
 * The rotation function's ARN: `--rotation-lambda-arn`, else the one found
 * in a stack outputs file (`cdk deploy --outputs-file`, any output whose key
 * ends in `FunctionArn`, or the local stack's `.local/stack.json`
 * `rotationFunctionArn`). Tolerant: a file without one gives `undefined`; a
 * file with several different ones is refused (name one with the flag).
 */
export function rotationFunctionArn(
  flag: string | undefined,
  outputsFile: string | undefined,
): string | undefined {
  if (flag !== undefined) {
    if (!LAMBDA_ARN.test(flag)) {
      throw new UsageError('--rotation-lambda-arn must be a Lambda function ARN');
    }
    return flag;
  }
  if (outputsFile === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(outputsFile, 'utf8');
  } catch (error) {
    throw new UsageError(
      `--stack-outputs: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message quotes the file's text: say only what is wrong.
    throw new UsageError(
      '--stack-outputs: the file is not JSON (cdk deploy --outputs-file writes it)',
    );
  }
  const found = new Set<string>();
  const visit = (value: unknown, key: string) => {
    if (typeof value === 'string') {
      if (/(?:FunctionArn|rotationFunctionArn)$/i.test(key) && LAMBDA_ARN.test(value)) {
        found.add(value);
      }
    } else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) visit(v, k);
    }
  };
  visit(parsed, '');
  if (found.size > 1) {
    throw new UsageError(
      `--stack-outputs: the file names ${found.size} rotation functions; pick one with --rotation-lambda-arn`,
    );
  }
  return [...found][0];
}
