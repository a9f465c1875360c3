import type { RotationStep } from './core/event.js';
import type { StepContext } from './rotation/context.js';
import { describeStage } from './rotation/load.js';
import { createSecret } from './steps/create-secret.js';
import { finishSecret } from './steps/finish-secret.js';
import { setSecret } from './steps/set-secret.js';
import { testSecret } from './steps/test-secret.js';

/** What one invocation did. */
export type StepOutcome =
  | { readonly step: RotationStep; readonly kind: 'done' }
  | { readonly step: RotationStep; readonly kind: 'already-current' };

/**
 * Runs one rotation step after the guard that Secrets Manager's contract
 * asks for at the start of every step: rotation enabled, the token known,
 * and staged AWSPENDING (or already AWSCURRENT, in which case there is
 * nothing left to do).
 */
export async function rotate(ctx: StepContext): Promise<StepOutcome> {
  const step = ctx.event.Step;
  const { description, stage } = await describeStage(ctx);
  if (stage.kind === 'already-current') {
    ctx.logger.info('the token already holds AWSCURRENT; nothing to do');
    return { step, kind: 'already-current' };
  }
  switch (step) {
    case 'createSecret':
      await createSecret(ctx);
      break;
    case 'setSecret':
      await setSecret(ctx);
      break;
    case 'testSecret':
      await testSecret(ctx);
      break;
    case 'finishSecret':
      await finishSecret(ctx, description);
      break;
    default: {
      // A new step added to ROTATION_STEPS fails to compile here until handled.
      const unhandled: never = step;
      throw new Error(`unhandled step ${String(unhandled)}`);
    }
  }
  return { step, kind: 'done' };
}
