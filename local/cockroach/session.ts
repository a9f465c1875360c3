/**
 * One client connection to the CockroachDB double.
 *
 * pg-gateway speaks the server side of the protocol up to authentication:
 * SSLRequest and the TLS upgrade, the StartupMessage, and the SCRAM-SHA-256
 * (or cleartext) exchange. The double steers it through its hooks:
 *
 * - `onMessage` refuses a start-up without TLS and a wrong password with
 *   CockroachDB's errors (pg-gateway's own are PostgreSQL-flavoured), and,
 *   once the session is ready, takes every client message itself: SQL is
 *   rewritten (statements.ts) and everything goes to the backend session;
 * - `onStartup` applies CockroachDB Cloud routing, the HBA rule, and the
 *   user checks, and picks the exchange CockroachDB would ask for;
 * - `onAuthenticated` opens the backend session and sends CockroachDB's
 *   ParameterStatus set.
 *
 * PostgreSQL's answers go back to the client unchanged.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  type ConnectionState,
  closeSignal,
  BackendError as GatewayError,
  type MessageResponse,
  type PostgresConnection,
  type PostgresConnectionOptions,
  ScramSha256AuthFlow,
  type ScramSha256Data,
  ServerStep,
} from 'pg-gateway';
import { fromNodeSocket } from 'pg-gateway/node';
import { BackendError, BackendSession, type BackendTarget } from './backend.js';
import { bcryptMatches, hashPasswordBcrypt } from './bcrypt.js';
import {
  type Caller,
  type ClusterRouting,
  type CockroachError,
  conversionAfterCleartextLogin,
  hbaMethodFor,
  loginExchange,
  noLoginPrivilege,
  normalizeName,
  PG_SERVER_VERSION,
  passwordAuthFailed,
  routeCluster,
  SETTINGS,
  SSL_REQUIRED,
  type StoredMethod,
  type SystemPrivilege,
  storedMethod,
} from './behaviours.js';
import {
  cleartextMatchesSecret,
  clientProofMatches,
  hashPasswordScram,
  parseScramSecret,
  type ScramSecret,
} from './scram.js';
import type { ClusterSettings, NewDoubleEvent, SystemPrivileges } from './state.js';
import { newSessionToken, StatementRewriter, sessionSetupSql, type UserRow } from './statements.js';
import {
  decodeParse,
  encodeParse,
  errorResponse,
  initialMessageKind,
  parameterStatus,
  queryMessage,
  readCString,
  renameColumns,
} from './wire.js';

/** What the backing PostgreSQL says about a role. */
export interface RoleInfo {
  readonly name: string;
  readonly canLogin: boolean;
  readonly createRole: boolean;
  /** A PostgreSQL superuser, the `admin` role, or a member of it. */
  readonly admin: boolean;
  /** The stored password (SCRAM secret, MD5 hash) or null. */
  readonly password: string | null;
}

/** Everything a session needs from the double. */
export interface SessionDeps {
  readonly tls: { readonly key: ArrayBuffer; readonly cert: ArrayBuffer };
  readonly backend: BackendTarget;
  readonly settings: ClusterSettings;
  readonly privileges: SystemPrivileges;
  readonly version: string;
  readonly routingId: string;
  readonly requireClusterOption: boolean;
  readonly defaultDatabase: string;
  roleInfo(name: string): Promise<RoleInfo | undefined>;
  /** CockroachDB's MemberOfWithAdminOption for a role (see roles.ts). */
  memberships(name: string): Promise<ReadonlyMap<string, boolean>>;
  users(): Promise<UserRow[]>;
  /** Stores a hash as CockroachDB would hold it (see double.ts). */
  storePassword(role: string, hash: string | null): Promise<void>;
  /** Keeps a hash PostgreSQL cannot hold, for a role given PASSWORD NULL in the same statement. */
  keepHash(role: string, hash: string | undefined): void;
  record(event: NewDoubleEvent): void;
}

/** pg-gateway's auth options object, which the double adjusts per connection in onStartup. */
type MutableAuth = {
  method: 'scram-sha-256' | 'password' | 'trust';
  getScramSha256Data: () => Promise<ScramSha256Data>;
  getClearTextPassword?: () => string;
  validateCredentials?: () => boolean;
};

const MESSAGE_PASSWORD = 0x70; // 'p': PasswordMessage, SASLInitialResponse, SASLResponse
const MESSAGE_QUERY = 0x51; // 'Q'
const MESSAGE_PARSE = 0x50; // 'P'
const MESSAGE_TERMINATE = 0x58; // 'X'

/** pg-gateway's type for an error raised from a hook; it writes it and closes. */
function gatewayError(error: CockroachError, severity: 'ERROR' | 'FATAL' = 'ERROR'): GatewayError {
  return GatewayError.create({
    severity: error.severity ?? severity,
    code: error.code,
    message: error.message,
    ...(error.hint ? { hint: error.hint } : {}),
  });
}

/**
 * Responds with an error and closes the connection. pg-gateway checks each
 * value an onMessage response yields for its close signal, so yielding it
 * here ends the connection after the error is written.
 */
function* refuse(error: CockroachError): Generator<Uint8Array> {
  yield errorResponse({
    severity: error.severity ?? 'ERROR',
    code: error.code,
    message: error.message,
    ...(error.hint ? { hint: error.hint } : {}),
  });
  yield closeSignal as unknown as Uint8Array;
}

/**
 * An onMessage response that runs `work` and writes nothing to the client.
 * pg-gateway skips its own handling of a message when the response iterator
 * yields something or ends with a return value; this one ends with `true`,
 * which it does not write (only a returned Uint8Array would be).
 */
function handled(work: () => Promise<void>): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Uint8Array, true>> => {
        await work();
        return { done: true, value: true };
      },
    }),
  };
}

function* closeQuietly(): Generator<Uint8Array> {
  yield closeSignal as unknown as Uint8Array;
}

/** SCRAM data for an unknown or password-less user: the exchange runs and fails. */
function decoyScramData(): ScramSha256Data {
  const random = () => randomBytes(32).toString('base64');
  return { salt: random(), iterations: 4096, storedKey: random(), serverKey: random() };
}

/**
 * The start-up parameters that are session variables, for the backend's own
 * start-up: everything but the user, the database, `options` (routed
 * separately) and `replication`, which the double does not serve.
 */
function sessionParameters(params: ConnectionState['clientParams']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params ?? {})) {
    if (!['user', 'database', 'options', 'replication'].includes(key)) out[key] = value;
  }
  return out;
}

/** Serves one client socket until it closes. */
export async function serveClient(socket: Socket, deps: SessionDeps): Promise<void> {
  let connection: PostgresConnection | undefined;
  let backend: BackendSession | undefined;
  let rewriter: StatementRewriter | undefined;
  let user = '';
  let role: RoleInfo | undefined;
  let secret: ScramSecret | undefined;
  let stored: StoredMethod = { method: 'missing' };
  let routing: ClusterRouting = {};
  let exchange: 'scram' | 'cleartext' | 'trust' = 'scram';
  let saslResponses = 0;
  let cleartext: string | undefined;
  const token = newSessionToken();
  const longColumnNames = new Map<string, string>();
  const decoy = decoyScramData();
  const auth: MutableAuth = {
    method: 'scram-sha-256',
    getScramSha256Data: async () =>
      secret
        ? {
            salt: secret.salt.toString('base64'),
            iterations: secret.iterations,
            storedKey: secret.storedKey.toString('base64'),
            serverKey: secret.serverKey.toString('base64'),
          }
        : decoy,
  };

  socket.on('close', () => backend?.close());
  socket.on('error', () => backend?.close());

  const toClient = (bytes: Uint8Array) => {
    connection?.streamWriter?.write(bytes).catch(() => socket.destroy());
  };

  const caller = async (): Promise<Caller> => {
    const now = await deps.roleInfo(user);
    const privileges = new Set<SystemPrivilege>(deps.privileges.of(user));
    if (now?.createRole) privileges.add('CREATEROLE');
    return { user, admin: now?.admin ?? false, privileges };
  };

  const refuseLogin: (error: CockroachError) => never = (error) => {
    deps.record({ type: 'connection-refused', user, code: error.code, message: error.message });
    throw gatewayError(error);
  };

  const failLogin = (): MessageResponse => {
    const error = passwordAuthFailed(user);
    const asked = exchange === 'cleartext' ? 'cleartext' : 'scram';
    deps.record({
      type: 'login-failed',
      user,
      exchange: asked,
      code: error.code,
      message: error.message,
    });
    return refuse(error);
  };

  /**
   * A cleartext password against whatever is stored: bcrypt or SCRAM; a
   * missing or undecodable hash never matches (`compareWithCleartextPassword`
   * in pkg/security/password/password.go).
   */
  const cleartextMatches = async (password: string): Promise<boolean> => {
    if (stored.method === 'bcrypt') return bcryptMatches(password, role?.password ?? '');
    return secret !== undefined && cleartextMatchesSecret(password, secret);
  };

  const checkPassword = (data: Uint8Array): MessageResponse | Promise<MessageResponse> => {
    const body = Buffer.from(data).subarray(5);
    if (exchange === 'scram') {
      saslResponses++;
      // The first SASL message is the client-first-message; pg-gateway
      // answers it. The second carries the proof.
      if (saslResponses < 2) return undefined;
      const flow = connection?.authFlow;
      const attributes = new Map(
        body
          .toString('utf8')
          .split(',')
          .map((part) => [part.slice(0, 1), part.slice(2)] as const),
      );
      const nonce = attributes.get('r');
      const valid =
        flow instanceof ScramSha256AuthFlow &&
        secret !== undefined &&
        nonce === flow.serverNonce &&
        clientProofMatches(
          secret,
          `${flow.clientFirstMessageBare},${flow.serverFirstMessage},c=${attributes.get('c') ?? ''},r=${nonce}`,
          attributes.get('p') ?? '',
        );
      return valid ? undefined : failLogin();
    }
    if (exchange === 'cleartext') {
      const password = readCString(body, 0).value;
      return cleartextMatches(password).then((ok) => {
        if (!ok) return failLogin();
        cleartext = password;
        return undefined;
      });
    }
    return undefined;
  };

  const forward = (data: Uint8Array): MessageResponse => {
    if (data[0] === MESSAGE_TERMINATE) {
      // Let pg-gateway answer Terminate by closing the client connection.
      backend?.close();
      return undefined;
    }
    return handled(async () => {
      let out: Buffer = Buffer.from(data);
      const session = backend;
      if (!session || !rewriter) return;
      try {
        if (out[0] === MESSAGE_QUERY) {
          const sql = readCString(out, 5).value;
          const rewritten = await rewriter.rewriteQuery(sql);
          if (rewritten !== sql) out = queryMessage(rewritten);
        } else if (out[0] === MESSAGE_PARSE) {
          const parse = decodeParse(out.subarray(5));
          const rewritten = await rewriter.rewriteStatement(parse.query);
          if (rewritten !== parse.query) out = encodeParse({ ...parse, query: rewritten });
        }
      } catch (error) {
        // Keep the protocol in step: the statement still reaches PostgreSQL,
        // as one that fails with the reason.
        const reason = error instanceof Error ? error.message : String(error);
        const failing = `DO $$ BEGIN RAISE EXCEPTION 'cockroach double: %', ${quote(reason)}; END $$`;
        out =
          out[0] === MESSAGE_PARSE
            ? encodeParse({ ...decodeParse(out.subarray(5)), query: failing })
            : queryMessage(failing);
      }
      session.write(out);
    });
  };

  connection = await fromNodeSocket(socket, {
    tls: deps.tls,
    auth: auth as unknown as NonNullable<PostgresConnectionOptions['auth']>,
    serverVersion: PG_SERVER_VERSION,

    onMessage(
      data: Uint8Array,
      state: ConnectionState,
    ): MessageResponse | Promise<MessageResponse> {
      if (!state.hasStarted) {
        const kind = initialMessageKind(data);
        if (kind === 'cancel-request') return closeQuietly();
        if (kind === 'startup' && !state.tlsInfo) {
          deps.record({
            type: 'connection-refused',
            code: SSL_REQUIRED.code,
            message: SSL_REQUIRED.message,
          });
          return refuse(SSL_REQUIRED);
        }
        return undefined;
      }
      if (state.step === ServerStep.PerformingAuthentication) {
        if (data[0] === MESSAGE_PASSWORD) return checkPassword(data);
        // A client that will not authenticate the way it is asked (say,
        // refusing to send a cleartext password) hangs up with Terminate.
        if (data[0] === MESSAGE_TERMINATE) return closeQuietly();
      }
      if (state.step === ServerStep.ReadyForQuery) return forward(data);
      return undefined;
    },

    async onStartup(state: ConnectionState): Promise<void> {
      const params = state.clientParams;
      // CockroachDB folds the user name of the start-up message
      // (pkg/sql/pgwire/pre_serve_options.go: MakeSQLUsernameFromUserInput).
      user = normalizeName(params?.user ?? '');
      routing = routeCluster({
        ...(params?.database !== undefined ? { database: params.database } : {}),
        ...(params?.options !== undefined ? { options: params.options } : {}),
        routingId: deps.routingId,
        required: deps.requireClusterOption,
      });
      if (routing.error) refuseLogin(routing.error);
      const method = hbaMethodFor(deps.settings.string(SETTINGS.hba), user);
      if (typeof method === 'object') refuseLogin(method);
      role = await deps.roleInfo(user);
      if (!role) refuseLogin(passwordAuthFailed(user));
      if (!role.canLogin) refuseLogin(noLoginPrivilege(user));
      stored = storedMethod(role.password);
      secret = stored.method === 'scram' ? parseScramSecret(role.password) : undefined;
      const settings = deps.settings;
      const chosen = loginExchange({
        method,
        stored,
        settings: {
          autoScramPromotion: settings.bool(SETTINGS.autoScramPromotion),
          rehashOnCostChange: settings.bool(SETTINGS.rehashOnCostChange),
          passwordEncryption: settings.string(SETTINGS.passwordEncryption),
          scramCost: settings.int(SETTINGS.scramCost),
          downgradeScram: settings.bool(SETTINGS.downgradeScram),
        },
      });
      if (typeof chosen === 'object') refuseLogin(chosen);
      else exchange = chosen;
      if (exchange === 'trust') auth.method = 'trust';
      if (exchange === 'cleartext') {
        // The password itself is checked in onMessage, before pg-gateway sees it.
        auth.method = 'password';
        auth.getClearTextPassword = () => '';
        auth.validateCredentials = () => cleartext !== undefined;
      }
    },

    async onAuthenticated(state: ConnectionState): Promise<void> {
      const params = state.clientParams;
      const database = routing.database ?? params?.database ?? deps.defaultDatabase;
      try {
        backend = await BackendSession.open(
          deps.backend,
          {
            // CockroachDB sessions start in UTC (pkg/sql/vars.go, timezone).
            TimeZone: 'UTC',
            // Session variables given at start-up (application_name,
            // statement_timeout, ...) apply to the backend session too.
            ...sessionParameters(params),
            database,
            ...(routing.options ? { options: routing.options } : {}),
          },
          sessionSetupSql(user, token, Object.keys(sessionParameters(params))),
        );
      } catch (error) {
        const fields =
          error instanceof BackendError
            ? error.fields
            : {
                code: 'XX000',
                message: `cockroach double: cannot reach PostgreSQL: ${String(error)}`,
              };
        deps.record({
          type: 'connection-refused',
          user,
          code: fields.code,
          message: fields.message,
        });
        throw GatewayError.create({
          severity: 'FATAL',
          code: fields.code,
          message: fields.message,
        });
      }
      await maybeConvert();
      deps.record({
        type: 'login',
        user,
        database,
        exchange,
        ...(routing.clusterId ? { clusterId: routing.clusterId } : {}),
      });
      rewriter = new StatementRewriter({
        user,
        caller,
        role: async (name) => {
          const info = await deps.roleInfo(name);
          return {
            name,
            exists: info !== undefined,
            admin: name === 'admin' || (info?.admin ?? false),
          };
        },
        memberships: (name) => deps.memberships(name),
        users: () => deps.users(),
        keepHash: (name, hash) => deps.keepHash(name, hash),
        settings: deps.settings,
        privileges: deps.privileges,
        version: deps.version,
        token,
        transactionStatus: () => backend?.transactionStatus ?? 'I',
        record: deps.record,
        longColumnNames,
      });
      // CockroachDB's start-up parameters (statusReportParams in
      // pkg/sql/pgwire/conn.go); pg-gateway adds server_version.
      const admin = role?.admin ?? false;
      for (const [name, value] of [
        ['application_name', params?.application_name ?? ''],
        ['client_encoding', 'UTF8'],
        ['DateStyle', 'ISO, MDY'],
        ['IntervalStyle', 'postgres'],
        ['is_superuser', admin ? 'on' : 'off'],
        ['server_encoding', 'UTF8'],
        ['session_authorization', user],
        ['standard_conforming_strings', 'on'],
        ['TimeZone', 'UTC'],
        ['integer_datetimes', 'on'],
        ['crdb_version', deps.version],
      ] as const) {
        toClient(parameterStatus(name, value));
      }
      backend.forward(
        (frame) =>
          toClient(
            frame.type === 'T' && longColumnNames.size > 0
              ? renameColumns(frame, longColumnNames)
              : frame.raw,
          ),
        () => socket.destroy(),
      );
    },
  });

  /**
   * After a cleartext login, CockroachDB converts the stored hash where its
   * settings say so: bcrypt upgraded to SCRAM, SCRAM re-hashed at a new
   * cost, or SCRAM downgraded to bcrypt (`MaybeConvertPasswordHash` in
   * pkg/security/password/password.go, called from pkg/sql/pgwire/auth_methods.go).
   */
  async function maybeConvert(): Promise<void> {
    if (exchange !== 'cleartext' || cleartext === undefined) return;
    const settings = deps.settings;
    const conversion = conversionAfterCleartextLogin(stored, {
      upgradeBcrypt: settings.bool(SETTINGS.upgradeBcrypt),
      downgradeScram: settings.bool(SETTINGS.downgradeScram),
      rehashOnCostChange: settings.bool(SETTINGS.rehashOnCostChange),
      passwordEncryption: settings.string(SETTINGS.passwordEncryption),
      scramCost: settings.int(SETTINGS.scramCost),
    });
    if (!conversion) return;
    if (conversion.to === 'bcrypt') {
      await deps.storePassword(user, await hashPasswordBcrypt(cleartext, conversion.cost));
      deps.record({ type: 'password-converted', user, from: 'scram', to: 'bcrypt' });
      return;
    }
    await deps.storePassword(user, hashPasswordScram(cleartext, conversion.iterations));
    if (conversion.why === 'upgrade') {
      deps.record({ type: 'password-converted', user, from: 'bcrypt', to: 'scram' });
    } else if (stored.method === 'scram') {
      deps.record({
        type: 'password-rehashed',
        user,
        fromIterations: stored.iterations,
        toIterations: conversion.iterations,
      });
    }
  }
}

function quote(text: string): string {
  return `'${text.replaceAll("'", "''").replaceAll('\0', '')}'`;
}
