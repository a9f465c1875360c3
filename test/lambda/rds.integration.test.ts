/**
 * Issue 19 items 1 and 2, on the real local PostgreSQL over verify-full TLS
 * with the real SDK and our Secrets Manager endpoint: what RDS and Aurora
 * users meet.
 *
 * - The Lambda runtime's CA bundle (`/var/runtime/ca-cert.pem`; here a file
 *   holding the stack's generated CA, named by RUNTIME_CA_BUNDLE_PATH) is
 *   trusted beside Node's roots, read once per container, and never widens a
 *   secret's `ca` or CA_BUNDLE_PATH.
 * - RDS-managed master secrets (`{username, password}`) and CDK's generated
 *   master secret work as `masterarn`, in admin and alternating mode.
 * - `rds.restrict_password_commands`, simulated: PostgreSQL accepts a custom
 *   setting with a dotted name (a placeholder GUC) set per role, and a
 *   plain `rds_password` role stands in for RDS's. The simulation has the
 *   parameter's name and the role, not its enforcement: the refusal (42501)
 *   comes from a missing ADMIN OPTION instead.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecks } from '../../bin/doctor/checks.js';
import { PgConnector } from '../../lambda/adapters/database.js';
import { SdkSecretStore } from '../../lambda/adapters/secrets-manager.js';
import { configFromEnv } from '../../lambda/config.js';
import { parseDatabaseSecret } from '../../lambda/core/secret.js';
import { InsufficientPrivilegeError, SecretMismatchError, TlsError } from '../../lambda/errors.js';
import type { StrategyName } from '../../lambda/strategies/strategy.js';
import { Logger } from '../../lambda/telemetry.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { createCertificateAuthority } from '../../local/tls.js';
import { targetOf } from '../fixtures/drive.js';
import { LeakWatch } from '../fixtures/leaks.js';
import { modeEnv, rotationAdmin } from '../fixtures/modes.js';
import { quietHandler, runStep, stagePending } from '../fixtures/steps.js';

const limits = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 };
const fastRetries = { TEST_LOGIN_ATTEMPTS: '2', TEST_LOGIN_DELAY_MS: '50' };

const watch = new LeakWatch();
let stack: LocalStack;
const dir = mkdtempSync(join(tmpdir(), 'scram-rotator-rds-'));
/** The stack's CA, placed as the runtime bundle would be on Lambda. */
let runtimeBundle: string;
/** A CA that signed nothing the stack serves. */
const stranger = createCertificateAuthority('stranger');

beforeAll(async () => {
  watch.start();
  stack = await startLocalStack();
  runtimeBundle = join(dir, 'ca-cert.pem');
  writeFileSync(runtimeBundle, stack.postgres.caPem);
});

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
  watch.stop();
});

/** A file holding `pem`, for CA_BUNDLE_PATH or RUNTIME_CA_BUNDLE_PATH. */
function pemFile(pem: string): string {
  const path = join(dir, `${randomBytes(4).toString('hex')}.pem`);
  writeFileSync(path, pem);
  return path;
}

/** Registers the real handler, built once (one container), under a fresh name. */
function register(env: Record<string, string>): string {
  return stack.registerRotationFunction({
    functionName: `rds-${randomBytes(3).toString('hex')}`,
    env: { ...fastRetries, ...env },
    logger: new Logger({ serviceName: 'scram-rotator', logLevel: 'SILENT' }),
  });
}

/** AWSCURRENT, parsed, its password watched for leaks. */
async function current(arn: string) {
  const out = await stack.client.send(new GetSecretValueCommand({ SecretId: arn }));
  const secret = parseDatabaseSecret(out.SecretString ?? '', { label: 'AWSCURRENT' });
  watch.secret(secret.password);
  return secret;
}

/** Rotates through RotateSecret and returns the outcome, its message watched. */
async function rotate(arn: string, lambdaArn: string) {
  const outcome = await stack.rotate(arn, lambdaArn, { timeoutMs: 30_000 });
  watch.text(outcome.errorMessage ?? '');
  return outcome;
}

/** Logs in with AWSCURRENT, trusting the stack's CA, and returns session_user. */
async function loginWith(arn: string): Promise<string> {
  const secret = await current(arn);
  const session = await new PgConnector().login(
    { ...targetOf(secret), ca: stack.postgres.caPem },
    limits,
  );
  try {
    return (await session.identity()).sessionUser;
  } finally {
    await session.close();
  }
}

/** A user whose secret has no `ca` key: the trust store comes from the function. */
async function userWithoutCa(extraKeys: Record<string, unknown> = {}) {
  return stack.createApplicationUser({ extraKeys: { ca: undefined, ...extraKeys } });
}

describe("the Lambda runtime's CA bundle", () => {
  it('lets a server whose certificate is trusted only through it log in and rotate', async () => {
    const user = await userWithoutCa();
    const before = await current(user.secretArn);
    const outcome = await rotate(
      user.secretArn,
      register({ RUNTIME_CA_BUNDLE_PATH: runtimeBundle }),
    );
    expect(outcome).toMatchObject({ ok: true });
    const after = await current(user.secretArn);
    expect(after.password).not.toBe(before.password);
    expect(after.raw).not.toHaveProperty('ca');
    expect(await loginWith(user.secretArn)).toBe(user.username);
  });

  it("fails with the TLS error without it: Node's roots alone do not trust the server", async () => {
    const user = await userWithoutCa();
    const before = await current(user.secretArn);
    // The default path, /var/runtime/ca-cert.pem, does not exist off Lambda.
    const outcome = await rotate(user.secretArn, register({}));
    expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
    expect(outcome.errorMessage).toMatch(/^TLS verification failed: .*not signed by a trusted CA/);
    expect((await current(user.secretArn)).password).toBe(before.password);
  });

  it("fails when the secret's ca does not match, even though the bundle would trust the server", async () => {
    const user = stack.createApplicationUser({ extraKeys: { ca: stranger.certPem } });
    const { secretArn } = await user;
    const handler = quietHandler(stack.client, { RUNTIME_CA_BUNDLE_PATH: runtimeBundle });
    const token = await stagePending(stack.client, stack.secretsManager, secretArn);
    expect(await runStep(handler, secretArn, 'createSecret', token)).toBeUndefined();
    const error = await runStep(handler, secretArn, 'setSecret', token);
    expect(error).toBeInstanceOf(TlsError);
    expect(error).toMatchObject({ reason: 'untrusted-ca' });
  });

  it('fails when CA_BUNDLE_PATH does not match: it narrows trust to itself as documented', async () => {
    const { secretArn } = await userWithoutCa();
    const handler = quietHandler(stack.client, {
      RUNTIME_CA_BUNDLE_PATH: runtimeBundle,
      CA_BUNDLE_PATH: pemFile(stranger.certPem),
    });
    const token = await stagePending(stack.client, stack.secretsManager, secretArn);
    expect(await runStep(handler, secretArn, 'createSecret', token)).toBeUndefined();
    expect(await runStep(handler, secretArn, 'setSecret', token)).toMatchObject({
      name: 'TlsError',
      reason: 'untrusted-ca',
    });
  });

  it('is read once per container: replacing the file later changes nothing for that handler', async () => {
    const path = pemFile(stack.postgres.caPem);
    const lambdaArn = register({ RUNTIME_CA_BUNDLE_PATH: path });
    const first = await userWithoutCa();
    expect(await rotate(first.secretArn, lambdaArn)).toMatchObject({ ok: true });
    // A cold start now would trust only the stranger; the warm container
    // still holds what it read.
    writeFileSync(path, stranger.certPem);
    const second = await userWithoutCa();
    expect(await rotate(second.secretArn, lambdaArn)).toMatchObject({ ok: true });
    const cold = await userWithoutCa();
    const coldOutcome = await rotate(cold.secretArn, register({ RUNTIME_CA_BUNDLE_PATH: path }));
    expect(coldOutcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
  });

  it('is named by doctor as the trust store a login used', async () => {
    const user = await userWithoutCa();
    const check = async (env: Record<string, string>) => {
      const config = configFromEnv(env);
      const results = await runChecks({
        secretId: user.secretArn,
        secrets: new SdkSecretStore(stack.client),
        database: new PgConnector(),
        config,
        limits,
      });
      return results.find((r) => r.check === 'login');
    };
    const withBundle = await check({ RUNTIME_CA_BUNDLE_PATH: runtimeBundle });
    expect(withBundle).toMatchObject({ status: 'pass' });
    expect(withBundle?.detail).toContain(
      `trusting the Lambda runtime's CA bundle and Node's bundled roots (${runtimeBundle})`,
    );
    const without = await check({});
    expect(without).toMatchObject({ status: 'fail' });
    expect(without?.detail).toContain(
      "trusting Node's bundled roots (no runtime CA bundle at /var/runtime/ca-cert.pem)",
    );
    expect(without?.fix).toContain('RUNTIME_CA_BUNDLE_PATH');
    const narrowed = await check({
      RUNTIME_CA_BUNDLE_PATH: runtimeBundle,
      CA_BUNDLE_PATH: pemFile(stranger.certPem),
    });
    expect(narrowed).toMatchObject({ status: 'fail' });
    expect(narrowed?.detail).toContain('trusting CA_BUNDLE_PATH only');
  });
});

/** The admin secret shapes RDS users have, built from a rotation admin's own secret. */
const ADMIN_SHAPES = {
  /** RDS-managed (ManageMasterUserPassword): nothing but the login. */
  'RDS-managed': (admin: { username: string; password: string }) => ({
    username: admin.username,
    password: admin.password,
  }),
  /** CDK's generated master secret once attached to the instance. */
  'CDK-generated': (admin: { username: string; password: string }) => ({
    dbname: stack.postgres.database,
    engine: 'postgres',
    port: stack.postgres.port,
    dbInstanceIdentifier: 'database-1abcdefghijk',
    host: stack.postgres.host,
    username: admin.username,
    password: admin.password,
  }),
} as const;

/** Stores an admin secret of `shape` for the stack's rotation admin and returns its ARN. */
async function adminSecretOf(
  shape: keyof typeof ADMIN_SHAPES,
  override: Record<string, unknown> = {},
): Promise<{ arn: string; username: string }> {
  const admin = await rotationAdmin(stack);
  const full = await current(admin.secretArn);
  const out = await stack.client.send(
    new CreateSecretCommand({
      Name: `rds/master/${randomBytes(4).toString('hex')}`,
      SecretString: JSON.stringify({ ...ADMIN_SHAPES[shape](full), ...override }),
    }),
  );
  return { arn: out.ARN ?? '', username: admin.username };
}

describe('RDS master secrets as masterarn', () => {
  const modes: readonly StrategyName[] = ['admin', 'alternating'];
  for (const shape of Object.keys(ADMIN_SHAPES) as (keyof typeof ADMIN_SHAPES)[]) {
    for (const mode of modes) {
      it(`rotate a user in ${mode} mode through the ${shape} master secret`, async () => {
        const admin = await adminSecretOf(shape);
        const adminText = (
          await stack.client.send(new GetSecretValueCommand({ SecretId: admin.arn }))
        ).SecretString;
        const user = await stack.createApplicationUser({
          managedBy: admin.username,
          extraKeys: { masterarn: admin.arn },
        });
        const before = await current(user.secretArn);
        const outcome = await rotate(user.secretArn, register(modeEnv(mode)));
        expect(outcome).toMatchObject({ ok: true });
        const after = await current(user.secretArn);
        expect(after.password).not.toBe(before.password);
        expect(await loginWith(user.secretArn)).toBe(after.username);
        // The admin secret is read, never written.
        const adminAfter = await stack.client.send(
          new GetSecretValueCommand({ SecretId: admin.arn }),
        );
        expect(adminAfter.SecretString).toBe(adminText);
      });
    }
  }

  it('still refuse a CDK-generated master secret that names another port, changing nothing', async () => {
    const admin = await adminSecretOf('CDK-generated', { port: stack.postgres.port + 1 });
    const user = await stack.createApplicationUser({
      managedBy: admin.username,
      extraKeys: { masterarn: admin.arn },
    });
    const storedBefore = await stack.postgres.storedPassword(user.username);
    const handler = quietHandler(stack.client, modeEnv('admin'));
    const token = await stagePending(stack.client, stack.secretsManager, user.secretArn);
    expect(await runStep(handler, user.secretArn, 'createSecret', token)).toBeUndefined();
    const error = await runStep(handler, user.secretArn, 'setSecret', token);
    expect(error).toBeInstanceOf(SecretMismatchError);
    expect(error).toMatchObject({ fields: ['port'], versus: 'admin secret (masterarn)' });
    expect(await stack.postgres.storedPassword(user.username)).toBe(storedBefore);
  });

  it('log in where AWSCURRENT says when the master secret has no host, trusting its CA', async () => {
    // AWSCURRENT names the server and its CA; the RDS-managed secret names
    // neither, so the admin's login uses both from AWSCURRENT.
    const admin = await adminSecretOf('RDS-managed');
    const user = await stack.createApplicationUser({
      managedBy: admin.username,
      extraKeys: { masterarn: admin.arn },
    });
    const config = configFromEnv({ ROTATION_MODE: 'admin' });
    const results = await runChecks({
      secretId: user.secretArn,
      secrets: new SdkSecretStore(stack.client),
      database: new PgConnector(),
      config,
      limits,
    });
    expect(results.find((r) => r.check === 'admin target')).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining("the admin logs in to AWSCURRENT's"),
    });
    const adminLogin = results.find((r) => r.check === 'admin login');
    expect(adminLogin).toMatchObject({ status: 'pass' });
    expect(adminLogin?.detail).toContain("trusting the secret's ca key only");
  });
});

describe('rds.restrict_password_commands (simulated)', () => {
  /** A fresh admin and its user, the admin seeing the setting on in its sessions. */
  async function restrictedAdmin(options: { adminOption: boolean }) {
    const admin = await stack.createApplicationUser({
      username: `adm_${randomBytes(3).toString('hex')}`,
      createRole: true,
    });
    await stack.postgres.withAdmin(async (c) => {
      await c.query(
        `ALTER ROLE ${c.escapeIdentifier(admin.username)} SET rds.restrict_password_commands = 'on'`,
      );
      await c.query(
        'DO $$ BEGIN CREATE ROLE rds_password NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$',
      );
    });
    const user = await stack.createApplicationUser({
      ...(options.adminOption ? { managedBy: admin.username } : {}),
      extraKeys: { masterarn: admin.secretArn },
    });
    return { admin, user };
  }

  const doctorChecks = (secretId: string) =>
    runChecks({
      secretId,
      secrets: new SdkSecretStore(stack.client),
      database: new PgConnector(),
      config: configFromEnv({ ROTATION_MODE: 'admin' }),
      limits,
    });

  it('make doctor fail an admin outside rds_password, with the GRANT that fixes it, and pass it once granted', async () => {
    const { admin, user } = await restrictedAdmin({ adminOption: true });
    const results = await doctorChecks(user.secretArn);
    const check = results.find((r) => r.check === 'rds.restrict_password_commands');
    expect(check).toMatchObject({ status: 'fail' });
    expect(check?.fix).toBe(`as the master user run GRANT "rds_password" TO "${admin.username}"`);
    await stack.postgres.withAdmin((c) =>
      c.query(`GRANT rds_password TO ${c.escapeIdentifier(admin.username)}`),
    );
    const granted = await doctorChecks(user.secretArn);
    expect(granted.find((r) => r.check === 'rds.restrict_password_commands')).toMatchObject({
      status: 'pass',
    });
  });

  it('make doctor fail a value that is neither on nor off: unknown is not a pass', async () => {
    const { admin, user } = await restrictedAdmin({ adminOption: true });
    await stack.postgres.withAdmin((c) =>
      c.query(
        `ALTER ROLE ${c.escapeIdentifier(admin.username)} SET rds.restrict_password_commands = 'sometimes'`,
      ),
    );
    const results = await doctorChecks(user.secretArn);
    const check = results.find((r) => r.check === 'rds.restrict_password_commands');
    expect(check).toMatchObject({ status: 'fail' });
    expect(check?.detail).toMatch(/not on or off/);
  });

  it('report nothing where the setting does not exist', async () => {
    const admin = await rotationAdmin(stack);
    const user = await stack.createApplicationUser({
      managedBy: admin.username,
      extraKeys: { masterarn: admin.secretArn },
    });
    const results = await doctorChecks(user.secretArn);
    expect(results.some((r) => r.check === 'rds.restrict_password_commands')).toBe(false);
  });

  it('make doctor fail, without a GRANT of a role that does not exist, where the setting is on but rds_password is missing', async () => {
    const { admin, user } = await restrictedAdmin({ adminOption: true });
    await stack.postgres.withAdmin((c) => c.query('DROP ROLE rds_password'));
    try {
      const results = await doctorChecks(user.secretArn);
      const check = results.find((r) => r.check === 'rds.restrict_password_commands');
      expect(check).toMatchObject({ status: 'fail' });
      expect(check?.detail).toBe(
        `on, but no rds_password role exists: whether ${admin.username} may set passwords is unknown`,
      );
      expect(check?.fix).not.toContain('GRANT');
    } finally {
      await stack.postgres.withAdmin((c) =>
        c.query(
          'DO $$ BEGIN CREATE ROLE rds_password NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$',
        ),
      );
    }
  });

  it('make a refused password change name rds_password only when the server proves it missing', async () => {
    // No ADMIN OPTION: PostgreSQL 16+ refuses the ALTER with 42501.
    const { admin, user } = await restrictedAdmin({ adminOption: false });
    const handler = quietHandler(stack.client, modeEnv('admin'));
    const token = await stagePending(stack.client, stack.secretsManager, user.secretArn);
    expect(await runStep(handler, user.secretArn, 'createSecret', token)).toBeUndefined();
    const setSecret = async () => {
      const error = await runStep(handler, user.secretArn, 'setSecret', token);
      watch.error(error);
      return error;
    };
    const storedBefore = await stack.postgres.storedPassword(user.username);
    const refused = await setSecret();
    expect(refused).toBeInstanceOf(InsufficientPrivilegeError);
    expect(refused).toMatchObject({ requiredRole: 'rds_password', username: admin.username });
    expect((refused as Error).message).toMatch(
      new RegExp(
        `^Insufficient privilege: .*rds\\.restrict_password_commands is on and ${admin.username} is not a member of rds_password: as the master user run GRANT "rds_password" TO "${admin.username}"$`,
      ),
    );
    expect(await stack.postgres.storedPassword(user.username)).toBe(storedBefore);
    // In rds_password now: the same refusal (no ADMIN OPTION) no longer blames it.
    await stack.postgres.withAdmin((c) =>
      c.query(`GRANT rds_password TO ${c.escapeIdentifier(admin.username)}`),
    );
    const stillRefused = await setSecret();
    expect(stillRefused).toBeInstanceOf(InsufficientPrivilegeError);
    expect(stillRefused).toMatchObject({ requiredRole: undefined });
    expect((stillRefused as Error).message).not.toContain('rds_password');
    expect(await stack.postgres.storedPassword(user.username)).toBe(storedBefore);
  });
});

describe('across this suite', () => {
  it('printed no password in any log line or error message', () => {
    expect(watch.counts.secrets).toBeGreaterThan(10);
    expect(watch.leaks()).toEqual([]);
  });
});
