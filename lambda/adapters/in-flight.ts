/**
 * What one invocation has in flight, and the views of the adapters that
 * keep track of it. The handler wraps the adapters it hands to a step in
 * {@link trackSecretStore} and {@link trackConnector}: every call then
 * carries the invocation's abort signal (so the deadline cancels it: the
 * SDK aborts the request, the database adapter cancels the statement and
 * closes the connection), no new call starts once the signal has fired, and
 * a call in flight has a name the deadline error can report. Names hold the
 * operation, the stage, the host and the role, never a value.
 *
 * @module
 */

import { statementName } from './call.js';
import type { DatabaseConnector, DatabaseSession, LoginLimits, LoginTarget } from './database.js';
import type { SecretStore, VersionSelector } from './secrets-manager.js';

/**
 * The calls one invocation has running, by name, and its abort signal.
 *
 * @example
 * ```ts
 * const flight = new InFlight(controller.signal);
 * await flight.run('DescribeSecret', () => store.describe(id, { signal: flight.signal }));
 * flight.names; // what is running now
 * ```
 */
export class InFlight {
  /** Fires at the deadline; every tracked call receives it. */
  readonly signal: AbortSignal;
  /** What an abort could not stop in time: it may still complete. */
  readonly unsettled: string[] = [];
  readonly #running = new Map<number, string>();
  #next = 0;

  constructor(signal: AbortSignal) {
    this.signal = signal;
  }

  /** What is running now, in the order it started. */
  get names(): string[] {
    return [...this.#running.values()];
  }

  /**
   * Runs `call` under `name`. Refuses to start once the signal has fired,
   * unless `whenAborted` (closing a connection must still happen then).
   */
  async run<T>(name: string, call: () => Promise<T>, whenAborted = false): Promise<T> {
    if (!whenAborted) this.signal.throwIfAborted();
    const id = this.#next++;
    this.#running.set(id, name);
    try {
      return await call();
    } finally {
      this.#running.delete(id);
    }
  }

  /** Waits `ms` (named while it waits), or until the signal fires, then rejects with its reason. */
  sleep(ms: number, name: string): Promise<void> {
    return this.run(name, () => abortableSleep(ms, this.signal));
  }
}

/** Waits `ms`, or rejects with the signal's reason as soon as it fires. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Names each Secrets Manager call by its API operation. */
export const SECRET_STORE_CALLS = {
  describe: () => 'DescribeSecret',
  getSecretString: (_id: string, version: VersionSelector) =>
    `GetSecretValue ${version.stage ?? 'by version id'}`,
  putPending: () => 'PutSecretValue AWSPENDING',
  promoteToCurrent: () => 'UpdateSecretVersionStage AWSCURRENT',
  withdrawPending: () => 'UpdateSecretVersionStage AWSPENDING (withdraw)',
} as const satisfies { readonly [K in keyof SecretStore]: (...args: never[]) => string };

/**
 * A {@link SecretStore} whose calls carry the invocation's signal and are
 * named while in flight.
 */
export function trackSecretStore(store: SecretStore, flight: InFlight): SecretStore {
  const options = { signal: flight.signal };
  return {
    describe: (secretId) =>
      flight.run(SECRET_STORE_CALLS.describe(), () => store.describe(secretId, options)),
    getSecretString: (secretId, version) =>
      flight.run(SECRET_STORE_CALLS.getSecretString(secretId, version), () =>
        store.getSecretString(secretId, version, options),
      ),
    putPending: (input) =>
      flight.run(SECRET_STORE_CALLS.putPending(), () => store.putPending(input, options)),
    promoteToCurrent: (input) =>
      flight.run(SECRET_STORE_CALLS.promoteToCurrent(), () =>
        store.promoteToCurrent(input, options),
      ),
    withdrawPending: (input) =>
      flight.run(SECRET_STORE_CALLS.withdrawPending(), () => store.withdrawPending(input, options)),
  };
}

/** A session call's name: the statement's leading words, or the method and its argument. */
function sessionCallName(method: string, args: unknown[]): string {
  if (method === 'query' || method === 'execute') return statementName(String(args[0]));
  if (method === 'setPasswordVerifier') return `ALTER USER ${String(args[0])}`;
  return args.length > 0 ? `${method}(${String(args[0])})` : method;
}

/**
 * A {@link DatabaseConnector} whose logins carry the invocation's signal
 * (their sessions keep it, so a statement running at the deadline is
 * cancelled), and whose logins and session calls are named while in
 * flight. Every method of a session is tracked, one added later too;
 * closing still runs after the deadline.
 */
export function trackConnector(connector: DatabaseConnector, flight: InFlight): DatabaseConnector {
  return {
    async login(target: LoginTarget, limits: LoginLimits): Promise<DatabaseSession> {
      const where = `${target.host}:${target.port}`;
      const session = await flight.run(`login as ${target.username} at ${where}`, () =>
        connector.login(target, limits, {
          signal: flight.signal,
          onUnsettled: (what) => flight.unsettled.push(`${what} at ${where}`),
        }),
      );
      return new Proxy(session, {
        get: (inner, property) => {
          const value = Reflect.get(inner, property, inner) as unknown;
          if (typeof value !== 'function') return value;
          const method = String(property);
          return (...args: unknown[]) =>
            flight.run(
              method === 'close'
                ? `closing the connection to ${where}`
                : `${sessionCallName(method, args)} at ${where}`,
              () => (value as (...a: unknown[]) => Promise<unknown>).apply(inner, args),
              method === 'close',
            );
        },
      });
    },
  };
}
