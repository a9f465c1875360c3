/**
 * RDS and Aurora PostgreSQL's restricted password management: with the
 * parameter `rds.restrict_password_commands` on, only members of the role
 * `rds_password` may set a password (CREATE ROLE ... PASSWORD, ALTER ROLE
 * ... PASSWORD, VALID UNTIL), their own included (AWS's RDS user guide,
 * "Delegating and controlling user password management"). Read from the
 * server, never assumed: a server without the setting is not RDS.
 *
 * @module
 */
import pg from 'pg';
import type { DatabaseSession } from '../adapters/database.js';
import { InsufficientPrivilegeError } from '../errors.js';

/** The RDS parameter. */
export const RESTRICT_PASSWORD_SETTING = 'rds.restrict_password_commands';

/** The role a password changer needs while the parameter is on. */
export const RDS_PASSWORD_ROLE = 'rds_password';

/** PostgreSQL's spellings of a boolean setting (parse_bool), by value. */
const BOOLEAN_SPELLINGS = {
  on: true,
  true: true,
  yes: true,
  '1': true,
  off: false,
  false: false,
  no: false,
  '0': false,
} as const satisfies Record<string, boolean>;

/**
 * What the server says about restricted password management, for the
 * session's role:
 * - `absent`: no such setting (not RDS), or it is off;
 * - `member`: on, and the role is a member of `rds_password`;
 * - `not-member`: on, and the role is not a member of an existing
 *   `rds_password`;
 * - `no-role`: on, but no `rds_password` role exists (the setting was set
 *   by hand on a server that is not RDS): no GRANT can be proven to help;
 * - `unknown`: the setting holds a value that is not a boolean.
 */
export type PasswordRestriction =
  | { readonly kind: 'absent' | 'member' | 'not-member' | 'no-role' }
  | { readonly kind: 'unknown'; readonly value: string };

/** Reads {@link PasswordRestriction} with the session that would set the password. */
export async function passwordRestriction(session: DatabaseSession): Promise<PasswordRestriction> {
  const value = await session.setting(RESTRICT_PASSWORD_SETTING);
  if (value === undefined) return { kind: 'absent' };
  const on = (BOOLEAN_SPELLINGS as Record<string, boolean | undefined>)[value.trim().toLowerCase()];
  if (on === undefined) return { kind: 'unknown', value };
  if (!on) return { kind: 'absent' };
  const [row] = await session.query<{ member: boolean | null }>(
    "SELECT pg_catalog.pg_has_role(current_user, oid, 'MEMBER') AS member FROM pg_catalog.pg_roles WHERE rolname = $1",
    [RDS_PASSWORD_ROLE],
  );
  // No row: there is no such role, and advising a GRANT of it would be a guess.
  if (row === undefined) return { kind: 'no-role' };
  return { kind: row.member === true ? 'member' : 'not-member' };
}

/** The statement that lets `role` set passwords under the restriction. */
export function rdsPasswordGrant(role: string): string {
  return `GRANT ${pg.escapeIdentifier(RDS_PASSWORD_ROLE)} TO ${pg.escapeIdentifier(role)}`;
}

/**
 * Runs a statement that sets a password. When the server refuses it for
 * privilege (42501) and, asked afterwards, proves that the restriction is on
 * and the session's role is not in `rds_password`, the error says so and
 * gives the GRANT; otherwise the server's refusal is thrown as it was.
 */
export async function settingPassword<T>(
  session: DatabaseSession,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof InsufficientPrivilegeError)) throw error;
    // Facts or nothing: if they cannot be read, the original error stands.
    const restriction = await passwordRestriction(session).catch(() => undefined);
    if (restriction?.kind !== 'not-member') throw error;
    throw new InsufficientPrivilegeError(error.username, error.where, {
      cause: error.cause,
      rdsPasswordGrant: rdsPasswordGrant(error.username),
    });
  }
}
