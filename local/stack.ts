import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateSecretCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { SdkSecretStore } from '../lambda/adapters/secrets-manager.js';
import { createScramVerifier } from '../lambda/core/scram.js';
import { createHandler } from '../lambda/index.js';
import type { Logger } from '../lambda/telemetry.js';
import type { SystemPrivilege } from './cockroach/behaviours.js';
import { type CockroachDouble, startCockroachDouble } from './cockroach/double.js';
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
  /** The engine the stack's secrets name. */
  readonly engine: LocalEngine;
  /** The CockroachDB double in front of PostgreSQL, when the engine is `cockroachdb`. */
  readonly cockroachdb?: {
    readonly host: string;
    readonly port: number;
    readonly database: string;
  };
  readonly secrets: readonly { readonly name: string; readonly arn: string }[];
  /** The Lambda ARN of the in-process rotation function, once one is registered. */
  readonly rotationFunctionArn?: string;
  /** That function's log group (its LoggingConfig.LogGroup), once one is registered. */
  readonly rotationFunctionLogGroup?: string;
}

/** The engines the local stack can run: PostgreSQL, or the CockroachDB double in front of it. */
export const LOCAL_ENGINES = ['postgres', 'cockroachdb'] as const;

/** One of {@link LOCAL_ENGINES}. */
export type LocalEngine = (typeof LOCAL_ENGINES)[number];

/** CockroachDB's default SCRAM cost, which the double starts with: users are stored at it. */
const COCKROACH_COST = 10_610;

/** Options for {@link startLocalStack}. */
export interface LocalStackOptions {
  /**
   * The engine the stack's users and secrets live on: PostgreSQL itself, or
   * the CockroachDB double (CockroachDB's wire behaviour, settings and
   * privileges, over the same PostgreSQL), so every tool can be tried
   * against either.
   * @default 'postgres'
   */
  readonly engine?: LocalEngine;
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
  /**
   * CockroachDB system privileges (`GRANT SYSTEM ...`) for the user, on the
   * `cockroachdb` engine only: a rotation admin needs CREATELOGIN (with
   * `createRole`), and whoever logs in to change a password needs
   * VIEWCLUSTERSETTING for the settings the function checks.
   * @default none
   */
  readonly systemPrivileges?: readonly SystemPrivilege[];
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
  /** The CockroachDB double, when the stack runs the `cockroachdb` engine. */
  readonly cockroach: CockroachDouble | undefined;
  readonly #secrets: { name: string; arn: string }[] = [];
  #rotationFunction: { arn: string; logGroupName: string } | undefined;

  /** @internal use {@link startLocalStack} */
  constructor(
    postgres: LocalPostgres,
    secretsManager: SecretsManagerEndpoint,
    cockroach?: CockroachDouble,
  ) {
    this.postgres = postgres;
    this.secretsManager = secretsManager;
    this.cockroach = cockroach;
    this.client = createSecretsManagerClient(secretsManager);
  }

  /** The engine the stack's secrets name. */
  get engine(): LocalEngine {
    return this.cockroach ? 'cockroachdb' : 'postgres';
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
        : // On the double, at the cluster's cost, as CockroachDB would store it.
          createScramVerifier(password, this.cockroach ? { iterations: COCKROACH_COST } : {});
    await this.postgres.createUser(username, stored, { createRole: options.createRole ?? false });
    if (this.cockroach && options.systemPrivileges?.length) {
      this.cockroach.privileges.grant(username, ...options.systemPrivileges);
    }
    if (options.managedBy !== undefined) {
      const admin = options.managedBy;
      await this.postgres.withAdmin((client) =>
        client.query(
          `GRANT ${client.escapeIdentifier(username)} TO ${client.escapeIdentifier(admin)} WITH ADMIN OPTION`,
        ),
      );
    }
    const server = this.cockroach ?? this.postgres;
    const secret = {
      engine: this.engine,
      host: server.host,
      port: server.port,
      username,
      password,
      dbname: server.database,
      ca: server.caPem,
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
   * A user set up to be rotated in `mode` on this stack's engine, with its
   * secret (and the admin's, in admin mode), as the guide's workflow expects:
   * on PostgreSQL the admin has CREATEROLE and ADMIN OPTION on the user; on
   * the CockroachDB double it has CREATEROLE, CREATELOGIN and
   * VIEWCLUSTERSETTING (CREATEROLE grants what v23.2+ needs), and a
   * single-user rotation needs `sql.auth.change_own_password.enabled`, which
   * this turns on, and VIEWCLUSTERSETTING for the user.
   *
   * @param options.mode - @default 'admin' on CockroachDB (its usual way), else 'single-user'
   */
  async createRotationTarget(options: {
    readonly username: string;
    readonly secretName?: string;
    readonly mode?: 'single-user' | 'admin';
    /** @default 'rotation_admin' */
    readonly adminUsername?: string;
  }): Promise<{ user: ApplicationUser; admin?: ApplicationUser; mode: 'single-user' | 'admin' }> {
    const mode = options.mode ?? (this.cockroach ? 'admin' : 'single-user');
    const privileges: SystemPrivilege[] = ['VIEWCLUSTERSETTING'];
    const naming = options.secretName ? { secretName: options.secretName } : {};
    if (mode === 'single-user') {
      this.cockroach?.settings.set('sql.auth.change_own_password.enabled', true);
      const user = await this.createApplicationUser({
        username: options.username,
        ...naming,
        systemPrivileges: privileges,
      });
      return { user, mode };
    }
    const admin = await this.createApplicationUser({
      username: options.adminUsername ?? 'rotation_admin',
      createRole: true,
      systemPrivileges: ['CREATELOGIN', ...privileges],
    });
    // On PostgreSQL 16+ the admin needs ADMIN OPTION on the user, which it
    // would have had it created the user itself.
    const user = await this.createApplicationUser({
      username: options.username,
      ...naming,
      extraKeys: { masterarn: admin.secretArn },
      ...(this.cockroach ? {} : { managedBy: admin.username }),
    });
    return { user, admin, mode };
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
      engine: this.engine,
      ...(this.cockroach
        ? {
            cockroachdb: {
              host: this.cockroach.host,
              port: this.cockroach.port,
              database: this.cockroach.database,
            },
          }
        : {}),
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

  /** Stops the servers and removes PostgreSQL's files. Safe to call twice. */
  async stop(): Promise<void> {
    this.client.destroy();
    // The double first: it holds connections to PostgreSQL.
    await this.cockroach?.stop();
    await Promise.allSettled([this.secretsManager.stop(), this.postgres.stop()]);
  }
}

/**
 * Starts PostgreSQL and the Secrets Manager endpoint side by side, and the
 * CockroachDB double in front of PostgreSQL when `engine` is `cockroachdb`.
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
  const engine = options.engine ?? 'postgres';
  if (!(LOCAL_ENGINES as readonly string[]).includes(engine)) {
    throw new TypeError(
      `unknown engine ${JSON.stringify(engine)}: use ${LOCAL_ENGINES.join(' or ')}`,
    );
  }
  const [postgres, secretsManager] = await Promise.allSettled([
    startPostgres(options.postgres),
    SecretsManagerEndpoint.start({ region: options.region ?? 'us-east-1' }),
  ]);
  if (postgres.status === 'fulfilled' && secretsManager.status === 'fulfilled') {
    if (engine === 'postgres') {
      return new LocalStack(postgres.value, secretsManager.value);
    }
    try {
      const cockroach = await startCockroachDouble({ postgres: postgres.value });
      return new LocalStack(postgres.value, secretsManager.value, cockroach);
    } catch (error) {
      await Promise.allSettled([postgres.value.stop(), secretsManager.value.stop()]);
      throw error;
    }
  }
  // Start failed half-way: do not leave the other half running.
  if (postgres.status === 'fulfilled') await postgres.value.stop();
  if (secretsManager.status === 'fulfilled') await secretsManager.value.stop();
  throw postgres.status === 'rejected'
    ? postgres.reason
    : (secretsManager as PromiseRejectedResult).reason;
}
