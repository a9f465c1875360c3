/**
 * classifyDatabaseError over errors shaped as node-postgres raises them: a
 * DatabaseError with the server's SQLSTATE and message, or an Error with
 * pg's or Node's own wording. The integration suites raise the same errors
 * from real servers (retry.integration, database.integration).
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { classifyDatabaseError } from '../../../lambda/adapters/database.js';
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
  ErrorSummary,
  InsufficientPrivilegeError,
  IterationLimitError,
  isTransientError,
  ReadOnlyDatabaseError,
  type RotationError,
  ServerSignatureError,
  TlsError,
} from '../../../lambda/errors.js';

const { DatabaseError } = pg;

const at = { host: 'db.example.com', port: 5432, username: 'app' };

/** A server error as pg-protocol builds it from an ErrorResponse. */
function serverError(code: string, message: string): pg.DatabaseError {
  const error = new DatabaseError(message, message.length, 'error');
  error.code = code;
  error.severity = 'ERROR';
  return error;
}

/** An error with Node's or pg's wording and an optional Node code. */
function clientError(message: string, code?: string): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code });
}

type Case = readonly [string, unknown, new (...args: never[]) => RotationError, boolean];

const CASES: readonly Case[] = [
  [
    '53300 too many clients',
    serverError('53300', 'sorry, too many clients already'),
    DatabaseBusyError,
    true,
  ],
  [
    '53300 reserved slots',
    serverError(
      '53300',
      'remaining connection slots are reserved for roles with the SUPERUSER attribute',
    ),
    DatabaseBusyError,
    true,
  ],
  [
    '53400 configuration limit',
    serverError('53400', 'configuration limit exceeded'),
    DatabaseBusyError,
    true,
  ],
  [
    '57P01 admin shutdown',
    serverError('57P01', 'terminating connection due to administrator command'),
    DatabaseUnavailableError,
    true,
  ],
  [
    '57P02 crash shutdown',
    serverError('57P02', 'terminating connection because of crash of another server process'),
    DatabaseUnavailableError,
    true,
  ],
  [
    '57P03 starting up',
    serverError('57P03', 'the database system is starting up'),
    DatabaseUnavailableError,
    true,
  ],
  [
    '40001 serialization failure',
    serverError('40001', 'restart transaction: TransactionRetryWithProtoRefreshError'),
    ConcurrentUpdateError,
    true,
  ],
  [
    '23505 a role created twice at once',
    serverError(
      '23505',
      'duplicate key value violates unique constraint "pg_authid_rolname_index"',
    ),
    ConcurrentUpdateError,
    true,
  ],
  [
    'XX000 tuple concurrently updated',
    serverError('XX000', 'tuple concurrently updated'),
    ConcurrentUpdateError,
    true,
  ],
  [
    '25006 read-only transaction',
    serverError('25006', 'cannot execute ALTER ROLE in a read-only transaction'),
    ReadOnlyDatabaseError,
    false,
  ],
  [
    '57014 statement timeout',
    serverError('57014', 'canceling statement due to statement timeout'),
    DatabaseTimeoutError,
    true,
  ],
  [
    '28P01 wrong password',
    serverError('28P01', 'password authentication failed for user "app"'),
    AuthenticationFailedError,
    false,
  ],
  [
    '28000 no HBA rule',
    serverError('28000', 'no pg_hba.conf entry for host'),
    AuthenticationFailedError,
    false,
  ],
  [
    '42501 no privilege',
    serverError('42501', 'permission denied to alter role'),
    InsufficientPrivilegeError,
    false,
  ],
  [
    'XX000 another internal error',
    serverError('XX000', 'cache lookup failed for role 1'),
    DatabaseServerError,
    false,
  ],
  [
    '3D000 no such database',
    serverError('3D000', 'database "nope" does not exist'),
    DatabaseServerError,
    false,
  ],
  [
    'the connection dropped mid-statement',
    clientError('Connection terminated unexpectedly'),
    ConnectionLostError,
    true,
  ],
  [
    'a client whose connection already failed',
    clientError('Client has encountered a connection error and is not queryable'),
    ConnectionLostError,
    true,
  ],
  [
    'a refused connection',
    clientError('connect ECONNREFUSED 10.0.0.1:5432', 'ECONNREFUSED'),
    DatabaseUnreachableError,
    true,
  ],
  [
    'a name that does not resolve',
    clientError('getaddrinfo ENOTFOUND db', 'ENOTFOUND'),
    DatabaseUnreachableError,
    false,
  ],
  ['a connect timeout', clientError('timeout expired'), DatabaseTimeoutError, true],
  [
    'a server signature that does not match',
    clientError('SASL: SCRAM-SERVER-FINAL-MESSAGE: server signature does not match'),
    ServerSignatureError,
    false,
  ],
  [
    'a server nonce that is not ours',
    clientError('SASL: SCRAM-SERVER-FIRST-MESSAGE: server nonce does not start with client nonce'),
    ServerSignatureError,
    false,
  ],
  [
    "pg's iteration bound",
    clientError(
      'SASL: SCRAM-SERVER-FIRST-MESSAGE: iteration count 200000 exceeds the maximum of 100000',
    ),
    IterationLimitError,
    false,
  ],
  [
    'an untrusted certificate',
    clientError('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'),
    TlsError,
    false,
  ],
];

describe('classifyDatabaseError', () => {
  it.each(CASES)('%s', (_, error, type, transient) => {
    const classified = classifyDatabaseError(error, at);
    expect(classified).toBeInstanceOf(type);
    expect(isTransientError(classified)).toBe(transient);
    expect(classified.message).toContain('db.example.com:5432');
    // The driver's object is never kept, only its summary.
    expect(classified.cause).toBeInstanceOf(ErrorSummary);
  });

  it('never answers "check the host and port" when the server itself answered', () => {
    for (const [, error] of CASES.filter(([, e]) => e instanceof DatabaseError)) {
      expect(classifyDatabaseError(error, at).message).not.toMatch(
        /security groups|could not connect/,
      );
    }
  });

  it('names what was in flight when the connection dropped, and the login by default', () => {
    const lost = clientError('Connection terminated unexpectedly');
    expect(classifyDatabaseError(lost, { ...at, during: 'ALTER USER' })).toMatchObject({
      during: 'ALTER USER',
    });
    expect(classifyDatabaseError(lost, at)).toMatchObject({ during: 'login as app' });
    // A reset mid-statement is a lost connection; at connect it is the network.
    const reset = clientError('read ECONNRESET', 'ECONNRESET');
    expect(classifyDatabaseError(reset, { ...at, during: 'SELECT version()' })).toBeInstanceOf(
      ConnectionLostError,
    );
    expect(classifyDatabaseError(reset, at)).toBeInstanceOf(DatabaseUnreachableError);
  });

  it('takes a role that already exists for a concurrent creation only when creating one', () => {
    const exists = serverError('42710', 'role "app_clone" already exists');
    expect(classifyDatabaseError(exists, { ...at, during: 'CREATE ROLE' })).toBeInstanceOf(
      ConcurrentUpdateError,
    );
    expect(classifyDatabaseError(exists, { ...at, during: 'GRANT' })).toBeInstanceOf(
      DatabaseServerError,
    );
  });

  it("keeps nothing of a server's SQLSTATE field that is not a SQLSTATE", () => {
    const junk = serverError("WITH PASSWORD 'SCRAM-SHA-256$4096:abc'", 'refused');
    const classified = classifyDatabaseError(junk, { ...at, during: 'ALTER USER' });
    expect(classified).toBeInstanceOf(DatabaseUnreachableError);
    expect(JSON.stringify({ ...classified })).not.toContain('SCRAM');
    expect((classified as DatabaseUnreachableError).networkCode).toBeUndefined();
  });

  it('does not take a Node code of five letters for a SQLSTATE', () => {
    const pipe = clientError('write EPIPE', 'EPIPE');
    expect(classifyDatabaseError(pipe, { ...at, during: 'ALTER USER' })).toBeInstanceOf(
      ConnectionLostError,
    );
  });

  it('keeps its own errors as they are', () => {
    const refused = new AuthenticationMethodRefusedError('md5', 'db:5432');
    expect(classifyDatabaseError(refused, at)).toBe(refused);
  });
});
