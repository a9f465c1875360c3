import type { SecretDescription } from '../adapters/secrets-manager.js';
import { currentVersionId } from '../core/stages.js';
import { isRotationError, UnprovenVersionError } from '../errors.js';
import type { StepContext } from './context.js';
import { requirePending } from './load.js';
import { provePending } from './prove.js';

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
  await ctx.secrets.promoteToCurrent({
    secretId: SecretId,
    token: ClientRequestToken,
    fromVersionId: from,
  });
  ctx.logger.info('finishSecret: AWSCURRENT moved to the new version', { previousVersionId: from });
}
