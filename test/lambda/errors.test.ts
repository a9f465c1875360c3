import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  AuthenticationFailedError,
  AuthenticationMethodRefusedError,
  CloneNameError,
  CloneRefusedError,
  ConcurrentUpdateError,
  ConfigurationError,
  ConnectionLostError,
  DatabaseBusyError,
  DatabaseServerError,
  DatabaseSettingError,
  DatabaseTimeoutError,
  DatabaseUnavailableError,
  DatabaseUnreachableError,
  DeadlineError,
  DeadlineReachedError,
  ErrorSummary,
  InsufficientPrivilegeError,
  InvalidEventError,
  IterationLimitError,
  isRotationError,
  isTransientError,
  MalformedSecretError,
  PasswordPolicyError,
  PendingTestFailedError,
  ReadOnlyDatabaseError,
  ROTATION_ERRORS,
  RollbackFailedError,
  RolledBackError,
  RotationError,
  type RotationErrorName,
  RotationNotEnabledError,
  ScramVerifierError,
  SecretMismatchError,
  ServerSignatureError,
  summarizeError,
  TargetRoleError,
  TlsError,
  TokenNotFoundError,
  TokenNotPendingError,
  UnprovenVersionError,
  VerifierNotStoredError,
} from '../../lambda/errors.js';

const cause = new Error('underlying');
const where = 'db.example.com:5432';

/** One instance of every class, built with a cause. */
const examples: Record<RotationErrorName, RotationError> = {
  InvalidEventError: new InvalidEventError('Step', 'one of createSecret', { cause }),
  RotationNotEnabledError: new RotationNotEnabledError('arn:secret', { cause }),
  TokenNotFoundError: new TokenNotFoundError('t-1', 'arn:secret', { cause }),
  TokenNotPendingError: new TokenNotPendingError('t-1', ['AWSPREVIOUS'], 'arn:secret', { cause }),
  MalformedSecretError: new MalformedSecretError('port', 'AWSCURRENT', 'set it to a port', {
    cause,
  }),
  SecretMismatchError: new SecretMismatchError(['host'], undefined, { cause }),
  PasswordPolicyError: new PasswordPolicyError('the password is empty', 'generate one', {
    cause,
  }),
  ScramVerifierError: new ScramVerifierError('salt', 'the salt must be base64', { cause }),
  TlsError: new TlsError('untrusted-ca', where, { cause }),
  AuthenticationMethodRefusedError: new AuthenticationMethodRefusedError('md5', where, { cause }),
  AuthenticationFailedError: new AuthenticationFailedError('app_user', where, { cause }),
  InsufficientPrivilegeError: new InsufficientPrivilegeError('app_user', where, { cause }),
  DatabaseUnreachableError: new DatabaseUnreachableError(where, { cause }),
  DatabaseTimeoutError: new DatabaseTimeoutError(where, { cause }),
  DatabaseBusyError: new DatabaseBusyError(where, '53300', { cause }),
  DatabaseUnavailableError: new DatabaseUnavailableError(where, '57P03', { cause }),
  ConnectionLostError: new ConnectionLostError(where, 'ALTER USER', { cause }),
  ConcurrentUpdateError: new ConcurrentUpdateError(where, '40001', { cause }),
  ReadOnlyDatabaseError: new ReadOnlyDatabaseError(where, { cause }),
  ServerSignatureError: new ServerSignatureError('app_user', where, 'mismatch', { cause }),
  DatabaseServerError: new DatabaseServerError(where, '3D000', 'login as app_user', { cause }),
  ConfigurationError: new ConfigurationError('PASSWORD_LENGTH', 'an integer', { cause }),
  DatabaseSettingError: new DatabaseSettingError('a.setting', 'is false', 'set it to true', {
    cause,
  }),
  VerifierNotStoredError: new VerifierNotStoredError('app_user', 'check the setting', { cause }),
  TargetRoleError: new TargetRoleError('rot_admin', 'changer', [], { cause }),
  IterationLimitError: new IterationLimitError(200_000, 100_000, 'the server', { cause }),
  DeadlineError: new DeadlineError('PBKDF2 over 9 iterations', 100, 10, { cause }),
  DeadlineReachedError: new DeadlineReachedError('setSecret', ['ALTER USER'], true, { cause }),
  UnprovenVersionError: new UnprovenVersionError('t-1', { cause }),
  CloneNameError: new CloneNameError('app_clone', 'too-long', { cause }),
  CloneRefusedError: new CloneRefusedError('app_clone', 'app', 'not-a-clone', [], { cause }),
  PendingTestFailedError: new PendingTestFailedError(
    'app_clone',
    'app was not touched',
    'x',
    true,
    {
      cause,
    },
  ),
  RolledBackError: new RolledBackError('app', 'Authentication failed: x', true, { cause }),
  RollbackFailedError: new RollbackFailedError('app', 'x', 'y', { cause }),
};

const EXPECTED: Record<RotationErrorName, { code: string; prefix: string }> = {
  InvalidEventError: { code: 'INVALID_EVENT', prefix: 'Invalid rotation event: ' },
  RotationNotEnabledError: { code: 'ROTATION_NOT_ENABLED', prefix: 'Rotation is not enabled: ' },
  TokenNotFoundError: { code: 'TOKEN_NOT_FOUND', prefix: 'Rotation token not found: ' },
  TokenNotPendingError: { code: 'TOKEN_NOT_PENDING', prefix: 'Rotation token is not pending: ' },
  MalformedSecretError: { code: 'MALFORMED_SECRET', prefix: 'Malformed secret: ' },
  SecretMismatchError: { code: 'SECRET_MISMATCH', prefix: 'Secret mismatch: ' },
  PasswordPolicyError: { code: 'PASSWORD_POLICY', prefix: 'Password policy violation: ' },
  ScramVerifierError: { code: 'SCRAM_VERIFIER_INVALID', prefix: 'Invalid SCRAM verifier: ' },
  TlsError: { code: 'TLS_FAILED', prefix: 'TLS verification failed: ' },
  AuthenticationMethodRefusedError: {
    code: 'AUTH_METHOD_REFUSED',
    prefix: 'Authentication method refused: ',
  },
  AuthenticationFailedError: { code: 'AUTH_FAILED', prefix: 'Authentication failed: ' },
  InsufficientPrivilegeError: {
    code: 'INSUFFICIENT_PRIVILEGE',
    prefix: 'Insufficient privilege: ',
  },
  DatabaseUnreachableError: { code: 'DATABASE_UNREACHABLE', prefix: 'Database unreachable: ' },
  DatabaseTimeoutError: { code: 'DATABASE_TIMEOUT', prefix: 'Database timed out: ' },
  DatabaseBusyError: { code: 'DATABASE_BUSY', prefix: 'Database at capacity: ' },
  DatabaseUnavailableError: { code: 'DATABASE_UNAVAILABLE', prefix: 'Database not available: ' },
  ConnectionLostError: { code: 'CONNECTION_LOST', prefix: 'Database connection lost: ' },
  ConcurrentUpdateError: { code: 'CONCURRENT_UPDATE', prefix: 'Concurrent change: ' },
  ReadOnlyDatabaseError: { code: 'DATABASE_READ_ONLY', prefix: 'Database is read-only: ' },
  ServerSignatureError: { code: 'SERVER_NOT_PROVEN', prefix: 'Server signature refused: ' },
  DatabaseServerError: { code: 'DATABASE_ERROR', prefix: 'Database error: ' },
  ConfigurationError: { code: 'CONFIGURATION_INVALID', prefix: 'Invalid configuration: ' },
  DatabaseSettingError: {
    code: 'DATABASE_SETTING',
    prefix: 'Database setting prevents rotation: ',
  },
  VerifierNotStoredError: { code: 'VERIFIER_NOT_STORED', prefix: 'Verifier not stored as sent: ' },
  TargetRoleError: { code: 'TARGET_ROLE_REFUSED', prefix: 'Target role refused: ' },
  IterationLimitError: { code: 'ITERATIONS_REFUSED', prefix: 'SCRAM iteration count refused: ' },
  DeadlineError: { code: 'DEADLINE', prefix: 'Not enough time left: ' },
  DeadlineReachedError: { code: 'DEADLINE_REACHED', prefix: 'Deadline reached: ' },
  UnprovenVersionError: { code: 'PENDING_NOT_PROVEN', prefix: 'Pending version not proven: ' },
  CloneNameError: { code: 'CLONE_NAME_REFUSED', prefix: 'Clone name refused: ' },
  CloneRefusedError: { code: 'CLONE_REFUSED', prefix: 'Clone refused: ' },
  PendingTestFailedError: {
    code: 'PENDING_TEST_FAILED',
    prefix: 'Pending password failed its test: ',
  },
  RolledBackError: { code: 'ROTATION_ROLLED_BACK', prefix: 'Rotation rolled back: ' },
  RollbackFailedError: { code: 'ROLLBACK_FAILED', prefix: 'Rotation could not be rolled back: ' },
};

describe('rotation errors', () => {
  it('covers every class in the catalogue', () => {
    expect(Object.keys(examples).sort()).toEqual(Object.keys(ROTATION_ERRORS).sort());
  });

  describe.each(Object.entries(examples))('%s', (name, error) => {
    const expected = EXPECTED[name as RotationErrorName];

    it('is an Error and a RotationError of its own class', () => {
      expect(error).toBeInstanceOf(Error);
      expect(error).toBeInstanceOf(RotationError);
      expect(error.constructor.name).toBe(name);
    });

    it('is named after its class', () => {
      expect(error.name).toBe(name);
      expect(String(error).startsWith(`${name}: ${expected.prefix}`)).toBe(true);
    });

    it('has its stable code and message prefix', () => {
      expect(error.code).toBe(expected.code);
      expect(error.message.startsWith(expected.prefix)).toBe(true);
      expect(error.message.length).toBeGreaterThan(expected.prefix.length);
    });

    it('keeps a summary of the cause it was given, never the object itself', () => {
      expect(error.cause).toBeInstanceOf(ErrorSummary);
      expect(error.cause).not.toBe(cause);
      expect((error.cause as ErrorSummary).message).toBe('underlying');
      expect((error.cause as ErrorSummary).kind).toBe('Error');
    });
  });

  it('has a distinct code per class', () => {
    const codes = Object.values(ROTATION_ERRORS).map((entry) => entry.code);
    expect(new Set(codes).size).toBe(codes.length);
  });
});

describe('isRotationError', () => {
  it('recognises rotation errors, optionally of one code', () => {
    const error = new DatabaseTimeoutError(where);
    expect(isRotationError(error)).toBe(true);
    expect(isRotationError(error, 'DATABASE_TIMEOUT')).toBe(true);
    expect(isRotationError(error, 'AUTH_FAILED')).toBe(false);
  });

  it('rejects other errors and non-errors', () => {
    expect(isRotationError(new Error('x'))).toBe(false);
    expect(isRotationError({ code: 'DATABASE_TIMEOUT', name: 'DatabaseTimeoutError' })).toBe(false);
    expect(isRotationError(undefined)).toBe(false);
  });
});

describe('isTransientError', () => {
  it.each([
    ['a server at capacity', new DatabaseBusyError(where, '53300')],
    ['a server starting up', new DatabaseUnavailableError(where, '57P03')],
    ['a lost connection', new ConnectionLostError(where, 'login as app')],
    ['a concurrent update', new ConcurrentUpdateError(where, '40001')],
    ['a slow answer', new DatabaseTimeoutError(where)],
    ['a refused connection', new DatabaseUnreachableError(where, undefined, 'ECONNREFUSED')],
    ['a reset connection', new DatabaseUnreachableError(where, undefined, 'ECONNRESET')],
  ])('retries %s', (_, error) => {
    expect(isTransientError(error)).toBe(true);
  });

  it.each([
    ['a host that does not resolve', new DatabaseUnreachableError(where, undefined, 'ENOTFOUND')],
    ['a replica', new ReadOnlyDatabaseError(where)],
    ['a failed server signature', new ServerSignatureError('u', where, 'mismatch')],
    ['a TLS failure', new TlsError('untrusted-ca', where)],
    ['a refused method', new AuthenticationMethodRefusedError('md5', where)],
    ['a wrong password', new AuthenticationFailedError('u', where)],
    ['an unclassified server error', new DatabaseServerError(where, 'XX000', 'ALTER USER')],
    ['the deadline', new DeadlineReachedError('setSecret', [], true)],
    ['an error of another kind', new Error('Connection terminated unexpectedly')],
  ])('never retries %s', (_, error) => {
    expect(isTransientError(error)).toBe(false);
  });
});

describe('messages', () => {
  it('give capacity, recovery, replica and concurrency their own advice', () => {
    expect(new DatabaseBusyError(where, '53300').message).toMatch(
      /max_connections.*reserved concurrency/,
    );
    expect(new DatabaseUnavailableError(where, '57P03').message).toContain('starting up');
    expect(new DatabaseUnavailableError(where, '57P02').message).toContain(
      'recovering from a crash',
    );
    expect(new ReadOnlyDatabaseError(where).message).toMatch(/replica.*primary/);
    expect(new ConcurrentUpdateError(where, 'XX000').message).toContain('same role at once');
    for (const error of [
      new DatabaseBusyError(where, '53300'),
      new DatabaseUnavailableError(where, '57P01'),
      new ReadOnlyDatabaseError(where),
      new ConcurrentUpdateError(where, '40001'),
      new ServerSignatureError('u', where, 'mismatch'),
      new DatabaseServerError(where, 'XX000', 'ALTER USER'),
    ]) {
      // The server answered: the network advice would send the user the wrong way.
      expect(error.message).not.toMatch(/could not connect|security groups/);
    }
  });

  it('tell a refused connection (restart or wrong port) from an unreachable host', () => {
    expect(new DatabaseUnreachableError(where, undefined, 'ECONNREFUSED').message).toMatch(
      /^Database unreachable: nothing accepted the connection at db\.example\.com:5432: the server is stopped or restarting, or the port is wrong/,
    );
    expect(new DatabaseUnreachableError(where, undefined, 'ENOTFOUND').message).toContain(
      'security groups',
    );
  });

  it('name the SQLSTATE and what was in flight for other server errors', () => {
    expect(new DatabaseServerError(where, '3D000', 'login as app').message).toBe(
      'Database error: db.example.com:5432 answered SQLSTATE 3D000 during login as app; see the cause (e.g. 3D000: no such dbname)',
    );
  });

  it('name the step and what was in flight at the deadline, and whether it stopped', () => {
    const error = new DeadlineReachedError('setSecret', ['ALTER USER on db:5432'], true);
    expect(error.message).toMatch(
      /^Deadline reached: setSecret ran out of time with ALTER USER on db:5432 in flight; all of it was cancelled\./,
    );
    expect(error.step).toBe('setSecret');
    expect(error.inFlight).toEqual(['ALTER USER on db:5432']);
    expect(new DeadlineReachedError('testSecret', [], false).message).toContain(
      'nothing in flight; it did not stop in time and may still complete',
    );
  });

  it('say which TLS check failed and what to fix', () => {
    expect(new TlsError('hostname-mismatch', where).message).toMatch(/host name/);
    expect(new TlsError('untrusted-ca', where).message).toContain("secret's ca key");
    expect(new TlsError('not-offered', where).reason).toBe('not-offered');
    expect(new TlsError('expired-certificate', where).message).toContain('renew');
  });

  it.each([
    ['cleartext', 'cleartext'],
    ['md5', 'MD5'],
    ['trust', 'trust'],
    ['sasl', 'no SCRAM-SHA-256 mechanism'],
  ] as const)('name the refused method %s', (method, phrase) => {
    const error = new AuthenticationMethodRefusedError(method, where);
    expect(error.method).toBe(method);
    expect(error.message).toContain(phrase);
    expect(error.message).toContain('the password was not sent');
  });

  it('render a MalformedSecretError for the whole secret, a key, or a key of a labelled version', () => {
    expect(new MalformedSecretError('$', 'AWSPENDING', 'not JSON').message).toBe(
      'Malformed secret: AWSPENDING: not JSON',
    );
    expect(new MalformedSecretError('AWSCURRENT', undefined, 'store a value').message).toBe(
      'Malformed secret: AWSCURRENT: store a value',
    );
    expect(new MalformedSecretError('masterarn', 'AWSCURRENT', 'add it').message).toBe(
      'Malformed secret: AWSCURRENT, key masterarn: add it',
    );
  });

  it('let a SecretMismatchError and an AuthenticationFailedError take their own advice', () => {
    expect(new SecretMismatchError(['username'], 'the login is another role').message).toBe(
      'Secret mismatch: username differs between AWSCURRENT and AWSPENDING; the login is another role',
    );
    expect(new AuthenticationFailedError('u', where, undefined, 'set it by hand').message).toBe(
      `Authentication failed: user u could not log in at ${where}; set it by hand`,
    );
  });

  it('say whether a failed test was rolled back, and whether the pending version was withdrawn', () => {
    const withdrawn = new RolledBackError('app', 'Authentication failed: x', true);
    expect(withdrawn.message).toContain("set back to AWSCURRENT's");
    expect(withdrawn.message).toContain('the next rotation generates a new password');
    expect(new RolledBackError('app', 'x', false).message).toContain(
      'AWSPENDING could not be removed',
    );
    const nothing = new PendingTestFailedError('app_clone', 'app was not touched', 'x', true);
    expect(nothing.message).toContain('nothing needed rolling back: app was not touched');
    expect(new RollbackFailedError('app', 'x', 'y').message).toContain('AWSPENDING was kept');
  });

  it('give the size of a clone name over the identifier limit', () => {
    const name = `${'u'.repeat(58)}_clone`;
    expect(new CloneNameError(name, 'too-long').message).toBe(
      `Clone name refused: ${name} (64 bytes) is longer than 63 bytes, the identifier limit: PostgreSQL would cut it short and name another role; nothing was created or changed. Set CLONE_SUFFIX to a shorter lower-case suffix, or rotate this user in single-user or admin mode`,
    );
  });

  it('leave out the secret id when it is not known', () => {
    expect(new RotationNotEnabledError().message).toMatch(
      /^Rotation is not enabled: the secret does not have rotation enabled/,
    );
  });

  it('name a configuration variable and what it accepts', () => {
    expect(new ConfigurationError('ROTATION_MODE', 'one of auto, admin').message).toBe(
      'Invalid configuration: ROTATION_MODE must be one of auto, admin',
    );
  });
});

describe('error causes', () => {
  const verifier =
    'SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=';
  /** A driver error as pg builds one from a server that echoes the statement. */
  function echoingServerError() {
    return Object.assign(
      new Error(`syntax error at or near "ALTER USER app WITH PASSWORD '${verifier}'"`),
      {
        name: 'DatabaseError',
        severity: 'ERROR',
        code: '42601',
        detail: `statement: ALTER USER app WITH PASSWORD '${verifier}'`,
        where: verifier,
        internalQuery: verifier,
        query: verifier,
      },
    );
  }

  it('keep no verifier or statement text anywhere in the chain, however deep', () => {
    const inner = echoingServerError();
    const outer = Object.assign(new Error(`failed: ${verifier}`), { cause: inner });
    const error = new DatabaseUnreachableError(where, { cause: outer });
    const chain = inspect(error, { depth: 20, showHidden: true });
    expect(chain).not.toContain(verifier);
    expect(chain).not.toContain('QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk');
    expect(chain).not.toContain('WITH PASSWORD');
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain(verifier);
    // What is kept still says what happened.
    const summary = (error.cause as ErrorSummary).cause as ErrorSummary;
    expect(summary.code).toBe('42601');
    expect(summary.kind).toBe('DatabaseError');
    expect(summary.message).toMatch(/^syntax error at or near \[redacted\]/);
  });

  it('keep one of our own errors as it is', () => {
    const ours = new DatabaseTimeoutError(where);
    expect(new ScramVerifierError('x', 'y', { cause: ours }).cause).toBe(ours);
  });

  it('keep only a five-character SQLSTATE from a server, whatever its code field holds', () => {
    const server = (code: string) => Object.assign(new Error('x'), { code, severity: 'ERROR' });
    expect(summarizeError(server('28P01')).code).toBe('28P01');
    expect(summarizeError(server('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123')).code).toBeUndefined();
    expect(
      summarizeError(server("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk='")).code,
    ).toBeUndefined();
    expect(summarizeError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })).code).toBe(
      'ECONNREFUSED',
    );
  });

  it('summarise thrown strings and objects without a message', () => {
    expect(summarizeError('plain').message).toBe('plain');
    expect(summarizeError({ code: 'ECONNREFUSED' }).code).toBe('ECONNREFUSED');
    expect(summarizeError(undefined).message).toBe('');
  });
});
