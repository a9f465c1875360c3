/**
 * Every failure the rotation function reports on purpose is a
 * {@link RotationError}: a class per cause, a stable `code` for metrics and
 * alarms, and a message that begins with a fixed phrase per class (see
 * {@link ROTATION_ERRORS}) and ends with what to fix.
 *
 * Messages name the key, field, rule, host or user involved and never a
 * value that could be secret: no password, no verifier, no secret string, no
 * fragment of one. Errors from libraries that might quote such a value (JSON
 * and schema parse errors) are not attached as `cause` either, and any
 * other cause is kept only as an {@link ErrorSummary}: code, kind and a
 * message with quoted text and key-like strings removed.
 *
 * @module
 */

/**
 * The catalogue of rotation errors: per class, its stable `code` and the
 * phrase its message begins with (followed by `': '`). Tests, alarms and log
 * filters may rely on both; change them only as a breaking change.
 */
export const ROTATION_ERRORS = {
  InvalidEventError: { code: 'INVALID_EVENT', prefix: 'Invalid rotation event' },
  RotationNotEnabledError: { code: 'ROTATION_NOT_ENABLED', prefix: 'Rotation is not enabled' },
  TokenNotFoundError: { code: 'TOKEN_NOT_FOUND', prefix: 'Rotation token not found' },
  TokenNotPendingError: { code: 'TOKEN_NOT_PENDING', prefix: 'Rotation token is not pending' },
  MalformedSecretError: { code: 'MALFORMED_SECRET', prefix: 'Malformed secret' },
  SecretMismatchError: { code: 'SECRET_MISMATCH', prefix: 'Secret mismatch' },
  PasswordPolicyError: { code: 'PASSWORD_POLICY', prefix: 'Password policy violation' },
  ScramVerifierError: { code: 'SCRAM_VERIFIER_INVALID', prefix: 'Invalid SCRAM verifier' },
  TlsError: { code: 'TLS_FAILED', prefix: 'TLS verification failed' },
  AuthenticationMethodRefusedError: {
    code: 'AUTH_METHOD_REFUSED',
    prefix: 'Authentication method refused',
  },
  AuthenticationFailedError: { code: 'AUTH_FAILED', prefix: 'Authentication failed' },
  InsufficientPrivilegeError: { code: 'INSUFFICIENT_PRIVILEGE', prefix: 'Insufficient privilege' },
  DatabaseUnreachableError: { code: 'DATABASE_UNREACHABLE', prefix: 'Database unreachable' },
  DatabaseTimeoutError: { code: 'DATABASE_TIMEOUT', prefix: 'Database timed out' },
  DatabaseBusyError: { code: 'DATABASE_BUSY', prefix: 'Database at capacity' },
  DatabaseUnavailableError: { code: 'DATABASE_UNAVAILABLE', prefix: 'Database not available' },
  ConnectionLostError: { code: 'CONNECTION_LOST', prefix: 'Database connection lost' },
  ConcurrentUpdateError: { code: 'CONCURRENT_UPDATE', prefix: 'Concurrent change' },
  ReadOnlyDatabaseError: { code: 'DATABASE_READ_ONLY', prefix: 'Database is read-only' },
  ServerSignatureError: { code: 'SERVER_NOT_PROVEN', prefix: 'Server signature refused' },
  DatabaseServerError: { code: 'DATABASE_ERROR', prefix: 'Database error' },
  ConfigurationError: { code: 'CONFIGURATION_INVALID', prefix: 'Invalid configuration' },
  DatabaseSettingError: { code: 'DATABASE_SETTING', prefix: 'Database setting prevents rotation' },
  VerifierNotStoredError: {
    code: 'VERIFIER_NOT_STORED',
    prefix: 'Verifier not stored as sent',
  },
  TargetRoleError: { code: 'TARGET_ROLE_REFUSED', prefix: 'Target role refused' },
  IterationLimitError: { code: 'ITERATIONS_REFUSED', prefix: 'SCRAM iteration count refused' },
  DeadlineError: { code: 'DEADLINE', prefix: 'Not enough time left' },
  DeadlineReachedError: { code: 'DEADLINE_REACHED', prefix: 'Deadline reached' },
  UnprovenVersionError: { code: 'PENDING_NOT_PROVEN', prefix: 'Pending version not proven' },
  CloneNameError: { code: 'CLONE_NAME_REFUSED', prefix: 'Clone name refused' },
  CloneRefusedError: { code: 'CLONE_REFUSED', prefix: 'Clone refused' },
  PendingTestFailedError: {
    code: 'PENDING_TEST_FAILED',
    prefix: 'Pending password failed its test',
  },
  RolledBackError: { code: 'ROTATION_ROLLED_BACK', prefix: 'Rotation rolled back' },
  RollbackFailedError: { code: 'ROLLBACK_FAILED', prefix: 'Rotation could not be rolled back' },
} as const;

/** The class name of a rotation error, which is also its `name`. */
export type RotationErrorName = keyof typeof ROTATION_ERRORS;

/** The stable `code` of a rotation error. */
export type RotationErrorCode = (typeof ROTATION_ERRORS)[RotationErrorName]['code'];

/**
 * Base class of every error the rotation function raises on purpose.
 *
 * `name` is set from {@link ROTATION_ERRORS} rather than from the
 * constructor's own name, because a minifying bundler may rename classes
 * and the name is what logs and Secrets Manager's rotation status show.
 *
 * @example
 * ```ts
 * try {
 *   await rotate(ctx);
 * } catch (error) {
 *   if (isRotationError(error)) metrics.addMetric(error.code, MetricUnit.Count, 1);
 *   throw error;
 * }
 * ```
 */
export abstract class RotationError extends Error {
  /** Stable, machine-readable identifier of the failure. */
  readonly code: RotationErrorCode;
  override readonly name: RotationErrorName;

  protected constructor(name: RotationErrorName, detail: string, options?: ErrorOptions) {
    // The cause is kept only as a summary (unless it is one of ours): a
    // driver's error may carry the statement, and so a verifier, in its
    // message or fields, one console.log(error) away from a log.
    super(
      `${ROTATION_ERRORS[name].prefix}: ${detail}`,
      options?.cause === undefined ? undefined : { cause: safeCause(options.cause) },
    );
    this.name = name;
    this.code = ROTATION_ERRORS[name].code;
  }
}

/** A cause as a rotation error keeps it: ours as they are, anything else summarised. */
function safeCause(cause: unknown): RotationError | ErrorSummary {
  return cause instanceof RotationError || cause instanceof ErrorSummary
    ? cause
    : summarizeError(cause);
}

/**
 * Whether `value` is a {@link RotationError}, optionally of one `code`.
 *
 * @example
 * ```ts
 * if (isRotationError(error, 'AUTH_FAILED')) return undefined;
 * ```
 */
export function isRotationError(value: unknown, code?: RotationErrorCode): value is RotationError {
  return value instanceof RotationError && (code === undefined || value.code === code);
}

/**
 * The Lambda was invoked with something that is not a Secrets Manager
 * rotation event. Names the field and what it must be, never its value.
 */
export class InvalidEventError extends RotationError {
  /** The event field that is missing or wrong (`event` for the whole event). */
  readonly field: string;

  /**
   * @param field - the offending field, e.g. `Step`
   * @param expected - what it must be, e.g. `one of createSecret, setSecret, ...`
   */
  constructor(field: string, expected: string, options?: ErrorOptions) {
    super(
      'InvalidEventError',
      `${field} must be ${expected}; invoke this function only from Secrets Manager rotation, ` +
        'or send { Step, SecretId, ClientRequestToken } as it does',
      options,
    );
    this.field = field;
  }
}

/** Describes a secret for messages: its id when the caller knows it. */
function secretLabel(secretId: string | undefined): string {
  return secretId === undefined ? 'the secret' : `secret ${secretId}`;
}

/** DescribeSecret says rotation is not enabled on the secret. */
export class RotationNotEnabledError extends RotationError {
  readonly secretId: string | undefined;

  constructor(secretId?: string, options?: ErrorOptions) {
    super(
      'RotationNotEnabledError',
      `${secretLabel(secretId)} does not have rotation enabled; ` +
        'configure rotation on it (RotateSecret with this function) before invoking the function',
      options,
    );
    this.secretId = secretId;
  }
}

/** The event's ClientRequestToken is not a version of the secret. */
export class TokenNotFoundError extends RotationError {
  readonly token: string;
  readonly secretId: string | undefined;

  constructor(token: string, secretId?: string, options?: ErrorOptions) {
    super(
      'TokenNotFoundError',
      `version ${token} is not a version of ${secretLabel(secretId)}; ` +
        'start a new rotation with RotateSecret instead of replaying an old event',
      options,
    );
    this.token = token;
    this.secretId = secretId;
  }
}

/** The token's version is neither AWSCURRENT nor AWSPENDING. */
export class TokenNotPendingError extends RotationError {
  readonly token: string;
  readonly secretId: string | undefined;
  /** The staging labels the version does have (may be empty). */
  readonly stages: readonly string[];

  constructor(token: string, stages: readonly string[], secretId?: string, options?: ErrorOptions) {
    const held = stages.length === 0 ? 'no staging labels' : `only ${stages.join(', ')}`;
    super(
      'TokenNotPendingError',
      `version ${token} of ${secretLabel(secretId)} has ${held}, not AWSPENDING; ` +
        'start a new rotation with RotateSecret (a cancelled or superseded rotation cannot resume)',
      options,
    );
    this.token = token;
    this.secretId = secretId;
    this.stages = [...stages];
  }
}

/**
 * The key that stands for a whole secret string in {@link MalformedSecretError}
 * (not valid JSON, not an object), as in a JSONPath.
 */
export const WHOLE_SECRET_KEY = '$';

/**
 * A secret's value cannot be used: not JSON, a key missing or of the wrong
 * shape. Names the key and what to put there, never the value.
 *
 * @example
 * ```ts
 * new MalformedSecretError('port', 'AWSPENDING', 'set it to a number from 1 to 65535');
 * // "Malformed secret: AWSPENDING, key port: set it to a number from 1 to 65535"
 * ```
 */
export class MalformedSecretError extends RotationError {
  /** The offending key, or {@link WHOLE_SECRET_KEY} for the whole secret string. */
  readonly key: string;
  /** Which secret or version it was (e.g. `AWSCURRENT`, `admin secret (masterarn)`). */
  readonly label: string | undefined;

  /**
   * @param key - the offending key, or {@link WHOLE_SECRET_KEY}
   * @param label - which secret or version, if known
   * @param fix - what the user has to change
   */
  constructor(key: string, label: string | undefined, fix: string, options?: ErrorOptions) {
    const where =
      key === WHOLE_SECRET_KEY
        ? (label ?? 'the secret string')
        : label === undefined
          ? key
          : `${label}, key ${key}`;
    super('MalformedSecretError', `${where}: ${fix}`, options);
    this.key = key;
    this.label = label;
  }
}

/**
 * The fields that say where, as whom and with which trust a secret logs in.
 * A rotation changes the password and nothing else, so these must be equal
 * in every version the function logs in with. `ca` is among them: a version
 * with another CA would accept another server's certificate.
 */
export const TARGET_FIELDS = ['host', 'port', 'dbname', 'username', 'options', 'ca'] as const;

/** One of {@link TARGET_FIELDS}. */
export type TargetField = (typeof TARGET_FIELDS)[number];

/**
 * Every field a mismatch can name: the target fields, and `masterarn`, which
 * picks the admin that changes the password at the next rotation.
 */
export type ComparedField = TargetField | 'masterarn';

/** Options of {@link SecretMismatchError}. */
export interface SecretMismatchOptions extends ErrorOptions {
  /**
   * The secret compared with AWSCURRENT, as messages name it.
   * @default 'AWSPENDING'
   */
  readonly versus?: string;
}

/**
 * A version or secret the function would log in with points at another
 * target than AWSCURRENT (or a login landed as another role). Names the
 * fields, never their values.
 */
export class SecretMismatchError extends RotationError {
  /** The fields that differ. */
  readonly fields: readonly ComparedField[];
  /** The secret compared with AWSCURRENT (`AWSPENDING`, `AWSPREVIOUS`, `admin secret (masterarn)`). */
  readonly versus: string;

  /**
   * @param fields - which fields differ
   * @param detail - replaces the default explanation and fix
   */
  constructor(
    fields: readonly ComparedField[],
    detail?: string,
    options: SecretMismatchOptions = {},
  ) {
    const { versus = 'AWSPENDING', ...errorOptions } = options;
    super(
      'SecretMismatchError',
      `${fields.join(', ')} ${fields.length === 1 ? 'differs' : 'differ'} between AWSCURRENT and ${versus}; ` +
        (detail ??
          'a rotation changes only the password: put the current values back in the pending version, or cancel the rotation'),
      errorOptions,
    );
    this.fields = [...fields];
    this.versus = versus;
  }
}

/**
 * A password (or a password policy) does not meet the rules the function
 * needs, e.g. a policy that leaves no character to draw from.
 */
export class PasswordPolicyError extends RotationError {
  /**
   * @param problem - what is wrong, e.g. `the password is empty`
   * @param fix - what to change
   */
  constructor(problem: string, fix: string, options?: ErrorOptions) {
    super('PasswordPolicyError', `${problem}; ${fix}`, options);
  }
}

/**
 * The function's own SCRAM verifier failed one of its format checks, or
 * could not be computed with the options given. The database would store
 * such a string as if it were a cleartext password, so it is never sent.
 */
export class ScramVerifierError extends RotationError {
  /** The rule that failed (see `SCRAM_VERIFIER_RULES` in `core/scram.ts`). */
  readonly rule: string;

  /**
   * @param rule - short rule id, e.g. `iterations-below-minimum`
   * @param requirement - what the rule demands, phrased as the fix
   */
  constructor(rule: string, requirement: string, options?: ErrorOptions) {
    super('ScramVerifierError', `${rule}: ${requirement}`, options);
    this.rule = rule;
  }
}

/** Why a verify-full TLS connection failed, by what the user has to fix. */
export const TLS_FAILURES = {
  'untrusted-ca': 'its certificate is not signed by a trusted CA',
  'hostname-mismatch': 'its certificate does not name the host name connected to',
  'expired-certificate': 'its certificate is expired or not yet valid',
  'not-offered': 'it does not offer TLS',
  other: 'the TLS handshake failed',
} as const;

/** One of the keys of {@link TLS_FAILURES}. */
export type TlsFailureReason = keyof typeof TLS_FAILURES;

const TLS_FIXES = {
  'untrusted-ca':
    "put the PEM of the CA that issued the server certificate in the secret's ca key or in CA_BUNDLE_PATH (either one is trusted alone; without them the Lambda runtime's bundle, RDS CAs included, and Node's roots are)",
  'hostname-mismatch':
    "set the secret's host to a name in the server certificate's subjectAltName, or reissue the certificate",
  'expired-certificate': "renew the server certificate (and check the server's clock)",
  'not-offered': 'enable TLS on the server: this function never logs in without verify-full TLS',
  other: 'see the cause; this function only connects with verify-full TLS',
} as const satisfies Record<TlsFailureReason, string>;

/** The server failed verify-full TLS; nothing was sent to it. */
export class TlsError extends RotationError {
  readonly reason: TlsFailureReason;
  /** `host:port` of the server. */
  readonly where: string;

  constructor(reason: TlsFailureReason, where: string, options?: ErrorOptions) {
    super(
      'TlsError',
      `the server at ${where}: ${TLS_FAILURES[reason]}; ${TLS_FIXES[reason]}`,
      options,
    );
    this.reason = reason;
    this.where = where;
  }
}

/**
 * What a server asked for instead of SCRAM-SHA-256. `none` is a password
 * request without any authentication request seen before it.
 */
export const REFUSED_AUTH_METHODS = {
  cleartext: 'asked for the password in cleartext (method password)',
  md5: 'asked for an MD5 password hash (method md5)',
  trust: 'let the client in without SCRAM (method trust)',
  sasl: 'offered no SCRAM-SHA-256 mechanism',
  none: 'asked for a password without a SCRAM authentication request',
} as const;

/** One of the keys of {@link REFUSED_AUTH_METHODS}. */
export type RefusedAuthMethod = keyof typeof REFUSED_AUTH_METHODS;

/**
 * The server asked for something weaker than SCRAM-SHA-256; the password
 * was not sent.
 */
export class AuthenticationMethodRefusedError extends RotationError {
  readonly method: RefusedAuthMethod;
  readonly where: string;

  constructor(method: RefusedAuthMethod, where: string, options?: ErrorOptions) {
    super(
      'AuthenticationMethodRefusedError',
      `the server at ${where} ${REFUSED_AUTH_METHODS[method]}; the password was not sent. ` +
        'Require scram-sha-256 for this user in pg_hba.conf (CockroachDB: server.host_based_authentication.configuration)',
      options,
    );
    this.method = method;
    this.where = where;
  }
}

/** The server refused the login (wrong password, or no HBA rule admits it). */
export class AuthenticationFailedError extends RotationError {
  readonly username: string;
  readonly where: string;

  /**
   * @param fix - replaces the default advice
   */
  constructor(username: string, where: string, options?: ErrorOptions, fix?: string) {
    super(
      'AuthenticationFailedError',
      `user ${username} could not log in at ${where}; ` +
        (fix ??
          "check that the secret's password is the user's current one and that an HBA rule admits this login"),
      options,
    );
    this.username = username;
    this.where = where;
  }
}

/**
 * The logged-in role may not change the password. `requiredRole` is set
 * only when the server proved which role is missing: on RDS and Aurora
 * PostgreSQL with `rds.restrict_password_commands` on, a role outside
 * `rds_password` may set no password at all.
 */
export class InsufficientPrivilegeError extends RotationError {
  readonly username: string;
  readonly where: string;
  /** The role the server requires and the user is not a member of, where proven. */
  readonly requiredRole: 'rds_password' | undefined;

  /**
   * @param options.rdsPasswordGrant - the GRANT that fixes it, when the
   *   server proved the role is not a member of `rds_password` while
   *   `rds.restrict_password_commands` is on (built with escapeIdentifier)
   * @param options.fix - replaces the default advice, where the server said
   *   what is missing (e.g. ADMIN OPTION)
   */
  constructor(
    username: string,
    where: string,
    options?: ErrorOptions & { readonly rdsPasswordGrant?: string; readonly fix?: string },
  ) {
    const { rdsPasswordGrant, fix, ...errorOptions } = options ?? {};
    super(
      'InsufficientPrivilegeError',
      `user ${username} at ${where} may not change this password; ` +
        (rdsPasswordGrant !== undefined
          ? `rds.restrict_password_commands is on and ${username} is not a member of rds_password: as the master user run ${rdsPasswordGrant}`
          : (fix ??
            'rotate through an admin secret (masterarn) whose role has CREATEROLE (CockroachDB: and CREATELOGIN, or admin), ' +
              'or on CockroachDB enable sql.auth.change_own_password.enabled')),
      errorOptions,
    );
    this.username = username;
    this.where = where;
    this.requiredRole = rdsPasswordGrant === undefined ? undefined : 'rds_password';
  }
}

// Shared phrases are constants: the bundle keeps one copy of each (its
// size budget is 1.2x the floor's, see bench/budget.ts).
const OR_ALLOW_PRIVILEGED =
  'or set ALLOW_PRIVILEGED_TARGET=true if this role is meant to be rotated by this function';
const PRIVILEGED_ATTRIBUTES = 'SUPERUSER, CREATEROLE, BYPASSRLS and REPLICATION';
const NOT_PENDING_LOGIN = 'did not log in with the pending password';
const NOTHING_CHANGED = 'nothing was changed';
const RETRIED = 'retried while time allowed';
const FOLDS = '(it folds names to lower case and NFC)';

/**
 * Network errors that a restarting server or a brief DNS hiccup also
 * causes: retried within the step's time, unlike a name that does not
 * resolve or a network with no route.
 */
export const TRANSIENT_NETWORK_CODES = ['ECONNREFUSED', 'ECONNRESET', 'EAI_AGAIN'] as const;

/** No connection could be made. */
export class DatabaseUnreachableError extends RotationError {
  readonly where: string;
  /** Node's error code (`ECONNREFUSED`, `ENOTFOUND`, ...), where there was one. */
  readonly networkCode: string | undefined;

  /**
   * @param networkCode - Node's error code; `ECONNREFUSED` changes the advice
   */
  constructor(where: string, options?: ErrorOptions, networkCode?: string) {
    super(
      'DatabaseUnreachableError',
      networkCode === 'ECONNREFUSED'
        ? `nothing accepted the connection at ${where}: the server is stopped or restarting, or the port is wrong; check the port and that the database runs`
        : `could not connect to ${where}; check the host and port in the secret, DNS, and that the ` +
            "function's subnets and security groups can reach the database",
      options,
    );
    this.where = where;
    this.networkCode = networkCode;
  }
}

/** The database did not answer in time. */
export class DatabaseTimeoutError extends RotationError {
  readonly where: string;

  constructor(where: string, options?: ErrorOptions) {
    super(
      'DatabaseTimeoutError',
      `${where} did not answer in time; check that the database is up and reachable, ` +
        'or raise CONNECT_TIMEOUT_MS / STATEMENT_TIMEOUT_MS (and the function timeout)',
      options,
    );
    this.where = where;
  }
}

/**
 * The server refused the connection for want of a free slot: SQLSTATE 53300
 * (`max_connections`, a role's or database's CONNECTION LIMIT) or 53400 (a
 * configured limit). The server answered, so the network is fine. Retried
 * within the step's time.
 */
export class DatabaseBusyError extends RotationError {
  readonly where: string;
  /** `53300` or `53400`. */
  readonly sqlstate: string;

  constructor(where: string, sqlstate: string, options?: ErrorOptions) {
    super(
      'DatabaseBusyError',
      `${where} has no connection slot free (SQLSTATE ${sqlstate}); raise max_connections, or lower the rotations at once (reserved concurrency)`,
      options,
    );
    this.where = where;
    this.sqlstate = sqlstate;
  }
}

/** What the server said about its state, by SQLSTATE. */
export const UNAVAILABLE_STATES = {
  '57P01': 'is shutting down',
  '57P02': 'is recovering from a crash',
  '57P03': 'is starting up or recovering',
} as const;

/** One of the keys of {@link UNAVAILABLE_STATES}. */
export type UnavailableState = keyof typeof UNAVAILABLE_STATES;

/**
 * The server is starting, shutting down or recovering from a crash
 * (SQLSTATE 57P01-57P03). Retried within the step's time.
 */
export class DatabaseUnavailableError extends RotationError {
  readonly where: string;
  readonly sqlstate: UnavailableState;

  constructor(where: string, sqlstate: UnavailableState, options?: ErrorOptions) {
    super(
      'DatabaseUnavailableError',
      `${where} ${UNAVAILABLE_STATES[sqlstate]} (SQLSTATE ${sqlstate}); ${RETRIED}, and Secrets Manager retries the rotation`,
      options,
    );
    this.where = where;
    this.sqlstate = sqlstate;
  }
}

/**
 * The connection closed under a login or a statement, with no error from
 * the server: it restarted, or something on the way dropped the connection.
 * Whether a statement in flight took effect is unknown; the step is safe to
 * run again and finds out. Retried within the step's time.
 */
export class ConnectionLostError extends RotationError {
  readonly where: string;
  /** What was in flight, e.g. `login as app`, `ALTER USER`. */
  readonly during: string;

  constructor(where: string, during: string, options?: ErrorOptions) {
    super(
      'ConnectionLostError',
      `the connection to ${where} closed during ${during} (a restart, or the network); ${RETRIED}`,
      options,
    );
    this.where = where;
    this.during = during;
  }
}

/**
 * Another transaction changed the same row at the same time: SQLSTATE 40001
 * (serialization failure, CockroachDB's "restart transaction") or PostgreSQL's
 * `tuple concurrently updated` (two ALTERs of one role at once). Retried
 * within the step's time.
 */
export class ConcurrentUpdateError extends RotationError {
  readonly where: string;
  readonly sqlstate: string;

  constructor(where: string, sqlstate: string, options?: ErrorOptions) {
    super(
      'ConcurrentUpdateError',
      `${where}: another transaction changed the same role at once (SQLSTATE ${sqlstate}); ${RETRIED}. If it repeats, check that one rotation alone changes this role`,
      options,
    );
    this.where = where;
    this.sqlstate = sqlstate;
  }
}

/** The server runs transactions read-only (SQLSTATE 25006): a standby, not the primary. */
export class ReadOnlyDatabaseError extends RotationError {
  readonly where: string;

  constructor(where: string, options?: ErrorOptions) {
    super(
      'ReadOnlyDatabaseError',
      `${where} is read-only (SQLSTATE 25006): a replica is behind the host name; ${NOTHING_CHANGED}. Point the host at the primary (Aurora: the cluster endpoint)`,
      options,
    );
    this.where = where;
  }
}

/** What was wrong with the server's side of a SCRAM exchange. */
export const SERVER_SIGNATURE_PROBLEMS = {
  mismatch: 'sent a wrong SCRAM server signature',
  missing: 'sent no SCRAM server signature',
  protocol: 'broke the SCRAM exchange',
} as const;

/** One of the keys of {@link SERVER_SIGNATURE_PROBLEMS}. */
export type ServerSignatureProblem = keyof typeof SERVER_SIGNATURE_PROBLEMS;

/**
 * The server did not prove that it holds the user's verifier: whatever
 * answered at that address may not be the database the secret names. The
 * login is refused (never retried), before any statement.
 */
export class ServerSignatureError extends RotationError {
  readonly where: string;
  readonly problem: ServerSignatureProblem;

  constructor(
    username: string,
    where: string,
    problem: ServerSignatureProblem,
    options?: ErrorOptions,
  ) {
    super(
      'ServerSignatureError',
      `the server at ${where} ${SERVER_SIGNATURE_PROBLEMS[problem]} for ${username}, so it may not be the database the secret names; nothing was sent. Connect to the database itself, not a proxy`,
      options,
    );
    this.where = where;
    this.problem = problem;
  }
}

/**
 * The server answered a login or statement with an error no other class
 * covers. Names the SQLSTATE; the server's own text is kept only in the
 * (redacted) cause.
 */
export class DatabaseServerError extends RotationError {
  readonly where: string;
  readonly sqlstate: string;

  /**
   * @param during - what was in flight, e.g. `login as app`, `ALTER USER`
   */
  constructor(where: string, sqlstate: string, during: string, options?: ErrorOptions) {
    super(
      'DatabaseServerError',
      `${where} answered SQLSTATE ${sqlstate} during ${during}; see the cause (e.g. 3D000: no such dbname)`,
      options,
    );
    this.where = where;
    this.sqlstate = sqlstate;
  }
}

/**
 * The codes of the errors that can clear up by themselves (a server at
 * capacity, restarting or recovering, a concurrent update, a dropped
 * connection, a slow answer). The steps that log in retry them, with
 * jittered backoff, while the Lambda's time allows; nothing else is retried.
 */
export const TRANSIENT_ERROR_CODES = [
  'DATABASE_BUSY',
  'DATABASE_UNAVAILABLE',
  'CONNECTION_LOST',
  'CONCURRENT_UPDATE',
  'DATABASE_TIMEOUT',
] as const satisfies readonly RotationErrorCode[];

/**
 * Whether `error` is worth retrying within the step: one of
 * {@link TRANSIENT_ERROR_CODES}, or a refused or reset connection (a server
 * restarting). Never a TLS, authentication-method or signature failure.
 *
 * @example
 * ```ts
 * if (!isTransientError(error) || timeLeftMs(ctx) < needed) throw error;
 * ```
 */
export function isTransientError(error: unknown): boolean {
  if (!(error instanceof RotationError)) return false;
  if ((TRANSIENT_ERROR_CODES as readonly string[]).includes(error.code)) return true;
  return (
    error instanceof DatabaseUnreachableError &&
    (TRANSIENT_NETWORK_CODES as readonly (string | undefined)[]).includes(error.networkCode)
  );
}

/**
 * An environment variable has a value the function cannot use. Names the
 * variable and what it accepts, not the value found.
 *
 * @example
 * ```ts
 * new ConfigurationError('PASSWORD_LENGTH', 'an integer from 8 to 4096');
 * // "Invalid configuration: PASSWORD_LENGTH must be an integer from 8 to 4096"
 * ```
 */
export class ConfigurationError extends RotationError {
  readonly variable: string;

  /**
   * @param variable - the environment variable (or variables)
   * @param expected - what it must be
   */
  constructor(variable: string, expected: string, options?: ErrorOptions) {
    super('ConfigurationError', `${variable} must be ${expected}`, options);
    this.variable = variable;
  }
}

/**
 * A server setting makes a safe rotation impossible, or cannot be read to
 * make sure it does not (CockroachDB cluster settings). Names the setting
 * and the statement or grant that fixes it.
 *
 * @example
 * ```ts
 * new DatabaseSettingError(
 *   'server.user_login.store_client_pre_hashed_passwords.enabled',
 *   'is false, so CockroachDB would take the verifier for a cleartext password',
 *   'run SET CLUSTER SETTING server.user_login.store_client_pre_hashed_passwords.enabled = true',
 * );
 * ```
 */
export class DatabaseSettingError extends RotationError {
  /** The setting involved. */
  readonly setting: string;

  /**
   * @param setting - the setting's name
   * @param problem - what is wrong with it, following its name
   * @param fix - the statement or grant to run
   */
  constructor(setting: string, problem: string, fix: string, options?: ErrorOptions) {
    super('DatabaseSettingError', `${setting} ${problem}; ${fix}`, options);
    this.setting = setting;
  }
}

/**
 * After ALTER USER, the hash the server stored is not the verifier that was
 * sent: the server took it for something else (a cleartext password). The
 * function has put the current password back before raising this.
 */
export class VerifierNotStoredError extends RotationError {
  readonly username: string;

  constructor(username: string, fix: string, options?: ErrorOptions) {
    super(
      'VerifierNotStoredError',
      `the server stored another hash for ${username} than the verifier sent; ${fix}`,
      options,
    );
    this.username = username;
  }
}

/** Why the role a rotation would change is refused, by what the user has to fix. */
export const TARGET_ROLE_PROBLEMS = {
  missing: 'does not exist on the server under exactly this name',
  folded: `is not a name this server keeps as written ${FOLDS}`,
  changer: "is the role that logs in to change it (the admin secret's own user)",
  'member-of-changer': 'is a member of the admin role, so it could act as the admin',
  privileged: 'holds a privileged attribute',
  'member-of-privileged': 'is a member of a privileged role',
} as const;

/** One of the keys of {@link TARGET_ROLE_PROBLEMS}. */
export type TargetRoleProblem = keyof typeof TARGET_ROLE_PROBLEMS;

/** What to do about each of {@link TARGET_ROLE_PROBLEMS}. */
export const TARGET_ROLE_FIXES = {
  missing:
    "set the secret's username to the role's exact name (names are case-sensitive, at most 63 bytes)",
  folded: "set the secret's username to the lower-case, NFC-normalised name CockroachDB stores",
  changer:
    'the user secret must name the application role, never the admin: correct its username, and check who can write it',
  'member-of-changer':
    'REVOKE the admin role from it, or rotate it with an admin it is not a member of',
  privileged: `rotate privileged roles by hand, ${OR_ALLOW_PRIVILEGED}`,
  'member-of-privileged': `REVOKE the privileged role from it, ${OR_ALLOW_PRIVILEGED}`,
} as const satisfies Record<TargetRoleProblem, string>;

/**
 * The role a rotation would change is not one the function may change:
 * missing, the admin itself, or privileged. Raised with the changing
 * session, before any change.
 *
 * @example
 * ```ts
 * new TargetRoleError('rot_admin', 'changer');
 * // "Target role refused: rot_admin is the role that logs in to change it ..."
 * ```
 */
export class TargetRoleError extends RotationError {
  readonly role: string;
  readonly problem: TargetRoleProblem;
  /** The attributes or roles that made it privileged, where that is the problem. */
  readonly privileges: readonly string[];

  constructor(
    role: string,
    problem: TargetRoleProblem,
    privileges: readonly string[] = [],
    options?: ErrorOptions,
  ) {
    const which = privileges.length > 0 ? ` (${privileges.join(', ')})` : '';
    super(
      'TargetRoleError',
      `${role} ${TARGET_ROLE_PROBLEMS[problem]}${which}; ${NOTHING_CHANGED}. ${TARGET_ROLE_FIXES[problem]}`,
      options,
    );
    this.role = role;
    this.problem = problem;
    this.privileges = [...privileges];
  }
}

/**
 * A SCRAM iteration count is above the function's bound
 * (`SCRAM_MAX_ITERATIONS`): the test login would refuse it, or PBKDF2 would
 * not finish in time. Raised before anything changes.
 */
export class IterationLimitError extends RotationError {
  readonly iterations: number;
  readonly limit: number;

  /**
   * @param iterations - the count refused
   * @param limit - the bound it exceeds
   * @param source - where the count came from, e.g. `the server's scram_iterations`
   */
  constructor(iterations: number, limit: number, source: string, options?: ErrorOptions) {
    super(
      'IterationLimitError',
      `${source} asks for ${iterations} iterations, above SCRAM_MAX_ITERATIONS (${limit}); ${NOTHING_CHANGED}. ` +
        'Lower the count on the server (or SCRAM_ITERATIONS), or raise SCRAM_MAX_ITERATIONS (and the function timeout) if the count is meant',
      options,
    );
    this.iterations = iterations;
    this.limit = limit;
  }
}

/**
 * The Lambda's remaining time is too short for what the step would start
 * next; it was not started, so nothing is left running.
 */
export class DeadlineError extends RotationError {
  /** What would have run, e.g. `PBKDF2 over 2147483647 iterations`. */
  readonly activity: string;

  constructor(activity: string, neededMs: number, leftMs: number, options?: ErrorOptions) {
    super(
      'DeadlineError',
      `${activity} needs about ${Math.ceil(neededMs)} ms but ${Math.max(0, Math.floor(leftMs))} ms are left; ` +
        'it was not started; nothing was changed. Raise the function timeout, or lower the iteration count',
      options,
    );
    this.activity = activity;
  }
}

/**
 * The step reached its deadline (the Lambda's remaining time less a safety
 * margin) before it ended. Everything it had in flight was cancelled: the
 * Secrets Manager requests aborted, the running statement cancelled on the
 * server and its connection closed, so nothing it started lands after the
 * handler returns. Names the step and what was in flight.
 */
export class DeadlineReachedError extends RotationError {
  readonly step: string;
  /** What was in flight when the deadline came (empty: between calls). */
  readonly inFlight: readonly string[];
  /** False when something did not stop within the safety margin. */
  readonly settled: boolean;

  /**
   * @param step - the rotation step, e.g. `setSecret`
   * @param inFlight - what was running, e.g. `ALTER USER on db:5432`
   * @param settled - whether everything stopped before the handler returned
   */
  constructor(step: string, inFlight: readonly string[], settled: boolean, options?: ErrorOptions) {
    super(
      'DeadlineReachedError',
      `${step} ran out of time with ${inFlight.join(', ') || 'nothing'} in flight; ${
        settled ? 'all of it was cancelled' : 'it did not stop in time and may still complete'
      }. Secrets Manager retries; if this repeats, raise the function timeout`,
      options,
    );
    this.step = step;
    this.inFlight = [...inFlight];
    this.settled = settled;
  }
}

/**
 * finishSecret was asked to promote a version that no testSecret proved in
 * this rotation, and a fresh login with it failed: it stays AWSPENDING.
 */
export class UnprovenVersionError extends RotationError {
  readonly token: string;

  constructor(token: string, options?: ErrorOptions) {
    super(
      'UnprovenVersionError',
      `version ${token} was not proved by testSecret and does not log in; AWSCURRENT was not moved. ` +
        'Run setSecret and testSecret first (Secrets Manager does), or start a new rotation with RotateSecret',
      options,
    );
    this.token = token;
  }
}

/** Why a clone name cannot be used, by what the user has to fix. */
export const CLONE_NAME_PROBLEMS = {
  'too-long': `is longer than 63 bytes, the identifier limit: PostgreSQL would cut it short and name another role`,
  folded: `is not a name CockroachDB keeps as written ${FOLDS}`,
} as const;

/** One of the keys of {@link CLONE_NAME_PROBLEMS}. */
export type CloneNameProblem = keyof typeof CLONE_NAME_PROBLEMS;

/**
 * Alternating mode: the clone's name (`<user><CLONE_SUFFIX>`) cannot be used.
 * Raised by createSecret, before a pending version is stored or any role
 * is created.
 *
 * @example
 * ```ts
 * new CloneNameError('a_very_long_user_name..._clone', 'too-long');
 * // "Clone name refused: a_very_long_user_name..._clone (66 bytes) is longer than 63 bytes ..."
 * ```
 */
export class CloneNameError extends RotationError {
  readonly clone: string;
  readonly problem: CloneNameProblem;

  constructor(clone: string, problem: CloneNameProblem, options?: ErrorOptions) {
    super(
      'CloneNameError',
      `${clone} (${Buffer.byteLength(clone, 'utf8')} bytes) ${CLONE_NAME_PROBLEMS[problem]}; nothing was created or changed. ` +
        'Set CLONE_SUFFIX to a shorter lower-case suffix, or rotate this user in single-user or admin mode',
      options,
    );
    this.clone = clone;
    this.problem = problem;
  }
}

/** Why alternating mode refuses to create, change or align a clone. */
export const CLONE_PROBLEMS = {
  'privileged-original':
    'would inherit privileged attributes or roles through the original, which a clone must never get',
  'privileged-clone':
    'holds privileged attributes or roles itself (directly or through a membership), which a clone must never have',
  'not-a-clone':
    'is not a member of the original, and this secret never alternated between the two: it may be another role',
  unproven:
    'is not proven to be the clone this function created for the original: it may be another role',
  disabled: 'was disabled by an operator, and a rotation never enables a role again',
  settings:
    'has per-role settings a session cannot override that differ from the original, which a rotation never clears, widens or imposes',
  'held-by-others':
    "is granted to roles other than the admin, which would get the original's privileges through it (and, with ADMIN OPTION, could set its password)",
  'original-missing': 'has no original: the user without the suffix does not exist',
  'clone-missing': 'is AWSCURRENT but does not exist on the server',
} as const;

/** One of the keys of {@link CLONE_PROBLEMS}. */
export type CloneProblem = keyof typeof CLONE_PROBLEMS;

/** What to do about each of {@link CLONE_PROBLEMS}. */
export const CLONE_FIXES = {
  'privileged-original': `rotate privileged roles in admin mode, or remove ${PRIVILEGED_ATTRIBUTES} (and memberships giving them) from the original`,
  'privileged-clone': `remove ${PRIVILEGED_ATTRIBUTES} from the clone (or drop it: the next rotation creates it again)`,
  'not-a-clone':
    'if it is the clone, run GRANT <original> TO <clone>; if not, set CLONE_SUFFIX to a suffix no other role uses',
  unproven:
    "if it is not this secret's clone, set CLONE_SUFFIX to a suffix no other role uses (or rename that role); to bring it under rotation deliberately, see the fix in this message",
  disabled:
    'to keep it disabled, stop alternating: put the original user (and its password) in AWSCURRENT and set ROTATION_MODE=admin; to use it again, undo the setting by hand, then rotate',
  settings: 'set (or reset) them alike on the clone and the original by hand, then rotate',
  'held-by-others':
    'revoke the clone from each role named (REVOKE <clone> FROM <role>), or drop the clone so that the next rotation creates it; if one of them must act as the original, grant it the original instead',
  'original-missing':
    "set the secret's username to the original user (without the suffix), or set CLONE_SUFFIX to the suffix actually in use",
  'clone-missing':
    'put the original user (and its password) back in the secret, then rotate again: the clone is created again',
} as const satisfies Record<CloneProblem, string>;

/**
 * Alternating mode: the clone (`role`) or its original cannot be used as
 * a pair. Raised with the admin session, before any change.
 */
export class CloneRefusedError extends RotationError {
  readonly role: string;
  readonly original: string;
  readonly problem: CloneProblem;
  /** The attributes or roles involved, where that is the problem. */
  readonly privileges: readonly string[];
  /** What to do: the message's last sentence (for doctor's fix column). */
  readonly fix: string;

  constructor(
    role: string,
    original: string,
    problem: CloneProblem,
    privileges: readonly string[] = [],
    options?: ErrorOptions & {
      /** A fix more precise than {@link CLONE_FIXES}' (e.g. the statement to run). */
      readonly fix?: string;
    },
  ) {
    const which = privileges.length > 0 ? ` (${privileges.join(', ')})` : '';
    super(
      'CloneRefusedError',
      `${role}, the clone of ${original}, ${CLONE_PROBLEMS[problem]}${which}; ${NOTHING_CHANGED}. ${options?.fix ?? CLONE_FIXES[problem]}`,
      options,
    );
    this.role = role;
    this.original = original;
    this.problem = problem;
    this.privileges = [...privileges];
    this.fix = options?.fix ?? CLONE_FIXES[problem];
  }
}

/** What withdrawing the failed pending version came to, for messages. */
function withdrawnNote(withdrawn: boolean): string {
  return withdrawn
    ? 'AWSPENDING was removed, so the next rotation generates a new password.'
    : 'AWSPENDING could not be removed: remove it before the next rotation, or that rotation retries the same password.';
}

/**
 * testSecret failed, and nothing needed rolling back: alternating mode
 * changed only the user AWSCURRENT does not name, or AWSCURRENT's password
 * still logs in. The reason is the `cause`.
 */
export class PendingTestFailedError extends RotationError {
  readonly username: string;
  readonly withdrawn: boolean;

  /**
   * @param why - why nothing needed rolling back, e.g. `alternating mode changed only app_clone ...`
   * @param reason - a safe summary of the test failure
   */
  constructor(
    username: string,
    why: string,
    reason: string,
    withdrawn: boolean,
    options?: ErrorOptions,
  ) {
    super(
      'PendingTestFailedError',
      `${username} ${NOT_PENDING_LOGIN} (${reason}); nothing needed rolling back: ${why}. ${withdrawnNote(withdrawn)}`,
      options,
    );
    this.username = username;
    this.withdrawn = withdrawn;
  }
}

/** What {@link RolledBackError} says the role's password was set back to. */
const ROLLED_BACK_TO = {
  AWSCURRENT: "its password was set back to AWSCURRENT's, which logs in again",
  AWSPREVIOUS:
    "its password was set back to AWSPREVIOUS's, which logs in again (AWSCURRENT's user was not touched)",
  none: "its password was set to a random one no version holds, as no labelled version names it (AWSCURRENT's user was not touched)",
} as const;

/**
 * testSecret failed after setSecret had changed the password of the user
 * AWSCURRENT names; the function put AWSCURRENT's password back (a fresh
 * verifier of it) and proved that it logs in. The reason is the `cause`.
 */
export class RolledBackError extends RotationError {
  readonly username: string;
  readonly withdrawn: boolean;

  /**
   * @param restoredTo - whose password the role has again: AWSCURRENT's (single user, admin),
   *   AWSPREVIOUS's (alternating mode, the user AWSPREVIOUS names), or `none`: a random one no
   *   version holds (alternating mode, when no labelled version names the user)
   */
  constructor(
    username: string,
    reason: string,
    withdrawn: boolean,
    options?: ErrorOptions,
    restoredTo: 'AWSCURRENT' | 'AWSPREVIOUS' | 'none' = 'AWSCURRENT',
  ) {
    super(
      'RolledBackError',
      `${username} ${NOT_PENDING_LOGIN} (${reason}), so ${ROLLED_BACK_TO[restoredTo]}. ${withdrawnNote(withdrawn)} Fix the cause before the next rotation`,
      options,
    );
    this.username = username;
    this.withdrawn = withdrawn;
  }
}

/**
 * testSecret failed after setSecret had changed the password of the user
 * AWSCURRENT names, and putting AWSCURRENT's password back failed too: the
 * application's credential may not work. AWSPENDING is kept, so that a
 * retry of the rotation can still finish with it.
 */
export class RollbackFailedError extends RotationError {
  readonly username: string;

  /**
   * @param reason - a safe summary of the test failure
   * @param rollback - a safe summary of why the roll-back failed
   */
  constructor(username: string, reason: string, rollback: string, options?: ErrorOptions) {
    super(
      'RollbackFailedError',
      `${username} ${NOT_PENDING_LOGIN} (${reason}), and its password could not be set back to AWSCURRENT's (${rollback}). ` +
        "AWSCURRENT may not log in now: set the user's password by hand to AWSCURRENT's value (as a SCRAM verifier), or let the rotation retry: AWSPENDING was kept",
      options,
    );
    this.username = username;
  }
}

/**
 * A server's (or a driver's) error reduced to what is safe to keep as an
 * error's `cause`: its SQLSTATE or error code, severity, and a message with
 * every quoted text and anything shaped like a verifier or key removed.
 * The original object is dropped: a server may echo the statement, and so
 * the verifier, in its message, `detail`, `where` or `internalQuery`.
 */
export class ErrorSummary extends Error {
  override readonly name = 'ErrorSummary';
  /** SQLSTATE (`28P01`) or Node error code (`ECONNREFUSED`), where there was one. */
  readonly code: string | undefined;
  /** The original error's class name, e.g. `DatabaseError`. */
  readonly kind: string;

  constructor(kind: string, code: string | undefined, message: string) {
    super(message);
    this.kind = kind;
    this.code = code;
  }
}

/** Quoted text, and runs that look like base64 keys or verifiers. */
const UNSAFE_TEXT = [
  /SCRAM-SHA-256\$\S*/g,
  /'(?:[^']|'')*'?/g,
  /"(?:[^"]|"")*"?/g,
  /[A-Za-z0-9+/=$:]{20,}/g,
] as const;

/**
 * Reduces any thrown value to an {@link ErrorSummary}, following its own
 * `cause` chain (each link summarised too, at most 5 deep).
 *
 * @example
 * ```ts
 * throw new DatabaseUnreachableError(where, { cause: summarizeError(pgError) });
 * ```
 */
export function summarizeError(error: unknown, depth = 0): ErrorSummary {
  const err = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    severity?: unknown;
  };
  const kind =
    typeof err.name === 'string' && /^[A-Za-z0-9_]{1,60}$/.test(err.name) ? err.name : typeof error;
  // A server writes its SQLSTATE field's text itself: from a server (an
  // error with a severity) only a five-character SQLSTATE is kept; from
  // Node, only a code of its shape (ECONNREFUSED, ERR_TLS_CERT_ALTNAME_INVALID).
  const codePattern = typeof err.severity === 'string' ? /^[0-9A-Z]{5}$/ : /^[A-Z][A-Z0-9_]{1,39}$/;
  const code = typeof err.code === 'string' && codePattern.test(err.code) ? err.code : undefined;
  let text = typeof err.message === 'string' ? err.message : typeof error === 'string' ? error : '';
  for (const pattern of UNSAFE_TEXT) text = text.replace(pattern, '[redacted]');
  const summary = new ErrorSummary(kind, code, text.slice(0, 300));
  if (err.cause !== undefined && depth < 5) {
    // Not enumerable (defineProperty's default), as Error's own cause is.
    Object.defineProperty(summary, 'cause', {
      value: summarizeError(err.cause, depth + 1),
      configurable: true,
      writable: true,
    });
  }
  return summary;
}
