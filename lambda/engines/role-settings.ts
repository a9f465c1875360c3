/**
 * Per-role session defaults (`ALTER ROLE r [IN DATABASE d] SET name = value`)
 * copied from the original to its clone, so that a client sees the same
 * session whichever of the two it logs in as: PostgreSQL and CockroachDB
 * apply the defaults of the role that logged in, never those of a role it
 * is a member of or sets itself to. Both keep them in
 * `pg_catalog.pg_db_role_setting` as `name=value` text.
 *
 * @module
 */
import pg from 'pg';
import type { DatabaseSession } from '../adapters/database.js';
import type { ClonePair } from './engine.js';

/**
 * Settings whose stored text is a list (PostgreSQL's GUC_LIST_QUOTE): set
 * back as one literal each element, as pg_dump does; one literal for the
 * whole text would make a single element of it.
 */
const LIST_SETTINGS = new Set([
  'search_path',
  'temp_tablespaces',
  'session_preload_libraries',
  'local_preload_libraries',
]);

/** Never copied: the clone's own `role` default is how it acts as the original. */
const NOT_COPIED = new Set(['role']);

/** One role's defaults: database name (`''` for every database) to setting name to value. */
type Defaults = Map<string, Map<string, string>>;

/**
 * Splits a stored list the way PostgreSQL's SplitIdentifierString does:
 * commas between elements, spaces trimmed, `"..."` quoting with `""` for a quote.
 */
export function splitSettingList(text: string): string[] {
  const items: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (text[i] === ' ') i++;
    let item = '';
    if (text[i] === '"') {
      i++;
      while (i < text.length) {
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            item += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        item += text[i];
        i++;
      }
      while (i < text.length && text[i] !== ',') i++;
    } else {
      const end = text.indexOf(',', i);
      item = text.slice(i, end === -1 ? text.length : end).trim();
      i = end === -1 ? text.length : end;
    }
    items.push(item);
    if (text[i] === ',') i++;
  }
  return items;
}

/** Reads the defaults of each role named. */
async function readDefaults(
  session: DatabaseSession,
  roles: readonly string[],
): Promise<Map<string, Defaults>> {
  const rows = await session.query<{ role: string; db: string | null; config: string[] | null }>(
    `SELECT r.rolname::text AS role, d.datname::text AS db, s.setconfig AS config
       FROM pg_catalog.pg_db_role_setting s
       JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
       LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
      WHERE r.rolname = ANY($1::text[])`,
    [[...roles]],
  );
  const out = new Map<string, Defaults>(roles.map((role) => [role, new Map()]));
  for (const row of rows) {
    const defaults = out.get(row.role);
    if (defaults === undefined) continue;
    const db = row.db ?? '';
    const settings = defaults.get(db) ?? new Map<string, string>();
    for (const entry of Array.isArray(row.config) ? row.config : []) {
      const at = entry.indexOf('=');
      if (at <= 0) continue;
      const name = entry.slice(0, at).toLowerCase();
      if (!NOT_COPIED.has(name)) settings.set(name, entry.slice(at + 1));
    }
    defaults.set(db, settings);
  }
  return out;
}

/** `ALTER ROLE <role> [IN DATABASE <db>]`. */
function alterPrefix(role: string, db: string): string {
  return `ALTER ROLE ${pg.escapeIdentifier(role)}${db === '' ? '' : ` IN DATABASE ${pg.escapeIdentifier(db)}`}`;
}

/** A setting name as SQL: each dotted part quoted (custom settings are `prefix.name`). */
const settingName = (name: string) => name.split('.').map(pg.escapeIdentifier).join('.');

/** What {@link planRoleSettings} found to change: one statement each, and the names. */
export interface SettingsPlan {
  readonly statements: readonly string[];
  readonly names: readonly string[];
}

/**
 * Of `names`, those a session cannot override with SET (pg_settings'
 * context `superuser`, e.g. `log_statement`): as a per-role setting they
 * are an operator's limit on the role, not a default. A name the server
 * does not list (a custom `prefix.name`) is a default.
 */
async function limitSettings(
  session: DatabaseSession,
  names: readonly string[],
): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await session.query<{ name: string }>(
    `SELECT name::text AS name FROM pg_catalog.pg_settings
      WHERE name = ANY($1::text[]) AND context = 'superuser' ORDER BY 1`,
    [[...new Set(names)]],
  );
  return rows.map((row) => row.name);
}

/**
 * How to make the clone's per-role defaults the original's (every
 * database, all but `role`): set what differs, reset what the original
 * does not have. Read-only, run with the checks before any change.
 *
 * @returns the statements, or the names of the settings it refuses to
 *   touch: settings a session cannot override (see {@link limitSettings})
 *   that differ between the two, which a rotation would widen, clear or
 *   impose; the operator decides those by hand.
 */
export async function planRoleSettings(
  session: DatabaseSession,
  { original, clone }: ClonePair,
): Promise<SettingsPlan & { readonly refused: readonly string[] }> {
  const defaults = await readDefaults(session, [original, clone]);
  const want = defaults.get(original) ?? new Map();
  const have = defaults.get(clone) ?? new Map();
  const statements: string[] = [];
  const names: string[] = [];
  for (const db of new Set([...want.keys(), ...have.keys()])) {
    const wanted = want.get(db) ?? new Map<string, string>();
    const had = have.get(db) ?? new Map<string, string>();
    for (const [name, value] of wanted) {
      if (had.get(name) === value) continue;
      const values = LIST_SETTINGS.has(name) ? splitSettingList(value) : [value];
      statements.push(
        `${alterPrefix(clone, db)} SET ${settingName(name)} TO ${values.map((v) => pg.escapeLiteral(v)).join(', ')}`,
      );
      names.push(name);
    }
    for (const name of had.keys()) {
      if (wanted.has(name)) continue;
      statements.push(`${alterPrefix(clone, db)} RESET ${settingName(name)}`);
      names.push(name);
    }
  }
  return { statements, names, refused: await limitSettings(session, names) };
}

/** Runs what {@link planRoleSettings} found. */
export async function applyRoleSettings(
  session: DatabaseSession,
  plan: SettingsPlan,
): Promise<void> {
  for (const statement of plan.statements) await session.execute(statement);
}
