import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabaseSession, PgConnector } from '../../lambda/adapters/database.js';
import { SdkSecretStore } from '../../lambda/adapters/secrets-manager.js';
import type { RotationEvent, RotationStep } from '../../lambda/core/event.js';
import { parseScramVerifier, verifyPasswordAgainstVerifier } from '../../lambda/core/scram.js';
import { type DatabaseSecret, parseDatabaseSecret } from '../../lambda/core/secret.js';
import {
  AuthenticationFailedError,
  AuthenticationMethodRefusedError,
  PendingTestFailedError,
  SecretMismatchError,
  TlsError,
} from '../../lambda/errors.js';
import { createHandler } from '../../lambda/index.js';
import { Logger } from '../../lambda/telemetry.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { createCertificateAuthority, issueServerCertificate } from '../../local/tls.js';
import { LeakWatch } from '../fixtures/leaks.js';
import {
  pendingWith as pendingValue,
  quietHandler,
  runStep as runOneStep,
  stagePending,
} from '../fixtures/steps.js';

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
const limits = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 };
const fastRetries = { TEST_LOGIN_ATTEMPTS: '2', TEST_LOGIN_DELAY_MS: '50' };

/** A Lambda-like context for calling the handler directly. */
function lambdaContext(): Context {
  return {
    functionName: 'scram-rotator',
    awsRequestId: crypto.randomUUID(),
    getRemainingTimeInMillis: () => 30_000,
  } as Context;
}

const watch = new LeakWatch();
let stack: LocalStack;
let lambdaArn: string;

beforeAll(async () => {
  watch.start();
  stack = await startLocalStack();
  lambdaArn = stack.registerRotationFunction({ env: { ...process.env, ...fastRetries } });
});

afterAll(async () => {
  await stack?.stop();
  watch.stop();
});

/** Reads one stage of a secret, remembering its password as a value that must not leak. */
async function readSecret(secretId: string, stage = 'AWSCURRENT'): Promise<DatabaseSecret> {
  const out = await stack.client.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }),
  );
  const secret = parseDatabaseSecret(out.SecretString ?? '', { label: stage });
  watch.secret(secret.password);
  return secret;
}

async function stagesOf(secretId: string): Promise<Record<string, string[]>> {
  const out = await stack.client.send(new DescribeSecretCommand({ SecretId: secretId }));
  return out.VersionIdsToStages ?? {};
}

/** Logs in as the secret's user with `password` (verify-full, SCRAM only). */
async function login(secret: DatabaseSecret, password = secret.password): Promise<DatabaseSession> {
  return new PgConnector().login(
    {
      host: secret.host,
      port: secret.port,
      database: secret.dbname,
      username: secret.username,
      password,
      ca: secret.ca,
    },
    limits,
  );
}

async function expectLogin(secret: DatabaseSecret, password = secret.password): Promise<void> {
  const session = await login(secret, password);
  try {
    expect(await session.currentUser()).toBe(secret.username);
  } finally {
    await session.close();
  }
}

async function rotateAndWait(secretArn: string, arn = lambdaArn) {
  await stack.client.send(
    new RotateSecretCommand({
      SecretId: secretArn,
      RotationLambdaARN: arn,
      RotationRules: { AutomaticallyAfterDays: 30 },
    }),
  );
  return stack.secretsManager.waitForRotation(secretArn, { timeoutMs: 30_000 });
}

/** The stored password hash of a role, remembered as a value that must not leak. */
async function storedVerifier(username: string): Promise<string> {
  const stored = await stack.postgres.storedPassword(username);
  watch.secret(stored);
  return stored ?? '';
}

describe('a full rotation through RotateSecret', () => {
  it('rotates a single user: new password logs in by SCRAM over verify-full, the old one is rejected', async () => {
    const user = await stack.createApplicationUser();
    const before = await readSecret(user.secretArn);
    const outcome = await rotateAndWait(user.secretArn);
    expect(outcome).toMatchObject({ ok: true });

    const steps = stack.secretsManager.invocations
      .filter((i) => i.secretArn === user.secretArn)
      .map((i) => [i.step, i.outcome]);
    expect(steps).toEqual(STEPS.map((step) => [step, 'succeeded']));

    const after = await readSecret(user.secretArn);
    expect(after.password).not.toBe(before.password);
    expect(after.password).toHaveLength(32);
    await expectLogin(after);
    await expect(login(before)).rejects.toBeInstanceOf(AuthenticationFailedError);

    const previous = await readSecret(user.secretArn, 'AWSPREVIOUS');
    expect(previous.password).toBe(before.password);
    const stages = Object.values(await stagesOf(user.secretArn)).flat();
    expect(stages).not.toContain('AWSPENDING');

    const log = await stack.postgres.readServerLog();
    expect(log).not.toContain(after.password);
    expect(log).not.toContain(before.password);
  });

  it('keeps every other key of the secret unchanged', async () => {
    const user = await stack.createApplicationUser({
      extraKeys: { team: 'payments', nested: { a: 1 } },
    });
    const raw = async () =>
      JSON.parse(
        (await stack.client.send(new GetSecretValueCommand({ SecretId: user.secretArn })))
          .SecretString ?? '{}',
      ) as Record<string, unknown>;
    const before = await raw();
    watch.secret(before.password as string);
    expect(await rotateAndWait(user.secretArn)).toMatchObject({ ok: true });
    const after = await raw();
    watch.secret(after.password as string);
    expect({ ...after, password: 'x' }).toEqual({ ...before, password: 'x' });
  });

  it('rotates through an admin secret named by masterarn, leaving the admin secret unchanged', async () => {
    const admin = await stack.createApplicationUser({ username: 'rot_admin', createRole: true });
    const adminBefore = await readSecret(admin.secretArn);
    const user = await stack.createApplicationUser({
      managedBy: admin.username,
      extraKeys: { masterarn: admin.secretArn },
    });
    const before = await readSecret(user.secretArn);
    expect(await rotateAndWait(user.secretArn)).toMatchObject({ ok: true });

    const after = await readSecret(user.secretArn);
    await expectLogin(after);
    await expect(login(before)).rejects.toBeInstanceOf(AuthenticationFailedError);
    const adminAfter = await readSecret(admin.secretArn);
    expect(adminAfter.password).toBe(adminBefore.password);
    const log = await stack.postgres.readServerLog();
    expect(log).toMatch(/rot_admin@postgres LOG: {2}statement: ALTER USER/);
  });

  it('rotates twice in a row: AWSPREVIOUS is the middle password, the first one is rejected', async () => {
    const user = await stack.createApplicationUser();
    const first = await readSecret(user.secretArn);
    expect(await rotateAndWait(user.secretArn)).toMatchObject({ ok: true });
    const second = await readSecret(user.secretArn);
    expect(await rotateAndWait(user.secretArn)).toMatchObject({ ok: true });
    const third = await readSecret(user.secretArn);

    expect(new Set([first.password, second.password, third.password]).size).toBe(3);
    expect((await readSecret(user.secretArn, 'AWSPREVIOUS')).password).toBe(second.password);
    await expectLogin(third);
    await expect(login(second)).rejects.toBeInstanceOf(AuthenticationFailedError);
    await expect(login(first)).rejects.toBeInstanceOf(AuthenticationFailedError);
  });

  it('stores the verifier it sends unchanged (read back from pg_authid and from the statement log)', async () => {
    const user = await stack.createApplicationUser();
    expect(await rotateAndWait(user.secretArn)).toMatchObject({ ok: true });
    const after = await readSecret(user.secretArn);
    const stored = await storedVerifier(user.username);
    const log = await stack.postgres.readServerLog();
    const sent = log.match(
      new RegExp(`ALTER USER "${user.username}" WITH PASSWORD '(SCRAM-SHA-256\\$[^']+)'`),
    )?.[1];
    watch.secret(sent);
    expect(sent).toBe(stored);
    expect(verifyPasswordAgainstVerifier(after.password, stored)).toBe(true);
    // PostgreSQL 18 reports scram_iterations = 4096 and the function follows it.
    expect(parseScramVerifier(stored).iterations).toBe(4096);
  });

  it('uses SCRAM_ITERATIONS when it is configured', async () => {
    const arn = stack.registerRotationFunction({
      functionName: 'scram-rotator-iterations',
      env: { ...process.env, ...fastRetries, SCRAM_ITERATIONS: '10610' },
    });
    const user = await stack.createApplicationUser();
    expect(await rotateAndWait(user.secretArn, arn)).toMatchObject({ ok: true });
    expect(parseScramVerifier(await storedVerifier(user.username)).iterations).toBe(10610);
    await expectLogin(await readSecret(user.secretArn));
  });
});

describe('each step run again after it succeeded', () => {
  it('changes nothing', async () => {
    const handler = createHandler({
      secrets: new SdkSecretStore(stack.client),
      env: { ...process.env, ...fastRetries },
      logger: new Logger({ serviceName: 'scram-rotator', logLevel: 'SILENT' }),
    });
    const user = await stack.createApplicationUser();
    const snapshots: { step: RotationStep; same: boolean }[] = [];
    const snapshot = async () => ({
      stages: await stagesOf(user.secretArn),
      pending: (
        await stack.client
          .send(new GetSecretValueCommand({ SecretId: user.secretArn, VersionStage: 'AWSPENDING' }))
          .catch(() => undefined)
      )?.SecretString,
      stored: await storedVerifier(user.username),
    });
    const arn = stack.secretsManager.lambdaArn('scram-rotator-twice');
    stack.secretsManager.registerRotationFunction(
      arn,
      async (event: RotationEvent, context: Context) => {
        await handler(event, context);
        const first = await snapshot();
        await handler(event, lambdaContext());
        const second = await snapshot();
        snapshots.push({
          step: event.Step,
          same: JSON.stringify(first) === JSON.stringify(second),
        });
      },
    );
    expect(await rotateAndWait(user.secretArn, arn)).toMatchObject({ ok: true });
    expect(snapshots).toEqual(STEPS.map((step) => ({ step, same: true })));
    await expectLogin(await readSecret(user.secretArn));
  });
});

describe('refusals', () => {
  /** Stages a pending version by hand and runs one step through the real handler. */
  async function runStep(
    secretArn: string,
    step: RotationStep,
    pendingValue: string,
  ): Promise<{ error: unknown; token: string }> {
    const token = await stagePending(stack.client, stack.secretsManager, secretArn, pendingValue);
    const error = await runOneStep(
      quietHandler(stack.client, { ...process.env, ...fastRetries }),
      secretArn,
      step,
      token,
    );
    watch.error(error);
    return { error, token };
  }

  async function pendingWith(secretArn: string, changes: Record<string, unknown>): Promise<string> {
    const { value, password } = await pendingValue(stack.client, secretArn, changes);
    watch.secret(password);
    return value;
  }

  it('refuses a pending secret that points at another host, before touching the database', async () => {
    const user = await stack.createApplicationUser();
    const current = await readSecret(user.secretArn);
    const storedBefore = await storedVerifier(user.username);
    const pending = await pendingWith(user.secretArn, { host: 'evil.example.com' });
    const { error } = await runStep(user.secretArn, 'setSecret', pending);
    expect(error).toBeInstanceOf(SecretMismatchError);
    expect((error as Error).message).toMatch(/host/);
    expect(await storedVerifier(user.username)).toBe(storedBefore);
    await expectLogin(current);
    const log = await stack.postgres.readServerLog();
    expect(log).not.toContain(JSON.parse(pending).password);
    expect(log).not.toContain(current.password);
  });

  for (const method of ['password', 'md5', 'trust'] as const) {
    it(`refuses a server that asks for ${method} instead of SCRAM, without sending the password`, async () => {
      // PostgreSQL answers an md5 rule with SCRAM when the stored password is
      // a SCRAM verifier, so the MD5 case needs a user stored as MD5.
      const user = await stack.createApplicationUser({
        username: `refuse_${method}`,
        ...(method === 'md5' ? { storedAs: 'md5' as const } : {}),
      });
      const current = await readSecret(user.secretArn);
      const storedBefore = await storedVerifier(user.username);
      await stack.postgres.addHbaRules([{ user: user.username, method }]);
      try {
        const pending = await pendingWith(user.secretArn, {});
        const { error } = await runStep(user.secretArn, 'setSecret', pending);
        expect(error).toBeInstanceOf(AuthenticationMethodRefusedError);
        expect((error as Error).message).toContain(method === 'password' ? 'cleartext' : method);
        const log = await stack.postgres.readServerLog();
        expect(log).not.toContain(current.password);
        expect(log).not.toContain(JSON.parse(pending).password);
      } finally {
        await stack.postgres.setHbaRules([]);
      }
      // Nothing was changed: the stored password is the one from before and,
      // where SCRAM can log in at all, the current password still works.
      expect(await storedVerifier(user.username)).toBe(storedBefore);
      if (method !== 'md5') await expectLogin(current);
    });
  }

  it('refuses a server certificate from another CA', async () => {
    const other = createCertificateAuthority('another CA');
    const user = await stack.createApplicationUser({ extraKeys: { ca: other.certPem } });
    const current = await readSecret(user.secretArn);
    const { error } = await runStep(
      user.secretArn,
      'setSecret',
      await pendingWith(user.secretArn, {}),
    );
    expect(error).toBeInstanceOf(TlsError);
    expect(error).toMatchObject({ reason: 'untrusted-ca' });
    expect(await stack.postgres.readServerLog()).not.toContain(current.password);
  });

  it('refuses a host name that is not in the server certificate', async () => {
    // A second server whose certificate names only db.internal, reached as 127.0.0.1.
    const other = await startLocalStack({
      postgres: {
        serverCertificate: (ca) => issueServerCertificate(ca, { hosts: ['db.internal'] }),
        serverName: 'db.internal',
      },
    });
    try {
      const user = await other.createApplicationUser();
      const handler = createHandler({
        secrets: new SdkSecretStore(other.client),
        env: { ...process.env, ...fastRetries },
        logger: new Logger({ serviceName: 'scram-rotator', logLevel: 'SILENT' }),
      });
      const arn = other.secretsManager.lambdaArn('scram-rotator');
      other.secretsManager.registerRotationFunction(arn, (event, context) =>
        handler(event, context),
      );
      const outcome = await other.rotate(user.secretArn, arn, {
        timeoutMs: 30_000,
        automaticallyAfterDays: 1,
      });
      expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
      expect(outcome.errorMessage).toMatch(/host name/i);
      const current = parseDatabaseSecret(
        (await other.client.send(new GetSecretValueCommand({ SecretId: user.secretArn })))
          .SecretString ?? '',
        { label: 'AWSCURRENT' },
      );
      watch.secret(current.password);
      watch.text(outcome.errorMessage ?? '');
      expect(await other.postgres.readServerLog()).not.toContain(current.password);
      // The rotation did not finish, so AWSCURRENT is untouched and AWSPENDING remains for a retry.
      const stages = (
        await other.client.send(new DescribeSecretCommand({ SecretId: user.secretArn }))
      ).VersionIdsToStages;
      expect(
        Object.values(stages ?? {})
          .flat()
          .sort(),
      ).toEqual(['AWSCURRENT', 'AWSPENDING']);
    } finally {
      await other.stop();
    }
  });

  it('fails testSecret with the wrong pending password, rolls nothing back, and withdraws the pending version', async () => {
    const user = await stack.createApplicationUser();
    const current = await readSecret(user.secretArn);
    const storedBefore = await storedVerifier(user.username);
    const { error, token } = await runStep(
      user.secretArn,
      'testSecret',
      await pendingWith(user.secretArn, {}),
    );
    expect(error).toBeInstanceOf(PendingTestFailedError);
    expect((error as Error).message).toMatch(
      /^Pending password failed its test: .* \(Authentication failed: .*\); nothing needed rolling back: AWSCURRENT's password still logs in/,
    );
    expect((error as PendingTestFailedError).cause).toBeInstanceOf(AuthenticationFailedError);
    // Nothing was changed, and a retry of this token stops at the stage guard.
    expect(await storedVerifier(user.username)).toBe(storedBefore);
    await expectLogin(current);
    const stages = await stagesOf(user.secretArn);
    expect(stages[token] ?? []).toEqual([]);
    expect(Object.values(stages).flat()).not.toContain('AWSPENDING');
  });
});

describe('across the whole integration suite', () => {
  it('printed no password or verifier in any log line or error message', async () => {
    for (const invocation of stack.secretsManager.invocations)
      watch.text(invocation.errorMessage ?? '');
    expect(watch.counts.secrets).toBeGreaterThan(10);
    // The capture really saw the function's JSON log lines and metrics.
    expect(watch.saw('"message":"step succeeded"')).toBe(true);
    expect(watch.saw('"StepSucceeded"')).toBe(true);
    expect(watch.leaks()).toEqual([]);
  });
});
