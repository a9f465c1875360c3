/**
 * A CockroachDB protocol double for tests and the local stack: a TLS server
 * on loopback that speaks the PostgreSQL wire protocol like a secure
 * CockroachDB node (or, with `requireClusterOption`, like CockroachDB Cloud's
 * SQL proxy), in front of a real local PostgreSQL.
 *
 * - TLS with its own CA; a start-up without TLS is refused as CockroachDB does.
 * - Logins: SCRAM-SHA-256 against the verifier stored for the role in the
 *   backing PostgreSQL, read at each login (so a password changed through
 *   the double is the one the next login needs); no SCRAM-SHA-256-PLUS. The
 *   HBA setting, the cleartext re-hash on a cost change, bcrypt-stored
 *   users (asked for their cleartext password, then upgraded to SCRAM) and
 *   the SCRAM-to-bcrypt downgrade are modelled (behaviours.ts). The user
 *   name of the start-up message is folded to lower case and NFC.
 * - Hashes PostgreSQL cannot hold as CockroachDB does (bcrypt, and strings
 *   CockroachDB stores as SCRAM although their base64 does not decode) are
 *   kept by the double, with no password in PostgreSQL for that role.
 * - Sessions: forwarded to PostgreSQL as the same user (admin connection
 *   switched with SET SESSION AUTHORIZATION, see backend.ts), after the
 *   CockroachDB-specific statements are rewritten (statements.ts): CREATE
 *   USER/ROLE and ALTER USER/ROLE ... PASSWORD as CockroachDB decides them,
 *   role names folded even when quoted in those and in GRANT, REVOKE and
 *   DROP ROLE.
 *
 * No CockroachDB binary can be installed on these machines; this is what the
 * rotation function's CockroachDB mode and `doctor` are tested against.
 *
 * Limits (what still answers like PostgreSQL, not CockroachDB):
 * - SQL other than the modelled statements runs with PostgreSQL's syntax,
 *   types and errors (no `[SHOW ...]` subqueries, no CockroachDB-only syntax).
 * - Statements the double handles itself report the command tag `CALL` (an
 *   accepted CREATE USER, ALTER ... PASSWORD, SET CLUSTER SETTING, GRANT SYSTEM).
 * - `crdb_internal.cluster_settings` and `system.users` are inlined when a
 *   statement is parsed: a prepared statement keeps the values of that moment.
 *   `check_password_hash_format`'s result column is named after the function
 *   without its schema.
 * - A hash the double keeps itself is recorded when the statement is
 *   rewritten: if that statement then fails in PostgreSQL (an aborted
 *   transaction, a ROLLBACK), the double still holds it.
 * - CREATE USER/ROLE with role options other than LOGIN, NOLOGIN and
 *   PASSWORD goes to PostgreSQL (name folded, no CockroachDB checks); the
 *   creator gets ADMIN OPTION on the new role in PostgreSQL, as PostgreSQL
 *   16+ gives it, which CockroachDB does not record.
 * - Role names are folded in CREATE, ALTER, GRANT, REVOKE, DROP and at
 *   login, not in functions (`pg_has_role('MixedCase', ...)` is exact).
 * - VALID UNTIL is not checked.
 * - Privileges are those of the login user; SET ROLE does not change them.
 *   GRANT SYSTEM VIEWSYSTEMTABLE is accepted on any version; reading
 *   `system.users` with it follows the version (v23.1.11+).
 * - Role statements follow CockroachDB's privilege rules where alternating
 *   users rely on them (roles.ts: CREATE USER, GRANT role, ALTER ROLE LOGIN /
 *   VALID UNTIL, ALTER DEFAULT PRIVILEGES, and the refusal of a `role`
 *   default and of CONNECTION LIMIT); ALTER ROLE with other PostgreSQL
 *   options then runs in PostgreSQL unchanged.
 * - Object privileges are PostgreSQL's: only a table's owner (or a member of
 *   the owner) may DROP or ALTER it, where CockroachDB also lets a holder of
 *   its DROP or CREATE privilege. VALID UNTIL NULL reads back as infinity.
 * - CancelRequest is not forwarded; an unknown database fails at start-up
 *   with PostgreSQL's 3D000.
 * - The double trusts its clients: it refuses the statements that would
 *   give a session the admin's rights back, but it is a test tool that
 *   listens on loopback only.
 *
 * @example
 * ```ts
 * const crdb = await startCockroachDouble();
 * try {
 *   const client = await crdb.connect('app', password);
 *   await client.query('SHOW CLUSTER SETTING sql.auth.change_own_password.enabled');
 * } finally {
 *   await crdb.stop();
 * }
 * ```
 *
 * @module
 */
import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { findFreePort, type LocalPostgres, startPostgres } from '../postgres.js';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueServerCertificate,
  type KeyPairPem,
} from '../tls.js';
import { hashPasswordBcrypt } from './bcrypt.js';
import {
  DEFAULT_VERSION,
  type SettingValue,
  type SystemPrivilege,
  storedMethod,
} from './behaviours.js';
import { type RoleInfo, type SessionDeps, serveClient } from './session.js';
import {
  ClusterSettings,
  CockroachOnlyHashes,
  type DoubleEvent,
  type NewDoubleEvent,
  SystemPrivileges,
} from './state.js';
import type { UserRow } from './statements.js';

/** Options for {@link startCockroachDouble}. */
export interface CockroachDoubleOptions {
  /**
   * The PostgreSQL to put behind the double. The caller keeps ownership: the
   * double does not stop it. It gets a NOLOGIN `admin` role (CockroachDB's
   * admin role; grant it to make a user a CockroachDB admin) and a
   * `defaultdb` database if they are missing.
   * @default a new local PostgreSQL, stopped with the double
   */
  readonly postgres?: LocalPostgres;
  /**
   * Cluster settings that differ from CockroachDB's defaults.
   * @default {}
   */
  readonly settings?: Readonly<Record<string, SettingValue>>;
  /**
   * Behave like CockroachDB Cloud's SQL proxy: refuse a connection that
   * names no cluster (`options=--cluster=<id>` or database `<id>.<db>`).
   * @default false
   */
  readonly requireClusterOption?: boolean;
  /**
   * The routing id (`<name>-<tenant id>`) this double answers to.
   * @default 'rotator-double-10'
   */
  readonly clusterRoutingId?: string;
  /**
   * Global privileges granted to users at start (CockroachDB `GRANT SYSTEM`;
   * CREATEROLE also comes from the PostgreSQL role attribute).
   * @default {}
   */
  readonly systemPrivileges?: Readonly<Record<string, readonly SystemPrivilege[]>>;
  /**
   * What `version()` and the `crdb_version` parameter report.
   * @default {@link DEFAULT_VERSION}
   */
  readonly version?: string;
  /**
   * TCP port on loopback.
   * @default a free port
   */
  readonly port?: number;
  /**
   * Server certificate to present instead of one for `localhost` and
   * `127.0.0.1` signed by the double's CA (for example an expired one).
   */
  readonly serverCertificate?: (ca: CertificateAuthority) => KeyPairPem;
}

const HOST = '127.0.0.1';
const SERVER_NAME = 'localhost';
const DEFAULT_DATABASE = 'defaultdb';
const DEFAULT_ROUTING_ID = 'rotator-double-10';

/** A running CockroachDB double. Create with {@link startCockroachDouble}. */
export class CockroachDouble {
  /** Host to connect to (loopback). */
  readonly host = HOST;
  /** TCP port. */
  readonly port: number;
  /** Name in the server certificate; pass it as `ssl.servername`. */
  readonly serverName = SERVER_NAME;
  /** The database CockroachDB clients use by default. */
  readonly database = DEFAULT_DATABASE;
  /** The CA that signed the double's certificate, PEM. */
  readonly caPem: string;
  /** The cluster routing id (`--cluster=<id>`). */
  readonly clusterRoutingId: string;
  /** The backing PostgreSQL. */
  readonly postgres: LocalPostgres;
  /** The cluster settings; changes apply to the next statement or login. */
  readonly settings: ClusterSettings;
  /** Global privileges held through `GRANT SYSTEM` (or granted here). */
  readonly privileges: SystemPrivileges;
  /** What `version()` reports. */
  readonly version: string;

  readonly #events: DoubleEvent[];
  readonly #store: RoleStore;
  readonly #server: Server;
  readonly #sockets: Set<Socket>;
  readonly #pool: pg.Pool;
  readonly #ownsPostgres: boolean;
  #stopped = false;

  /** @internal use {@link startCockroachDouble} */
  constructor(init: {
    port: number;
    caPem: string;
    clusterRoutingId: string;
    postgres: LocalPostgres;
    settings: ClusterSettings;
    privileges: SystemPrivileges;
    version: string;
    events: DoubleEvent[];
    store: RoleStore;
    server: Server;
    sockets: Set<Socket>;
    pool: pg.Pool;
    ownsPostgres: boolean;
  }) {
    this.port = init.port;
    this.caPem = init.caPem;
    this.clusterRoutingId = init.clusterRoutingId;
    this.postgres = init.postgres;
    this.settings = init.settings;
    this.privileges = init.privileges;
    this.version = init.version;
    this.#events = init.events;
    this.#store = init.store;
    this.#server = init.server;
    this.#sockets = init.sockets;
    this.#pool = init.pool;
    this.#ownsPostgres = init.ownsPostgres;
  }

  /** node-postgres TLS options for verify-full against the double. */
  get ssl(): { ca: string; servername: string; rejectUnauthorized: true } {
    return { ca: this.caPem, servername: this.serverName, rejectUnauthorized: true };
  }

  /** Everything the double did, oldest first (verifiers included: memory only). */
  get events(): readonly DoubleEvent[] {
    return [...this.#events];
  }

  /** Forgets the events recorded so far. */
  clearEvents(): void {
    this.#events.length = 0;
  }

  /** node-postgres settings for a verify-full connection as `user`. */
  clientConfig(
    user: string,
    password: string,
    options: { database?: string; options?: string } = {},
  ): pg.ClientConfig {
    return {
      host: this.host,
      port: this.port,
      database: options.database ?? this.database,
      user,
      password,
      ssl: this.ssl,
      connectionTimeoutMillis: 10_000,
      ...(options.options !== undefined ? { options: options.options } : {}),
    };
  }

  /** Opens a verify-full connection through the double. The caller ends it. */
  async connect(
    user: string,
    password: string,
    options: { database?: string; options?: string } = {},
  ): Promise<pg.Client> {
    const client = new pg.Client(this.clientConfig(user, password, options));
    await client.connect();
    return client;
  }

  /**
   * The password hash stored for a role, as CockroachDB's `system.users`
   * shows it (what logins check): PostgreSQL's, or a bcrypt or undecodable
   * hash the double keeps itself.
   */
  async storedPassword(role: string): Promise<string | null> {
    return (await this.#store.roleInfo(role))?.password ?? null;
  }

  /**
   * Stores a hash for a role as CockroachDB would hold it in `system.users`,
   * without any check: a SCRAM verifier goes to PostgreSQL, anything else
   * (a bcrypt hash, a string PostgreSQL would not parse) is kept by the double.
   */
  async storeHash(role: string, hash: string | null): Promise<void> {
    await this.#store.storePassword(role, hash);
  }

  /**
   * Gives a role a crdb-bcrypt password, as clusters created before v22.2
   * (or with `password_encryption = crdb-bcrypt`) stored them.
   */
  async setBcryptPassword(role: string, password: string, cost = 10): Promise<void> {
    await this.storeHash(role, await hashPasswordBcrypt(password, cost));
  }

  /** Stops listening, closes every session, and stops PostgreSQL if the double started it. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await this.#pool.end().catch(() => undefined);
    if (this.#ownsPostgres) await this.postgres.stop();
  }
}

/** What the double reads and writes about roles in the backing PostgreSQL. */
type RoleStore = ReturnType<typeof roleQueries>;

/**
 * Reads roles from the backing PostgreSQL as the admin, with the hashes
 * PostgreSQL cannot hold (see {@link CockroachOnlyHashes}) laid over its own.
 */
function roleQueries(pool: pg.Pool, hashes: CockroachOnlyHashes) {
  return {
    async roleInfo(name: string): Promise<RoleInfo | undefined> {
      const result = await pool.query<{
        rolname: string;
        rolcanlogin: boolean;
        rolcreaterole: boolean;
        rolpassword: string | null;
        admin: boolean;
      }>(
        `SELECT a.rolname, a.rolcanlogin, a.rolcreaterole, a.rolpassword,
                a.rolsuper OR EXISTS (
                  SELECT 1 FROM pg_roles adm
                  WHERE adm.rolname = 'admin' AND pg_has_role(a.oid, adm.oid, 'MEMBER')
                ) AS admin
           FROM pg_authid a WHERE a.rolname = $1`,
        [name],
      );
      const row = result.rows[0];
      if (!row) return undefined;
      return {
        name: row.rolname,
        canLogin: row.rolcanlogin,
        createRole: row.rolcreaterole,
        admin: row.admin,
        password: hashes.get(row.rolname) ?? row.rolpassword,
      };
    },
    /**
     * Every role `name` belongs to through pg_auth_members, directly or not,
     * and whether a membership into it carries ADMIN OPTION: CockroachDB's
     * MemberOfWithAdminOption (pkg/sql/authorization.go), where a role's flag
     * is true when any membership edge into it along the way has the option.
     *
     * PostgreSQL 16+ makes a role's creator a member of it WITH ADMIN OPTION
     * (no INHERIT, no SET, granted by the bootstrap superuser); CockroachDB
     * makes no such grant, so those memberships are left out.
     */
    async memberships(name: string): Promise<ReadonlyMap<string, boolean>> {
      const edges = `pg_auth_members a WHERE NOT (a.admin_option AND NOT a.inherit_option
        AND NOT a.set_option AND a.grantor = 10)`;
      const result = await pool.query<{ role: string; admin: boolean }>(
        `WITH RECURSIVE e AS (SELECT a.* FROM ${edges}), m(role, admin) AS (
           SELECT r.rolname::text, a.admin_option
             FROM e a
             JOIN pg_roles r ON r.oid = a.roleid
             JOIN pg_roles u ON u.oid = a.member
            WHERE u.rolname = $1
           UNION
           SELECT r.rolname::text, a.admin_option
             FROM m
             JOIN pg_roles p ON p.rolname = m.role
             JOIN e a ON a.member = p.oid
             JOIN pg_roles r ON r.oid = a.roleid
         )
         SELECT role, bool_or(admin) AS admin FROM m GROUP BY role`,
        [name],
      );
      return new Map(result.rows.map((row) => [row.role, row.admin]));
    },
    async users(): Promise<UserRow[]> {
      const result = await pool.query<{
        rolname: string;
        rolpassword: string | null;
        rolcanlogin: boolean;
        oid: number;
      }>(
        `SELECT rolname, rolpassword, rolcanlogin, oid::int8::float8 AS oid
           FROM pg_authid WHERE rolname !~ '^pg_' ORDER BY rolname`,
      );
      return result.rows.map((r) => ({
        username: r.rolname,
        hashedPassword: hashes.get(r.rolname) ?? r.rolpassword,
        isRole: !r.rolcanlogin,
        userId: r.oid,
      }));
    },
    /**
     * Stores a hash: a SCRAM verifier PostgreSQL parses goes to PostgreSQL;
     * anything else is kept by the double, with no password in PostgreSQL.
     */
    async storePassword(role: string, hash: string | null): Promise<void> {
      const inPostgres = hash !== null && storedMethod(hash).method === 'scram';
      await pool.query(
        `ALTER ROLE ${pg.escapeIdentifier(role)} PASSWORD ${inPostgres ? pg.escapeLiteral(hash) : 'NULL'}`,
      );
      hashes.set(role, inPostgres || hash === null ? undefined : hash);
    },
    /** Keeps (or forgets) a hash PostgreSQL cannot hold, for a role about to get PASSWORD NULL. */
    keepHash(role: string, hash: string | undefined): void {
      hashes.set(role, hash);
    },
  };
}

/** Creates CockroachDB's `admin` role and `defaultdb` in PostgreSQL if missing. */
async function prepareBackend(pool: pg.Pool): Promise<void> {
  const admin = await pool.query("SELECT 1 FROM pg_roles WHERE rolname = 'admin'");
  if (admin.rowCount === 0) await pool.query('CREATE ROLE admin NOLOGIN');
  const db = await pool.query('SELECT 1 FROM pg_database WHERE datname = $1', [DEFAULT_DATABASE]);
  if (db.rowCount === 0) await pool.query(`CREATE DATABASE ${DEFAULT_DATABASE}`);
}

function toArrayBuffer(text: string): ArrayBuffer {
  const bytes = new TextEncoder().encode(text);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/**
 * Starts the double on loopback in front of `options.postgres` (or a new
 * local PostgreSQL), with a new CA and server certificate.
 */
export async function startCockroachDouble(
  options: CockroachDoubleOptions = {},
): Promise<CockroachDouble> {
  const ownsPostgres = options.postgres === undefined;
  const postgres = options.postgres ?? (await startPostgres());
  const pool = new pg.Pool({ ...postgres.admin, ssl: postgres.ssl, max: 4 });
  // An idle pooled connection that PostgreSQL drops must not crash the process.
  pool.on('error', () => undefined);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  try {
    await prepareBackend(pool);
    const ca = createCertificateAuthority('scram-rotator CockroachDB double CA');
    const certificate = options.serverCertificate?.(ca) ?? issueServerCertificate(ca);
    const events: DoubleEvent[] = [];
    const settings = new ClusterSettings(options.settings);
    const privileges = new SystemPrivileges(options.systemPrivileges);
    const version = options.version ?? DEFAULT_VERSION;
    const clusterRoutingId = options.clusterRoutingId ?? DEFAULT_ROUTING_ID;
    const admin = postgres.admin;
    const store = roleQueries(pool, new CockroachOnlyHashes());
    const deps: SessionDeps = {
      tls: { key: toArrayBuffer(certificate.keyPem), cert: toArrayBuffer(certificate.certPem) },
      backend: {
        host: admin.host,
        port: admin.port,
        serverName: postgres.serverName,
        caPem: postgres.caPem,
        adminUser: admin.user,
        adminPassword: admin.password,
      },
      settings,
      privileges,
      version,
      routingId: clusterRoutingId,
      requireClusterOption: options.requireClusterOption ?? false,
      defaultDatabase: DEFAULT_DATABASE,
      ...store,
      record: (event: NewDoubleEvent) => {
        events.push({ ...event, at: new Date() } as DoubleEvent);
      },
    };
    const listening = createServer((socket) => {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      serveClient(socket, deps).catch(() => socket.destroy());
    });
    server = listening;
    const port = options.port ?? (await findFreePort());
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(port, HOST, () => resolve());
    });
    return new CockroachDouble({
      port,
      caPem: ca.certPem,
      clusterRoutingId,
      postgres,
      settings,
      privileges,
      version,
      events,
      store,
      server: listening,
      sockets,
      pool,
      ownsPostgres,
    });
  } catch (error) {
    server?.close();
    await pool.end().catch(() => undefined);
    if (ownsPostgres) await postgres.stop();
    throw error;
  }
}
