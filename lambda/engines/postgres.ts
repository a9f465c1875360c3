/**
 * PostgreSQL's (and Aurora PostgreSQL's) rules for a password change.
 *
 * - Names are kept as written (quoted identifiers are not folded), so the
 *   role is looked up by exact name with a bound parameter.
 * - Privileged means SUPERUSER, CREATEROLE, BYPASSRLS or REPLICATION on the
 *   role, or membership (direct or not) in a role that has one of them or in
 *   one of the predefined roles that reach the server's files and programs:
 *   a member can `SET ROLE` to it.
 * - The iteration count is `SCRAM_ITERATIONS` if configured, else the
 *   session's `scram_iterations` (PostgreSQL 16+), else 4096.
 * - The verifier is checked against `parse_scram_secret`'s rules before it
 *   is sent: PostgreSQL stores a hash of any string it cannot parse.
 *
 * @module
 */
import pg from 'pg';
import type { DatabaseSession } from '../adapters/database.js';
import { assertVerifierAcceptable, SCRAM_ITERATIONS } from '../core/scram.js';
import type {
  ChangeInput,
  CloneMark,
  ClonePair,
  Engine,
  IterationChoice,
  RoleAttributes,
  RoleFacts,
} from './engine.js';
import { settingPassword } from './rds.js';

/** Predefined roles whose members can read or write server files or run programs. */
export const POSTGRES_PRIVILEGED_ROLES = [
  'pg_execute_server_program',
  'pg_read_server_files',
  'pg_write_server_files',
] as const;

/** The role attributes that make a role privileged, as pg_roles columns. */
const PRIVILEGED_ATTRIBUTES = {
  rolsuper: 'SUPERUSER',
  rolcreaterole: 'CREATEROLE',
  rolbypassrls: 'BYPASSRLS',
  rolreplication: 'REPLICATION',
} as const;

type AttributeColumn = keyof typeof PRIVILEGED_ATTRIBUTES;

const ATTRIBUTE_COLUMNS = Object.keys(PRIVILEGED_ATTRIBUTES) as AttributeColumn[];

/** A pg_roles row with the attributes above, for one role. */
type RoleRow = Record<AttributeColumn, unknown> & {
  rolname: string;
  privileged_roles: string[] | string | null;
  member_of_changer: unknown;
};

/**
 * One query, read-only, any role may run it: pg_roles and pg_has_role need
 * no privilege, on PostgreSQL and on CockroachDB (which has pg_has_role by
 * name since v21.2, counts indirect membership, and reports members of
 * `admin` as rolsuper). `$3` lists the predefined roles as a text array.
 */
const ROLE_FACTS_SQL = `
SELECT r.rolname::text AS rolname, ${ATTRIBUTE_COLUMNS.map((c) => `r.${c}`).join(', ')},
  ARRAY(
    SELECT p.rolname::text FROM pg_catalog.pg_roles p
    WHERE p.rolname <> r.rolname AND pg_catalog.pg_has_role(r.rolname, p.rolname, 'MEMBER')
      AND (${ATTRIBUTE_COLUMNS.map((c) => `p.${c}`).join(' OR ')} OR p.rolname = ANY($3::text[]))
    ORDER BY p.rolname
  ) AS privileged_roles,
  CASE WHEN $2::text IS NULL THEN false ELSE EXISTS (
    SELECT 1 FROM pg_catalog.pg_roles c
    WHERE c.rolname = $2::text AND c.rolname <> r.rolname
      AND pg_catalog.pg_has_role(r.rolname, c.rolname, 'MEMBER')
  ) END AS member_of_changer
FROM pg_catalog.pg_roles r WHERE r.rolname = $1::text`;

/** Reads {@link RoleFacts} from pg_roles (shared with the CockroachDB engine, whose pg_roles agrees). */
export async function pgRoleFacts(
  session: DatabaseSession,
  role: string,
  changer: string | undefined,
  privilegedRoles: readonly string[],
): Promise<RoleFacts | undefined> {
  const rows = await session.query<RoleRow>(ROLE_FACTS_SQL, [
    role,
    changer ?? null,
    [...privilegedRoles],
  ]);
  const row = rows[0];
  // The comparison is exact, but a server could still answer for another
  // name (a collation, a double): only the name asked for counts.
  if (row === undefined || row.rolname !== role) return undefined;
  return {
    name: row.rolname,
    // Fail closed: anything but a plain false (a server that answers in
    // another type, or not at all) counts as holding the attribute.
    attributes: ATTRIBUTE_COLUMNS.filter((c) => row[c] !== false).map(
      (c) => PRIVILEGED_ATTRIBUTES[c],
    ),
    // A driver that does not decode the array type gets its text form: refuse
    // to read it as "no privileged roles".
    privilegedRoles: Array.isArray(row.privileged_roles)
      ? row.privileged_roles
      : [String(row.privileged_roles)],
    memberOfChanger: row.member_of_changer !== false,
  };
}

/**
 * The roles holding `role` directly (pg_auth_members: its members, and on
 * PostgreSQL 16+ whoever has ADMIN OPTION on it, which is a membership
 * row too). Shared with the CockroachDB engine, whose pg_auth_members agrees.
 * A driver that does not decode the array is refused, never read as none.
 */
export async function pgRoleMembers(session: DatabaseSession, role: string): Promise<string[]> {
  const [row] = await session.query<{ members: unknown }>(
    `SELECT ARRAY(
       SELECT m.rolname::text FROM pg_catalog.pg_auth_members a
         JOIN pg_catalog.pg_roles m ON m.oid = a.member
         JOIN pg_catalog.pg_roles r ON r.oid = a.roleid
        WHERE r.rolname = $1::text ORDER BY 1) AS members`,
    [role],
  );
  if (!Array.isArray(row?.members)) throw new Error(`the members of ${role} are unreadable`);
  return row.members.map(String);
}

/** pg_roles' attributes of one role; CockroachDB's pg_roles has the same columns. */
const ROLE_ATTRIBUTES_SQL = `
SELECT r.rolname::text AS rolname, r.rolcanlogin, r.rolconnlimit::int4 AS connlimit,
  r.rolvaliduntil::text AS valid_until,
  COALESCE(extract(epoch FROM r.rolvaliduntil)::float8, 'Infinity'::float8) AS expires_at,
  COALESCE(r.rolvaliduntil < pg_catalog.now(), false) AS expired
FROM pg_catalog.pg_roles r WHERE r.rolname = $1::text`;

/** Reads {@link RoleAttributes} from pg_roles (shared with the CockroachDB engine). */
export async function pgRoleAttributes(
  session: DatabaseSession,
  role: string,
): Promise<RoleAttributes | undefined> {
  const rows = await session.query<{
    rolname: string;
    rolcanlogin: boolean;
    connlimit: number | string;
    valid_until: string | null;
    expires_at: unknown;
    expired: unknown;
  }>(ROLE_ATTRIBUTES_SQL, [role]);
  const row = rows[0];
  if (row === undefined || row.rolname !== role) return undefined;
  const validUntil = row.valid_until ?? undefined;
  return {
    name: row.rolname,
    canLogin: row.rolcanlogin === true,
    connectionLimit: Number(row.connlimit),
    // 'infinity' and no VALID UNTIL both mean the password never expires.
    validUntil: validUntil === 'infinity' ? undefined : validUntil,
    // Unknown (a type the driver did not decode) is NaN, never "none".
    expiresAt: typeof row.expires_at === 'number' ? row.expires_at : Number.NaN,
    // Fail closed: anything but a plain false counts as expired.
    expired: row.expired !== false,
  };
}

/**
 * The comment the function puts on a clone it creates: it names the
 * original and its oid, so a role of the same name created again later is
 * not taken for the same original.
 */
export function cloneMarkText(original: string, originalOid: string): string {
  return `scram-rotator: the alternating clone of ${original} (role oid ${originalOid})`;
}

/**
 * The clone's COMMENT (pg_shdescription) and the one the function writes
 * for this original. Who can write it: a superuser, or (PostgreSQL 16+) a
 * role with CREATEROLE and ADMIN OPTION on the clone (before 16, CREATEROLE)
 * -- a party that could already set the clone's password. The clone's own
 * login, its application, and whoever writes this secret's versions cannot.
 */
async function postgresCloneMark(
  session: DatabaseSession,
  { original, clone }: ClonePair,
): Promise<CloneMark> {
  const [row] = await session.query<{ oid: string; mark: string | null }>(
    `SELECT o.oid::int8::text AS oid,
            (SELECT pg_catalog.shobj_description(c.oid, 'pg_authid')
               FROM pg_catalog.pg_roles c WHERE c.rolname = $2::text) AS mark
       FROM pg_catalog.pg_roles o WHERE o.rolname = $1::text`,
    [original, clone],
  );
  if (row === undefined) throw new Error(`the original role ${original} does not exist`);
  const expected = cloneMarkText(original, row.oid);
  return {
    found: typeof row.mark === 'string' ? row.mark : undefined,
    expected,
    adopt: `COMMENT ON ROLE ${pg.escapeIdentifier(clone)} IS ${pg.escapeLiteral(expected)}`,
  };
}

/** A CONNECTION LIMIT as SQL; anything but a safe integer is refused, never widened to none. */
function safeLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < -1) throw new Error('invalid connection limit');
  return limit;
}

/** PostgreSQL 16 split membership into INHERIT, SET and ADMIN options. */
const MEMBERSHIP_OPTIONS_SINCE = 160_000;

/** The server's `server_version_num`, 0 where it cannot be read. */
async function versionNumber(session: DatabaseSession): Promise<number> {
  const value = Number(await session.setting('server_version_num'));
  return Number.isSafeInteger(value) ? value : 0;
}

/** The server's count for new verifiers, or `undefined` where it has no such setting. */
async function serverIterations(session: DatabaseSession): Promise<number | undefined> {
  const text = await session.setting('scram_iterations');
  const value = text === undefined || !/^[0-9]+$/.test(text.trim()) ? Number.NaN : Number(text);
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** PostgreSQL's rules. */
export const postgresEngine: Engine = {
  name: 'postgres',

  foldRoleName: (name) => name,

  roleFacts: (session, role, changer) =>
    pgRoleFacts(session, role, changer, POSTGRES_PRIVILEGED_ROLES),

  async prepareChange(session: DatabaseSession, input: ChangeInput): Promise<IterationChoice> {
    if (input.configuredIterations !== undefined) {
      return { iterations: input.configuredIterations, source: 'SCRAM_ITERATIONS' };
    }
    // A role-level setting or startup options can raise this for the
    // session; the caller bounds it before anything is computed.
    const fromServer = await serverIterations(session);
    return fromServer === undefined
      ? { iterations: SCRAM_ITERATIONS.default, source: "PostgreSQL's default" }
      : { iterations: fromServer, source: "the server's scram_iterations" };
  },

  async setVerifier(session, role, verifier) {
    assertVerifierAcceptable(verifier, 'postgres');
    await settingPassword(session, () => session.setPasswordVerifier(role, verifier));
    // pg_authid is for superusers only; the test login is the proof.
    return { confirmed: false };
  },

  /**
   * On PostgreSQL 16+ with INHERIT TRUE and SET TRUE spelled out: a plain
   * GRANT leaves them to server defaults, and an existing membership without
   * them is updated.
   */
  async grantRole(session, role, member) {
    const options =
      (await versionNumber(session)) >= MEMBERSHIP_OPTIONS_SINCE
        ? ' WITH INHERIT TRUE, SET TRUE'
        : '';
    await session.execute(
      `GRANT ${pg.escapeIdentifier(role)} TO ${pg.escapeIdentifier(member)}${options}`,
    );
  },

  cloneActsAs: 'default-role',

  alignedAttributes: ['connectionLimit', 'validUntil'],

  roleAttributes: pgRoleAttributes,

  roleMembers: pgRoleMembers,

  async actsAsMember(session, member, role) {
    const [row] = await session.query<{ usage: boolean }>(
      "SELECT pg_catalog.pg_has_role($1::name, $2::name, 'USAGE') AS usage",
      [member, role],
    );
    if (row?.usage !== true) return false;
    if ((await versionNumber(session)) < MEMBERSHIP_OPTIONS_SINCE) return true;
    // A comma list would mean "any of": SET is asked on its own.
    const [set] = await session.query<{ set: boolean }>(
      "SELECT pg_catalog.pg_has_role($1::name, $2::name, 'SET') AS set",
      [member, role],
    );
    return set?.set === true;
  },

  cloneMark: postgresCloneMark,

  /**
   * `CREATE ROLE ... IN ROLE original` and the clone's mark, in one simple
   * query (one implicit transaction): the membership and the mark come with
   * the role, or nothing does.
   */
  async createClone(session, pair, verifier) {
    assertVerifierAcceptable(verifier, 'postgres');
    const { adopt } = await postgresCloneMark(session, pair);
    await settingPassword(session, () =>
      session.execute(
        `CREATE ROLE ${pg.escapeIdentifier(pair.clone)} WITH LOGIN PASSWORD ${pg.escapeLiteral(verifier)} IN ROLE ${pg.escapeIdentifier(pair.original)}; ${adopt}`,
      ),
    );
  },

  async alignRole(session, role, { connectionLimit, validUntil }) {
    const set = [
      ...(connectionLimit === undefined ? [] : [`CONNECTION LIMIT ${safeLimit(connectionLimit)}`]),
      ...(validUntil === undefined ? [] : [`VALID UNTIL ${pg.escapeLiteral(validUntil)}`]),
    ];
    if (set.length === 0) return;
    await session.execute(`ALTER ROLE ${pg.escapeIdentifier(role)} WITH ${set.join(' ')}`);
  },

  /**
   * `ALTER ROLE clone SET role = original`: at login PostgreSQL runs the
   * clone's session as the original (current_user), so what it creates is
   * owned by the original and every grant to the original applies; the
   * membership (with SET on 16+) is what lets it.
   */
  async makeCloneActAsOriginal(admin, _asClone, { original, clone }) {
    await admin.execute(
      `ALTER ROLE ${pg.escapeIdentifier(clone)} SET role = ${pg.escapeLiteral(original)}`,
    );
  },
};
