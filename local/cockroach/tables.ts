/**
 * CockroachDB's table privileges where they differ from PostgreSQL's, for
 * what alternating users rely on: on CockroachDB a role that is not the
 * owner may DROP a table with the DROP privilege (pkg/sql/drop_table.go,
 * "Privileges: DROP on table. Notes: postgres allows only the table owner
 * to DROP a table") and ALTER it with the CREATE privilege
 * (pkg/sql/alter_table.go, "Privileges: CREATE on table"), and `ALL` on a
 * table holds both (TablePrivileges in pkg/sql/privilege/privilege.go:
 * ALL, BACKUP, CREATE, DROP, SELECT, INSERT, DELETE, UPDATE, ZONECONFIG).
 * In PostgreSQL only the owner may.
 *
 * | statement | who may, on CockroachDB | source |
 * | --- | --- | --- |
 * | `DROP TABLE [IF EXISTS] t [CASCADE\|RESTRICT]` | the owner, a member of the owner, an admin, or a holder of DROP (ALL) on t | pkg/sql/drop_table.go |
 * | `ALTER TABLE [IF EXISTS] t <action>` | the owner, a member of the owner, an admin, or a holder of CREATE (ALL) on t | pkg/sql/alter_table.go |
 *
 * How the double knows a role holds ALL: `GRANT ALL ON t` and `ALTER
 * DEFAULT PRIVILEGES ... GRANT ALL ON TABLES` reach PostgreSQL as they are
 * and give every one of PostgreSQL's table privileges; the CockroachDB
 * privileges a client can grant (SELECT, INSERT, UPDATE, DELETE) never add
 * up to those, so a role holding all of them holds CockroachDB's ALL.
 *
 * Not modelled: CREATE or DROP granted alone (PostgreSQL has no such table
 * privilege to hold them, so the double keeps PostgreSQL's answer);
 * several tables in one DROP; ALTER TABLE ... OWNER TO, SET SCHEMA and
 * RENAME (which CockroachDB checks further); sequences, views and types.
 * These statements go to PostgreSQL unchanged.
 *
 * @module
 */
import { isIdentifier, isName, literal, type Token } from './sql.js';

/** What the table statements need from the session. */
export interface TableStatementContext {
  readonly user: string;
  /** The per-session secret the helper procedure checks. */
  readonly token: string;
}

/** PostgreSQL's table privileges that `GRANT ALL` gives (MAINTAIN, PostgreSQL 17+, aside). */
const POSTGRES_TABLE_ALL = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'TRUNCATE',
  'REFERENCES',
  'TRIGGER',
] as const;

/**
 * The helper procedure (SECURITY DEFINER, run as the double's admin,
 * guarded by the session token): CockroachDB's privilege check, then the
 * statement, rebuilt from the table's oid; or CockroachDB's error.
 */
export function tableSetupSql(): string[] {
  const all = `ARRAY[${POSTGRES_TABLE_ALL.map(literal).join(', ')}]`;
  return [
    `CREATE PROCEDURE pg_temp.crdb_table_ddl(p_token text, p_user text, p_kind text, p_name text, p_table regclass, p_if_exists boolean, p_rest text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $crdb$
DECLARE
  v_owner oid;
  v_relname text;
  v_needed text := CASE p_kind WHEN 'drop' THEN 'DROP' ELSE 'CREATE' END;
  v_allowed boolean;
BEGIN
  IF p_token IS DISTINCT FROM (SELECT t.token FROM pg_temp.crdb_double_token t) THEN
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'cockroach double: internal procedure';
  END IF;
  IF p_table IS NULL THEN
    IF p_if_exists THEN
      RETURN;
    END IF;
    RAISE EXCEPTION USING ERRCODE = '42P01', MESSAGE = format('relation "%s" does not exist', p_name);
  END IF;
  SELECT c.relowner, c.relname INTO v_owner, v_relname FROM pg_class c WHERE c.oid = p_table;
  v_allowed := pg_has_role(p_user, v_owner, 'MEMBER')
    OR pg_has_role(p_user, 'admin', 'MEMBER')
    OR (SELECT bool_and(has_table_privilege(p_user, p_table, p)) FROM unnest(${all}) AS p);
  IF NOT v_allowed THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('user %s does not have %s privilege on relation %s', p_user, v_needed, v_relname);
  END IF;
  IF p_kind = 'drop' THEN
    EXECUTE format('DROP TABLE %s %s', p_table, p_rest);
  ELSE
    EXECUTE format('ALTER TABLE %s %s', p_table, p_rest);
  END IF;
END
$crdb$`,
  ];
}

/** Reads a 1- to 3-part dotted name at `index`; returns the index after it, or -1. */
function dottedNameEnd(sig: readonly Token[], index: number): number {
  let i = index;
  for (let parts = 0; parts < 3; parts++) {
    if (!isIdentifier(sig[i])) return -1;
    if (sig[i + 1]?.text !== '.') return i + 1;
    i += 2;
  }
  return -1;
}

/** ALTER TABLE actions CockroachDB checks beyond CREATE on the table: left to PostgreSQL. */
const OTHER_CHECKS = ['owner', 'schema', 'rename'] as const;

/**
 * Rewrites `DROP TABLE` and `ALTER TABLE` of one table into the helper
 * procedure, or returns `undefined` (any other statement, or one the
 * double leaves to PostgreSQL; see the module comment).
 */
export function rewriteTableStatement(
  text: string,
  sig: readonly Token[],
  ctx: TableStatementContext,
): string | undefined {
  const first = sig[0]?.value;
  const kind = first === 'drop' ? 'drop' : first === 'alter' ? 'alter' : undefined;
  if (kind === undefined || !isName(sig[1], 'table')) return undefined;
  if (sig.some((t) => t.kind === 'param')) return undefined;
  let i = 2;
  let ifExists = false;
  if (isName(sig[i], 'if') && isName(sig[i + 1], 'exists')) {
    ifExists = true;
    i += 2;
  }
  if (kind === 'alter' && isName(sig[i], 'only')) i++;
  const end = dottedNameEnd(sig, i);
  const nameStart = sig[i];
  const nameLast = sig[end - 1];
  if (end < 0 || !nameStart || !nameLast) return undefined;
  const rest = sig.slice(end);
  if (kind === 'drop') {
    const behaviour = rest[0];
    if (rest.length > 1 || (behaviour && !['cascade', 'restrict'].includes(behaviour.value))) {
      return undefined;
    }
  } else if (rest.length === 0 || rest.some((t) => OTHER_CHECKS.some((w) => isName(t, w)))) {
    return undefined;
  }
  const name = text.slice(nameStart.start, nameLast.end);
  const restText = rest.length === 0 ? '' : text.slice(rest[0]?.start, rest.at(-1)?.end);
  return `CALL pg_temp.crdb_table_ddl(${[
    literal(ctx.token),
    literal(ctx.user),
    literal(kind),
    literal(name),
    `to_regclass(${literal(name)})`,
    String(ifExists),
    literal(restText),
  ].join(', ')})`;
}
