/**
 * What a password change needs on CockroachDB beyond PostgreSQL's rules, as
 * checks over a logged-in session. Both setSecret (which stops on a failed
 * check) and `npm run doctor` (which reports every check) use them.
 *
 * Why each check exists (see design.md and CockroachDB's sources):
 * - `server.user_login.store_client_pre_hashed_passwords.enabled` false makes
 *   CockroachDB take a verifier for a cleartext password: the user's password
 *   would silently become the verifier's text.
 * - `sql.auth.change_own_password.enabled` (false by default) forbids a user
 *   to change its own password: single-user rotation needs it.
 * - `server.user_login.password_hashes.default_cost.scram_sha_256`: with the
 *   rehash setting on, a stored verifier of another cost makes the next login
 *   under the default `cert-password` HBA rule ask for a cleartext password to
 *   re-hash it. The verifier's iteration count therefore follows the cluster.
 *
 * Reading cluster settings needs the VIEWCLUSTERSETTING (or
 * MODIFYCLUSTERSETTING) system privilege, or the admin role.
 *
 * @module
 */
import pg from 'pg';
import type { DatabaseSession } from '../adapters/database.js';
import { assertVerifierAcceptable } from '../core/scram.js';
import { foldRoleName } from '../core/secret.js';
import {
  ConfigurationError,
  DatabaseServerError,
  DatabaseSettingError,
  isRotationError,
  ScramVerifierError,
  VerifierNotStoredError,
} from '../errors.js';
import type { ChangeInput, Engine, IterationChoice } from './engine.js';
import { pgRoleAttributes, pgRoleFacts, pgRoleMembers } from './postgres.js';

/** The cluster settings rotation depends on. */
export const COCKROACH_SETTINGS = {
  storePreHashed: 'server.user_login.store_client_pre_hashed_passwords.enabled',
  scramCost: 'server.user_login.password_hashes.default_cost.scram_sha_256',
  changeOwnPassword: 'sql.auth.change_own_password.enabled',
  rehashOnCostChange: 'server.user_login.rehash_scram_stored_passwords_on_cost_change.enabled',
} as const;

/** One of {@link COCKROACH_SETTINGS}' values. */
export type CockroachSetting = (typeof COCKROACH_SETTINGS)[keyof typeof COCKROACH_SETTINGS];

/** The grant that lets a role read cluster settings, ready to paste (the name quoted). */
export function viewSettingsGrant(username: string): string {
  return `GRANT SYSTEM VIEWCLUSTERSETTING TO ${pg.escapeIdentifier(username)}`;
}

/** `SET CLUSTER SETTING <name> = true`, the fix for a boolean setting that is off. */
export function enableStatement(setting: CockroachSetting): string {
  return `SET CLUSTER SETTING ${setting} = true`;
}

/** Every cluster setting the function or doctor reads; SQL is built only from these names. */
export const READABLE_SETTINGS = [
  ...Object.values(COCKROACH_SETTINGS),
  'server.host_based_authentication.configuration',
  // Read by doctor and audit: how cleartext passwords are hashed, and the
  // bcrypt conversions at login.
  'server.user_login.password_encryption',
  'server.user_login.downgrade_scram_stored_passwords_to_bcrypt.enabled',
  'server.user_login.upgrade_bcrypt_stored_passwords_to_scram.enabled',
  // Read by doctor: whether CREATEROLE grants role membership on v23.1.
  'sql.auth.createrole_allows_grant_role_membership.enabled',
] as const;

/** One of {@link READABLE_SETTINGS}. */
export type ReadableSetting = (typeof READABLE_SETTINGS)[number];

/**
 * Reads a cluster setting with `SHOW CLUSTER SETTING` (CockroachDB's stable
 * interface; `crdb_internal` tables carry no stability guarantee), or returns
 * `undefined` when the role may not read cluster settings. Other failures
 * (network, timeout) are thrown.
 *
 * The statement takes no parameters and the name is a dotted path, not an
 * identifier, so it cannot go through escapeIdentifier: only names from
 * {@link READABLE_SETTINGS} are accepted, never input.
 */
export async function readClusterSetting(
  session: DatabaseSession,
  setting: ReadableSetting,
): Promise<string | undefined> {
  if (!(READABLE_SETTINGS as readonly string[]).includes(setting)) {
    throw new TypeError(`not a setting this function reads: ${setting}`);
  }
  try {
    // The one column is named after the setting; booleans arrive as
    // booleans and INT8 as strings from node-postgres.
    const rows = await session.query<Record<string, unknown>>(`SHOW CLUSTER SETTING ${setting}`);
    const row = rows[0];
    const value = row === undefined ? undefined : Object.values(row)[0];
    return value === undefined || value === null ? undefined : String(value);
  } catch (error) {
    if (isRotationError(error, 'INSUFFICIENT_PRIVILEGE')) return undefined;
    throw error;
  }
}

/** Says where the fault lies when CockroachDB does not read our verifier as SCRAM. */
const VERIFIER_BUG = '; a bug in the verifier, please report it';

/** Reads a setting the change cannot do without; unreadable is an error that says what to grant. */
async function requireSetting(
  session: DatabaseSession,
  setting: CockroachSetting,
  username: string,
): Promise<string> {
  const value = await readClusterSetting(session, setting);
  if (value === undefined) {
    throw new DatabaseSettingError(
      setting,
      `cannot be read by ${username}, and rotation is not safe without it`,
      `run ${viewSettingsGrant(username)}`,
    );
  }
  return value;
}

/**
 * Checks the cluster settings before a password change and returns the
 * iteration count to use: the cluster's SCRAM cost unless configured
 * otherwise (and allowed).
 *
 * @throws DatabaseSettingError when a setting forbids a safe change or cannot be read
 * @throws ConfigurationError when SCRAM_ITERATIONS differs from the cluster cost without opt-in
 */
export async function prepareCockroachChange(
  session: DatabaseSession,
  input: ChangeInput,
): Promise<IterationChoice> {
  const preHashed = await requireSetting(session, COCKROACH_SETTINGS.storePreHashed, input.changer);
  if (preHashed !== 'true') {
    throw new DatabaseSettingError(
      COCKROACH_SETTINGS.storePreHashed,
      'is off, so CockroachDB would store the verifier as if it were the cleartext password',
      `run ${enableStatement(COCKROACH_SETTINGS.storePreHashed)}`,
    );
  }
  if (input.selfService) {
    const own = await requireSetting(session, COCKROACH_SETTINGS.changeOwnPassword, input.changer);
    if (own !== 'true') {
      throw new DatabaseSettingError(
        COCKROACH_SETTINGS.changeOwnPassword,
        `is off, so ${input.changer} cannot change its own password`,
        `add masterarn (an admin secret whose role has CREATEROLE and CREATELOGIN, or admin) to the secret, or run ${enableStatement(COCKROACH_SETTINGS.changeOwnPassword)}`,
      );
    }
  }
  const costText = await requireSetting(session, COCKROACH_SETTINGS.scramCost, input.changer);
  const cost = Number(costText);
  if (!Number.isInteger(cost) || cost <= 0) {
    throw new DatabaseSettingError(
      COCKROACH_SETTINGS.scramCost,
      'does not read as an iteration count',
      'check the setting with SHOW CLUSTER SETTING',
    );
  }
  const configured = input.configuredIterations;
  if (configured !== undefined && configured !== cost && !input.allowIterationMismatch) {
    throw new ConfigurationError(
      'SCRAM_ITERATIONS',
      `the cluster's ${COCKROACH_SETTINGS.scramCost} (${cost}) on CockroachDB: with another, a login may be asked for the cleartext password to re-hash it; unset it, or set SCRAM_ITERATIONS_ALLOW_MISMATCH=true if your HBA rules require scram-sha-256`,
    );
  }
  return configured === undefined
    ? { iterations: cost, source: `the cluster's ${COCKROACH_SETTINGS.scramCost}` }
    : { iterations: configured, source: 'SCRAM_ITERATIONS' };
}

/**
 * Asks CockroachDB whether it recognises the verifier as a SCRAM-SHA-256
 * hash (`crdb_internal.check_password_hash_format`), so that a string it
 * would take for a cleartext password is never sent in ALTER USER.
 *
 * @throws ScramVerifierError when CockroachDB does not call it scram-sha-256
 */
export async function checkVerifierFormat(
  session: DatabaseSession,
  verifier: string,
): Promise<void> {
  let method: string | undefined;
  try {
    const rows = await session.query<{ method: string }>(
      'SELECT crdb_internal.check_password_hash_format($1::BYTES) AS method',
      [verifier],
    );
    method = rows[0]?.method;
  } catch (error) {
    // Only the server's answer about the verifier is a verifier problem; a
    // dropped connection or a deadline is what it is (and may be retried).
    if (!(error instanceof DatabaseServerError)) throw error;
    throw new ScramVerifierError(
      'cockroachdb-format',
      `CockroachDB refused the verifier format${VERIFIER_BUG}`,
      { cause: error },
    );
  }
  if (method !== 'scram-sha-256') {
    throw new ScramVerifierError(
      'cockroachdb-format',
      // The method is quoted only when it looks like one: it is the server's text.
      `CockroachDB reads the verifier as ${method !== undefined && /^[a-z0-9-]{1,32}$/.test(method) ? method : 'something else'}, not scram-sha-256${VERIFIER_BUG}`,
    );
  }
}

/**
 * The hash CockroachDB stores for a user, where the logged-in role may read
 * `system.users` (admin, or VIEWSYSTEMTABLE since v23.1.11); `undefined`
 * when it may not. The name is folded first, as CockroachDB stores it.
 */
export async function storedHash(
  session: DatabaseSession,
  username: string,
): Promise<string | undefined> {
  try {
    const rows = await session.query<{ hash: Buffer | string | null }>(
      'SELECT "hashedPassword" AS hash FROM system.users WHERE username = $1',
      [foldRoleName(username)],
    );
    const hash = rows[0]?.hash;
    if (hash === null || hash === undefined) return undefined;
    return Buffer.isBuffer(hash) ? hash.toString('utf8') : hash;
  } catch (error) {
    if (isRotationError(error, 'INSUFFICIENT_PRIVILEGE')) return undefined;
    throw error;
  }
}

/**
 * CockroachDB's `admin` role: its members may do anything, change any
 * password included. A rotated role must not be one of them.
 */
export const COCKROACH_ADMIN_ROLE = 'admin';

/**
 * The object kinds whose default privileges CockroachDB's ALTER DEFAULT
 * PRIVILEGES accepts (pkg/sql/alter_default_privileges.go,
 * targetObjectToPrivilegeObject).
 */
export const DEFAULT_PRIVILEGE_TARGETS = ['TABLES', 'SEQUENCES', 'TYPES', 'SCHEMAS'] as const;

/**
 * Functions as a default privileges target: in the current grammar
 * (pkg/sql/privilege/target_object_type.go) with user-defined functions
 * (v22.2+). v21.2's and v22.1's grammar has only the four above, and those
 * releases have no user-defined functions to cover: there the statement is
 * a syntax error (42601), and skipped.
 */
export const FUNCTIONS_TARGET = 'FUNCTIONS';

/** CockroachDB's rules. */
export const cockroachEngine: Engine = {
  name: 'cockroachdb',

  foldRoleName,

  roleFacts: (session, role, changer) =>
    pgRoleFacts(session, role, changer, [COCKROACH_ADMIN_ROLE]),

  prepareChange: prepareCockroachChange,

  /**
   * The verifier checked by the function's copy of CockroachDB's pattern and
   * by CockroachDB itself, then sent; afterwards the stored hash is compared
   * with it where the session may read system.users. If the server stored
   * something else, the current password is put back so the application
   * keeps working, and the error says whether that worked.
   */
  async setVerifier(session, role, verifier, restore) {
    assertVerifierAcceptable(verifier, 'cockroachdb');
    await checkVerifierFormat(session, verifier);
    await session.setPasswordVerifier(role, verifier);
    const stored = await storedHash(session, role);
    if (stored === undefined) return { confirmed: false };
    if (stored !== verifier) {
      // Say it was put back only if the server stored the restore as sent:
      // the same cause (pre-hashed passwords off) would store it wrongly too.
      const previous = await restore();
      await session.setPasswordVerifier(role, previous);
      const restored = (await storedHash(session, role)) === previous;
      throw new VerifierNotStoredError(
        role,
        restored
          ? `the current password was put back; check ${COCKROACH_SETTINGS.storePreHashed} and run npm run doctor`
          : `the current password could NOT be put back: set it by hand to the AWSCURRENT value with a SCRAM verifier, enable ${COCKROACH_SETTINGS.storePreHashed}, and run npm run doctor`,
      );
    }
    return { confirmed: true };
  },

  async grantRole(session, role, member) {
    await session.execute(`GRANT ${pg.escapeIdentifier(role)} TO ${pg.escapeIdentifier(member)}`);
  },

  cloneActsAs: 'default-privileges',

  // CONNECTION LIMIT for roles does not exist (issue #75879; pg_roles says -1).
  alignedAttributes: ['validUntil'],

  roleMembers: pgRoleMembers,

  async roleAttributes(session, role) {
    const attributes = await pgRoleAttributes(session, role);
    return attributes === undefined ? undefined : { ...attributes, connectionLimit: -1 };
  },

  /**
   * pg_has_role's MEMBER (direct or not): CockroachDB has no NOINHERIT and no
   * SET option, members always inherit, and SET ROLE needs only membership
   * (pkg/sql/user.go, checkCanBecomeUser).
   */
  async actsAsMember(session, member, role) {
    const [row] = await session.query<{ member: boolean }>(
      "SELECT pg_has_role($1, $2, 'MEMBER') AS member",
      [member, role],
    );
    return row?.member === true;
  },

  /**
   * CREATE USER, then GRANT; CockroachDB has no CREATE ROLE ... IN ROLE. A
   * clone whose GRANT fails is dropped again (it owns nothing yet), so that
   * no clone is left without its membership. Not one explicit transaction:
   * CockroachDB would allow it, but the protocol double the tests run
   * against checks a GRANT's roles outside the session's transaction.
   */
  async createClone(session, { original, clone }, verifier) {
    assertVerifierAcceptable(verifier, 'cockroachdb');
    await checkVerifierFormat(session, verifier);
    await session.execute(
      `CREATE USER ${pg.escapeIdentifier(clone)} WITH LOGIN PASSWORD ${pg.escapeLiteral(verifier)}`,
    );
    try {
      await session.execute(
        `GRANT ${pg.escapeIdentifier(original)} TO ${pg.escapeIdentifier(clone)}`,
      );
    } catch (error) {
      await session.execute(`DROP USER ${pg.escapeIdentifier(clone)}`).catch(() => undefined);
      throw error;
    }
  },

  /** No COMMENT ON ROLE on CockroachDB (comment-on docs: databases, schemas, tables, columns, indexes, types): clones are proven by possession. */
  cloneMark: async () => undefined,

  async alignRole(session, role, { validUntil }) {
    if (validUntil === undefined) return;
    await session.execute(
      `ALTER ROLE ${pg.escapeIdentifier(role)} WITH VALID UNTIL ${pg.escapeLiteral(validUntil)}`,
    );
  },

  /**
   * CockroachDB refuses `role` as a per-role default (55P02, pkg/sql/alter_role.go)
   * and as a start-up option, and new objects are owned by current_user. So
   * the clone, as itself (ALTER DEFAULT PRIVILEGES FOR ROLE another role
   * needs membership in it, which the admin lacks), grants ALL with GRANT
   * OPTION on what it will create to the original: the original may then
   * use, ALTER (CREATE privilege) and DROP (DROP privilege) the clone's
   * tables, pkg/sql/drop_table.go canDropTable. Default privileges are per
   * database: the secret's.
   */
  async makeCloneActAsOriginal(_admin, asClone, { original }) {
    const session = await asClone();
    try {
      const grant = (target: string) =>
        session.execute(
          `ALTER DEFAULT PRIVILEGES GRANT ALL ON ${target} TO ${pg.escapeIdentifier(original)} WITH GRANT OPTION`,
        );
      for (const target of DEFAULT_PRIVILEGE_TARGETS) await grant(target);
      await grant(FUNCTIONS_TARGET).catch((error: unknown) => {
        if (!(error instanceof DatabaseServerError && error.sqlstate === '42601')) throw error;
      });
    } finally {
      await session.close();
    }
  },
};
