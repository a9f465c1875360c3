import type { SecretDescription } from '../adapters/secrets-manager.js';
import { currentVersionId } from '../core/stages.js';
import type { StepContext } from './context.js';

/**
 * finishSecret: move AWSCURRENT to this token's version. Secrets Manager
 * moves AWSPREVIOUS to the old version itself and removes AWSPENDING once
 * the rotation is complete.
 */
export async function finishSecret(
  ctx: StepContext,
  description: SecretDescription,
): Promise<void> {
  const from = currentVersionId(description.versionIdsToStages);
  await ctx.secrets.promoteToCurrent({
    secretId: ctx.event.SecretId,
    token: ctx.event.ClientRequestToken,
    fromVersionId: from,
  });
  ctx.logger.info('finishSecret: AWSCURRENT moved to the new version', { previousVersionId: from });
}
