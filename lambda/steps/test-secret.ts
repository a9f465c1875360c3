import { isRotationError } from '../errors.js';
import type { StepContext } from '../rotation/context.js';
import { requirePending } from '../rotation/load.js';
import { provePending } from '../rotation/prove.js';
import { rollBack } from './roll-back.js';

/**
 * testSecret: log in with the pending password, over verify-full TLS and by
 * SCRAM only, and check that the session belongs to the expected user. The
 * proof is kept for finishSecret.
 *
 * When the pending password is proven not to log in, setSecret is undone where it touched the
 * user AWSCURRENT names, and the pending version is withdrawn so that the
 * next rotation generates a new password (see `roll-back.ts`).
 */
export async function testSecret(ctx: StepContext): Promise<void> {
  const pending = await requirePending(ctx);
  try {
    await provePending(ctx, pending);
  } catch (failure) {
    // Only a proven failure of the pending login rolls back: the server
    // refused the password, or logged it in as another role. Anything else
    // (the deadline, a dropped connection, an unexpected error after the
    // pending password logged in) proves nothing about it: it is thrown,
    // and Secrets Manager's retry of the same token tests it again.
    if (!provenFailure(failure)) throw failure;
    await rollBack(ctx, pending, failure);
  }
}

/** Whether `failure` proves the pending password does not log in as the pending user. */
function provenFailure(failure: unknown): boolean {
  return isRotationError(failure, 'AUTH_FAILED') || isRotationError(failure, 'SECRET_MISMATCH');
}
