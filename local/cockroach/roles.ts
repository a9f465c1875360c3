/**
 * Role statements the CockroachDB double answers as CockroachDB does, where
 * PostgreSQL (which the double forwards to) would answer otherwise: what
 * alternating users rely on (creating a clone, its membership, its
 * attributes, its default privileges) and what CockroachDB refuses that
 * PostgreSQL accepts (a `role` default, CONNECTION LIMIT, GRANT's INHERIT
 * and SET options).
 *
 * | statement | CockroachDB | source |
 * | --- | --- | --- |
 * | `ALTER ROLE r SET role = ...` (IN DATABASE, ALL too; not RESET role or SET role = DEFAULT, which are accepted) | 55P02 `parameter "role" cannot be changed` | pkg/sql/alter_role.go, processSetOrResetClause |
 * | `CONNECTION LIMIT` in CREATE/ALTER ROLE | syntax error: not a role option | pkg/sql/parser/sql.y, role_option |
 * | `GRANT r TO m WITH INHERIT/SET ...` | syntax error: only WITH ADMIN OPTION | pkg/sql/parser/sql.y |
 * | `CREATE USER/ROLE` | CREATEROLE; LOGIN, PASSWORD, VALID UNTIL (and CREATE USER's implicit LOGIN) also CREATELOGIN | pkg/sql/create_role.go, checkPasswordOptionConstraints |
 * | `ALTER ROLE r [WITH] LOGIN/NOLOGIN/VALID UNTIL` | the same as ALTER ... PASSWORD: CREATEROLE and CREATELOGIN, not the admin role, an admin only by an admin; `VALID UNTIL NULL` clears it | pkg/sql/alter_role.go |
 * | `GRANT r TO m [WITH ADMIN OPTION]` | an admin (for any role but `admin`); CREATEROLE for any role but `admin` since v23.2 (v23.1: with `sql.auth.createrole_allows_grant_role_membership.enabled`); else ADMIN OPTION on r held directly or through a role; no cycles | pkg/sql/grant_role.go (PR #104376) |
 * | `ALTER DEFAULT PRIVILEGES FOR ROLE r ...` | the caller is r or a member of r (admins too); FOR ALL ROLES: admins | pkg/sql/alter_default_privileges.go |
 * | `ALTER DEFAULT PRIVILEGES ... ON FUNCTIONS` before v22.2 | syntax error: v22.1's grammar has TABLES, SEQUENCES, TYPES, SCHEMAS only | v22.1 ALTER DEFAULT PRIVILEGES docs |
 *
 * Quoted role names reach these rules folded already (statements.ts,
 * foldRoleNames). Object privileges are not modelled here: tables.ts
 * models what ALL on a table allows a non-owner (DROP, and ALTER through
 * CREATE); other object privileges stay PostgreSQL's.
 *
 * @module
 */
import {
  type Caller,
  type CockroachError,
  createRoleGrantsMembership,
  decideAlterPassword,
  releaseAtLeast,
  SETTINGS,
  type TargetRole,
} from './behaviours.js';
import { isIdentifier, isName, literal, type Token } from './sql.js';
import type { ClusterSettings, NewDoubleEvent } from './state.js';

/** What the role statements need from the session. */
export interface RoleStatementContext {
  readonly user: string;
  /** What `version()` reports: the grant rules follow the release. */
  readonly version: string;
  readonly settings: ClusterSettings;
  caller(): Promise<Caller>;
  role(name: string): Promise<TargetRole>;
  /**
   * CockroachDB's MemberOfWithAdminOption: every role `name` belongs to,
   * directly or through other roles, and whether it holds ADMIN OPTION on it.
   */
  memberships(name: string): Promise<ReadonlyMap<string, boolean>>;
  /** The per-session secret the helper procedures check. */
  readonly token: string;
  record(event: NewDoubleEvent): void;
}

/**
 * The helper procedures (SECURITY DEFINER, run as the double's admin,
 * guarded by the session token like `crdb_set_password`): a grant or an
 * attribute change CockroachDB allows is not refused by PostgreSQL's own
 * rules (PostgreSQL 16+ wants ADMIN OPTION for both).
 */
export function roleSetupSql(): string[] {
  const guard = `IF p_token IS DISTINCT FROM (SELECT t.token FROM pg_temp.crdb_double_token t) THEN
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'cockroach double: internal procedure';
  END IF;`;
  return [
    `CREATE PROCEDURE pg_temp.crdb_grant_role(p_token text, p_roles text[], p_members text[], p_admin boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $crdb$
DECLARE r text; m text;
BEGIN
  ${guard}
  FOREACH r IN ARRAY p_roles LOOP
    FOREACH m IN ARRAY p_members LOOP
      -- CockroachDB keeps an existing membership silently (ON CONFLICT DO NOTHING).
      IF p_admin OR NOT EXISTS (
        SELECT 1 FROM pg_auth_members a
        WHERE a.roleid = (SELECT oid FROM pg_roles WHERE rolname = r)
          AND a.member = (SELECT oid FROM pg_roles WHERE rolname = m)
      ) THEN
        EXECUTE format('GRANT %I TO %I', r, m) || CASE WHEN p_admin THEN ' WITH ADMIN OPTION' ELSE '' END;
      END IF;
    END LOOP;
  END LOOP;
END
$crdb$`,
    `CREATE PROCEDURE pg_temp.crdb_alter_role(p_token text, p_role text, p_login boolean, p_set_valid boolean, p_valid text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $crdb$
BEGIN
  ${guard}
  IF p_login IS NOT NULL THEN
    EXECUTE format('ALTER ROLE %I %s', p_role, CASE WHEN p_login THEN 'LOGIN' ELSE 'NOLOGIN' END);
  END IF;
  IF p_set_valid THEN
    -- PostgreSQL has no VALID UNTIL NULL: infinity is its "never expires".
    EXECUTE format('ALTER ROLE %I VALID UNTIL %L', p_role, coalesce(p_valid, 'infinity'));
  END IF;
END
$crdb$`,
  ];
}

/** The first release whose ALTER DEFAULT PRIVILEGES takes FUNCTIONS (with user-defined functions). */
export const FUNCTIONS_TARGET_SINCE = [22, 2, 0] as const;

const syntaxError = (near: string): CockroachError => ({
  code: '42601',
  message: `at or near "${near}": syntax error`,
  source: 'pkg/sql/parser/sql.y',
});

/** `ALTER ROLE|USER <name|ALL> [IN DATABASE <d>] SET role` (pkg/sql/alter_role.go). */
export const ROLE_DEFAULT_REFUSED: CockroachError = {
  code: '55P02',
  message: 'parameter "role" cannot be changed',
  source: 'pkg/sql/alter_role.go (processSetOrResetClause, newCannotChangeParameterError)',
};

const missingPrivilege = (caller: Caller, privilege: string): CockroachError => ({
  code: '42501',
  message: `user ${caller.user} does not have ${privilege} privilege`,
  source: 'pkg/sql/authorization.go (CheckGlobalPrivilegeOrRoleOption)',
});

const has = (caller: Caller, privilege: 'CREATEROLE' | 'CREATELOGIN') =>
  caller.admin || caller.privileges.has(privilege);

/** Reads a comma-separated list of names from `index`; returns them and the index after. */
function nameList(sig: readonly Token[], index: number): { names: string[]; next: number } {
  const names: string[] = [];
  let i = index;
  while (isIdentifier(sig[i])) {
    names.push(sig[i]?.value ?? '');
    if (sig[i + 1]?.text !== ',') return { names, next: i + 1 };
    i += 2;
  }
  return { names, next: i };
}

/**
 * Rewrites a role statement CockroachDB answers differently from
 * PostgreSQL, or returns `undefined` for any other statement (and for role
 * statements the double leaves to other rules or to PostgreSQL).
 *
 * @param refuse - turns a CockroachDB error into the statement that raises it
 */
export async function rewriteRoleStatement(
  text: string,
  sig: readonly Token[],
  ctx: RoleStatementContext,
  refuse: (error: CockroachError) => string,
): Promise<string | undefined> {
  const first = sig[0]?.value;
  const roleWord = isName(sig[1], 'role') || isName(sig[1], 'user');
  const refused = (error: CockroachError, statement: string) => {
    ctx.record({
      type: 'role-statement',
      user: ctx.user,
      statement,
      code: error.code,
      message: error.message,
    });
    return refuse(error);
  };
  if ((first === 'alter' || first === 'create') && roleWord) {
    const limit = sig.findIndex((t, i) => isName(t, 'connection') && isName(sig[i + 1], 'limit'));
    if (limit >= 0) return refused(syntaxError('connection'), `${first} role`);
  }
  if (first === 'alter' && roleWord) {
    if (setsRoleDefault(sig)) return refused(ROLE_DEFAULT_REFUSED, 'alter role set role');
    return alterRoleAttributes(sig, ctx, refused);
  }
  if (first === 'create' && roleWord) return createRole(text, sig, ctx, refused);
  if (first === 'grant' && !isName(sig[1], 'system') && !sig.some((t) => isName(t, 'on'))) {
    return grantRole(sig, ctx, refused);
  }
  if (first === 'alter' && isName(sig[1], 'default') && isName(sig[2], 'privileges')) {
    return alterDefaultPrivileges(text, sig, ctx, refused);
  }
  return undefined;
}

type Refused = (error: CockroachError, statement: string) => string;

/**
 * `ALTER ROLE <name|ALL> [IN DATABASE <d>] SET role ...`; not `RESET role`
 * nor `SET role = DEFAULT`, which CockroachDB reads as a RESET and does not
 * validate ("For RESET, we shouldn't do any validation on the varName").
 */
function setsRoleDefault(sig: readonly Token[]): boolean {
  let i = 3;
  if (isName(sig[i], 'in') && isName(sig[i + 1], 'database')) i += 3;
  if (!isName(sig[i], 'set') || !isName(sig[i + 1], 'role')) return false;
  const value = sig[i + 2]?.text === '=' || isName(sig[i + 2], 'to') ? sig[i + 3] : sig[i + 2];
  return !isName(value, 'default');
}

/**
 * `ALTER ROLE|USER [IF EXISTS] <name> [WITH] LOGIN|NOLOGIN|VALID UNTIL <x|NULL> ...`:
 * CockroachDB's checks (those of ALTER ... PASSWORD, minus the password),
 * then the change through `crdb_alter_role`.
 */
async function alterRoleAttributes(
  sig: readonly Token[],
  ctx: RoleStatementContext,
  refused: Refused,
): Promise<string | undefined> {
  let i = 2;
  let ifExists = false;
  if (isName(sig[i], 'if') && isName(sig[i + 1], 'exists')) {
    ifExists = true;
    i += 2;
  }
  const nameToken = sig[i];
  if (!isIdentifier(nameToken) || isName(nameToken, 'all')) return undefined;
  i++;
  if (isName(sig[i], 'with')) i++;
  let login: boolean | undefined;
  let valid: { sql: string } | undefined;
  while (i < sig.length) {
    const t = sig[i];
    if (isName(t, 'login') || isName(t, 'nologin')) {
      login = isName(t, 'login');
      i++;
    } else if (isName(t, 'valid') && isName(sig[i + 1], 'until')) {
      const value = sig[i + 2];
      if (value?.kind === 'string') valid = { sql: literal(value.value) };
      else if (value?.kind === 'param') valid = { sql: `$${value.value}::text` };
      else if (isName(value, 'null')) valid = { sql: 'NULL' };
      else return undefined;
      i += 3;
    } else {
      // Other options: ALTER ... PASSWORD, the CockroachDB-only options, or PostgreSQL's.
      return undefined;
    }
  }
  if (login === undefined && valid === undefined) return undefined;
  const role = nameToken.value;
  const decision = decideAlterPassword({
    caller: await ctx.caller(),
    target: await ctx.role(role),
    ifExists,
    password: null,
    // Settings only matter for a password, which this statement has not.
    settings: {
      storePreHashed: true,
      changeOwnPassword: false,
      passwordEncryption: '',
      scramCost: 0,
    },
  });
  if (decision.outcome === 'refuse') return refused(decision.error, 'alter role');
  if (decision.outcome === 'ignore') return 'CALL pg_temp.crdb_noop()';
  ctx.record({
    type: 'role-statement',
    user: ctx.user,
    statement: 'alter role',
    detail: `${role}${login === undefined ? '' : login ? ' LOGIN' : ' NOLOGIN'}${valid ? ' VALID UNTIL' : ''}`,
  });
  return `CALL pg_temp.crdb_alter_role(${literal(ctx.token)}, ${literal(role)}, ${
    login === undefined ? 'NULL' : String(login)
  }, ${valid !== undefined}, ${valid?.sql ?? 'NULL'})`;
}

/** `CREATE USER|ROLE ...`: CockroachDB's privilege checks, then PostgreSQL runs it. */
async function createRole(
  text: string,
  sig: readonly Token[],
  ctx: RoleStatementContext,
  refused: Refused,
): Promise<string> {
  const caller = await ctx.caller();
  if (!has(caller, 'CREATEROLE')) {
    return refused(missingPrivilege(caller, 'CREATEROLE'), 'create role');
  }
  const isUser = isName(sig[1], 'user');
  const options = sig.slice(3);
  const noLogin = options.some((t) => isName(t, 'nologin'));
  const needsLogin =
    options.some((t) => ['login', 'password', 'valid', 'createlogin'].some((w) => isName(t, w))) ||
    (isUser && !noLogin);
  if (needsLogin && !has(caller, 'CREATELOGIN')) {
    return refused(missingPrivilege(caller, 'CREATELOGIN'), 'create role');
  }
  ctx.record({ type: 'role-statement', user: ctx.user, statement: 'create role' });
  return text;
}

/** `GRANT <role>[, ...] TO <member>[, ...] [WITH ADMIN OPTION]` (pkg/sql/grant_role.go). */
async function grantRole(
  sig: readonly Token[],
  ctx: RoleStatementContext,
  refused: Refused,
): Promise<string | undefined> {
  const { names: roles, next } = nameList(sig, 1);
  if (roles.length === 0 || !isName(sig[next], 'to')) return undefined;
  const { names: members, next: end } = nameList(sig, next + 1);
  let adminOption = false;
  if (isName(sig[end], 'with')) {
    if (!(isName(sig[end + 1], 'admin') && isName(sig[end + 2], 'option'))) {
      return refused(syntaxError(sig[end + 1]?.value ?? 'EOF'), 'grant role');
    }
    adminOption = true;
  } else if (end < sig.length) {
    return refused(syntaxError(sig[end]?.value ?? 'EOF'), 'grant role');
  }
  const caller = await ctx.caller();
  const callerRoles = await ctx.memberships(caller.user);
  const createRoleGrants =
    caller.privileges.has('CREATEROLE') &&
    createRoleGrantsMembership(ctx.version, ctx.settings.bool(SETTINGS.createRoleGrantsMembership));
  for (const role of roles) {
    if ((caller.admin || createRoleGrants) && role !== 'admin') continue;
    if (callerRoles.get(role) !== true) {
      return refused(
        {
          code: '42501',
          message:
            role === 'admin'
              ? `${caller.user} is not a role admin for role ${role}`
              : `${caller.user} is not a superuser or role admin for role ${role}`,
          source: 'pkg/sql/grant_role.go',
        },
        'grant role',
      );
    }
  }
  for (const name of [...roles, ...members]) {
    if (!(await ctx.role(name)).exists) {
      return refused(
        {
          code: '42704',
          message: `role/user "${name}" does not exist`,
          source: 'pkg/sql/grant_role.go',
        },
        'grant role',
      );
    }
  }
  for (const role of roles) {
    const ancestors = await ctx.memberships(role);
    for (const member of members) {
      const cycle =
        role === member
          ? `${member} cannot be a member of itself`
          : ancestors.has(member)
            ? `making ${member} a member of ${role} would create a cycle`
            : undefined;
      if (cycle) {
        return refused(
          { code: '0LP01', message: cycle, source: 'pkg/sql/grant_role.go' },
          'grant role',
        );
      }
    }
  }
  ctx.record({
    type: 'role-statement',
    user: ctx.user,
    statement: 'grant role',
    detail: `${roles.join(', ')} TO ${members.join(', ')}${adminOption ? ' WITH ADMIN OPTION' : ''}`,
  });
  const array = (names: string[]) => `ARRAY[${names.map(literal).join(', ')}]::text[]`;
  return `CALL pg_temp.crdb_grant_role(${literal(ctx.token)}, ${array(roles)}, ${array(members)}, ${adminOption})`;
}

/**
 * `ALTER DEFAULT PRIVILEGES [FOR ROLE|USER <r>, ... | FOR ALL ROLES] ...`:
 * only for oneself or roles one is a member of; for all roles, admins.
 * PostgreSQL runs it (it agrees for oneself).
 */
async function alterDefaultPrivileges(
  text: string,
  sig: readonly Token[],
  ctx: RoleStatementContext,
  refused: Refused,
): Promise<string> {
  const caller = await ctx.caller();
  if (isName(sig[3], 'for') && isName(sig[4], 'all') && isName(sig[5], 'roles')) {
    if (!caller.admin) {
      return refused(
        {
          code: '42501',
          message: 'only users with the admin role are allowed to ALTER DEFAULT PRIVILEGES',
          source: 'pkg/sql/alter_default_privileges.go (RequireAdminRole)',
        },
        'alter default privileges',
      );
    }
  } else if (isName(sig[3], 'for') && (isName(sig[4], 'role') || isName(sig[4], 'user'))) {
    const { names } = nameList(sig, 5);
    const memberOf = await ctx.memberships(caller.user);
    const foreign = names.find((name) => name !== caller.user && !memberOf.has(name));
    if (foreign !== undefined) {
      return refused(
        {
          code: '42501',
          message: `must be a member of ${foreign}`,
          source: 'pkg/sql/alter_default_privileges.go',
        },
        'alter default privileges',
      );
    }
  }
  // v21.2's and v22.1's grammar has TABLES, SEQUENCES, TYPES and SCHEMAS
  // only (their ALTER DEFAULT PRIVILEGES docs); FUNCTIONS came with
  // user-defined functions, v22.2 (pkg/sql/privilege/target_object_type.go).
  const on = sig.findIndex((t) => isName(t, 'on'));
  if (isName(sig[on + 1], 'functions') && !releaseAtLeast(ctx.version, FUNCTIONS_TARGET_SINCE)) {
    return refused(syntaxError('functions'), 'alter default privileges');
  }
  ctx.record({ type: 'role-statement', user: ctx.user, statement: 'alter default privileges' });
  return text;
}
