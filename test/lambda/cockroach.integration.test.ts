/**
 * The rotation function in CockroachDB mode, through the CockroachDB protocol
 * double (local/cockroach/) over the real local PostgreSQL, driven by
 * RotateSecret on the local Secrets Manager endpoint.
 */
import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PgConnector } from '../../lambda/adapters/database.js';
import { SdkSecretStore } from '../../lambda/adapters/secrets-manager.js';
import { parseScramVerifier } from '../../lambda/core/scram.js';
import { parseDatabaseSecret } from '../../lambda/core/secret.js';
import { COCKROACH_SETTINGS } from '../../lambda/engines/cockroachdb.js';
import { AuthenticationFailedError } from '../../lambda/errors.js';
import { createHandler } from '../../lambda/index.js';
import { Logger } from '../../lambda/telemetry.js';
import { SETTING_DEFINITIONS } from '../../local/cockroach/behaviours.js';
import { type CockroachDouble, startCockroachDouble } from '../../local/cockroach/double.js';
import { type LocalPostgres, startPostgres } from '../../local/postgres.js';
import {
  createSecretsManagerClient,
  SecretsManagerEndpoint,
} from '../../local/secrets-manager/index.js';
import {
  CLUSTER_COST,
  type CockroachUser,
  type CockroachUserOptions,
  createCockroachUser,
} from '../fixtures/cockroach.js';
import { LeakWatch } from '../fixtures/leaks.js';

const watch = new LeakWatch();
let postgres: LocalPostgres;
let crdb: CockroachDouble;
let endpoint: SecretsManagerEndpoint;
let client: SecretsManagerClient;

beforeAll(async () => {
  watch.start();
  postgres = await startPostgres();
  crdb = await startCockroachDouble({ postgres });
  endpoint = await SecretsManagerEndpoint.start();
  client = createSecretsManagerClient(endpoint);
});

afterEach(() => {
  for (const name of Object.keys(SETTING_DEFINITIONS)) crdb.settings.reset(name);
});

afterAll(async () => {
  client?.destroy();
  await endpoint?.stop();
  await crdb?.stop();
  await postgres?.stop();
  watch.stop();
});

/** Registers the real handler with `env` and returns its Lambda ARN. */
function rotationFunction(env: Record<string, string> = {}): string {
  const arn = endpoint.lambdaArn(`crdb-${randomBytes(3).toString('hex')}`);
  const handler = createHandler({
    secrets: new SdkSecretStore(client),
    env: { TEST_LOGIN_ATTEMPTS: '2', TEST_LOGIN_DELAY_MS: '50', ...env },
    logger: new Logger({ serviceName: 'scram-rotator', logLevel: 'INFO' }),
  });
  endpoint.registerRotationFunction(arn, (event, context) => handler(event, context));
  return arn;
}

/** A user behind the double and its secret; its password is watched for leaks. */
async function createUser(options: CockroachUserOptions = {}): Promise<CockroachUser> {
  const user = await createCockroachUser(crdb, client, options);
  watch.secret(user.password);
  return user;
}

/** A least-privilege rotation admin: CREATEROLE, CREATELOGIN, VIEWCLUSTERSETTING. */
function leastPrivilegeAdmin(iterations = CLUSTER_COST) {
  return createUser({
    createRole: true,
    grants: ['CREATELOGIN', 'VIEWCLUSTERSETTING'],
    iterations,
  });
}

/** A secret for the double written by hand, for values createCockroachUser would not write. */
async function secretFor(username: string, password: string, masterarn: string): Promise<string> {
  const created = await client.send(
    new CreateSecretCommand({
      Name: `crdb/by-hand-${randomBytes(3).toString('hex')}`,
      SecretString: JSON.stringify({
        engine: 'cockroachdb',
        host: crdb.host,
        port: crdb.port,
        dbname: crdb.database,
        ca: crdb.caPem,
        username,
        password,
        masterarn,
      }),
    }),
  );
  return created.ARN ?? '';
}

async function rotate(secretArn: string, lambdaArn: string) {
  await client.send(
    new RotateSecretCommand({
      SecretId: secretArn,
      RotationLambdaARN: lambdaArn,
      RotationRules: { AutomaticallyAfterDays: 30 },
    }),
  );
  const outcome = await endpoint.waitForRotation(secretArn, { timeoutMs: 30_000 });
  watch.text(outcome.errorMessage ?? '');
  return outcome;
}

async function currentPassword(secretArn: string): Promise<string> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  const password = parseDatabaseSecret(out.SecretString ?? '', { label: 'AWSCURRENT' }).password;
  watch.secret(password);
  return password;
}

/** Logs in through the double the way the function does (verify-full, SCRAM only). */
async function login(username: string, password: string): Promise<string> {
  const session = await new PgConnector().login(
    {
      host: crdb.host,
      port: crdb.port,
      database: crdb.database,
      username,
      password,
      ca: crdb.caPem,
    },
    { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 },
  );
  try {
    return await session.currentUser();
  } finally {
    await session.close();
  }
}

async function stored(username: string): Promise<string> {
  const hash = (await crdb.storedPassword(username)) ?? '';
  watch.secret(hash);
  return hash;
}

describe('rotation on CockroachDB (through the protocol double)', () => {
  it('rotates through a least-privilege admin at the cluster cost; the new password logs in, the old one does not', async () => {
    const admin = await leastPrivilegeAdmin();
    const user = await createUser({ masterarn: admin.secretArn });
    const outcome = await rotate(user.secretArn, rotationFunction());
    expect(outcome).toMatchObject({ ok: true });

    const next = await currentPassword(user.secretArn);
    expect(next).not.toBe(user.password);
    expect(await login(user.username, next)).toBe(user.username);
    await expect(login(user.username, user.password)).rejects.toBeInstanceOf(
      AuthenticationFailedError,
    );
    // Stored as sent, at the cluster's cost, so no login is asked for cleartext to re-hash it.
    expect(parseScramVerifier(await stored(user.username)).iterations).toBe(CLUSTER_COST);
    expect(
      crdb.events.some((e) => e.type === 'password-rehashed' && e.user === user.username),
    ).toBe(false);
    // The admin secret was only read.
    expect(await currentPassword(admin.secretArn)).toBe(admin.password);
  });

  it('refuses to rotate a member of admin through a least-privilege admin, before ALTER USER', async () => {
    const admin = await leastPrivilegeAdmin();
    const user = await createUser({ masterarn: admin.secretArn, admin: true });
    const before = await stored(user.username);
    const outcome = await rotate(user.secretArn, rotationFunction());
    expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
    expect(outcome.errorMessage).toMatch(
      new RegExp(
        `^Target role refused: ${user.username} is a member of a privileged role \\(admin\\)`,
      ),
    );
    expect(await stored(user.username)).toBe(before);
    expect(await login(user.username, user.password)).toBe(user.username);
    expect(crdb.events.some((e) => e.type === 'alter-password' && e.target === user.username)).toBe(
      false,
    );
  });

  it('refuses a user secret that names its own admin', async () => {
    const admin = await leastPrivilegeAdmin();
    const arn = await secretFor(admin.username, admin.password, admin.secretArn);
    const before = await stored(admin.username);
    const outcome = await rotate(arn, rotationFunction());
    expect(outcome.errorMessage).toMatch(/^Target role refused: \S+ is the role that logs in/);
    expect(await stored(admin.username)).toBe(before);
    expect(await login(admin.username, admin.password)).toBe(admin.username);
  });

  it('refuses a cluster cost above SCRAM_MAX_ITERATIONS before ALTER USER', async () => {
    crdb.settings.set(COCKROACH_SETTINGS.scramCost, 200_000);
    // Logins by SCRAM only, so the stored 10610-iteration verifiers are not re-hashed.
    crdb.settings.set(
      'server.host_based_authentication.configuration',
      'host all all all scram-sha-256',
    );
    const admin = await leastPrivilegeAdmin();
    const user = await createUser({ masterarn: admin.secretArn });
    const before = await stored(user.username);
    const outcome = await rotate(user.secretArn, rotationFunction());
    expect(outcome.errorMessage).toMatch(
      /^SCRAM iteration count refused: the cluster's server\.user_login\.password_hashes\.default_cost\.scram_sha_256 asks for 200000 iterations, above SCRAM_MAX_ITERATIONS \(100000\)/,
    );
    expect(await stored(user.username)).toBe(before);
    expect(await login(user.username, user.password)).toBe(user.username);
  });

  it('refuses a mixed-case username, which CockroachDB would fold to another name', async () => {
    const admin = await leastPrivilegeAdmin();
    const user = await createUser({ masterarn: admin.secretArn });
    const arn = await secretFor(user.username.toUpperCase(), user.password, admin.secretArn);
    const outcome = await rotate(arn, rotationFunction());
    expect(outcome).toMatchObject({ ok: false, failedStep: 'createSecret' });
    expect(outcome.errorMessage).toMatch(
      /^Malformed secret: AWSCURRENT, key username: .*lower case and NFC/,
    );
    expect(await login(user.username, user.password)).toBe(user.username);
  });

  it('confirms the stored hash when the admin may read system.users (admin role)', async () => {
    const admin = await createUser({ admin: true });
    const user = await createUser({ masterarn: admin.secretArn });
    expect(await rotate(user.secretArn, rotationFunction())).toMatchObject({ ok: true });
    expect(watch.saw('"storedHashConfirmed":true')).toBe(true);
    expect(await login(user.username, await currentPassword(user.secretArn))).toBe(user.username);
  });

  it('follows a cluster cost other than the default', async () => {
    crdb.settings.set(COCKROACH_SETTINGS.scramCost, 20_000);
    // Stored at the old cost, a login would be asked for cleartext (and refused).
    const admin = await leastPrivilegeAdmin(20_000);
    const user = await createUser({ masterarn: admin.secretArn, iterations: 20_000 });
    expect(await rotate(user.secretArn, rotationFunction())).toMatchObject({ ok: true });
    expect(parseScramVerifier(await stored(user.username)).iterations).toBe(20_000);
  });

  it('stops before ALTER USER when pre-hashed passwords are off, giving the SET CLUSTER SETTING to run', async () => {
    crdb.settings.set(COCKROACH_SETTINGS.storePreHashed, false);
    const admin = await leastPrivilegeAdmin();
    const user = await createUser({ masterarn: admin.secretArn });
    const before = await stored(user.username);
    const outcome = await rotate(user.secretArn, rotationFunction());
    expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
    expect(outcome.errorMessage).toBe(
      'Database setting prevents rotation: server.user_login.store_client_pre_hashed_passwords.enabled is off, so CockroachDB would store the verifier as if it were the cleartext password; run SET CLUSTER SETTING server.user_login.store_client_pre_hashed_passwords.enabled = true',
    );
    expect(await stored(user.username)).toBe(before);
    expect(await login(user.username, user.password)).toBe(user.username);
    expect(crdb.events.some((e) => e.type === 'alter-password' && e.target === user.username)).toBe(
      false,
    );
  });

  it('refuses a configured iteration count other than the cluster cost, unless allowed', async () => {
    const admin = await leastPrivilegeAdmin();
    const user = await createUser({ masterarn: admin.secretArn });
    const before = await stored(user.username);
    const outcome = await rotate(user.secretArn, rotationFunction({ SCRAM_ITERATIONS: '4096' }));
    expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
    expect(outcome.errorMessage).toMatch(
      /^Invalid configuration: SCRAM_ITERATIONS must be the cluster's server\.user_login\.password_hashes\.default_cost\.scram_sha_256 \(10610\)/,
    );
    expect(await stored(user.username)).toBe(before);

    // With the opt-in, and HBA requiring scram-sha-256 so no re-hash is asked for, it rotates at 4096.
    crdb.settings.set(
      'server.host_based_authentication.configuration',
      'host all all all scram-sha-256',
    );
    const allowed = rotationFunction({
      SCRAM_ITERATIONS: '4096',
      SCRAM_ITERATIONS_ALLOW_MISMATCH: 'true',
    });
    // The failed rotation left AWSPENDING; RotateSecret reattempts it with the function configured before.
    const retry = await createUser({ masterarn: admin.secretArn });
    expect(await rotate(retry.secretArn, allowed)).toMatchObject({ ok: true });
    expect(parseScramVerifier(await stored(retry.username)).iterations).toBe(4096);
  });

  it('refuses single-user rotation while change_own_password is off, saying to add masterarn or enable it', async () => {
    const user = await createUser({ grants: ['VIEWCLUSTERSETTING'] });
    const outcome = await rotate(user.secretArn, rotationFunction());
    expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
    expect(outcome.errorMessage).toMatch(
      /^Database setting prevents rotation: sql\.auth\.change_own_password\.enabled is off/,
    );
    expect(outcome.errorMessage).toContain('add masterarn');
    expect(outcome.errorMessage).toContain(
      'SET CLUSTER SETTING sql.auth.change_own_password.enabled = true',
    );
    expect(await login(user.username, user.password)).toBe(user.username);
  });

  it('rotates a single user once change_own_password is on', async () => {
    crdb.settings.set(COCKROACH_SETTINGS.changeOwnPassword, true);
    const user = await createUser({ grants: ['VIEWCLUSTERSETTING'] });
    expect(await rotate(user.secretArn, rotationFunction())).toMatchObject({ ok: true });
    expect(await login(user.username, await currentPassword(user.secretArn))).toBe(user.username);
  });

  it('refuses when the settings cannot be read, naming the grant', async () => {
    crdb.settings.set(COCKROACH_SETTINGS.changeOwnPassword, true);
    const user = await createUser();
    const outcome = await rotate(user.secretArn, rotationFunction());
    expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
    expect(outcome.errorMessage).toContain(`GRANT SYSTEM VIEWCLUSTERSETTING TO "${user.username}"`);
    expect(await login(user.username, user.password)).toBe(user.username);
  });

  it('logs in to CockroachDB Cloud with the secret options --cluster=<routing id>', async () => {
    const cloud = await startCockroachDouble({ postgres, requireClusterOption: true });
    try {
      const admin = await leastPrivilegeAdmin();
      cloud.privileges.grant(admin.username, 'CREATELOGIN', 'VIEWCLUSTERSETTING');
      const secretFor = async (u: CockroachUser, extra: Record<string, unknown>) =>
        (
          await client.send(
            new CreateSecretCommand({
              Name: `crdb-cloud/${u.username}`,
              SecretString: JSON.stringify({
                engine: 'cockroachdb',
                host: cloud.host,
                port: cloud.port,
                username: u.username,
                password: u.password,
                dbname: cloud.database,
                ca: cloud.caPem,
                options: `--cluster=${cloud.clusterRoutingId}`,
                ...extra,
              }),
            }),
          )
        ).ARN ?? '';
      const adminArn = await secretFor(admin, {});
      const user = await createUser();
      const userArn = await secretFor(user, { masterarn: adminArn });
      expect(await rotate(userArn, rotationFunction())).toMatchObject({ ok: true });
    } finally {
      await cloud.stop();
    }
  });

  it('printed no password or verifier in any log line or error message', () => {
    expect(watch.counts.secrets).toBeGreaterThan(10);
    expect(watch.saw('"message":"step succeeded"')).toBe(true);
    expect(watch.leaks()).toEqual([]);
  });
});
