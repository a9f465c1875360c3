import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateSecretCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { SdkSecretStore } from '../lambda/adapters/secrets-manager.js';
import { createScramVerifier } from '../lambda/core/scram.js';
import { createHandler } from '../lambda/index.js';
import type { Logger } from '../lambda/telemetry.js';
import { type LocalPostgres, type LocalPostgresOptions, startPostgres } from './postgres.js';
import {
  createSecretsManagerClient,
  type RotationOutcome,
  SecretsManagerEndpoint,
} from './secrets-manager/index.js';

/** A database user created by the stack, with its secret. */
export interface ApplicationUser {
  /** The role name. */
  readonly username: string;
  /** The secret's name in the local Secrets Manager. */
  readonly secretName: string;
  /** The secret's ARN. */
  readonly secretArn: string;
}

/** What `.local/stack.json` holds, for the CLIs, the demo and people. */
export interface StackFile {
  readonly secretsManager: { readonly endpoint: string; readonly region: string };
  readonly postgres: {
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly caFile: string;
    readonly adminUser: string;
    readonly adminPassword: string;
  };
  readonly serverLogFile: string;
  readonly secrets: readonly { readonly name: string; readonly arn: string }[];
  /** The Lambda ARN of the in-process rotation function, once one is registered. */
  readonly rotationFunctionArn?: string;
  /** That function's log group (its LoggingConfig.LogGroup), once one is registered. */
  readonly rotationFunctionLogGroup?: string;
}

/** Options for {@link startLocalStack}. */
export interface LocalStackOptions {
  /**
   * Options for the PostgreSQL server.
   * @default {}
   */
  readonly postgres?: LocalPostgresOptions;
  /**
   * Region the Secrets Manager endpoint reports in ARNs.
   * @default 'us-east-1'
   */
  readonly region?: string;
}

/** Options for {@link LocalStack.createApplicationUser}. */
export interface ApplicationUserOptions {
  /**
   * The role name.
   * @default `app_<random>`
   */
  readonly username?: string;
  /**
   * The secret's name.
   * @default `scram-rotator/local/<username>`
   */
  readonly secretName?: string;
  /**
   * Role attributes (an admin for the admin rotation mode needs CREATEROLE).
   * @default {}
   */
  readonly createRole?: boolean;
  /**
   * A role that may change this user's password (the admin rotation mode).
   * PostgreSQL 16+ lets a CREATEROLE role alter only roles it holds ADMIN
   * OPTION on, which a role gets for roles it creates itself; since the stack
   * creates users as the superuser, it grants that option explicitly.
   * @default no role
   */
  readonly managedBy?: string;
  /**
   * How the server stores the password. `md5` exists only so tests can make
   * the server ask for MD5 (PostgreSQL uses SCRAM with a SCRAM verifier even
   * under an `md5` HBA rule).
   * @default 'scram-sha-256'
   */
  readonly storedAs?: 'scram-sha-256' | 'md5';
  /**
   * Extra keys stored in the secret JSON, merged over the defaults.
   * @default {}
   */
  readonly extraKeys?: Readonly<Record<string, unknown>>;
}

/**
 * The local stack: a real PostgreSQL over verify-full TLS with SCRAM-only
 * authentication, and a Secrets Manager endpoint that the AWS SDK, the AWS
 * CLI and boto3 talk to unchanged.
 */
export class LocalStack {
  /** The PostgreSQL server. */
  readonly postgres: LocalPostgres;
  /** The Secrets Manager endpoint. */
  readonly secretsManager: SecretsManagerEndpoint;
  /** A real SDK client pointed at {@link secretsManager}. */
  readonly client: SecretsManagerClient;
  readonly #secrets: { name: string; arn: string }[] = [];
  #rotationFunction: { arn: string; logGroupName: string } | undefined;

  /** @internal use {@link startLocalStack} */
  constructor(postgres: LocalPostgres, secretsManager: SecretsManagerEndpoint) {
    this.postgres = postgres;
    this.secretsManager = secretsManager;
    this.client = createSecretsManagerClient(secretsManager);
  }

  /** The secrets created through this stack, in creation order. */
  get secrets(): readonly { name: string; arn: string }[] {
    return this.#secrets;
  }

  /**
   * Creates a login role with a random password (sent to the server as a
   * SCRAM verifier only) and a secret holding it in AWS's database secret
   * shape, plus the `ca` key with the stack's CA so verify-full works.
   */
  async createApplicationUser(options: ApplicationUserOptions = {}): Promise<ApplicationUser> {
    const username = options.username ?? `app_${randomBytes(4).toString('hex')}`;
    const secretName = options.secretName ?? `scram-rotator/local/${username}`;
    const password = randomBytes(24).toString('base64url');
    const stored =
      options.storedAs === 'md5'
        ? `md5${createHash('md5')
            .update(password + username)
            .digest('hex')}`
        : createScramVerifier(password);
    await this.postgres.createUser(username, stored, { createRole: options.createRole ?? false });
    if (options.managedBy !== undefined) {
      const admin = options.managedBy;
      await this.postgres.withAdmin((client) =>
        client.query(
          `GRANT ${client.escapeIdentifier(username)} TO ${client.escapeIdentifier(admin)} WITH ADMIN OPTION`,
        ),
      );
    }
    const secret = {
      engine: 'postgres',
      host: this.postgres.host,
      port: this.postgres.port,
      username,
      password,
      dbname: this.postgres.database,
      ca: this.postgres.caPem,
      ...options.extraKeys,
    };
    const created = await this.client.send(
      new CreateSecretCommand({ Name: secretName, SecretString: JSON.stringify(secret) }),
    );
    const secretArn = created.ARN ?? '';
    this.#secrets.push({ name: secretName, arn: secretArn });
    return { username, secretName, secretArn };
  }

  /**
   * Registers the rotation function (the real handler, in process) with the
   * Secrets Manager endpoint, talking to it through the real SDK client, and
   * returns the Lambda ARN to pass as RotationLambdaARN.
   */
  registerRotationFunction(
    options: {
      /** Lambda function name in the ARN. @default 'scram-rotator' */
      readonly functionName?: string;
      /** Environment the handler reads its configuration from. @default process.env */
      readonly env?: Readonly<Record<string, string | undefined>>;
      /** Logger for the handler. @default the function's own Logger */
      readonly logger?: Logger;
      /**
       * The function's log group, as its logging configuration reports it.
       * @default `/aws/lambda/<functionName>`, Lambda's default
       */
      readonly logGroupName?: string;
    } = {},
  ): string {
    const functionName = options.functionName ?? 'scram-rotator';
    const arn = this.secretsManager.lambdaArn(functionName);
    const logGroupName = options.logGroupName ?? `/aws/lambda/${functionName}`;
    const handler = createHandler({
      secrets: new SdkSecretStore(this.client),
      ...(options.env ? { env: options.env } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.secretsManager.registerRotationFunction(arn, (event, context) => handler(event, context), {
      logGroupName,
    });
    this.#rotationFunction = { arn, logGroupName };
    return arn;
  }

  /**
   * Turns rotation on for a secret as a deployed secret has it (what the
   * construct's RotationSchedule does), without rotating now: RotateSecret
   * with the function, a schedule and RotateImmediately=false, through the
   * real API. Secrets Manager then runs testSecret once, as AWS does; this
   * waits for that test and fails if it failed.
   *
   * @param secretId - name or ARN of the secret
   * @param lambdaArn - a function registered with {@link registerRotationFunction}
   */
  async enableRotation(
    secretId: string,
    lambdaArn: string,
    rules: { readonly automaticallyAfterDays?: number } = {},
  ): Promise<void> {
    await this.client.send(
      new RotateSecretCommand({
        SecretId: secretId,
        RotationLambdaARN: lambdaArn,
        RotationRules: { AutomaticallyAfterDays: rules.automaticallyAfterDays ?? 30 },
        RotateImmediately: false,
      }),
    );
    const outcome = await this.secretsManager.waitForRotation(secretId);
    if (!outcome.ok) {
      throw new Error(
        `Enabling rotation of ${secretId} failed in ${outcome.failedStep ?? 'testSecret'}: ${outcome.errorMessage ?? 'unknown error'}`,
      );
    }
  }

  /**
   * RotateSecret as `aws secretsmanager rotate-secret` sends it (with
   * `lambdaArn` and a 30-day schedule), then the rotation's outcome once it
   * has ended: what the demo, the bench and the tests run a rotation with.
   *
   * @param lambdaArn - a function registered with {@link registerRotationFunction}
   */
  async rotate(
    secretId: string,
    lambdaArn: string,
    options: { readonly timeoutMs?: number; readonly automaticallyAfterDays?: number } = {},
  ): Promise<RotationOutcome> {
    await this.client.send(
      new RotateSecretCommand({
        SecretId: secretId,
        RotationLambdaARN: lambdaArn,
        RotationRules: { AutomaticallyAfterDays: options.automaticallyAfterDays ?? 30 },
      }),
    );
    return this.secretsManager.waitForRotation(secretId, {
      timeoutMs: options.timeoutMs ?? 60_000,
    });
  }

  /** What `.local/stack.json` holds. */
  describe(): StackFile {
    const admin = this.postgres.admin;
    return {
      secretsManager: { endpoint: this.secretsManager.url, region: this.secretsManager.region },
      postgres: {
        host: admin.host,
        port: admin.port,
        database: admin.database,
        caFile: this.postgres.caFile,
        adminUser: admin.user,
        adminPassword: admin.password,
      },
      serverLogFile: this.postgres.serverLogFile,
      secrets: [...this.#secrets],
      ...(this.#rotationFunction
        ? {
            rotationFunctionArn: this.#rotationFunction.arn,
            rotationFunctionLogGroup: this.#rotationFunction.logGroupName,
          }
        : {}),
    };
  }

  /** Writes {@link describe} to `path` (mode 0600: it holds the admin password). */
  async writeStackFile(path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${JSON.stringify(this.describe(), null, 2)}\n`, { mode: 0o600 });
  }

  /** Stops both servers and removes PostgreSQL's files. Safe to call twice. */
  async stop(): Promise<void> {
    this.client.destroy();
    await Promise.allSettled([this.secretsManager.stop(), this.postgres.stop()]);
  }
}

/**
 * Starts PostgreSQL and the Secrets Manager endpoint side by side.
 *
 * @example
 * ```ts
 * const stack = await startLocalStack();
 * try {
 *   const user = await stack.createApplicationUser();
 * } finally {
 *   await stack.stop();
 * }
 * ```
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const [postgres, secretsManager] = await Promise.allSettled([
    startPostgres(options.postgres),
    SecretsManagerEndpoint.start({ region: options.region ?? 'us-east-1' }),
  ]);
  if (postgres.status === 'fulfilled' && secretsManager.status === 'fulfilled') {
    return new LocalStack(postgres.value, secretsManager.value);
  }
  // Start failed half-way: do not leave the other half running.
  if (postgres.status === 'fulfilled') await postgres.value.stop();
  if (secretsManager.status === 'fulfilled') await secretsManager.value.stop();
  throw postgres.status === 'rejected'
    ? postgres.reason
    : (secretsManager as PromiseRejectedResult).reason;
}
