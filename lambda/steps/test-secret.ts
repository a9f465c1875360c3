import { DeadlineReachedError } from '../errors.js';
import type { StepContext } from '../rotation/context.js';
import { requirePending } from '../rotation/load.js';
import { provePending } from '../rotation/prove.js';
import { rollBack } from './roll-back.js';

/**
 * testSecret: log in with the pending password, over verify-full TLS and by
 * SCRAM only, and check that the session belongs to the expected user. The
 * proof is kept for finishSecret.
 *
 * When the pending password fails, setSecret is undone where it touched the
 * user AWSCURRENT names, and the pending version is withdrawn so that the
 * next rotation generates a new password (see `roll-back.ts`).
 */
export async function testSecret(ctx: StepContext): Promise<void> {
  const pending = await requirePending(ctx);
  try {
    await provePending(ctx, pending);
  } catch (failure) {
    // After the deadline nothing new starts: the roll-back is left to the
    // retry, which tests the pending password again.
    if (failure instanceof DeadlineReachedError) throw failure;
    await rollBack(ctx, pending, failure);
  }
}
