import type { DatabaseSecret } from '../core/secret.js';
import {
  AuthenticationFailedError,
  DatabaseTimeoutError,
  DatabaseUnreachableError,
  SecretMismatchError,
} from '../errors.js';
import { loginLimits, type StepContext } from './context.js';
import { loginTarget } from './load.js';

/**
 * Failures that can clear up by themselves (a verifier not yet visible on
 * every node, a server restarting); anything else fails at once.
 */
const TRANSIENT = [
  AuthenticationFailedError,
  DatabaseUnreachableError,
  DatabaseTimeoutError,
] as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` up to TEST_LOGIN_ATTEMPTS times, pausing TEST_LOGIN_DELAY_MS
 * between tries, while it fails with a transient error (a password change
 * not yet seen by every node of a cluster, a server restarting); any other
 * failure is thrown at once.
 */
export async function retryTransient<T>(
  ctx: StepContext,
  what: string,
  attempt: (n: number) => Promise<T>,
): Promise<T> {
  const attempts = ctx.config.testLoginAttempts;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      const transient = TRANSIENT.some((type) => error instanceof type);
      if (!transient || n >= attempts) throw error;
      ctx.logger.warn(`${what} failed, retrying`, { attempt: n, error: (error as Error).name });
      await sleep(ctx.config.testLoginDelayMs);
    }
  }
}

/**
 * Logs in with the pending password, over verify-full TLS and by SCRAM
 * only, and checks that the session is the pending user; then records the
 * proof for finishSecret. Retries briefly, because a password change can
 * take a moment to be seen by every node of a cluster.
 *
 * @returns the login attempt that succeeded
 */
export async function provePending(ctx: StepContext, pending: DatabaseSecret): Promise<number> {
  const target = loginTarget(pending, ctx.config);
  return retryTransient(ctx, 'the pending login', async (attempt) => {
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
