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
 * - the clone, if it exists, is a member of the original;
 * - the admin may create the clone, grant it the original, and alter it.
 *
 * @module
 */
import pg from 'pg';
import type { DatabaseSession } from '../../lambda/adapters/database.js';
import type { RotationConfig } from '../../lambda/config.js';
import { type AlternatingPair, alternatingPair } from '../../lambda/core/alternating.js';
import type { DatabaseSecret } from '../../lambda/core/secret.js';
import { ENGINES, type ServerEngine } from '../../lambda/engines/detect.js';
import { CLONE_FIXES, CLONE_PROBLEMS, CloneNameError } from '../../lambda/errors.js';
import { createRoleGrants } from '../workflow/cockroach.js';
import type { CheckResult } from './result.js';

/** Runs the alternating checks; `add` reports each. */
export async function alternatingChecks(
  admin: DatabaseSession,
  adminName: string,
  engine: ServerEngine,
  secret: DatabaseSecret,
  config: RotationConfig,
  add: (result: CheckResult) => CheckResult,
): Promise<void> {
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
  const original = await rules.roleFacts(admin, pair.original, adminName);
  if (original === undefined) {
    add({
      check: 'clone original',
      status: 'fail',
      detail: `${pair.original} ${CLONE_PROBLEMS['original-missing']}`,
      fix: CLONE_FIXES['original-missing'],
    });
    return;
  }
  const privileged = [...original.attributes, ...original.privilegedRoles];
  const inherited = await memberOf(admin, pair.original);
  add(
    privileged.length > 0
      ? {
          check: 'clone original',
          status: 'fail',
          detail: `${pair.clone} ${CLONE_PROBLEMS['privileged-original']} (${privileged.join(', ')})`,
          fix: CLONE_FIXES['privileged-original'],
        }
      : {
          check: 'clone original',
          status: 'pass',
          detail: `${pair.clone} would get every privilege granted to ${pair.original}, now or later${
            inherited.length > 0 ? `, and through it the roles ${inherited.join(', ')}` : ''
          }; ${
            rules.cloneActsAs === 'default-role'
              ? `its sessions run as ${pair.original} (what it creates is owned by ${pair.original})`
              : `CockroachDB refuses a role default: what it creates is owned by ${pair.clone} with ALL granted to ${pair.original} (run SET ROLE ${pair.original} for ${pair.original} to own it)`
          }`,
        },
  );
  const clone = await rules.roleFacts(admin, pair.clone, adminName);
  const member =
    clone !== undefined && (await rules.actsAsMember(admin, pair.clone, pair.original));
  add(
    clone === undefined
      ? {
          check: 'clone',
          status: 'pass',
          detail: `${pair.clone} does not exist yet: the first alternating rotation creates it`,
        }
      : member
        ? {
            check: 'clone',
            status: clone.attributes.length > 0 ? 'fail' : 'pass',
            detail:
              clone.attributes.length > 0
                ? `${pair.clone} ${CLONE_PROBLEMS['privileged-clone']} (${clone.attributes.join(', ')})`
                : `${pair.clone} exists and is a member of ${pair.original}`,
            ...(clone.attributes.length > 0 ? { fix: CLONE_FIXES['privileged-clone'] } : {}),
          }
        : {
            check: 'clone',
            status: pair.current === pair.clone ? 'warn' : 'fail',
            detail: `${pair.clone} ${CLONE_PROBLEMS['not-a-clone']}`,
            fix: CLONE_FIXES['not-a-clone'],
          },
  );
  add(await adminCheck(admin, adminName, engine, pair, clone !== undefined && member));
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
