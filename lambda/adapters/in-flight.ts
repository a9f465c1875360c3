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
import type {
  DatabaseConnector,
  DatabaseSession,
  LoginLimits,
  LoginTarget,
  SessionIdentity,
} from './database.js';
import type { SecretDescription, SecretStore, VersionSelector } from './secrets-manager.js';

/** Options every adapter call takes. */
export interface CallOptions {
  /**
   * Aborts the call: the SDK request is aborted, a login is cut off, a
   * running statement is cancelled on the server. The call then rejects
   * with the signal's reason.
   */
  readonly signal?: AbortSignal | undefined;
}

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

/** Characters where a statement's name ends: literals, quoted names, parameters, lists. */
const STATEMENT_NAME_END = /['"$(;]/;

/**
 * A statement's name for logs and errors: its leading words, up to the
 * first literal, quoted identifier, parameter or parenthesis, so that a
 * password or verifier in the statement never appears in it.
 *
 * @example
 * ```ts
 * statementName(`ALTER USER "app" WITH PASSWORD 'SCRAM-SHA-256$...'`); // 'ALTER USER'
 * statementName('SHOW CLUSTER SETTING sql.auth.change_own_password.enabled');
 * // 'SHOW CLUSTER SETTING sql.auth.change_own_password.enabled'
 * ```
 */
export function statementName(text: string): string {
  const head = text.split(STATEMENT_NAME_END)[0] ?? '';
  const words = head.trim().split(/\s+/).filter(Boolean).slice(0, 6);
  return words.join(' ').replace(/,$/, '').slice(0, 80) || 'statement';
}

/** The stage or version a GetSecretValue reads, for its name. */
function versionName(version: VersionSelector): string {
  return version.stage ?? 'by version id';
}

/** Names each Secrets Manager call by its API operation. */
export const SECRET_STORE_CALLS = {
  describe: () => 'DescribeSecret',
  getSecretString: (_id: string, version: VersionSelector) =>
    `GetSecretValue ${versionName(version)}`,
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
    describe: (secretId: string): Promise<SecretDescription> =>
      flight.run(SECRET_STORE_CALLS.describe(), () => store.describe(secretId, options)),
    getSecretString: (secretId: string, version: VersionSelector) =>
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

/**
 * A {@link DatabaseConnector} whose logins carry the invocation's signal
 * (their sessions keep it, so a statement running at the deadline is
 * cancelled), and whose logins and statements are named while in flight.
 */
export function trackConnector(connector: DatabaseConnector, flight: InFlight): DatabaseConnector {
  return {
    async login(target: LoginTarget, limits: LoginLimits): Promise<DatabaseSession> {
      const where = `${target.host}:${target.port}`;
      const session = await flight.run(`login as ${target.username} at ${where}`, () =>
        connector.login(target, limits, { signal: flight.signal }),
      );
      return new TrackedSession(session, flight, where);
    },
  };
}

/** A session whose statements are named while in flight. */
class TrackedSession implements DatabaseSession {
  readonly #inner: DatabaseSession;
  readonly #flight: InFlight;
  readonly #where: string;

  constructor(inner: DatabaseSession, flight: InFlight, where: string) {
    this.#inner = inner;
    this.#flight = flight;
    this.#where = where;
  }

  get mechanism() {
    return this.#inner.mechanism;
  }

  #run<T>(statement: string, call: () => Promise<T>): Promise<T> {
    return this.#flight.run(`${statement} at ${this.#where}`, call);
  }

  currentUser(): Promise<string> {
    return this.#run('SELECT current_user', () => this.#inner.currentUser());
  }

  identity(): Promise<SessionIdentity> {
    return this.#run('SELECT session_user, current_user', () => this.#inner.identity());
  }

  serverVersion(): Promise<string> {
    return this.#run('SELECT version()', () => this.#inner.serverVersion());
  }

  setting(name: string): Promise<string | undefined> {
    return this.#run(`SELECT current_setting(${name})`, () => this.#inner.setting(name));
  }

  setPasswordVerifier(username: string, verifier: string): Promise<void> {
    return this.#run(`ALTER USER ${username}`, () =>
      this.#inner.setPasswordVerifier(username, verifier),
    );
  }

  query<Row extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<Row[]> {
    return this.#run(statementName(text), () => this.#inner.query<Row>(text, values));
  }

  execute(statement: string): Promise<void> {
    return this.#run(statementName(statement), () => this.#inner.execute(statement));
  }

  close(): Promise<void> {
    return this.#flight.run(
      `closing the connection to ${this.#where}`,
      () => this.#inner.close(),
      true,
    );
  }
}
