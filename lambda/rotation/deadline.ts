import { InFlight } from '../adapters/in-flight.js';
import { DeadlineReachedError } from '../errors.js';
import { SAFETY_MARGIN_MS } from './context.js';

/**
 * How long a step may take to stop once its deadline has fired (aborted
 * requests, a cancelled statement, closed connections); the rest of the
 * safety margin is left for reporting the failure.
 */
export const STOP_WITHIN_MS = 700;

/** What the work came to, without throwing. */
type Settled<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: unknown };

/**
 * Runs one step's work under a deadline: the Lambda's remaining time less
 * {@link SAFETY_MARGIN_MS}. When it comes, the signal handed to the work
 * (through {@link InFlight}) fires: Secrets Manager requests are aborted,
 * a running statement is cancelled on the server and its connection
 * closed, no new call starts. The step then fails with a
 * {@link DeadlineReachedError} naming the step and what was in flight, once
 * everything it started has stopped, so nothing lands after the handler
 * returns; if something has not stopped within {@link STOP_WITHIN_MS}, the
 * error says so rather than wait for Lambda to cut the invocation off.
 *
 * Middy's own early timeout is not used for this: it answers while the
 * handler still runs, and its abort signal is shared by every request in
 * the process (the local stack runs many rotations in one).
 *
 * @example
 * ```ts
 * await withDeadline('setSecret', () => context.getRemainingTimeInMillis(), (flight) =>
 *   rotate({ ...deps, secrets: trackSecretStore(store, flight), flight }),
 * );
 * ```
 */
export async function withDeadline<T>(
  step: string,
  remainingTimeMs: () => number,
  work: (flight: InFlight) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const flight = new InFlight(controller.signal);
  let reached: DeadlineReachedError | undefined;
  let lateTimer: NodeJS.Timeout | undefined;
  let late: () => void = () => undefined;
  const tooLate = new Promise<'late'>((resolve) => {
    late = () => resolve('late');
  });
  const timer = setTimeout(
    () => {
      reached = new DeadlineReachedError(step, flight.names, true);
      controller.abort(reached);
      lateTimer = setTimeout(late, STOP_WITHIN_MS);
    },
    Math.max(0, remainingTimeMs() - SAFETY_MARGIN_MS),
  );
  const settled = work(flight).then(
    (value): Settled<T> => ({ ok: true, value }),
    (error: unknown): Settled<T> => ({ ok: false, error }),
  );
  try {
    const outcome = await Promise.race([settled, tooLate]);
    if (outcome === 'late') {
      throw new DeadlineReachedError(step, reached?.inFlight ?? flight.names, false);
    }
    // A step that finished despite the signal (it fired after the last call) succeeded.
    if (outcome.ok) return outcome.value;
    if (reached === undefined) throw outcome.error;
    // Everything stopped, unless a statement outlived its dropped connection.
    const settledAll = flight.unsettled.length === 0;
    if (outcome.error === reached && settledAll) throw reached;
    throw new DeadlineReachedError(step, reached.inFlight, settledAll, {
      cause: outcome.error === reached ? undefined : outcome.error,
    });
  } finally {
    clearTimeout(timer);
    clearTimeout(lateTimer);
  }
}
