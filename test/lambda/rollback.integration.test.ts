/**
 * testSecret's roll-back on the local stack: when the pending password fails
 * its test after setSecret changed the password of the user AWSCURRENT
 * names, AWSCURRENT's password is put back, the pending version withdrawn,
 * and the next rotation succeeds with another password.
 *
 * Also what a credential read as AWSCURRENT is good for, in every mode
 * (ROTATION_MODE): alternating mode promises that it keeps logging in until
 * the rotation after next (as AWSPREVIOUS in between); single-user and admin
 * mode change that same user's password, so it logs in until the next
 * rotation only. After a failed test, every labelled version the mode
 * promises logs in, and the withdrawn pending version does not.
 */
import { randomBytes } from 'node:crypto';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { CallOptions } from '../../lambda/adapters/call.js';
import {
  type DatabaseConnector,
  type DatabaseSession,
  type LoginLimits,
  type LoginTarget,
  PgConnector,
} from '../../lambda/adapters/database.js';
import { SdkSecretStore } from '../../lambda/adapters/secrets-manager.js';
import type { RotationEvent } from '../../lambda/core/event.js';
import { createScramVerifier } from '../../lambda/core/scram.js';
import { type DatabaseSecret, parseDatabaseSecret } from '../../lambda/core/secret.js';
import { AuthenticationFailedError, DatabaseUnreachableError } from '../../lambda/errors.js';
import { createHandler } from '../../lambda/index.js';
import type { StrategyName } from '../../lambda/strategies/strategy.js';
import { Logger } from '../../lambda/telemetry.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { handlerFor, runStep, stagePending, targetOf } from '../fixtures/drive.js';
import { LeakWatch, watchAround } from '../fixtures/leaks.js';
import { createRotatableUser, MODES, modeEnv } from '../fixtures/modes.js';

const limits = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 };

/**
 * The real connector, counting refused logins, with a network fault on demand: the next `times`
 * logins with one password fail as an unreachable server would. A dropped
 * connection at that moment cannot be produced otherwise.
 */
class FaultyConnector implements DatabaseConnector {
  readonly #inner = new PgConnector();
  #fault: { password: string; times: number } | undefined;
  /** Logins the server refused (a wrong password). */
  failed = 0;

  failNextLogins(password: string, times: number): void {
    this.#fault = { password, times };
  }

  login(
    target: LoginTarget,
    loginLimits: LoginLimits,
    options?: CallOptions,
  ): Promise<DatabaseSession> {
    const fault = this.#fault;
    if (fault && fault.times > 0 && target.password === fault.password) {
      fault.times--;
      return Promise.reject(
        new DatabaseUnreachableError(
          `${target.host}:${target.port}`,
          { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) },
          'ECONNRESET',
        ),
      );
    }
    return this.#inner.login(target, loginLimits, options).catch((error: unknown) => {
      if (error instanceof AuthenticationFailedError) this.failed++;
      throw error;
    });
  }
}

const watch = new LeakWatch();
let stack: LocalStack;

watchAround(watch, async () => (stack = await startLocalStack()));

async function read(secretId: string, stage = 'AWSCURRENT'): Promise<DatabaseSecret> {
  const out = await stack.client.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }),
  );
  const secret = parseDatabaseSecret(out.SecretString ?? '', { label: stage });
  watch.secret(secret.password);
  return secret;
}

async function logsIn(secret: DatabaseSecret): Promise<boolean> {
  try {
    const session = await new PgConnector().login(targetOf(secret), limits);
    await session.close();
    return true;
  } catch (error) {
    if (error instanceof AuthenticationFailedError) return false;
    throw error;
  }
}

/** Sets a role's password, as the superuser, to one nobody holds. */
async function scramble(role: string): Promise<void> {
  const verifier = createScramVerifier(randomBytes(12).toString('hex'));
  await stack.postgres.withAdmin((c) =>
    c.query(`ALTER ROLE ${c.escapeIdentifier(role)} PASSWORD ${c.escapeLiteral(verifier)}`),
  );
}

/**
 * The real handler, registered for RotateSecret; `afterSetSecret` runs
 * between setSecret and testSecret with the pending secret.
 */
function rotationFunction(options: {
  env?: Record<string, string>;
  database?: DatabaseConnector;
  afterSetSecret?: (pending: DatabaseSecret) => Promise<void>;
}): string {
  const arn = stack.secretsManager.lambdaArn(`rollback-${randomBytes(3).toString('hex')}`);
  const handler = createHandler({
    secrets: new SdkSecretStore(stack.client),
    ...(options.database ? { database: options.database } : {}),
    env: { TEST_LOGIN_ATTEMPTS: '2', TEST_LOGIN_DELAY_MS: '50', ...options.env },
    logger: new Logger({ serviceName: 'scram-rotator', logLevel: 'SILENT' }),
  });
  stack.secretsManager.registerRotationFunction(
    arn,
    async (event: RotationEvent, context: Context) => {
      await handler(event, context);
      if (event.Step === 'setSecret')
        await options.afterSetSecret?.(await read(event.SecretId, 'AWSPENDING'));
    },
  );
  return arn;
}

async function rotate(secretArn: string, lambdaArn: string) {
  const outcome = await stack.rotate(secretArn, lambdaArn, { timeoutMs: 30_000 });
  watch.text(outcome.errorMessage ?? '');
  return outcome;
}

async function pendingStaged(secretArn: string): Promise<boolean> {
  const out = await stack.client.send(new DescribeSecretCommand({ SecretId: secretArn }));
  return Object.values(out.VersionIdsToStages ?? {}).some((stages) =>
    stages.includes('AWSPENDING'),
  );
}

describe('a testSecret failure after setSecret changed the user AWSCURRENT names', () => {
  it('admin mode: puts AWSCURRENT back, withdraws the pending version, and the next rotation uses another password', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const user = await stack.createApplicationUser({
      managedBy: admin.username,
      extraKeys: { masterarn: admin.secretArn },
    });
    const current = await read(user.secretArn);
    let failed: DatabaseSecret | undefined;
    const sabotaged = rotationFunction({
      env: { ROTATION_MODE: 'admin' },
      // The password changes under the rotation, so the pending one fails its test.
      afterSetSecret: async (pending) => {
        failed = pending;
        await scramble(user.username);
      },
    });
    const outcome = await rotate(user.secretArn, sabotaged);
    expect(outcome).toMatchObject({ ok: false, failedStep: 'testSecret' });
    expect(outcome.errorMessage).toBe(
      `Rotation rolled back: ${user.username} did not log in with the pending password (Authentication failed: user ${user.username} could not log in at ${current.host}:${current.port}), so its password was set back to AWSCURRENT's, which logs in again. AWSPENDING was removed, so the next rotation generates a new password. Fix the cause before the next rotation`,
    );
    expect(await logsIn(current)).toBe(true);
    expect(await logsIn(failed as DatabaseSecret)).toBe(false);
    expect(await pendingStaged(user.secretArn)).toBe(false);

    // The roll-back went through the admin, as setSecret does.
    const log = await stack.postgres.readServerLog();
    expect(log).toMatch(
      new RegExp(`${admin.username}@postgres LOG: {2}statement: ALTER USER "${user.username}"`),
    );

    expect(
      await rotate(user.secretArn, rotationFunction({ env: { ROTATION_MODE: 'admin' } })),
    ).toMatchObject({ ok: true });
    const next = await read(user.secretArn);
    expect(next.password).not.toBe(failed?.password);
    expect(next.password).not.toBe(current.password);
    expect(await logsIn(next)).toBe(true);
  });

  it('admin mode: puts back a hand-set AWSCURRENT password that is not ASCII, and it logs in again', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const user = await stack.createApplicationUser({
      managedBy: admin.username,
      extraKeys: { masterarn: admin.secretArn },
    });
    // Set by an operator as psql would: the server hashes it (its own
    // SASLprep maps the no-break space), and the secret is updated by hand.
    const handSet = `Kaffee\u00A0f\u00FCr ${randomBytes(6).toString('hex')} \uFB01`;
    watch.secret(handSet);
    await stack.postgres.withAdmin((c) =>
      c.query(
        `ALTER ROLE ${c.escapeIdentifier(user.username)} PASSWORD ${c.escapeLiteral(handSet)}`,
      ),
    );
    const before = await read(user.secretArn);
    await stack.client.send(
      new PutSecretValueCommand({
        SecretId: user.secretArn,
        SecretString: JSON.stringify({ ...before.raw, password: handSet }),
      }),
    );
    const current = await read(user.secretArn);
    expect(await logsIn(current)).toBe(true);

    const outcome = await rotate(
      user.secretArn,
      rotationFunction({
        env: { ROTATION_MODE: 'admin' },
        afterSetSecret: async () => scramble(user.username),
      }),
    );
    expect(outcome).toMatchObject({ ok: false, failedStep: 'testSecret' });
    expect(outcome.errorMessage).toMatch(/^Rotation rolled back: /);
    expect(await logsIn(current)).toBe(true);
  });

  it('rolls nothing back when the test login failed for a moment, and the retry of the same token finishes the rotation', async () => {
    const user = await stack.createApplicationUser();
    const current = await read(user.secretArn);
    const database = new FaultyConnector();
    const lambda = rotationFunction({
      // With transient retries off, one dropped connection fails the test login.
      env: { ROTATION_MODE: 'single-user', TRANSIENT_RETRY_MS: '0' },
      database,
      afterSetSecret: async (pending) => {
        if (!faulted) database.failNextLogins(pending.password, 1);
        faulted = true;
      },
    });
    let faulted = false;
    const outcome = await rotate(user.secretArn, lambda);
    expect(outcome).toMatchObject({ ok: false, failedStep: 'testSecret' });
    // A dropped connection proves nothing about the password: no roll-back.
    expect(outcome.errorMessage).toMatch(/^Database unreachable: /);
    const pending = await read(user.secretArn, 'AWSPENDING');
    expect(await logsIn(pending)).toBe(true);
    expect(await logsIn(current)).toBe(false);
    // Secrets Manager's retry of the same token tests the password again.
    await expect(
      stack.client.send(
        new RotateSecretCommand({
          SecretId: user.secretArn,
          RotationLambdaARN: lambda,
          RotationRules: { AutomaticallyAfterDays: 30 },
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidRequestException' });
    expect(
      await stack.secretsManager.waitForRotation(user.secretArn, { timeoutMs: 30_000 }),
    ).toMatchObject({ ok: true });
    expect((await read(user.secretArn)).password).toBe(pending.password);
  });

  it('single-user mode: says so, and keeps AWSPENDING, when no credential it holds logs in any more', async () => {
    const user = await stack.createApplicationUser();
    const outcome = await rotate(
      user.secretArn,
      rotationFunction({ afterSetSecret: () => scramble(user.username) }),
    );
    expect(outcome).toMatchObject({ ok: false, failedStep: 'testSecret' });
    expect(outcome.errorMessage).toMatch(
      new RegExp(
        `^Rotation could not be rolled back: ${user.username} did not log in with the pending password \\(Authentication failed: .*\\), and its password could not be set back to AWSCURRENT's \\(Authentication failed: user ${user.username} could not log in at .*\\)\\. AWSCURRENT may not log in now: set the user's password by hand .* AWSPENDING was kept`,
      ),
    );
    expect(await pendingStaged(user.secretArn)).toBe(true);
  });

  it('neither rolls back nor changes anything when the pending version names another server', async () => {
    const user = await stack.createApplicationUser();
    const current = await read(user.secretArn);
    const storedBefore = await stack.postgres.storedPassword(user.username);
    watch.secret(storedBefore);
    // Stage a pending version by hand that points elsewhere, and run testSecret alone.
    const noop = stack.secretsManager.lambdaArn('noop-rollback');
    stack.secretsManager.registerRotationFunction(noop, async () => undefined);
    await stack.client.send(
      new RotateSecretCommand({
        SecretId: user.secretArn,
        RotationLambdaARN: noop,
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: false,
      }),
    );
    await stack.secretsManager.waitForRotation(user.secretArn, { timeoutMs: 10_000 });
    const token = crypto.randomUUID();
    const password = randomBytes(16).toString('hex');
    watch.secret(password);
    await stack.client.send(
      new PutSecretValueCommand({
        SecretId: user.secretArn,
        ClientRequestToken: token,
        SecretString: JSON.stringify({ ...current.raw, host: 'evil.invalid', password }),
        VersionStages: ['AWSPENDING'],
      }),
    );
    const handler = createHandler({
      secrets: new SdkSecretStore(stack.client),
      env: { TEST_LOGIN_ATTEMPTS: '1', CONNECT_TIMEOUT_MS: '1000' },
      logger: new Logger({ serviceName: 'scram-rotator', logLevel: 'SILENT' }),
    });
    const error = await handler(
      { Step: 'testSecret', SecretId: user.secretArn, ClientRequestToken: token },
      { getRemainingTimeInMillis: () => 30_000 } as Context,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    watch.error(error);
    // The test login cannot be made there: that proves nothing about the
    // password, so no roll-back starts (it would refuse the version, too).
    expect(error).toBeInstanceOf(DatabaseUnreachableError);
    expect(await stack.postgres.storedPassword(user.username)).toBe(storedBefore);
    expect(await logsIn(current)).toBe(true);
  });
});

/** How many rotations a credential read as AWSCURRENT survives, by mode. */
const SURVIVES = { alternating: 1, admin: 0, 'single-user': 0 } as const satisfies Record<
  StrategyName,
  number
>;

describe.each(MODES)('AWSPREVIOUS in %s mode', (mode) => {
  const promise =
    SURVIVES[mode] === 1
      ? 'keeps logging in until the rotation after next'
      : 'logs in until the next rotation only';
  it(`a credential read as AWSCURRENT ${promise}, and a failed test leaves that so`, async () => {
    const user = await createRotatableUser(stack);
    const sabotage = { on: false };
    const lambda = rotationFunction({
      env: modeEnv(mode),
      afterSetSecret: async (pending) => {
        if (sabotage.on) await scramble(pending.username);
      },
    });
    const held = [await read(user.secretArn)];
    for (let n = 1; n <= 3; n++) {
      expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
      held.push(await read(user.secretArn));
      // held[n] is AWSCURRENT; held[n - 1] is AWSPREVIOUS.
      expect(await logsIn(held[n] as DatabaseSecret)).toBe(true);
      expect(await logsIn(await read(user.secretArn, 'AWSPREVIOUS'))).toBe(SURVIVES[mode] === 1);
      if (n >= 2) expect(await logsIn(held[n - 2] as DatabaseSecret)).toBe(false);
    }
    // Single-user mode cannot be rolled back once the pending user's password
    // is scrambled (only the pending login could set it back).
    if (mode === 'single-user') return;
    sabotage.on = true;
    const failed = await rotate(user.secretArn, lambda);
    expect(failed).toMatchObject({ ok: false, failedStep: 'testSecret' });
    expect(failed.errorMessage).toMatch(/^Rotation rolled back: /);
    expect(await logsIn(await read(user.secretArn))).toBe(true);
    expect(await logsIn(await read(user.secretArn, 'AWSPREVIOUS'))).toBe(SURVIVES[mode] === 1);
  });
});

describe.each(MODES)('setSecret run again in %s mode', (mode) => {
  it('after one that succeeded, makes at most one failed login, and the rotation still finishes', async () => {
    const user = await createRotatableUser(stack);
    const database = new FaultyConnector();
    const handler = handlerFor({
      secrets: new SdkSecretStore(stack.client),
      database,
      env: modeEnv(mode),
    });
    // One rotation first, so that there is an AWSPREVIOUS to try.
    expect(await rotate(user.secretArn, rotationFunction({ env: modeEnv(mode) }))).toMatchObject({
      ok: true,
    });
    const token = await stagePending(stack.client, stack.secretsManager, user.secretArn);
    for (const step of ['createSecret', 'setSecret'] as const) {
      expect((await runStep(handler, step, user.secretArn, token)).error).toBeUndefined();
    }
    expect(database.failed).toBe(0);
    // A duplicated delivery of setSecret.
    expect((await runStep(handler, 'setSecret', user.secretArn, token)).error).toBeUndefined();
    expect(database.failed).toBeLessThanOrEqual(1);
    for (const step of ['testSecret', 'finishSecret'] as const) {
      expect((await runStep(handler, step, user.secretArn, token)).error).toBeUndefined();
    }
    expect(await logsIn(await read(user.secretArn))).toBe(true);
  });
});

describe('an admin with CREATEROLE but without ADMIN OPTION on the user (PostgreSQL 16+)', () => {
  it('is told that ADMIN OPTION is what is missing, with the GRANT to run, and nothing changes', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const user = await stack.createApplicationUser({ extraKeys: { masterarn: admin.secretArn } });
    const before = await stack.postgres.storedPassword(user.username);
    watch.secret(before);
    const outcome = await rotate(user.secretArn, rotationFunction({ env: modeEnv('admin') }));
    expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
    expect(outcome.errorMessage).toMatch(
      new RegExp(
        `^Insufficient privilege: user ${admin.username} at .* may not change this password; it has CREATEROLE but not ADMIN OPTION on the role it changes, which PostgreSQL 16\\+ requires; run GRANT <that role> TO "${admin.username}" WITH ADMIN OPTION`,
      ),
    );
    expect(await stack.postgres.storedPassword(user.username)).toBe(before);
  });
});

describe('across the roll-back suite', () => {
  it('printed no password or verifier in any log line or error message', () => {
    for (const invocation of stack.secretsManager.invocations) {
      watch.text(invocation.errorMessage ?? '');
    }
    expect(watch.counts.secrets).toBeGreaterThan(5);
    expect(watch.leaks()).toEqual([]);
  });
});
