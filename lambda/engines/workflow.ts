/**
 * What the credential workflow commands (`npm run provision`, `adopt`,
 * `audit`) run on a server besides what a rotation runs: creating and
 * dropping login roles, listing roles and memberships, reading stored
 * hashes, and saying in advance why an admin may not change a password.
 *
 * Kept apart from {@link Engine} on purpose: the rotation function never
 * imports this module, so none of it is in the deployed bundle. Every
 * statement is built with pg's escapeIdentifier and escapeLiteral.
 *
 * @module
 */
import pg from 'pg';
import type { DatabaseSession } from '../adapters/database.js';
import { assertVerifierAcceptable } from '../core/scram.js';
import { isRotationError } from '../errors.js';
import { COCKROACH_ADMIN_ROLE, checkVerifierFormat } from './cockroachdb.js';
import type { ServerEngine } from './engine.js';
import {
  passwordRestriction,
  RDS_PASSWORD_ROLE,
  RESTRICT_PASSWORD_SETTING,
  rdsPasswordGrant,
} from './rds.js';

/** What {@link WorkflowStatements.passwordChangeBlocker} found. */
export interface PasswordChangeBlocker {
  readonly reason: string;
  /** The statement (or setting) that fixes it. */
  readonly fix: string;
}

/** The workflow commands' statements on one engine. */
export interface WorkflowStatements {
  /**
   * Creates a role that can log in, with `verifier` as its password (checked
   * the way this server parses it first; never a cleartext password).
   * The caller has run the engine's `prepareChange` on the session.
   */
  createLoginRole(session: DatabaseSession, role: string, verifier: string): Promise<void>;
  /** `DROP ROLE <role>`: undoes {@link WorkflowStatements.createLoginRole} (provisioning's rollback). */
  dropRole(session: DatabaseSession, role: string): Promise<void>;
  /**
   * The roles that can log in, by name (CockroachDB's `admin` role, which
   * pg_roles shows as able to log in, is left out: it is a role).
   */
  loginRoles(session: DatabaseSession): Promise<string[]>;
  /** The roles `role` is a direct member of (`GRANT <them> TO <role>`), by name. */
  memberships(session: DatabaseSession, role: string): Promise<string[]>;
  /**
   * Every login role's stored password hash (`null` for none), or
   * `undefined` when the session may not read them (PostgreSQL: pg_authid,
   * superusers only; CockroachDB: system.users, admin or VIEWSYSTEMTABLE).
   */
  storedHashes(session: DatabaseSession): Promise<Map<string, string | null> | undefined>;
  /**
   * Why `changer` may not change `role`'s password, with the fix, where the
   * server lets that be read; `undefined` when it may or cannot be known
   * before trying.
   */
  passwordChangeBlocker(
    session: DatabaseSession,
    role: string,
    changer: string,
  ): Promise<PasswordChangeBlocker | undefined>;
}

/** Login roles by name from pg_roles (any role may read it, on both servers). */
export async function pgLoginRoles(session: DatabaseSession): Promise<string[]> {
  const rows = await session.query<{ rolname: string }>(
    'SELECT rolname::text AS rolname FROM pg_catalog.pg_roles WHERE rolcanlogin ORDER BY rolname',
  );
  return rows.map((row) => row.rolname);
}

/** Direct memberships from pg_auth_members (PostgreSQL 16+ may list a pair once per grantor). */
export async function pgMemberships(session: DatabaseSession, role: string): Promise<string[]> {
  const rows = await session.query<{ rolname: string }>(
    `SELECT DISTINCT g.rolname::text AS rolname
       FROM pg_catalog.pg_auth_members m
       JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
       JOIN pg_catalog.pg_roles u ON u.oid = m.member
      WHERE u.rolname = $1::text
      ORDER BY 1`,
    [role],
  );
  return rows.map((row) => row.rolname);
}

/** Runs a read that needs a privilege; `undefined` when the session lacks it. */
export async function readIfPermitted<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (isRotationError(error, 'INSUFFICIENT_PRIVILEGE')) return undefined;
    throw error;
  }
}

/** `DROP ROLE`, built with escapeIdentifier. */
export async function dropRoleStatement(session: DatabaseSession, role: string): Promise<void> {
  await session.execute(`DROP ROLE ${pg.escapeIdentifier(role)}`);
}

/**
 * Whether `changer` may change `role`'s password on PostgreSQL: a superuser
 * may; otherwise CREATEROLE, and since PostgreSQL 16 ADMIN OPTION on the
 * role (which a role has on the roles it created).
 */
async function postgresChangeBlocker(
  session: DatabaseSession,
  role: string,
  changer: string,
): Promise<PasswordChangeBlocker | undefined> {
  const [row] = await session.query<{
    rolsuper: boolean;
    rolcreaterole: boolean;
    admin_option: boolean | null;
    version: number;
  }>(
    `SELECT c.rolsuper, c.rolcreaterole,
            pg_catalog.pg_has_role(c.rolname, r.oid, 'MEMBER WITH ADMIN OPTION') AS admin_option,
            current_setting('server_version_num')::int AS version
       FROM pg_catalog.pg_roles c LEFT JOIN pg_catalog.pg_roles r ON r.rolname = $2::text
      WHERE c.rolname = $1::text`,
    [changer, role],
  );
  if (row === undefined || row.rolsuper) return undefined;
  if (!row.rolcreaterole) {
    return {
      reason: `${changer} has neither SUPERUSER nor CREATEROLE`,
      fix: `ALTER ROLE ${pg.escapeIdentifier(changer)} CREATEROLE`,
    };
  }
  if (row.version >= 160_000 && row.admin_option !== true) {
    return {
      reason: `${changer} has CREATEROLE but not ADMIN OPTION on ${role} (PostgreSQL 16+ needs both)`,
      fix: `GRANT ${pg.escapeIdentifier(role)} TO ${pg.escapeIdentifier(changer)} WITH ADMIN OPTION`,
    };
  }
  // RDS and Aurora: read before anything is stored, so that the dry run
  // shows it and the real run changes nothing (the session is the changer's).
  const restriction = await passwordRestriction(session);
  switch (restriction.kind) {
    case 'absent':
    case 'member':
      return undefined;
    case 'not-member':
      return {
        reason: `${RESTRICT_PASSWORD_SETTING} is on and ${changer} is not a member of ${RDS_PASSWORD_ROLE}`,
        fix: rdsPasswordGrant(changer),
      };
    case 'no-role':
      return {
        reason: `${RESTRICT_PASSWORD_SETTING} is on but no ${RDS_PASSWORD_ROLE} role exists, so whether it may set passwords is unknown`,
        fix: `check that this is the server you meant; off RDS, reset ${RESTRICT_PASSWORD_SETTING}`,
      };
    case 'unknown':
      return {
        reason: `${RESTRICT_PASSWORD_SETTING} is neither on nor off, so whether it may set passwords is unknown`,
        fix: `set ${RESTRICT_PASSWORD_SETTING} to 0 or 1 in the parameter group, or run ${rdsPasswordGrant(changer)}`,
      };
  }
}

/** PostgreSQL's workflow statements. */
const postgresWorkflow: WorkflowStatements = {
  async createLoginRole(session, role, verifier) {
    assertVerifierAcceptable(verifier, 'postgres');
    await session.execute(
      `CREATE ROLE ${pg.escapeIdentifier(role)} WITH LOGIN PASSWORD ${pg.escapeLiteral(verifier)}`,
    );
  },

  dropRole: dropRoleStatement,

  loginRoles: pgLoginRoles,

  memberships: pgMemberships,

  storedHashes: (session) =>
    readIfPermitted(async () => {
      const rows = await session.query<{ rolname: string; rolpassword: string | null }>(
        'SELECT rolname::text AS rolname, rolpassword FROM pg_catalog.pg_authid WHERE rolcanlogin',
      );
      return new Map(rows.map((row) => [row.rolname, row.rolpassword]));
    }),

  passwordChangeBlocker: postgresChangeBlocker,
};

/** CockroachDB's workflow statements. */
const cockroachWorkflow: WorkflowStatements = {
  /** CREATE USER (LOGIN by default on CockroachDB), after both format checks. */
  async createLoginRole(session, role, verifier) {
    assertVerifierAcceptable(verifier, 'cockroachdb');
    await checkVerifierFormat(session, verifier);
    await session.execute(
      `CREATE USER ${pg.escapeIdentifier(role)} WITH LOGIN PASSWORD ${pg.escapeLiteral(verifier)}`,
    );
  },

  dropRole: dropRoleStatement,

  /** pg_roles shows `admin` (and root) as able to log in; `admin` is a role and cannot. */
  loginRoles: async (session) =>
    (await pgLoginRoles(session)).filter((name) => name !== COCKROACH_ADMIN_ROLE),

  memberships: pgMemberships,

  /**
   * system.users: admin, or VIEWSYSTEMTABLE since v23.1.11. Bytes arrive as a
   * Buffer. Every row, roles included: `isRole` says CREATE ROLE made it, not
   * that it cannot log in (CREATE ROLE ... LOGIN PASSWORD can).
   */
  storedHashes: (session) =>
    readIfPermitted(async () => {
      const rows = await session.query<{ username: string; hash: Buffer | string | null }>(
        'SELECT username, "hashedPassword" AS hash FROM system.users',
      );
      return new Map(
        rows.map((row) => [
          row.username,
          row.hash === null || row.hash.length === 0
            ? null
            : Buffer.isBuffer(row.hash)
              ? row.hash.toString('utf8')
              : row.hash,
        ]),
      );
    }),

  /**
   * CREATEROLE and CREATELOGIN cannot be read for another role without
   * system tables; the change itself says so (42501), with its own message.
   */
  passwordChangeBlocker: async () => undefined,
};

/**
 * Each engine's workflow statements, by the engine's name.
 *
 * @example
 * ```ts
 * const engine = await engineOf(session);
 * await WORKFLOW_STATEMENTS[engine.name].createLoginRole(session, 'app', verifier);
 * ```
 */
export const WORKFLOW_STATEMENTS = {
  postgres: postgresWorkflow,
  cockroachdb: cockroachWorkflow,
} as const satisfies Record<ServerEngine, WorkflowStatements>;
