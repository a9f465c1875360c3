import type { StepContext } from './context.js';
import { requirePending } from './load.js';
import { provePending } from './prove.js';

/**
 * testSecret: log in with the pending password, over verify-full TLS and by
 * SCRAM only, and check that the session belongs to the expected user. The
 * proof is kept for finishSecret.
 */
export async function testSecret(ctx: StepContext): Promise<void> {
  await provePending(ctx, await requirePending(ctx));
}
