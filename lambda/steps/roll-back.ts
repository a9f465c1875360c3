/**
 * What testSecret does when the pending password fails its test: put the
 * application's credential back where setSecret took it away, withdraw the
 * pending version so that the next rotation starts from a fresh password,
 * and fail with an error that says which of these happened.
 *
 * Why withdraw: Secrets Manager retries a failed rotation with the same
 * token, and createSecret keeps a pending value that exists (a version's
 * value cannot change under its token: PutSecretValue with the same token
 * and another value is refused with ResourceExistsException). Removing
 * AWSPENDING from the version makes every retry of this token stop at the
 * stage guard (`Rotation token is not pending`), and the next RotateSecret
 * (the schedule, or by hand) stages a new token, for which createSecret
 * generates a new password. A version without labels is deprecated and
 * eventually removed by Secrets Manager.
 *
 * When putting the credential back fails, AWSPENDING is kept instead: the
 * user's password may be the pending one now, and a retry that finishes the
 * rotation is then the application's way back.
 *
 * @module
 */
import { assertSameTarget, type DatabaseSecret } from '../core/secret.js';
import { engineOf } from '../engines/detect.js';
import {
  AuthenticationFailedError,
  PendingTestFailedError,
  RollbackFailedError,
  RolledBackError,
  RotationError,
  summarizeError,
} from '../errors.js';
import { loginLimits, type StepContext } from '../rotation/context.js';
import { loadCurrent, loginTarget } from '../rotation/load.js';
import { retryLogin } from '../rotation/prove.js';
import { checkPair, previousPassword } from '../strategies/alternating.js';
import { setPassword } from '../strategies/change.js';
import { strategyFor } from '../strategies/index.js';
import { confirmSessionUser, type RollbackPlan } from '../strategies/strategy.js';

/**
 * A failure as a message may show it: a rotation error's message up to its
 * advice (it names hosts and users, never secrets), else a redacted summary.
 */
export function failureReason(error: unknown): string {
  if (error instanceof RotationError) return error.message.split('; ')[0] ?? error.name;
  const summary = summarizeError(error);
  return `${summary.kind}: ${summary.message}`;
}

/**
 * Undoes setSecret after `failure` (the pending password's test) and throws
 * the error that says what was done.
 *
 * @throws {@link PendingTestFailedError} nothing needed rolling back
 * @throws {@link RolledBackError} AWSCURRENT's password was put back and logs in
 * @throws {@link RollbackFailedError} it could not be put back
 */
export async function rollBack(
  ctx: StepContext,
  pending: DatabaseSecret,
  failure: unknown,
): Promise<never> {
  const reason = failureReason(failure);
  const current = await loadCurrent(ctx);
  const strategy = strategyFor(ctx.config, current);
  // The pending version is untrusted: nothing is sent anywhere, and no login
  // is made with it, unless it names AWSCURRENT's target and the user this
  // rotation changes.
  assertSameTarget(current, pending, strategy.nextUsername(current, ctx.config));
  const plan = strategy.rollback;
  if (plan.kind === 'restore-previous') {
    return restorePrevious(ctx, plan, current, pending, reason, failure);
  }
  if (plan.kind === 'nothing') {
    throw new PendingTestFailedError(
      pending.username,
      plan.why(current, pending),
      reason,
      await withdraw(ctx),
      { cause: failure },
    );
  }
  // A login that cannot be made at all (the server unreachable) proves
  // nothing either way: the roll-back is tried, and says if it fails.
  if (await logsIn(ctx, current, 1).catch(() => false)) {
    throw new PendingTestFailedError(
      pending.username,
      `AWSCURRENT's password still logs in as ${current.username}: setSecret had not changed it`,
      reason,
      await withdraw(ctx),
      { cause: failure },
    );
  }
  ctx.logger.warn('testSecret: the pending password failed; setting AWSCURRENT back', {
    username: current.username,
  });
  try {
    const changing = await plan.open(ctx, current, pending);
    if (changing === undefined) {
      throw new AuthenticationFailedError(
        current.username,
        `${current.host}:${current.port}`,
        undefined,
        'no credential the function holds logs in to change it',
      );
    }
    try {
      const engine = await engineOf(changing.session);
      await setPassword(ctx, engine, changing, {
        role: current.username,
        password: current.password,
        // The server holds the pending password now.
        restorePassword: pending.password,
      });
    } finally {
      await changing.session.close();
    }
    if (!(await logsIn(ctx, current, ctx.config.testLoginAttempts))) {
      throw new AuthenticationFailedError(
        current.username,
        `${current.host}:${current.port}`,
        undefined,
        "AWSCURRENT's password was set but does not log in",
      );
    }
  } catch (error) {
    throw new RollbackFailedError(current.username, reason, failureReason(error), {
      cause: failure,
    });
  }
  throw new RolledBackError(current.username, reason, await withdraw(ctx), { cause: failure });
}

/**
 * Alternating mode: puts back what setSecret changed, the password of the
 * user AWSCURRENT does not name, after the same checks setSecret ran: to
 * AWSPREVIOUS's where AWSPREVIOUS names that user (so AWSPREVIOUS logs in
 * again), else to a random one nobody holds (no labelled version names
 * it, so none may log in as it). Then AWSCURRENT, and AWSPREVIOUS where
 * restored, must log in.
 */
async function restorePrevious(
  ctx: StepContext,
  plan: Extract<RollbackPlan, { kind: 'restore-previous' }>,
  current: DatabaseSecret,
  pending: DatabaseSecret,
  reason: string,
  failure: unknown,
): Promise<never> {
  const role = pending.username;
  const previous = await previousPassword(ctx, current, { next: role });
  ctx.logger.warn('testSecret: the pending password failed; setting the changed user back', {
    username: role,
    to: previous === undefined ? 'a random password' : 'AWSPREVIOUS',
  });
  try {
    const changing = await plan.open(ctx, current);
    try {
      const engine = await engineOf(changing.session);
      await checkPair(ctx, { engine, changing, current, pending }, 'roll-back');
      await setPassword(ctx, engine, changing, {
        role,
        password: previous ?? crypto.randomUUID(),
        restorePassword: previous ?? crypto.randomUUID(),
      });
    } finally {
      await changing.session.close();
    }
    const proofs: [DatabaseSecret, number][] = [[current, 1]];
    if (previous !== undefined) {
      proofs.push([
        { ...current, username: role, password: previous },
        ctx.config.testLoginAttempts,
      ]);
    }
    for (const [secret, attempts] of proofs) {
      if (!(await logsIn(ctx, secret, attempts))) {
        throw new AuthenticationFailedError(
          secret.username,
          `${secret.host}:${secret.port}`,
          undefined,
          'a labelled version does not log in after the roll-back',
        );
      }
    }
  } catch (error) {
    throw new RollbackFailedError(role, reason, failureReason(error), { cause: failure });
  }
  throw new RolledBackError(
    role,
    reason,
    await withdraw(ctx),
    { cause: failure },
    previous === undefined ? 'none' : 'AWSPREVIOUS',
  );
}

/** Whether `current` logs in (as its own user), within `attempts` tries. */
async function logsIn(
  ctx: StepContext,
  current: DatabaseSecret,
  attempts: number,
): Promise<boolean> {
  try {
    await retryLogin(
      ctx,
      'the AWSCURRENT login',
      async () => {
        const session = await ctx.database.login(
          loginTarget(current, ctx.config),
          loginLimits(ctx),
        );
        try {
          await confirmSessionUser(session, current.username, 'AWSCURRENT');
        } finally {
          await session.close();
        }
      },
      attempts,
    );
    return true;
  } catch (error) {
    if (error instanceof AuthenticationFailedError) return false;
    throw error;
  }
}

/** Removes AWSPENDING from this token's version; false (and a warning) when that fails. */
async function withdraw(ctx: StepContext): Promise<boolean> {
  try {
    await ctx.secrets.withdrawPending({
      secretId: ctx.event.SecretId,
      token: ctx.event.ClientRequestToken,
    });
    return true;
  } catch (error) {
    ctx.logger.warn('testSecret: could not withdraw the pending version', {
      error: failureReason(error),
    });
    return false;
  }
}
