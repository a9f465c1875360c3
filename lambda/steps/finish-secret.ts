import type { SecretDescription } from '../adapters/secrets-manager.js';
import { currentVersionId } from '../core/stages.js';
import { isRotationError, UnprovenVersionError } from '../errors.js';
import type { StepContext } from '../rotation/context.js';
import { requirePending } from '../rotation/load.js';
import { provePending } from '../rotation/prove.js';

/**
 * finishSecret: move AWSCURRENT to this token's version. Secrets Manager
 * moves AWSPREVIOUS to the old version itself and removes AWSPENDING once
 * the rotation is complete.
 *
 * Only a version testSecret proved is promoted. The proof testSecret left
 * in this environment costs nothing; without one (another environment ran
 * testSecret, or an operator invoked finishSecret out of order) the pending
 * password must log in here first, and a version that does not stays
 * AWSPENDING.
 *
 * Safe to race: a delivery whose UpdateSecretVersionStage fails because
 * another one already moved AWSCURRENT to this token succeeds.
 */
export async function finishSecret(
  ctx: StepContext,
  description: SecretDescription,
): Promise<void> {
  const { SecretId, ClientRequestToken } = ctx.event;
  if (!ctx.proofs.has(SecretId, ClientRequestToken)) {
    ctx.logger.info('finishSecret: testSecret did not prove this version here; proving it now');
    try {
      await provePending(ctx, await requirePending(ctx));
    } catch (error) {
      if (isRotationError(error, 'AUTH_FAILED') || isRotationError(error, 'SECRET_MISMATCH')) {
        throw new UnprovenVersionError(ClientRequestToken, { cause: error });
      }
      throw error;
    }
  }
  const from = currentVersionId(description.versionIdsToStages);
  try {
    await ctx.secrets.promoteToCurrent({
      secretId: SecretId,
      token: ClientRequestToken,
      fromVersionId: from,
    });
  } catch (error) {
    // Another delivery of this step may have moved AWSCURRENT since our
    // DescribeSecret (then RemoveFromVersionId no longer holds it), or this
    // call's answer was lost after it took effect: either way the label is
    // where it should be.
    const moved = !ctx.flight?.signal.aborted && (await isCurrent(ctx).catch(() => false));
    if (!moved) throw error;
    ctx.logger.info('finishSecret: AWSCURRENT had already moved to the new version', {
      updateError: (error as Error).name,
    });
    return;
  }
  ctx.logger.info('finishSecret: AWSCURRENT moved to the new version', { previousVersionId: from });
}

/** Whether this rotation's token holds AWSCURRENT now (a fresh DescribeSecret). */
async function isCurrent(ctx: StepContext): Promise<boolean> {
  const { versionIdsToStages } = await ctx.secrets.describe(ctx.event.SecretId);
  return currentVersionId(versionIdsToStages) === ctx.event.ClientRequestToken;
}
