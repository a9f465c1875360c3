import { generatePassword } from '../core/password.js';
import { withPassword } from '../core/secret.js';
import type { StepContext } from '../rotation/context.js';
import { loadCurrent, loadPending } from '../rotation/load.js';
import { strategyFor } from '../strategies/index.js';

/**
 * createSecret: store a new password as the AWSPENDING version of this
 * token, carrying over every other key of the current secret unchanged
 * (but the username in alternating mode: the user AWSCURRENT does not name).
 *
 * Safe to re-run: when the token's version already has a value (a retried
 * rotation), that value is kept, since setSecret may already have applied it.
 *
 * Safe to race: two deliveries of this step can both find no value and both
 * write one; Secrets Manager keeps the first and refuses the second
 * (ResourceExistsException: same version id, another value). The loser then
 * finds the winner's value and keeps it, as it would have on a re-run. The
 * same re-read covers a PutSecretValue whose answer was lost.
 */
export async function createSecret(ctx: StepContext): Promise<void> {
  const current = await loadCurrent(ctx);
  // Before anything is stored: in alternating mode this refuses a clone
  // name over the identifier limit.
  const username = strategyFor(ctx.config, current).nextUsername(current, ctx.config);
  const existing = await loadPending(ctx);
  if (existing !== undefined) {
    ctx.logger.info('createSecret: the pending version already has a value; keeping it');
    return;
  }
  try {
    await ctx.secrets.putPending({
      secretId: ctx.event.SecretId,
      token: ctx.event.ClientRequestToken,
      secretString: withPassword(
        current.raw,
        generatePassword(ctx.config.passwordPolicy),
        username === current.username ? undefined : username,
      ),
      rotationToken: ctx.event.RotationToken,
    });
  } catch (error) {
    // The re-read failing too leaves the put's own error as the one to report.
    const winner = ctx.flight?.signal.aborted
      ? undefined
      : await loadPending(ctx).catch(() => undefined);
    if (winner === undefined) throw error;
    ctx.logger.info(
      'createSecret: the pending version got a value while this one was being stored; keeping that one',
      { putError: (error as Error).name },
    );
    return;
  }
  ctx.logger.info('createSecret: stored a new pending version', { username });
}
