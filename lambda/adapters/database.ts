import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import pg from 'pg';
import {
  AuthenticationFailedError,
  AuthenticationMethodRefusedError,
  ConcurrentUpdateError,
  ConnectionLostError,
  DatabaseBusyError,
  DatabaseServerError,
  DatabaseTimeoutError,
  DatabaseUnavailableError,
  DatabaseUnreachableError,
  InsufficientPrivilegeError,
  IterationLimitError,
  ReadOnlyDatabaseError,
  RotationError,
  ServerSignatureError,
  type ServerSignatureProblem,
  summarizeError,
  TlsError,
  UNAVAILABLE_STATES,
  type UnavailableState,
} from '../errors.js';
import { type CallOptions, statementName } from './call.js';
import { sendCancelRequest } from './cancel.js';

/**
 * Where and as whom to log in. Built from a secret by the steps; the adapter
 * knows nothing about Secrets Manager.
 */
export interface LoginTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly username: string;
  readonly password: string;
  /**
   * PEM bundle of the CAs to trust, alone. Without it, Node's bundled roots
   * are trusted, with `extraCa` added: still verify-full, never weaker.
   */
  readonly ca?: string | undefined;
  /**
   * PEM bundle trusted in addition to Node's bundled roots when there is no
   * `ca` (the Lambda runtime's bundle of Amazon's CAs, RDS included).
   */
  readonly extraCa?: string | undefined;
  /** Startup `options` (CockroachDB Cloud routing, e.g. `--cluster=<id>`). */
  readonly options?: string | undefined;
}

/** Limits for one login and the statements that follow it. */
export interface LoginLimits {
  /** Time allowed to connect, TLS handshake and SCRAM included. */
  readonly connectTimeoutMs: number;
  /** Time allowed per statement, enforced by the server and the client. */
  readonly statementTimeoutMs: number;
  /**
   * Highest SCRAM iteration count the client accepts from the server at a
   * login (`SCRAM_MAX_ITERATIONS`): the same bound the function applies to
   * the verifiers it stores, so a stored verifier never fails its own test
   * login. 0 means node-postgres' default, 100000.
   */
  readonly maxScramIterations: number;
}

/** The SASL mechanism a login used (never anything weaker than SCRAM). */
export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS';

/** An authenticated connection, over verify-full TLS, by SCRAM. */
export interface DatabaseSession {
  /** The mechanism the server and client agreed on. */
  readonly mechanism: ScramMechanism;
  /** `SELECT current_user`. */
  currentUser(): Promise<string>;
  /**
   * Who the session is: `session_user` (the role that logged in) and
   * `current_user` (the role whose privileges apply, which a per-role
   * `SET role` default can change).
   */
  identity(): Promise<SessionIdentity>;
  /** `SELECT version()`. */
  serverVersion(): Promise<string>;
  /**
   * A server setting by name, or `undefined` where the server does not have
   * it (`current_setting(name, true)`).
   */
  setting(name: string): Promise<string | undefined>;
  /**
   * `ALTER USER <user> WITH PASSWORD '<verifier>'`, built with pg's
   * escapeIdentifier and escapeLiteral. The verifier must already have been
   * checked: the server accepts any string and would store a hash of it.
   */
  setPasswordVerifier(username: string, verifier: string): Promise<void>;
  /** Runs a read-only query with parameters; for engine checks. */
  query<Row extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<Row[]>;
  /**
   * Runs one statement that takes no bind parameters (CREATE ROLE, GRANT,
   * ALTER ROLE ... SET). Engines build it with pg's `escapeIdentifier` and
   * `escapeLiteral` only, never by concatenating raw input.
   */
  execute(statement: string): Promise<void>;
  /** Closes the connection. Safe to call twice. */
  close(): Promise<void>;
}

/** The roles a session runs as. */
export interface SessionIdentity {
  readonly sessionUser: string;
  readonly currentUser: string;
}

/** Opens SCRAM-only, verify-full sessions. Steps receive one of these. */
export interface DatabaseConnector {
  /**
   * Logs in. The signal in `options` stays with the session: when it
   * fires, a login in progress is cut off, and a statement in progress is
   * cancelled on the server before the connection is closed, so nothing
   * started under it completes afterwards.
   */
  login(target: LoginTarget, limits: LoginLimits, options?: CallOptions): Promise<DatabaseSession>;
}

/** What the server asked the client to authenticate with. */
type AuthRequest =
  | { readonly kind: 'none' }
  | { readonly kind: 'sasl'; readonly mechanisms: readonly string[] }
  | { readonly kind: 'cleartext' }
  | { readonly kind: 'md5' };

/** TLS error codes from Node, by what the user has to fix. */
const TLS_REASONS = {
  SELF_SIGNED_CERT_IN_CHAIN: 'untrusted-ca',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'untrusted-ca',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'untrusted-ca',
  UNABLE_TO_GET_ISSUER_CERT: 'untrusted-ca',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'untrusted-ca',
  CERT_SIGNATURE_FAILURE: 'untrusted-ca',
  ERR_TLS_CERT_ALTNAME_INVALID: 'hostname-mismatch',
  CERT_HAS_EXPIRED: 'expired-certificate',
  CERT_NOT_YET_VALID: 'expired-certificate',
} as const;

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNRESET',
]);

/** Where a failure happened, for messages that name the target and never a secret. */
interface FailureContext {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** The client's SCRAM iteration bound, to name it when a login is refused for it. */
  readonly maxScramIterations?: number;
  /** What was in flight: a statement's name; the login when absent. */
  readonly during?: string;
}

/** node-postgres' default for `scramMaxIterations`. */
const PG_DEFAULT_MAX_ITERATIONS = 100_000;

/** node-postgres' refusal of a server's iteration count (lib/crypto/sasl.js). */
const ITERATION_REFUSAL = /SCRAM-SERVER-FIRST-MESSAGE: iteration count (\d+)/;

/** node-postgres' checks of the server's side of SCRAM (lib/crypto/sasl.js), by problem. */
const SCRAM_SERVER_FAILURES: readonly [RegExp, ServerSignatureProblem][] = [
  [/SCRAM-SERVER-FINAL-MESSAGE: server signature does not match/, 'mismatch'],
  [/SCRAM-SERVER-FINAL-MESSAGE: server signature (is missing|must be base64)/, 'missing'],
  [/^SASL: SCRAM-SERVER-(FIRST|FINAL)-MESSAGE:/, 'protocol'],
];

/**
 * node-postgres' words for a connection that closed under it (lib/client.js),
 * and Node's for a socket the peer reset or closed while we wrote.
 */
const CONNECTION_LOST =
  /^(Connection terminated( unexpectedly)?|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)$/;
const LOST_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/**
 * A role without LOGIN, in PostgreSQL's words (`role "x" is not permitted to
 * log in`, after the password was accepted) and CockroachDB's (`x does not
 * have login privilege`): not a wrong password.
 */
const NO_LOGIN = /is not permitted to log in|does not have login privilege/;

/** What to do about {@link NO_LOGIN}. */
const noLoginAdvice = (username: string) =>
  `the role may not log in (NOLOGIN): the password is not the cause, and no password change fixes it. If an operator disabled ${username} on purpose, leave it; otherwise run ALTER ROLE ${pg.escapeIdentifier(username)} LOGIN`;

/**
 * PostgreSQL 16+'s detail when a CREATEROLE role lacks ADMIN OPTION on the
 * role it alters or grants ("Only roles with the CREATEROLE attribute and the
 * ADMIN option on role ... may alter this role").
 */
const ADMIN_OPTION = /ADMIN option/i;

/** What to do about {@link ADMIN_OPTION}: CREATEROLE is there, ADMIN OPTION is not. */
const adminOptionAdvice = (username: string) =>
  `it has CREATEROLE but not ADMIN OPTION on the role it changes, which PostgreSQL 16+ requires; run GRANT <that role> TO ${pg.escapeIdentifier(username)} WITH ADMIN OPTION (as a superuser or a role with ADMIN OPTION on it)`;

/** A SQLSTATE: five digits or upper-case letters. */
const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * Turns whatever pg, Node's TLS or the server threw into one of our typed
 * errors, keeping a summary of the original as `cause` (see
 * {@link RotationError}: never the driver's object, which may quote the
 * statement). Messages name the host, port and user, never a password.
 *
 * The server's SQLSTATE decides where there is one, so that an answer from
 * the server is never reported as an unreachable network: capacity
 * (53300, 53400), starting or stopping (57P01-57P03), a concurrent update
 * (40001, `tuple concurrently updated`), a read-only replica (25006).
 */
export function classifyDatabaseError(error: unknown, at: FailureContext): RotationError {
  if (error instanceof RotationError) return error;
  const where = `${at.host}:${at.port}`;
  const during = at.during ?? `login as ${at.username}`;
  const options = { cause: error };
  const err = error as { message?: string; severity?: unknown; detail?: unknown } | undefined;
  // The code as the summary keeps it: a server's SQLSTATE field is the
  // server's own text, so only a five-character SQLSTATE is taken from it
  // (and only a code of Node's shape from anything else); nothing else of it
  // may reach a field of the error.
  const code = summarizeError(error).code ?? '';
  const fromServer = typeof err?.severity === 'string';
  const message = err?.message ?? String(error);
  const iterations = ITERATION_REFUSAL.exec(message);
  if (iterations) {
    return new IterationLimitError(
      Number(iterations[1]),
      at.maxScramIterations || PG_DEFAULT_MAX_ITERATIONS,
      `the server's SCRAM login for ${at.username} at ${where}`,
      options,
    );
  }
  const scram = SCRAM_SERVER_FAILURES.find(([pattern]) => pattern.test(message));
  if (scram) return new ServerSignatureError(at.username, where, scram[1], options);
  if (code in TLS_REASONS) {
    return new TlsError(TLS_REASONS[code as keyof typeof TLS_REASONS], where, options);
  }
  if (message.includes('does not support SSL')) return new TlsError('not-offered', where, options);
  switch (code) {
    case '28P01':
    case '28000': // "no pg_hba.conf entry": the server has no rule that admits this login.
      return new AuthenticationFailedError(
        at.username,
        where,
        options,
        NO_LOGIN.test(message) ? noLoginAdvice(at.username) : undefined,
      );
    case '42501':
      return new InsufficientPrivilegeError(
        at.username,
        where,
        ADMIN_OPTION.test(`${message} ${String(err?.detail ?? '')}`)
          ? { ...options, fix: adminOptionAdvice(at.username) }
          : options,
      );
    case '53300':
    case '53400':
      return new DatabaseBusyError(where, code, options);
    case '40001':
    // Two deliveries creating the same role at once: the loser's insert
    // meets the winner's row. A retry finds the role there.
    case '23505':
      return new ConcurrentUpdateError(where, code, options);
    case '25006':
      return new ReadOnlyDatabaseError(where, options);
    case '57014':
      return new DatabaseTimeoutError(where, options);
  }
  if (code in UNAVAILABLE_STATES) {
    return new DatabaseUnavailableError(where, code as UnavailableState, options);
  }
  if (code === 'XX000' && /tuple concurrently (updated|deleted)/.test(message)) {
    return new ConcurrentUpdateError(where, code, options);
  }
  // The same race when the winner committed before the loser's CREATE ran.
  if (code === '42710' && /^CREATE (ROLE|USER)\b/.test(at.during ?? '')) {
    return new ConcurrentUpdateError(where, code, options);
  }
  if (fromServer && SQLSTATE.test(code)) {
    return new DatabaseServerError(where, code, during, options);
  }
  if (/timeout/i.test(message)) return new DatabaseTimeoutError(where, options);
  if (CONNECTION_LOST.test(message) || (at.during !== undefined && LOST_SOCKET_CODES.has(code))) {
    return new ConnectionLostError(where, during, options);
  }
  if (NETWORK_CODES.has(code)) return new DatabaseUnreachableError(where, options, code);
  if (/tls|ssl|certificate/i.test(message)) return new TlsError('other', where, options);
  return new DatabaseUnreachableError(where, options, code || undefined);
}

/**
 * node-postgres emits each authentication request on `client.connection`
 * before its own handler answers it; listeners added before `connect()` run
 * first. That is where we learn what the server asked for.
 */
interface PgConnectionEvents {
  on(event: 'authenticationSASL', listener: (msg: { mechanisms: string[] }) => void): void;
  on(
    event:
      | 'authenticationCleartextPassword'
      | 'authenticationMD5Password'
      | 'authenticationSASLFinal'
      | 'authenticationOk',
    listener: () => void,
  ): void;
  emit(event: 'error', error: Error): boolean;
  /** The socket (TLS after the handshake). */
  readonly stream: { destroy(): void };
}

/**
 * The production connector: node-postgres with explicit verify-full TLS
 * options (no connection string: its `sslmode` parsing has its own rules),
 * refusing to send the password unless the server asked for SCRAM, and
 * refusing a login that completes without a verified SCRAM server signature.
 */
export class PgConnector implements DatabaseConnector {
  async login(
    target: LoginTarget,
    limits: LoginLimits,
    { signal, onUnsettled }: CallOptions = {},
  ): Promise<DatabaseSession> {
    signal?.throwIfAborted();
    const maxScramIterations =
      limits.maxScramIterations > 0 ? limits.maxScramIterations : PG_DEFAULT_MAX_ITERATIONS;
    const at = {
      host: target.host,
      port: target.port,
      username: target.username,
      maxScramIterations,
    };
    const where = `${target.host}:${target.port}`;
    const ssl: VerifyFull = {
      // Passing `ca` replaces Node's default store, so the bundled roots are
      // listed explicitly beside the extra bundle (NODE_EXTRA_CA_CERTS would
      // be ignored here).
      ca:
        target.ca ??
        (target.extraCa === undefined
          ? [...rootCertificates]
          : [...rootCertificates, target.extraCa]),
      // SNI carries host names only (RFC 6066); for an IP address Node
      // checks the certificate's IP entries against the host instead.
      ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
      rejectUnauthorized: true,
    };
    // Held in an object: the listeners below update it between awaits.
    const auth: { request: AuthRequest } = { request: { kind: 'none' } };
    let serverSignatureVerified = false;
    const client = new pg.Client({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.username,
      // Called by pg only after the server has asked for a password; we hand
      // it over only for SCRAM, whose exchange never reveals it.
      password: async () => {
        const request = auth.request;
        if (
          request.kind !== 'sasl' ||
          !request.mechanisms.some((m) => m.startsWith('SCRAM-SHA-256'))
        ) {
          throw new AuthenticationMethodRefusedError(request.kind, where);
        }
        return target.password;
      },
      ssl,
      options: target.options,
      enableChannelBinding: true,
      scramMaxIterations: maxScramIterations,
      connectionTimeoutMillis: limits.connectTimeoutMs,
      statement_timeout: limits.statementTimeoutMs,
      query_timeout: limits.statementTimeoutMs + 1_000,
      application_name: 'scram-rotator',
    } as pg.ClientConfig);
    const connection = (client as unknown as { connection: PgConnectionEvents }).connection;
    connection.on('authenticationSASL', (msg) => {
      auth.request = { kind: 'sasl', mechanisms: msg.mechanisms };
    });
    // A cleartext or MD5 request is refused at once, before pg's own handler
    // runs: after a first SCRAM request pg keeps the password as a string and
    // would send it (or its MD5 hash) to a second, weaker request unasked.
    // Destroying the socket first means nothing more is written to it.
    const refuse = (kind: 'cleartext' | 'md5') => {
      auth.request = { kind };
      connection.emit('error', new AuthenticationMethodRefusedError(kind, where));
      connection.stream.destroy();
    };
    connection.on('authenticationCleartextPassword', () => refuse('cleartext'));
    connection.on('authenticationMD5Password', () => refuse('md5'));
    connection.on('authenticationSASLFinal', () => {
      // pg's own handler, which runs after this one, checks the server
      // signature and fails the connection if it is wrong. Reaching
      // AuthenticationOk after this event therefore means it was verified.
      serverSignatureVerified = true;
    });
    connection.on('authenticationOk', () => {
      if (!serverSignatureVerified) {
        // trust (or any method with no SCRAM exchange): the server let us in
        // without proving it knows the verifier. Not a login we accept. A
        // SCRAM exchange that ended without the server's final message is
        // a missing signature, not a missing mechanism.
        connection.emit(
          'error',
          auth.request.kind === 'sasl'
            ? new ServerSignatureError(target.username, where, 'missing')
            : new AuthenticationMethodRefusedError(
                auth.request.kind === 'none' ? 'trust' : auth.request.kind,
                where,
              ),
        );
      }
    });
    client.on('error', () => {
      // Errors after connect surface through the pending query; this keeps an
      // idle socket error from crashing the process.
    });
    // At the deadline a login in progress is cut off: nothing was changed yet.
    const cutOff = () => connection.stream.destroy();
    signal?.addEventListener('abort', cutOff, { once: true });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      signal?.throwIfAborted();
      throw classifyDatabaseError(error, at);
    } finally {
      signal?.removeEventListener('abort', cutOff);
    }
    if (!serverSignatureVerified || signal?.aborted) {
      // pg counts the first ReadyForQuery as connected even with no
      // AuthenticationOk at all: a server that skipped authentication.
      await client.end().catch(() => undefined);
      signal?.throwIfAborted();
      throw new AuthenticationMethodRefusedError('trust', where);
    }
    const request = auth.request;
    const mechanism: ScramMechanism =
      request.kind === 'sasl' && request.mechanisms.includes('SCRAM-SHA-256-PLUS')
        ? 'SCRAM-SHA-256-PLUS'
        : 'SCRAM-SHA-256';
    return new PgSession(client, mechanism, { ...at, ssl, signal, onUnsettled });
  }
}

/** The TLS options of a verify-full connection, reused for its cancel request. */
interface VerifyFull {
  readonly ca: string | string[];
  readonly servername?: string;
  readonly rejectUnauthorized: true;
}

/** What a session needs besides its client. */
interface SessionContext extends FailureContext {
  readonly ssl: VerifyFull;
  readonly signal: AbortSignal | undefined;
  readonly onUnsettled: ((what: string) => void) | undefined;
}

/** The most a cancelled statement is waited for before its connection is dropped anyway. */
const CANCEL_WAIT_MS = 500;

/**
 * One login's connection. When the login's signal fires, a statement in
 * progress is cancelled on the server (a CancelRequest over verify-full
 * TLS, as libpq sends one) and waited for briefly, then the connection is
 * dropped: a statement cut off only on our side could still commit later,
 * for instance an ALTER USER waiting on a lock.
 */
class PgSession implements DatabaseSession {
  readonly mechanism: ScramMechanism;
  readonly #client: pg.Client;
  readonly #at: SessionContext;
  #closed = false;
  /** The statement running now, settled or not. */
  #running: { readonly done: Promise<unknown>; readonly text: string } | undefined;
  /** The cancel and teardown started by the signal. */
  #stopping: Promise<void> | undefined;

  constructor(client: pg.Client, mechanism: ScramMechanism, at: SessionContext) {
    this.#client = client;
    this.mechanism = mechanism;
    this.#at = at;
    at.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  readonly #onAbort = (): void => {
    this.#stopping = this.#stop();
  };

  async #stop(): Promise<void> {
    const running = this.#running;
    const client = this.#client as pg.Client & {
      processID: number | null;
      secretKey: number | null;
    };
    if (running !== undefined) {
      const settled = running.done.then(
        () => true,
        () => true,
      );
      const cancel =
        client.processID !== null && client.secretKey !== null
          ? sendCancelRequest(
              { host: this.#at.host, port: this.#at.port, ssl: this.#at.ssl },
              client.processID,
              client.secretKey,
              CANCEL_WAIT_MS,
            ).catch(() => undefined)
          : undefined;
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        settled,
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), CANCEL_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      await cancel;
      // Dropping the connection does not stop a statement the server runs
      // on (waiting for a lock, say): it may still commit. Say so.
      if (!ended) this.#at.onUnsettled?.(statementName(running.text));
    }
    this.#closed = true;
    (this.#client as unknown as { connection: PgConnectionEvents }).connection.stream.destroy();
  }

  async query<Row extends Record<string, unknown>>(
    text: string,
    values: unknown[] = [],
  ): Promise<Row[]> {
    const { signal } = this.#at;
    signal?.throwIfAborted();
    const done = this.#client.query<Row>(text, values);
    const running = { done, text };
    this.#running = running;
    try {
      const result = await done;
      return result.rows;
    } catch (error) {
      if (signal?.aborted) {
        await this.#stopping;
        throw signal.reason;
      }
      throw classifyDatabaseError(error, { ...this.#at, during: statementName(text) });
    } finally {
      if (this.#running === running) this.#running = undefined;
    }
  }

  async currentUser(): Promise<string> {
    const rows = await this.query<{ current_user: string }>('SELECT current_user');
    return rows[0]?.current_user ?? '';
  }

  async identity(): Promise<SessionIdentity> {
    const rows = await this.query<{ session_user: string; current_user: string }>(
      'SELECT session_user, current_user',
    );
    return {
      sessionUser: rows[0]?.session_user ?? '',
      currentUser: rows[0]?.current_user ?? '',
    };
  }

  async serverVersion(): Promise<string> {
    const rows = await this.query<{ version: string }>('SELECT version()');
    return rows[0]?.version ?? '';
  }

  async setting(name: string): Promise<string | undefined> {
    const rows = await this.query<{ value: string | null }>(
      'SELECT current_setting($1, true) AS value',
      [name],
    );
    const value = rows[0]?.value;
    return value === null || value === undefined || value === '' ? undefined : value;
  }

  async setPasswordVerifier(username: string, verifier: string): Promise<void> {
    // ALTER USER takes no bind parameters; both parts are escaped by pg.
    await this.execute(
      `ALTER USER ${pg.escapeIdentifier(username)} WITH PASSWORD ${pg.escapeLiteral(verifier)}`,
    );
  }

  async execute(statement: string): Promise<void> {
    await this.query(statement);
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      // A server that never answers the goodbye keeps end() waiting: the
      // signal still drops the connection then.
      await this.#client.end().catch(() => undefined);
    }
    await this.#stopping;
    this.#at.signal?.removeEventListener('abort', this.#onAbort);
  }
}
