import { isPortablePassword } from '../core/password.js';
import { assertSameTarget, type DatabaseSecret } from '../core/secret.js';
import { engineOf } from '../engines/detect.js';
import type { Engine } from '../engines/engine.js';
import { PasswordPolicyError } from '../errors.js';
import type { StepContext } from '../rotation/context.js';
import { describeStage, loadCurrent, requirePending } from '../rotation/load.js';
import { retryTransient } from '../rotation/retry.js';
import { type ChangeStrategy, strategyFor } from '../strategies/index.js';

/**
 * setSecret: set the pending password on the database as a SCRAM-SHA-256
 * verifier computed here, so the server never sees the cleartext.
 *
 * Before anything changes it knows that:
 * - the pending version names AWSCURRENT's target, CA and admin secret, and
 *   the user this rotation changes (AWSCURRENT's, or in alternating mode the
 *   other user of the pair) and no other;
 * - every secret it logs in with names the server AWSCURRENT names, and the
 *   session is the role it logged in as (strategies/);
 * - the role to change exists under exactly that name, is not the admin nor
 *   a member of it, and is not privileged unless allowed (a clone never);
 * - the iteration count is within SCRAM_MAX_ITERATIONS (so the test login
 *   will accept it) and its PBKDF2 fits in the time left.
 *
 * Who changes which password is the strategy's (single user, admin,
 * alternating); which statements do it is the engine's.
 *
 * Safe to re-run: single user, it does nothing when the pending password
 * already logs in; through an admin, it sets the same password again.
 * That is also how it retries a transient failure (a server at capacity or
 * restarting, a dropped connection, a concurrent ALTER) within its time:
 * the whole change again from the login.
 */
export async function setSecret(ctx: StepContext): Promise<void> {
  const current = await loadCurrent(ctx);
  const pending = await requirePending(ctx);
  const strategy = strategyFor(ctx.config, current);
  assertSameTarget(current, pending, strategy.nextUsername(current, ctx.config));
  assertPortable(pending);
  // An interrupted ALTER may have landed: the retry finds that (the pending
  // password logs in) or repeats it with a fresh salt.
  await retryTransient(ctx, 'setSecret', async (retries) => {
    if (retries > 0 && !(await stillPending(ctx))) return;
    await changePassword(ctx, strategy, current, pending);
  });
}

/**
 * Whether the token still holds AWSPENDING, asked again before a retry. A
 * retry may come seconds after the step began, when a duplicated delivery's
 * testSecret has rolled the rotation back (AWSPENDING withdrawn) or its
 * finishSecret has made it current: a late ALTER would then leave the role
 * with a password no staged version holds, or repeat one already done.
 *
 * @throws {@link TokenNotPendingError} when the token lost AWSPENDING
 */
async function stillPending(ctx: StepContext): Promise<boolean> {
  return (await describeStage(ctx)).stage.kind === 'proceed';
}

/** One attempt: log in, then let the strategy confine and apply the change. */
async function changePassword(
  ctx: StepContext,
  strategy: ChangeStrategy,
  current: DatabaseSecret,
  pending: DatabaseSecret,
): Promise<void> {
  const opened = await strategy.open(ctx, current, pending);
  if (opened.kind === 'already-set') {
    ctx.logger.info('setSecret: the pending password already logs in; nothing to do');
    return;
  }
  const { changing } = opened;
  try {
    const engine = await engineOf(changing.session);
    warnOnEngineMismatch(ctx, pending, engine);
    const outcome = await strategy.apply(ctx, { engine, changing, current, pending });
    ctx.logger.info('setSecret: the password verifier was set', {
      strategy: strategy.name,
      engine: engine.name,
      role: outcome.role,
      iterations: outcome.iterations,
      mechanism: changing.session.mechanism,
      storedHashConfirmed: outcome.storedHashConfirmed,
      ...(outcome.clone ? { clone: outcome.clone } : {}),
    });
  } finally {
    await changing.session.close();
  }
}

/**
 * Refuses a pending password that not every client would hash alike: it
 * could be stored, and then never log in.
 */
function assertPortable(pending: DatabaseSecret): void {
  if (!isPortablePassword(pending.password)) {
    throw new PasswordPolicyError(
      'the AWSPENDING password has characters outside printable ASCII, which clients may hash differently',
      'store a printable-ASCII pending password, or remove the pending version and let createSecret generate one; nothing was changed',
    );
  }
}

function warnOnEngineMismatch(ctx: StepContext, pending: DatabaseSecret, engine: Engine): void {
  const declared = pending.engine === 'cockroachdb' ? 'cockroachdb' : 'postgres';
  if (engine.name !== declared) {
    ctx.logger.warn(
      'setSecret: the server is not the engine the secret names; following the server',
      { declared: pending.engine, server: engine.name },
    );
  }
}
