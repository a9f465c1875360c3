/**
 * The Lambda deadline with the real adapters: at the deadline the step
 * fails with a DeadlineReachedError naming the step and what was in flight,
 * and nothing it started is still running once the handler returns: the
 * statement is cancelled on the server, the connection closed, the Secrets
 * Manager request aborted.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { SdkSecretStore } from '../../../lambda/adapters/secrets-manager.js';
import { verifyPasswordAgainstVerifier } from '../../../lambda/core/scram.js';
import { DeadlineReachedError } from '../../../lambda/errors.js';
import { SAFETY_MARGIN_MS } from '../../../lambda/rotation/context.js';
import { STOP_WITHIN_MS } from '../../../lambda/rotation/deadline.js';
import { findFreePort } from '../../../local/postgres.js';
import { type LocalStack, startLocalStack } from '../../../local/stack.js';
import {
  completeRotation,
  handlerFor,
  readStage,
  runStep,
  STEPS,
  stagePending,
} from '../../fixtures/drive.js';
import { LeakWatch, watchAround } from '../../fixtures/leaks.js';

const watch = new LeakWatch();
let stack: LocalStack;

watchAround(watch, async () => (stack = await startLocalStack()));

/** The handler as deployed, over the stack's endpoint. */
const handler = () => handlerFor({ secrets: new SdkSecretStore(stack.client) });

/** The function's own connections still open on the server. */
async function rotatorBackends(): Promise<number> {
  return stack.postgres.withAdmin(async (client) => {
    const { rows } = await client.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'scram-rotator'",
    );
    return Number(rows[0]?.n ?? 0);
  });
}

/** Waits until the server has let go of the function's connections (a backend exits after its socket closes). */
async function noRotatorBackendsWithin(ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if ((await rotatorBackends()) === 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

/** A user with a pending version stored, ready for setSecret. */
async function userReadyForSetSecret() {
  const user = await stack.createApplicationUser();
  const token = await stagePending(stack.client, stack.secretsManager, user.secretArn);
  expect((await runStep(handler(), 'createSecret', user.secretArn, token)).error).toBeUndefined();
  const pending = await readStage(stack.client, user.secretArn, 'AWSPENDING');
  watch.secret(pending?.password);
  watch.secret((await readStage(stack.client, user.secretArn, 'AWSCURRENT'))?.password);
  return { user, token };
}

/**
 * Secrets Manager's retry after a failed step: the remaining steps with the
 * same token, then AWSCURRENT moved; the new AWSCURRENT must be the password
 * the server holds.
 */
async function expectRetryCompletes(
  user: { secretArn: string; username: string },
  token: string,
): Promise<void> {
  for (const step of STEPS.slice(1)) {
    expect((await runStep(handler(), step, user.secretArn, token)).error).toBeUndefined();
  }
  await completeRotation(stack.client, user.secretArn, token);
  const current = await readStage(stack.client, user.secretArn, 'AWSCURRENT');
  watch.secret(current?.password);
  expect(
    verifyPasswordAgainstVerifier(
      current?.password ?? '',
      (await stack.postgres.storedPassword(user.username)) ?? '',
    ),
  ).toBe(true);
}

describe('at the deadline', () => {
  it('cancels an ALTER USER stalled on a lock, so it never lands, and names it', async () => {
    const { user, token } = await userReadyForSetSecret();
    const before = await stack.postgres.storedPassword(user.username);
    watch.secret(before);
    // Another transaction holds the role's row: the function's ALTER USER waits for it.
    const blocker: pg.Client = await stack.postgres.connect(
      stack.postgres.admin.user,
      stack.postgres.admin.password,
    );
    await blocker.query('BEGIN');
    await blocker.query(
      `ALTER ROLE ${blocker.escapeIdentifier(user.username)} CONNECTION LIMIT 50`,
    );
    const remainingMs = SAFETY_MARGIN_MS + 1_500;
    const run = await runStep(handler(), 'setSecret', user.secretArn, token, remainingMs);
    watch.error(run.error);

    expect(run.error).toBeInstanceOf(DeadlineReachedError);
    const error = run.error as DeadlineReachedError;
    expect(error.step).toBe('setSecret');
    expect(error.inFlight).toEqual([
      `ALTER USER ${user.username} at ${stack.postgres.host}:${stack.postgres.port}`,
    ]);
    expect(error.settled).toBe(true);
    expect(error.message).toMatch(/^Deadline reached: setSecret ran out of time with ALTER USER/);
    // Returned before Lambda would have cut it off.
    expect(run.elapsedMs).toBeLessThan(remainingMs);
    expect(await noRotatorBackendsWithin(2_000)).toBe(true);
    // The statement was cancelled on the server, not merely abandoned by the client.
    expect(await stack.postgres.readServerLog()).toMatch(
      new RegExp(`${user.username}@postgres ERROR: {2}canceling statement due to user request`),
    );

    // Once the lock goes away, nothing is left to run: the password is what it was.
    await blocker.query('ROLLBACK');
    await blocker.end();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await stack.postgres.storedPassword(user.username)).toBe(before);

    // Secrets Manager's retry completes the rotation.
    await expectRetryCompletes(user, token);
  });

  it('cuts off a login to a server that never answers, and names it', async () => {
    const silent: Socket[] = [];
    let closed = 0;
    const server: Server = createServer((socket) => {
      silent.push(socket);
      // Read (and ignore) what the client sends, so its close is seen.
      socket.resume();
      socket.on('close', () => closed++);
      socket.on('error', () => undefined);
    });
    const port = await findFreePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const user = await stack.createApplicationUser({ extraKeys: { port } });
      const token = await stagePending(stack.client, stack.secretsManager, user.secretArn);
      expect((await runStep(handler(), 'createSecret', user.secretArn, token)).error).toBe(
        undefined,
      );
      const remainingMs = SAFETY_MARGIN_MS + 800;
      const run = await runStep(handler(), 'setSecret', user.secretArn, token, remainingMs);
      watch.error(run.error);
      expect(run.error).toBeInstanceOf(DeadlineReachedError);
      expect((run.error as DeadlineReachedError).inFlight).toEqual([
        `login as ${user.username} at 127.0.0.1:${port}`,
      ]);
      expect(run.elapsedMs).toBeLessThan(remainingMs);
      // The function closed its end: the server saw every connection close.
      expect(silent.length).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(closed).toBe(silent.length);
    } finally {
      for (const socket of silent) socket.destroy();
      server.close();
    }
  });

  it('aborts a Secrets Manager request the service holds; a retry converges when it lands', async () => {
    const user = await stack.createApplicationUser();
    const token = await stagePending(stack.client, stack.secretsManager, user.secretArn);
    const heldMs = SAFETY_MARGIN_MS + 1_500;
    stack.secretsManager.injectFault({ operation: 'PutSecretValue', delayMs: heldMs });
    const remainingMs = SAFETY_MARGIN_MS + 700;
    const run = await runStep(handler(), 'createSecret', user.secretArn, token, remainingMs);
    watch.error(run.error);
    expect(run.error).toBeInstanceOf(DeadlineReachedError);
    expect((run.error as DeadlineReachedError).inFlight).toEqual(['PutSecretValue AWSPENDING']);
    expect(run.elapsedMs).toBeLessThan(remainingMs);

    // The service had the request and serves it later, as AWS may; the
    // retried createSecret either finds that value or races it, and the
    // rotation goes on with whichever value was stored first.
    const retry = await runStep(handler(), 'createSecret', user.secretArn, token);
    expect(retry.error).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, heldMs));
    await expectRetryCompletes(user, token);
  });

  it('fails at once, naming nothing in flight, when the time left is already inside the margin', async () => {
    const user = await stack.createApplicationUser();
    const token = await stagePending(stack.client, stack.secretsManager, user.secretArn);
    const run = await runStep(
      handler(),
      'createSecret',
      user.secretArn,
      token,
      SAFETY_MARGIN_MS / 2,
    );
    expect(run.error).toBeInstanceOf(DeadlineReachedError);
    expect(run.elapsedMs).toBeLessThan(SAFETY_MARGIN_MS / 2);
    // Nothing was stored: the version still has no value.
    expect(await readStage(stack.client, user.secretArn, 'AWSPENDING')).toBeUndefined();
  });

  it('says so when something does not stop within the margin, rather than let Lambda cut it off', async () => {
    const user = await stack.createApplicationUser();
    const token = await stagePending(stack.client, stack.secretsManager, user.secretArn);
    // A store that ignores the signal, as a careless adapter would.
    const deaf = new SdkSecretStore(stack.client);
    const stubborn = Object.assign(Object.create(deaf) as SdkSecretStore, {
      describe: (secretId: string) =>
        new Promise<never>(() => {
          void secretId;
        }),
    });
    const remainingMs = SAFETY_MARGIN_MS + 200;
    const run = await runStep(
      handlerFor({ secrets: stubborn }),
      'createSecret',
      user.secretArn,
      token,
      remainingMs,
    );
    expect(run.error).toBeInstanceOf(DeadlineReachedError);
    const error = run.error as DeadlineReachedError;
    expect(error.settled).toBe(false);
    expect(error.inFlight).toEqual(['DescribeSecret']);
    expect(error.message).toContain('it did not stop in time and may still complete');
    expect(run.elapsedMs).toBeLessThan(remainingMs - SAFETY_MARGIN_MS + STOP_WITHIN_MS + 200);
  });

  it('printed no password or verifier in any log line or error message', () => {
    expect(watch.leaks()).toEqual([]);
  });
});
