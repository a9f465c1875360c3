/**
 * Transient database failures, made for real on the local PostgreSQL: a
 * restart and a crash recovery under setSecret and testSecret, every slot
 * taken (53300), a concurrent ALTER of the role, a read-only server. The
 * steps that log in ride out the transient ones within their time, log each
 * retry, and give the others their own advice at once.
 */
import { UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { SdkSecretStore } from '../../../lambda/adapters/secrets-manager.js';
import { verifyPasswordAgainstVerifier } from '../../../lambda/core/scram.js';
import {
  DatabaseUnreachableError,
  ReadOnlyDatabaseError,
  type RotationErrorCode,
  TokenNotFoundError,
} from '../../../lambda/errors.js';
import { type LocalStack, startLocalStack } from '../../../local/stack.js';
import { handlerFor, LogLines, readStage, runStep, stagePending } from '../../fixtures/drive.js';
import { LeakWatch, watchAround } from '../../fixtures/leaks.js';

/** Slots PostgreSQL keeps for superusers (its default), on top of the ordinary ones. */
const RESERVED = 3;
/** Ordinary slots: few, so a test can take them all. */
const ORDINARY = 4;

const watch = new LeakWatch();
let stack: LocalStack;

watchAround(
  watch,
  async () =>
    (stack = await startLocalStack({ postgres: { maxConnections: ORDINARY + RESERVED } })),
);

/** A user whose rotation has reached `step` (the steps before it have run). */
async function userAt(step: 'setSecret' | 'testSecret', env: Record<string, string> = {}) {
  const user = await stack.createApplicationUser();
  const token = await stagePending(stack.client, stack.secretsManager, user.secretArn);
  const handler = handlerFor({ secrets: new SdkSecretStore(stack.client), env });
  expect((await runStep(handler, 'createSecret', user.secretArn, token)).error).toBeUndefined();
  if (step === 'testSecret') {
    expect((await runStep(handler, 'setSecret', user.secretArn, token)).error).toBeUndefined();
  }
  const pending = await readStage(stack.client, user.secretArn, 'AWSPENDING');
  const current = await readStage(stack.client, user.secretArn, 'AWSCURRENT');
  watch.secret(pending?.password);
  watch.secret(current?.password);
  return { user, token, pending: pending?.password ?? '', current: current?.password ?? '' };
}

const isRetry = (line: Record<string, unknown>) =>
  String(line.message).includes('retrying after a transient database failure');

/**
 * Runs one step with its log lines kept, and returns them with the outcome.
 * `atFirstRetry` runs once the step logs its first retry (so what a test
 * then frees, the step has met first, at any machine speed), or after the
 * step if it never retried.
 */
async function logged(
  step: 'setSecret' | 'testSecret',
  secretArn: string,
  token: string,
  {
    atFirstRetry,
    env = {},
  }: { atFirstRetry?: () => Promise<unknown>; env?: Record<string, string> } = {},
) {
  let acted: Promise<unknown> | undefined;
  const logs = new LogLines((line) => {
    if (atFirstRetry && !acted && isRetry(line)) acted = atFirstRetry();
  });
  const handler = handlerFor({ secrets: new SdkSecretStore(stack.client), env, logs });
  const run = await runStep(handler, step, secretArn, token);
  await (acted ?? atFirstRetry?.());
  watch.error(run.error);
  for (const line of logs.lines) watch.text(JSON.stringify(line));
  const retries = logs.lines.filter(isRetry);
  return { run, logs, retries };
}

/** Resolves once a backend of the function waits for a lock (its ALTER USER queued behind another). */
async function rotatorWaitsForLock(): Promise<void> {
  for (let polls = 0; polls < 3_000; polls++) {
    const waiting = await stack.postgres.withAdmin(async (client) => {
      const { rows } = await client.query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'scram-rotator' AND wait_event_type = 'Lock'",
      );
      return Number(rows[0]?.n ?? 0);
    });
    if (waiting > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the function never waited for the lock');
}

async function storedMatches(username: string, password: string): Promise<boolean> {
  const stored = (await stack.postgres.storedPassword(username)) ?? '';
  watch.secret(stored);
  return verifyPasswordAgainstVerifier(password, stored);
}

/** Holds every ordinary connection slot as another role until `release` is called. */
async function takeEverySlot(): Promise<() => Promise<void>> {
  const crowd = await stack.createApplicationUser();
  const secret = await readStage(stack.client, crowd.secretArn, 'AWSCURRENT');
  watch.secret(secret?.password);
  const held: pg.Client[] = [];
  for (;;) {
    try {
      held.push(await stack.postgres.connect(crowd.username, secret?.password ?? ''));
    } catch (error) {
      expect(error).toMatchObject({ code: '53300' });
      break;
    }
  }
  return async () => {
    await Promise.all(held.map((client) => client.end()));
  };
}

describe('transient failures are retried within the step', () => {
  it('setSecret rides out a restart of the database at its start', async () => {
    const { user, token, pending } = await userAt('setSecret');
    await stack.postgres.shutdown('fast');
    const { run, retries } = await logged('setSecret', user.secretArn, token, {
      atFirstRetry: () => stack.postgres.start(),
    });
    expect(run.error).toBeUndefined();
    expect(retries.length).toBeGreaterThan(0);
    expect(retries[0]).toMatchObject({
      level: 'WARN',
      errorCode: 'DATABASE_UNREACHABLE',
      causeCode: 'ECONNREFUSED',
    });
    expect(await storedMatches(user.username, pending)).toBe(true);
  });

  it('testSecret rides out a crash and a recovery of about 4 s', async () => {
    const { user, token } = await userAt('testSecret');
    await stack.postgres.shutdown('immediate');
    // Down for 4 s from the step's first failed login.
    const { run, retries } = await logged('testSecret', user.secretArn, token, {
      atFirstRetry: () =>
        new Promise((resolve) => setTimeout(resolve, 4_000)).then(() => stack.postgres.start()),
    });
    expect(run.error).toBeUndefined();
    expect(retries.length).toBeGreaterThan(1);
    // Each retry waits a little longer, never past the cap.
    const delays = retries.map((line) => Number(line.delayMs));
    expect(delays.every((ms) => ms > 0 && ms <= 2_000)).toBe(true);
    expect(run.elapsedMs).toBeGreaterThan(4_000);
  });

  it('single user: a full server at the AWSCURRENT login is waited out, not taken for a wrong password', async () => {
    const { user, token, pending } = await userAt('setSecret');
    const release = await takeEverySlot();
    const { run, logs, retries } = await logged('setSecret', user.secretArn, token, {
      atFirstRetry: release,
    });
    expect(run.error).toBeUndefined();
    expect(retries.map((line) => line.errorCode)).toContain(
      'DATABASE_BUSY' satisfies RotationErrorCode,
    );
    // It changed the password after logging in with AWSCURRENT: no fallback to
    // AWSPREVIOUS, no "already set" from the pending password.
    expect(logs.lines).toContainEqual(
      expect.objectContaining({ message: 'setSecret: logged in as the user', with: 'AWSCURRENT' }),
    );
    expect(logs.messages).not.toContain(
      'setSecret: the pending password already logs in; nothing to do',
    );
    expect(await storedMatches(user.username, pending)).toBe(true);
  });

  it('setSecret asks again before a retry, and changes nothing once the rotation was rolled back', async () => {
    const { user, token, current } = await userAt('setSecret');
    const release = await takeEverySlot();
    // While setSecret waits for a slot, a duplicated delivery's testSecret
    // rolls the rotation back: AWSPENDING is withdrawn, then a slot frees up.
    const { run, retries } = await logged('setSecret', user.secretArn, token, {
      atFirstRetry: async () => {
        await stack.client.send(
          new UpdateSecretVersionStageCommand({
            SecretId: user.secretArn,
            VersionStage: 'AWSPENDING',
            RemoveFromVersionId: token,
          }),
        );
        await release();
      },
    });
    expect(retries.length).toBeGreaterThan(0);
    // A version left without labels is no longer listed (AWS deprecates it).
    expect(run.error).toBeInstanceOf(TokenNotFoundError);
    expect(await storedMatches(user.username, current)).toBe(true);
  });

  it('retries an ALTER that another transaction updated concurrently (tuple concurrently updated)', async () => {
    const { user, token, pending } = await userAt('setSecret');
    const blocker = await stack.postgres.connect(
      stack.postgres.admin.user,
      stack.postgres.admin.password,
    );
    await blocker.query('BEGIN');
    await blocker.query(
      `ALTER ROLE ${blocker.escapeIdentifier(user.username)} CONNECTION LIMIT 50`,
    );
    // The function's ALTER USER waits on the row, then fails once this commits.
    const committed = rotatorWaitsForLock().finally(async () => {
      await blocker.query('COMMIT');
      await blocker.end();
    });
    const { run, retries } = await logged('setSecret', user.secretArn, token);
    await committed;
    expect(run.error).toBeUndefined();
    expect(retries[0]).toMatchObject({ errorCode: 'CONCURRENT_UPDATE', causeCode: 'XX000' });
    expect(await storedMatches(user.username, pending)).toBe(true);
  });
});

describe('failures that do not clear up by themselves fail at once, with their own advice', () => {
  it('a read-only server (a replica behind the host name): nothing changed, not retried', async () => {
    const { user, token, current } = await userAt('setSecret');
    await stack.postgres.withAdmin((client) =>
      client.query(
        `ALTER ROLE ${client.escapeIdentifier(user.username)} SET default_transaction_read_only = on`,
      ),
    );
    const { run, retries } = await logged('setSecret', user.secretArn, token);
    expect(run.error).toBeInstanceOf(ReadOnlyDatabaseError);
    expect((run.error as Error).message).toMatch(/a replica is behind the host name/);
    expect(retries).toEqual([]);
    expect(await storedMatches(user.username, current)).toBe(true);
  });

  it('with TRANSIENT_RETRY_MS=0, a restart fails the step at once', async () => {
    const { user, token } = await userAt('setSecret');
    await stack.postgres.shutdown('fast');
    try {
      const { run, retries } = await logged('setSecret', user.secretArn, token, {
        env: { TRANSIENT_RETRY_MS: '0' },
      });
      expect(run.error).toBeInstanceOf(DatabaseUnreachableError);
      expect((run.error as Error).message).toMatch(/the server is stopped or restarting/);
      expect(retries).toEqual([]);
    } finally {
      await stack.postgres.start();
    }
  });
});

describe('across this suite', () => {
  it('printed no password or verifier in any log line or error message', () => {
    expect(watch.leaks()).toEqual([]);
  });
});
