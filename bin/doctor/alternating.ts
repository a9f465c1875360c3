/**
 * `npm run doctor` with ROTATION_MODE=alternating: whether the alternating
 * setup will work before it is turned on. Read-only, with the admin's
 * session, and with the function's own rules (the clone's name, the
 * confinement of the original, the engine's statements):
 *
 * - the clone's name fits the 63-byte identifier limit (and, on
 *   CockroachDB, is one it keeps as written);
 * - the original may be cloned (not privileged) and what the clone would
 *   get through its membership;
 * - every check the next rotation runs on the pair, by the rotation's own
 *   functions: the clone, if it exists, proven the one the function
 *   created (its mark, or possession on CockroachDB), held by no role but
 *   the admin, not privileged, not disabled by an operator, and with no
 *   setting sessions cannot override that differs from the original's;
 * - the admin may create the clone, grant it the original, and alter it.
 *
 * @module
 */
import pg from 'pg';
import type {
  DatabaseConnector,
  DatabaseSession,
  LoginLimits,
} from '../../lambda/adapters/database.js';
import type { SecretStore } from '../../lambda/adapters/secrets-manager.js';
import type { RotationConfig } from '../../lambda/config.js';
import { type AlternatingPair, alternatingPair } from '../../lambda/core/alternating.js';
import { type DatabaseSecret, parseDatabaseSecret } from '../../lambda/core/secret.js';
import { ENGINES, type ServerEngine } from '../../lambda/engines/detect.js';
import {
  CLONE_PROBLEMS,
  CloneNameError,
  CloneRefusedError,
  TARGET_ROLE_FIXES,
  TARGET_ROLE_PROBLEMS,
  TargetRoleError,
} from '../../lambda/errors.js';
import { loginTarget } from '../../lambda/rotation/load.js';
import {
  confineOriginal,
  existingCloneChecks,
  narrowing,
  type PairCheckInput,
  possessedBy,
  settingsPlan,
} from '../../lambda/strategies/alternating.js';
import { createRoleGrants } from '../workflow/cockroach.js';
import type { CheckResult } from './result.js';

/** What the checks read the secret's other versions and log in with. */
export interface AlternatingInput {
  readonly secretId: string;
  readonly secrets: SecretStore;
  readonly database: DatabaseConnector;
  readonly config: RotationConfig;
  readonly limits: LoginLimits;
}

/**
 * Runs the alternating checks; `add` reports each. The refusals come from
 * the rotation's own check functions (`lambda/strategies/alternating.ts`),
 * run read-only with the admin's session: each one the next rotation would
 * raise is reported, with its fix.
 */
export async function alternatingChecks(
  admin: DatabaseSession,
  adminName: string,
  engine: ServerEngine,
  secret: DatabaseSecret,
  input: AlternatingInput,
  add: (result: CheckResult) => CheckResult,
): Promise<void> {
  const { config } = input;
  let pair: AlternatingPair;
  try {
    pair = alternatingPair(secret.username, config.cloneSuffix, engine);
  } catch (error) {
    if (!(error instanceof CloneNameError)) throw error;
    add({
      check: 'clone name',
      status: 'fail',
      detail: error.message,
      fix: 'set CLONE_SUFFIX to a shorter lower-case suffix, or rotate this user in admin mode',
    });
    return;
  }
  add({
    check: 'clone name',
    status: 'pass',
    detail: `the secret alternates between ${pair.original} and ${pair.clone} (${Buffer.byteLength(pair.clone, 'utf8')} bytes); the next rotation changes ${pair.next}`,
  });
  const rules = ENGINES[engine];
  const checks: PairCheckInput = {
    engine: rules,
    session: admin,
    changer: adminName,
    pair,
    allowPrivilegedTarget: config.allowPrivilegedTarget,
    possesses: () => possessesNow(input, secret, pair),
  };
  const originalRefusal = await refusal('clone original', () => confineOriginal(checks));
  if (originalRefusal !== undefined) {
    add(originalRefusal);
    return;
  }
  const inherited = await memberOf(admin, pair.original);
  add({
    check: 'clone original',
    status: 'pass',
    detail: `${pair.clone} would get every privilege granted to ${pair.original}, now or later${
      inherited.length > 0 ? `, and through it the roles ${inherited.join(', ')}` : ''
    }; ${
      rules.cloneActsAs === 'default-role'
        ? `its sessions run as ${pair.original} (what it creates is owned by ${pair.original})`
        : `CockroachDB refuses a role default: what it creates is owned by ${pair.clone} with ALL granted to ${pair.original} (run SET ROLE ${pair.original} for ${pair.original} to own it)`
    }`,
  });
  const clone = await rules.roleFacts(admin, pair.clone, adminName);
  const created = clone === undefined;
  const refusals: CheckResult[] = [];
  if (clone === undefined && pair.next !== pair.clone) {
    refusals.push(refused(new CloneRefusedError(pair.clone, pair.original, 'clone-missing')));
  }
  // The rotation stops at the first refusal; doctor reports each of them.
  const run = [
    ...(clone === undefined ? [] : existingCloneChecks(checks, clone)),
    () => narrowing(rules, admin, pair, created),
    () => settingsPlan(admin, pair, created),
  ];
  for (const check of run) {
    const result = await refusal('clone', check);
    if (result !== undefined) refusals.push(result);
  }
  for (const result of refusals) add(result);
  if (refusals.length === 0) {
    add({
      check: 'clone',
      status: 'pass',
      detail:
        clone === undefined
          ? `${pair.clone} does not exist yet: the first alternating rotation creates it`
          : `${pair.clone} exists and passes every check of the next rotation (proven the clone of ${pair.original}, held by no other role, not disabled, settings alike)`,
    });
  }
  const member =
    clone !== undefined && (await rules.actsAsMember(admin, pair.clone, pair.original));
  add(await adminCheck(admin, adminName, engine, pair, member));
}

/** A refusal as a failed check. */
function refused(error: CloneRefusedError | TargetRoleError, check = 'clone'): CheckResult {
  const which = error.privileges.length > 0 ? ` (${error.privileges.join(', ')})` : '';
  return error instanceof CloneRefusedError
    ? {
        check,
        status: 'fail',
        detail: `${error.role} ${CLONE_PROBLEMS[error.problem]}${which}`,
        fix: error.fix,
      }
    : {
        check,
        status: 'fail',
        detail: `${error.role} ${TARGET_ROLE_PROBLEMS[error.problem]}${which}`,
        fix: TARGET_ROLE_FIXES[error.problem],
      };
}

/**
 * Runs one of the rotation's checks: `undefined` when it passed, else the
 * failed check. An error it cannot read past is a failure too: unknown is
 * never a pass.
 */
async function refusal(
  check: string,
  run: () => Promise<unknown>,
): Promise<CheckResult | undefined> {
  try {
    await run();
    return undefined;
  } catch (error) {
    if (error instanceof CloneRefusedError || error instanceof TargetRoleError) {
      return refused(error, check);
    }
    return {
      check,
      status: 'fail',
      detail: `could not check: ${error instanceof Error ? error.message : String(error)}`,
      fix: "give the admin read access to the catalog (pg_roles, pg_auth_members, pg_db_role_setting) and this secret's versions",
    };
  }
}

/**
 * Where the engine keeps no mark (CockroachDB), the rotation proves the
 * clone by possession: doctor logs in the same way, with the versions the
 * secret holds now (AWSPREVIOUS, and AWSPENDING where a rotation is in flight).
 */
async function possessesNow(
  input: AlternatingInput,
  current: DatabaseSecret,
  pair: AlternatingPair,
): Promise<boolean> {
  const version = async (stage: 'AWSPREVIOUS' | 'AWSPENDING') => {
    const text = await input.secrets.getSecretString(input.secretId, { stage });
    return text === undefined ? undefined : parseDatabaseSecret(text, { label: stage });
  };
  return possessedBy(
    (secret) => input.database.login(loginTarget(secret, input.config), input.limits),
    pair.next,
    current,
    { previous: await version('AWSPREVIOUS'), pending: await version('AWSPENDING') },
  );
}

/** The roles `role` belongs to, directly or not, which its clone would get too. */
async function memberOf(session: DatabaseSession, role: string): Promise<string[]> {
  const rows = await session.query<{ rolname: string }>(
    `SELECT r.rolname::text AS rolname FROM pg_catalog.pg_roles r
      WHERE r.rolname <> $1 AND pg_catalog.pg_has_role($1, r.rolname, 'MEMBER')
      ORDER BY 1`,
    [role],
  );
  return rows.map((row) => row.rolname);
}

/** Whether the admin may do what alternating mode asks of it, on this engine. */
async function adminCheck(
  session: DatabaseSession,
  adminName: string,
  engine: ServerEngine,
  pair: AlternatingPair,
  memberAlready: boolean,
): Promise<CheckResult> {
  const [row] = await session.query<{
    superuser: boolean;
    createrole: boolean;
    admin_of: boolean;
    version_num: number;
  }>(
    `SELECT r.rolsuper AS superuser, r.rolcreaterole AS createrole,
       pg_catalog.pg_has_role($1, $2, 'MEMBER WITH ADMIN OPTION') AS admin_of,
       pg_catalog.current_setting('server_version_num')::int AS version_num
     FROM pg_catalog.pg_roles r WHERE r.rolname = $1`,
    [adminName, pair.original],
  );
  const superuser = row?.superuser === true;
  const createRole = row?.createrole === true;
  // CockroachDB v23.2+: CREATEROLE alone grants membership in any non-admin role.
  const crdb = engine === 'cockroachdb' ? await createRoleGrants(session, adminName) : undefined;
  // PostgreSQL before 16: CREATEROLE alone grants any non-superuser role.
  const pgCreateRoleGrants = engine === 'postgres' && (row?.version_num ?? 0) < 160000;
  const canGrant =
    superuser ||
    row?.admin_of === true ||
    memberAlready ||
    (createRole && (crdb?.grants === true || pgCreateRoleGrants));
  const statements =
    engine === 'postgres'
      ? 'CREATE ROLE ... IN ROLE, ALTER ROLE (password, CONNECTION LIMIT, VALID UNTIL, SET role)'
      : 'CREATE USER, GRANT, ALTER ROLE (password, VALID UNTIL); CockroachDB also needs CREATELOGIN, which the first rotation proves';
  if ((superuser || createRole) && canGrant) {
    const how =
      row?.admin_of === true || superuser ? 'ADMIN OPTION' : (crdb?.why ?? 'ADMIN OPTION');
    return {
      check: 'clone admin',
      status: 'pass',
      detail: `${adminName} may run ${statements}${memberAlready ? '' : ` and make ${pair.clone} a member of ${pair.original} (${how})`}`,
    };
  }
  const admin = pg.escapeIdentifier(adminName);
  const original = pg.escapeIdentifier(pair.original);
  if (!createRole && !superuser) {
    return {
      check: 'clone admin',
      status: 'fail',
      detail: `${adminName} has no CREATEROLE: it cannot create or alter ${pair.clone}`,
      fix: `ALTER ROLE ${admin} CREATEROLE${engine === 'cockroachdb' && crdb?.grants === false ? `; ${crdb.fix}` : ''}`,
    };
  }
  return {
    check: 'clone admin',
    status: 'fail',
    detail:
      engine === 'cockroachdb'
        ? `${adminName} cannot make ${pair.clone} a member of ${pair.original}: ${crdb?.why ?? ''}`
        : `${adminName} has no ADMIN OPTION on ${pair.original}: it cannot make ${pair.clone} a member of it (CREATEROLE is not enough on PostgreSQL 16+)`,
    // PostgreSQL 16+: ADMIN OPTION without INHERIT or SET gives the admin no
    // access to the role's data. CockroachDB has no such options.
    fix:
      engine === 'cockroachdb' && crdb?.grants === false
        ? crdb.fix
        : `GRANT ${original} TO ${admin} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE`,
  };
}
