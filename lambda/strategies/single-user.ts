import type { DatabaseSession } from '../adapters/database.js';
import { type DatabaseSecret, differingFields } from '../core/secret.js';
import { AuthenticationFailedError, TARGET_FIELDS } from '../errors.js';
import { loginLimits, type StepContext } from '../rotation/context.js';
import { loadPrevious, loginTarget } from '../rotation/load.js';
import { changePendingUser } from './change.js';
import { type ChangeStrategy, confirmSessionUser, type LoginSource } from './strategy.js';

/** Logs in, or returns `undefined` when the password is wrong. */
export async function tryLogin(
  ctx: StepContext,
  secret: DatabaseSecret,
): Promise<DatabaseSession | undefined> {
  try {
    return await ctx.database.login(loginTarget(secret, ctx.config), loginLimits(ctx));
  } catch (error) {
    if (error instanceof AuthenticationFailedError) return undefined;
    throw error;
  }
}

/** Whether the pending password logs in already (an earlier run set it). */
async function alreadySet(ctx: StepContext, pending: DatabaseSecret): Promise<boolean> {
  const session = await tryLogin(ctx, pending);
  if (session === undefined) return false;
  await session.close();
  return true;
}

/**
 * The user logs in with the password it has now and changes its own
 * (PostgreSQL lets every role do that; CockroachDB needs
 * `sql.auth.change_own_password.enabled`).
 *
 * The password it has now is AWSCURRENT's, or after a partial earlier run
 * AWSPREVIOUS's (read only when AWSCURRENT fails, and used only when it names
 * exactly AWSCURRENT's target, CA included), or already AWSPENDING's (then
 * there is nothing to do; tried before AWSPREVIOUS).
 */
export const singleUser: ChangeStrategy = {
  name: 'single-user',

  nextUsername: (current) => current.username,

  async open(ctx, current, pending) {
    const candidates: [LoginSource, () => Promise<DatabaseSecret | undefined>][] = [
      ['AWSCURRENT', async () => current],
      ['AWSPREVIOUS', () => loadPrevious(ctx)],
    ];
    for (const [via, load] of candidates) {
      // AWSPENDING is tried before AWSPREVIOUS: a setSecret run again after
      // one that succeeded then costs one failed login (AWSCURRENT), not two.
      if (via === 'AWSPREVIOUS' && (await alreadySet(ctx, pending))) return { kind: 'already-set' };
      const secret = await load();
      if (secret === undefined) continue;
      const differing = differingFields(current, secret, TARGET_FIELDS);
      if (differing.length > 0) {
        // AWSPREVIOUS is untrusted until it matches AWSCURRENT: a login with it
        // elsewhere could run ALTER USER on a server AWSCURRENT does not name.
        ctx.logger.warn('setSecret: not logging in with a version that names another target', {
          version: via,
          fields: differing,
        });
        continue;
      }
      const session = await tryLogin(ctx, secret);
      if (session === undefined) continue;
      await confirmSessionUser(session, current.username, via);
      ctx.logger.info('setSecret: logged in as the user', { with: via });
      return {
        kind: 'open',
        changing: { session, changer: current.username, via, selfService: true },
      };
    }
    throw new AuthenticationFailedError(
      current.username,
      `${current.host}:${current.port}`,
      undefined,
      'none of AWSCURRENT, AWSPREVIOUS or AWSPENDING logs in; set the password by hand to AWSCURRENT and retry',
    );
  },

  apply: changePendingUser,

  rollback: {
    kind: 'restore-current',
    /**
     * After setSecret, the user's password is AWSPENDING's: only that login
     * can set it back (the test failed for another reason than the password,
     * or only for a moment). The pending version names AWSCURRENT's target,
     * as setSecret checked.
     */
    async open(ctx, current, pending) {
      const session = await tryLogin(ctx, pending);
      if (session === undefined) return undefined;
      await confirmSessionUser(session, current.username, 'AWSPENDING');
      return { session, changer: current.username, via: 'AWSPENDING', selfService: true };
    },
  },
};
