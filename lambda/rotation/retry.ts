import { isTransientError, type RotationError } from '../errors.js';
import { pause, type StepContext, timeLeftMs } from './context.js';

/** First backoff; each retry doubles it, up to {@link MAX_BACKOFF_MS}. */
export const BASE_BACKOFF_MS = 100;
/** Longest backoff between two attempts. */
export const MAX_BACKOFF_MS = 2_000;
/**
 * Time an attempt needs at least (a TLS login and a few statements on a
 * loaded server); no retry starts with less left than this.
 */
export const MIN_ATTEMPT_MS = 500;

/**
 * The pause before retry `retry` (1, 2, ...): "equal jitter", half of the
 * exponential step fixed and half random, so that rotations refused
 * together (a server at max_connections) come back spread out, yet each
 * waits a little.
 *
 * @example
 * ```ts
 * backoffMs(1, () => 0.5); // 75
 * backoffMs(10, () => 1);  // 2000
 * ```
 */
export function backoffMs(retry: number, random: () => number = Math.random): number {
  const step = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (retry - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/** When each step (its context) stops retrying transient failures. */
const retryDeadlines = new WeakMap<StepContext, number>();

/**
 * Runs `attempt`, and again after a jittered pause each time it fails with
 * a transient error ({@link isTransientError}: a server at capacity,
 * restarting or recovering, a concurrent update, a dropped connection, a
 * slow answer), for at most TRANSIENT_RETRY_MS and never past the Lambda's
 * remaining time. Anything else, and the last failure, is thrown as it is.
 * Each retry is logged with the error's name and code, never a value.
 *
 * `attempt` must be safe to run again from the start: the steps that use
 * this re-check what an interrupted attempt may already have done.
 *
 * @param activity - what is retried, for logs, e.g. `setSecret`
 */
export async function retryTransient<T>(
  ctx: StepContext,
  activity: string,
  attempt: (retries: number) => Promise<T>,
): Promise<T> {
  // One budget per step: a retried login inside a retried change, and each
  // of testSecret's login attempts, share it rather than start their own.
  let giveUpAt = retryDeadlines.get(ctx);
  if (giveUpAt === undefined) {
    giveUpAt = Date.now() + Math.min(ctx.config.transientRetryMs, timeLeftMs(ctx));
    retryDeadlines.set(ctx, giveUpAt);
  }
  for (let retry = 1; ; retry++) {
    try {
      return await attempt(retry - 1);
    } catch (error) {
      const delayMs = backoffMs(retry);
      const room = Math.min(giveUpAt - Date.now(), timeLeftMs(ctx)) - delayMs;
      if (!isTransientError(error) || ctx.flight?.signal.aborted || room < MIN_ATTEMPT_MS) {
        throw error;
      }
      const failure = error as RotationError;
      ctx.logger.warn(`${activity}: retrying after a transient database failure`, {
        retry,
        delayMs,
        errorName: failure.name,
        errorCode: failure.code,
        causeCode: (failure.cause as { code?: unknown } | undefined)?.code,
      });
      await pause(ctx, delayMs, `waiting ${delayMs} ms to retry ${activity} (${failure.name})`);
    }
  }
}
