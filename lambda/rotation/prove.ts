import type { DatabaseSecret } from '../core/secret.js';
import { isRotationError, SecretMismatchError } from '../errors.js';
import { loginLimits, pause, type StepContext } from './context.js';
import { loginTarget } from './load.js';
import { retryTransient } from './retry.js';

/**
 * Runs a login `attempt` until it succeeds, retrying two kinds of failure:
 * a wrong password up to `attempts` times (TEST_LOGIN_ATTEMPTS by default)
 * with TEST_LOGIN_DELAY_MS between, because a password change can take a
 * moment to be seen by every node of a cluster; and a transient failure (a
 * server at capacity, restarting or recovering, a dropped connection) with
 * jittered backoff for up to TRANSIENT_RETRY_MS within the Lambda's
 * remaining time (see {@link retryTransient}), because a crash recovery
 * takes seconds. Anything else is thrown at once.
 *
 * @param attempt - called with the wrong-password attempt number, from 1
 */
export async function retryLogin<T>(
  ctx: StepContext,
  what: string,
  attempt: (n: number) => Promise<T>,
  attempts = ctx.config.testLoginAttempts,
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await retryTransient(ctx, what, () => attempt(n));
    } catch (error) {
      if (!isRotationError(error, 'AUTH_FAILED') || n >= attempts) throw error;
      ctx.logger.warn(`${what} failed, retrying`, { attempt: n, error: error.name });
      await pause(ctx, ctx.config.testLoginDelayMs, `waiting to retry ${what}`);
    }
  }
}

/**
 * Logs in with the pending password, over verify-full TLS and by SCRAM
 * only, and checks that the session is the pending user; then records the
 * proof for finishSecret. Retries as {@link retryLogin} says.
 *
 * @returns the login attempt that succeeded
 */
export async function provePending(ctx: StepContext, pending: DatabaseSecret): Promise<number> {
  const target = loginTarget(pending, ctx.config);
  return retryLogin(ctx, 'the pending login', async (attempt) => {
    const session = await ctx.database.login(target, loginLimits(ctx));
    try {
      // session_user is who logged in; current_user may differ by a
      // per-role SET role default (an alternating clone runs as its
      // original), which changes privileges, not identity.
      const { sessionUser } = await session.identity();
      if (sessionUser !== pending.username) {
        throw new SecretMismatchError(
          ['username'],
          // Not quoted: by now the server holds the verifier, and a hostile
          // one could answer with it.
          "the pending login is another role; set the username to the role's exact name",
        );
      }
      ctx.proofs.add(ctx.event.SecretId, ctx.event.ClientRequestToken);
      ctx.logger.info('the pending password logs in', {
        attempt,
        mechanism: session.mechanism,
      });
      return attempt;
    } finally {
      await session.close();
    }
  });
}
