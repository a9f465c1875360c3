import {
  AuthenticationFailedError,
  DatabaseTimeoutError,
  DatabaseUnreachableError,
  SecretMismatchError,
} from '../errors.js';
import type { StepContext } from './context.js';
import { loginLimits } from './context.js';
import { loginTarget, requirePending } from './load.js';

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
 * testSecret: log in with the pending password, over verify-full TLS and by
 * SCRAM only, and check that the session belongs to the expected user.
 * Retries briefly, because a password change can take a moment to be seen
 * by every node of a cluster.
 */
export async function testSecret(ctx: StepContext): Promise<void> {
  const pending = await requirePending(ctx);
  const target = loginTarget(pending, ctx.config);
  const attempts = ctx.config.testLoginAttempts;
  for (let attempt = 1; ; attempt++) {
    try {
      const session = await ctx.database.login(target, loginLimits(ctx));
      try {
        const user = await session.currentUser();
        if (user !== pending.username) {
          throw new SecretMismatchError(['username'], 'the pending login is a different role');
        }
        ctx.logger.info('testSecret: the pending password logs in', {
          attempt,
          mechanism: session.mechanism,
        });
        return;
      } finally {
        await session.close();
      }
    } catch (error) {
      const transient = TRANSIENT.some((type) => error instanceof type);
      if (!transient || attempt >= attempts) throw error;
      ctx.logger.warn('testSecret: login failed, retrying', {
        attempt,
        error: (error as Error).name,
      });
      await sleep(ctx.config.testLoginDelayMs);
    }
  }
}
