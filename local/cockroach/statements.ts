/**
 * Rewrites the SQL a client sends through the double into SQL the backing
 * PostgreSQL runs so that the client sees what CockroachDB would answer.
 *
 * Every answer, including CockroachDB's refusals, is produced by PostgreSQL
 * itself from the rewritten statement (a refusal becomes a call to a
 * procedure that raises the error). That keeps the wire protocol exactly in
 * step for both the simple and the extended (Parse/Bind/Execute) protocol,
 * with bound parameters, inside transactions, with no response synthesized
 * by the double: the double only changes statement text. The helper
 * routines live in the backend session's `pg_temp` schema (see
 * {@link sessionSetupSql}).
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { hashPasswordBcrypt } from './bcrypt.js';
import {
  type Caller,
  type CockroachError,
  checkClusterSettingsTablePrivilege,
  checkPasswordHashFormatFunctionSql,
  checkSettingPrivilege,
  checkSystemUsersPrivilege,
  decideAlterPassword,
  decideCreateRole,
  normalizeName,
  type PasswordStorage,
  parseSettingValue,
  SET_CLUSTER_SETTING_IN_TRANSACTION,
  SETTING_DEFINITIONS,
  SETTINGS,
  type SettingValue,
  SYSTEM_PRIVILEGES,
  type SystemPrivilege,
  settingText,
  shownSettingValue,
  storedMethod,
  type TargetRole,
  unknownSettingForSet,
  unknownSettingForShow,
} from './behaviours.js';
import { rewriteRoleStatement, roleSetupSql } from './roles.js';
import { hashPasswordScram } from './scram.js';
import {
  hasAlias,
  highestParameter,
  identifier,
  isIdentifier,
  isName,
  literal,
  significant,
  splitStatements,
  type Token,
  tokenize,
} from './sql.js';
import type { ClusterSettings, NewDoubleEvent, SystemPrivileges } from './state.js';
import { rewriteTableStatement, tableSetupSql } from './tables.js';

/** A row of the double's `system.users`. */
export interface UserRow {
  readonly username: string;
  readonly hashedPassword: string | null;
  readonly isRole: boolean;
  readonly userId: number;
}

/** What the rewriter needs to know about the session and the cluster. */
export interface RewriteContext {
  /** The authenticated user. */
  readonly user: string;
  /** The user's privileges now (grants can change during a session). */
  caller(): Promise<Caller>;
  /** What the double knows of a role. */
  role(name: string): Promise<TargetRole>;
  /** The roles `name` belongs to, directly or not, with ADMIN OPTION or not (roles.ts). */
  memberships(name: string): Promise<ReadonlyMap<string, boolean>>;
  /** Every role, for `system.users`. */
  users(): Promise<UserRow[]>;
  /**
   * Keeps a hash PostgreSQL cannot hold (bcrypt, an undecodable SCRAM
   * string) for a role the rewritten statement gives PASSWORD NULL, or
   * forgets it (`undefined`) when PostgreSQL will hold the new one.
   */
  keepHash(role: string, hash: string | undefined): void;
  readonly settings: ClusterSettings;
  readonly privileges: SystemPrivileges;
  readonly version: string;
  /** The secret the password procedure checks, so that clients cannot call it. */
  readonly token: string;
  /** I, T or E: the backend's transaction status at the last ReadyForQuery. */
  transactionStatus(): string;
  record(event: NewDoubleEvent): void;
  /**
   * Column names longer than PostgreSQL's 63-byte identifiers, by the short
   * alias used in their place; the session restores them in RowDescription.
   */
  readonly longColumnNames: Map<string, string>;
}

/** PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes. */
const MAX_IDENTIFIER_BYTES = 63;

/** A new random token for {@link RewriteContext.token}. */
export function newSessionToken(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The statements run (as the admin) when a backend session opens, before
 * `SET SESSION AUTHORIZATION`:
 *
 * - `check_password_hash_format(bytea)`: CockroachDB's builtin, in PL/pgSQL;
 * - `crdb_raise(...)`: raises a CockroachDB error with its SQLSTATE;
 * - `crdb_noop()`: for statements CockroachDB accepts that need no work here;
 * - `crdb_set_password(token, role, verifier)`: SECURITY DEFINER, so that a
 *   password change CockroachDB allows is not refused by PostgreSQL's own
 *   rules (PostgreSQL 16+ wants ADMIN OPTION on the role for CREATEROLE
 *   users). It checks a per-session token kept in a table the user cannot
 *   read, so clients cannot call it themselves.
 */
export function sessionSetupSql(
  user: string,
  token: string,
  clientParameters: readonly string[] = [],
): string {
  return [
    checkPasswordHashFormatFunctionSql('pg_temp'),
    `CREATE PROCEDURE pg_temp.crdb_raise(p_code text, p_message text, p_hint text, p_params text[])
LANGUAGE plpgsql AS $crdb$
BEGIN
  IF p_hint = '' THEN
    RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_message;
  END IF;
  RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_message, HINT = p_hint;
END
$crdb$`,
    `CREATE PROCEDURE pg_temp.crdb_noop() LANGUAGE plpgsql AS $crdb$ BEGIN END $crdb$`,
    'CREATE TABLE pg_temp.crdb_double_token (token text NOT NULL)',
    `INSERT INTO pg_temp.crdb_double_token VALUES (${literal(token)})`,
    `CREATE PROCEDURE pg_temp.crdb_set_password(p_token text, p_role text, p_verifier text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $crdb$
BEGIN
  IF p_token IS DISTINCT FROM (SELECT t.token FROM pg_temp.crdb_double_token t) THEN
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'cockroach double: internal procedure';
  END IF;
  IF p_verifier IS NULL THEN
    EXECUTE format('ALTER ROLE %I PASSWORD NULL', p_role);
  ELSE
    EXECUTE format('ALTER ROLE %I PASSWORD %L', p_role, p_verifier);
  END IF;
END
$crdb$`,
    ...roleSetupSql(),
    ...tableSetupSql(),
    // CREATE USER/ROLE as CockroachDB allows it (checked by the double),
    // whatever PostgreSQL's own rules; the creator gets ADMIN OPTION on the
    // new role as PostgreSQL 16+ gives it to a CREATEROLE creator, so that
    // it can GRANT and DROP what it created there too.
    `CREATE PROCEDURE pg_temp.crdb_create_role(p_token text, p_role text, p_login boolean, p_verifier text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $crdb$
BEGIN
  IF p_token IS DISTINCT FROM (SELECT t.token FROM pg_temp.crdb_double_token t) THEN
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'cockroach double: internal procedure';
  END IF;
  EXECUTE format('CREATE ROLE %I %s PASSWORD %s', p_role,
    CASE WHEN p_login THEN 'LOGIN' ELSE 'NOLOGIN' END,
    CASE WHEN p_verifier IS NULL THEN 'NULL' ELSE quote_literal(p_verifier) END);
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
    EXECUTE format('GRANT %I TO %I WITH ADMIN OPTION, INHERIT FALSE, SET FALSE', p_role, session_user);
  END IF;
END
$crdb$`,
    `SET SESSION AUTHORIZATION ${identifier(user)}`,
    perRoleDefaultsSql(user, clientParameters),
  ].join(';\n');
}

/**
 * Applies the per-role session defaults (`ALTER ROLE ... SET`) the way
 * CockroachDB does when a session starts, which SET SESSION AUTHORIZATION
 * does not (PostgreSQL applies them only at login). CockroachDB's ALTER ROLE
 * page, "Session variable precedence": connection string parameters first,
 * then the role's per-database defaults, the role's all-database defaults,
 * ALTER ROLE ALL IN DATABASE, ALTER ROLE ALL; `root` is exempt from the
 * last three. Applied lowest first, so each later one wins; `role` never
 * (CockroachDB refuses it as a default, see roles.ts).
 */
function perRoleDefaultsSql(user: string, clientParameters: readonly string[]): string {
  const skipped = ['role', ...clientParameters.map((name) => name.toLowerCase())];
  return `DO $crdb$
DECLARE entry text;
BEGIN
  FOR entry IN
    SELECT e FROM pg_catalog.pg_db_role_setting s, LATERAL unnest(s.setconfig) WITH ORDINALITY AS c(e, n)
     WHERE (s.setrole = 0 AND ${literal(user)} <> 'root'
            OR s.setrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = ${literal(user)}))
       AND s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
     ORDER BY s.setrole <> 0, s.setdatabase <> 0, n
  LOOP
    IF lower(split_part(entry, '=', 1)) <> ALL (${arrayLiteral(skipped)}::text[]) THEN
      PERFORM pg_catalog.set_config(split_part(entry, '=', 1), substr(entry, strpos(entry, '=') + 1), false);
    END IF;
  END LOOP;
END
$crdb$`;
}

/** A text array literal of `items`, each quoted. */
function arrayLiteral(items: readonly string[]): string {
  return `ARRAY[${items.map((item) => literal(item)).join(', ')}]`;
}

/** A statement that makes PostgreSQL raise `error`, keeping the statement's `$n` parameters. */
export function raiseStatement(error: CockroachError, parameters: number): string {
  const params =
    parameters === 0
      ? 'ARRAY[]::text[]'
      : `ARRAY[${Array.from({ length: parameters }, (_, i) => `$${i + 1}::text`).join(', ')}]`;
  return `CALL pg_temp.crdb_raise(${literal(error.code)}, ${literal(error.message)}, ${literal(error.hint ?? '')}, ${params})`;
}

const NOOP = 'CALL pg_temp.crdb_noop()';

/** CockroachDB role options with no PostgreSQL equivalent (CREATEROLE has one). */
const ROLE_OPTIONS: readonly SystemPrivilege[] = [
  'CREATELOGIN',
  'VIEWCLUSTERSETTING',
  'MODIFYCLUSTERSETTING',
  'MODIFYSQLCLUSTERSETTING',
];

/**
 * Statements the double refuses because they would undo how it works: the
 * backend session is the admin's, switched to the user, so resetting the
 * session authorization would give the client the admin's rights, and
 * DISCARD would drop the helper routines.
 */
const GUARDS: readonly { test: (tokens: readonly Token[]) => boolean; what: string }[] = [
  {
    what: 'the session authorization',
    test: (t) =>
      t.some((x, i) => isName(x, 'session') && isName(t[i + 1], 'authorization')) ||
      (!isName(t[0], 'show') && t.some((x) => isName(x, 'session_authorization'))) ||
      t.some((x) => x.kind === 'string' && x.value.toLowerCase() === 'session_authorization'),
  },
  { what: 'DISCARD', test: (t) => isName(t[0], 'discard') },
  {
    what: "the double's internal routines",
    test: (t) => t.some((x) => isName(x, 'pg_temp') || /^pg_temp_\d+$/.test(x.value)),
  },
];

/** Reads a dotted name (a.b.c) starting at `index`; returns it and the index after it. */
function dottedName(tokens: readonly Token[], index: number): { name: string; next: number } {
  const parts: string[] = [];
  let i = index;
  while (isIdentifier(tokens[i])) {
    parts.push(tokens[i]?.value ?? '');
    if (tokens[i + 1]?.text !== '.') {
      i++;
      break;
    }
    i += 2;
  }
  return { name: parts.join('.'), next: i };
}

/**
 * The rows `reader` is shown: sensitive values masked as SHOW CLUSTER
 * SETTING masks them. crdb_internal.cluster_settings (which SHOW [ALL]
 * CLUSTER SETTINGS reads) looks each setting up with
 * `settings.LookupForDisplay(..., hasModify)`, the same MaskedSetting as
 * SHOW CLUSTER SETTING (pkg/sql/crdb_internal.go; pkg/settings/masked.go).
 */
function settingsRows(settings: ClusterSettings, reader: Caller): string {
  const redact = settings.get(SETTINGS.redactSensitive) === true;
  return settings
    .entries()
    .map(([name, value]) => {
      const definition = SETTING_DEFINITIONS[name];
      return `(${[
        literal(name),
        literal(settingText(shownSettingValue(reader, name, value, redact))),
        literal(settings.typeOf(name)),
        'true',
        literal(definition?.description ?? ''),
      ].join(', ')})`;
    })
    .join(', ');
}

/** `crdb_internal.cluster_settings` as an inline table (columns as in pkg/sql/crdb_internal.go). */
function clusterSettingsTable(settings: ClusterSettings, reader: Caller): string {
  return `(SELECT * FROM (VALUES ${settingsRows(settings, reader)}) AS s(variable, value, type, public, description))`;
}

/** `system.users` as an inline table (columns as in pkg/sql/catalog/systemschema/system.go). */
function systemUsersTable(rows: readonly UserRow[]): string {
  const values = rows.map(
    (r) =>
      `(${literal(r.username)}::text, ${
        r.hashedPassword === null
          ? 'NULL::bytea'
          : `decode(${literal(Buffer.from(r.hashedPassword, 'utf8').toString('hex'))}, 'hex')`
      }, ${r.isRole}, ${r.userId}::oid)`,
  );
  return `(SELECT * FROM (VALUES ${values.join(', ')}) AS u(username, "hashedPassword", "isRole", user_id))`;
}

/** A setting value as a typed SQL literal, as SHOW CLUSTER SETTING types it. */
function typedSettingLiteral(settings: ClusterSettings, name: string, value: SettingValue): string {
  switch (settings.typeOf(name)) {
    case 'b':
      return value ? 'true' : 'false';
    case 'i':
      return `${Number(value)}::int8`;
    default:
      return `${literal(String(value))}::text`;
  }
}

/** Rewrites client SQL for one session. */
export class StatementRewriter {
  readonly #ctx: RewriteContext;

  constructor(ctx: RewriteContext) {
    this.#ctx = ctx;
  }

  /** Rewrites the text of a simple Query message (one or more statements). */
  async rewriteQuery(sql: string): Promise<string> {
    const statements = splitStatements(sql);
    const rewritten: string[] = [];
    let changed = false;
    for (const statement of statements) {
      const out = await this.rewriteStatement(statement);
      if (out !== statement) changed = true;
      rewritten.push(out);
    }
    return changed ? rewritten.join(';\n') : sql;
  }

  /** Rewrites one statement (the text of a Parse message, or one of a Query's). */
  async rewriteStatement(text: string): Promise<string> {
    const tokens = tokenize(text);
    const sig = significant(tokens);
    const parameters = highestParameter(sig);
    const refuse = (error: CockroachError) => raiseStatement(error, parameters);
    for (const guard of GUARDS) {
      if (guard.test(sig)) {
        const error: CockroachError = {
          code: '0A000',
          message: `cockroach double: statements touching ${guard.what} are not forwarded`,
          source: 'local/cockroach/statements.ts',
        };
        this.#ctx.record({
          type: 'statement-refused',
          user: this.#ctx.user,
          code: error.code,
          message: error.message,
        });
        return refuse(error);
      }
    }
    const first = sig[0]?.value;
    if (first === 'show' && isName(sig[1], 'cluster')) return this.#show(sig, refuse);
    if (first === 'show' && isName(sig[1], 'all') && isName(sig[2], 'cluster')) {
      return this.#showAll(refuse);
    }
    if (
      (first === 'set' || first === 'reset') &&
      isName(sig[1], 'cluster') &&
      isName(sig[2], 'setting')
    ) {
      return this.#set(sig, refuse);
    }
    // CockroachDB folds role names even when quoted: fold them first, so
    // that every rule below, and PostgreSQL, sees the name as stored.
    const folded = foldRoleNames(text, sig);
    if (folded !== text) return this.rewriteStatement(folded);
    if (first === 'create' && (isName(sig[1], 'user') || isName(sig[1], 'role'))) {
      const rewritten = await this.#createRole(sig, refuse);
      if (rewritten !== undefined) return rewritten;
    }
    const role = await rewriteRoleStatement(text, sig, this.#ctx, refuse);
    if (role !== undefined) return role;
    if (first === 'alter' && (isName(sig[1], 'user') || isName(sig[1], 'role'))) {
      const rewritten =
        (await this.#alterPassword(sig, refuse)) ?? (await this.#alterRoleOptions(sig, refuse));
      if (rewritten !== undefined) return rewritten;
    }
    if ((first === 'grant' || first === 'revoke') && isName(sig[1], 'system')) {
      return this.#grantSystem(sig, first, refuse);
    }
    const table = rewriteTableStatement(text, sig, this.#ctx);
    if (table !== undefined) return table;
    return this.#replaceReferences(text, sig, refuse);
  }

  /** SHOW CLUSTER SETTING <name> (pkg/sql/show_cluster_setting.go). */
  async #show(sig: Token[], refuse: (e: CockroachError) => string): Promise<string> {
    if (isName(sig[2], 'settings')) return this.#showAll(refuse);
    if (!isName(sig[2], 'setting')) return refuse(unknownSettingForShow(''));
    const { name } = dottedName(sig, 3);
    const settings = this.#ctx.settings;
    const user = this.#ctx.user;
    if (!settings.has(name)) return refuse(unknownSettingForShow(name));
    const error = checkSettingPrivilege(await this.#ctx.caller(), name, 'show');
    if (error) {
      this.#ctx.record({
        type: 'cluster-setting',
        user,
        action: 'show',
        name,
        code: error.code,
        message: error.message,
      });
      return refuse(error);
    }
    const value = shownSettingValue(
      await this.#ctx.caller(),
      name,
      settings.get(name),
      settings.get(SETTINGS.redactSensitive) === true,
    );
    this.#ctx.record({
      type: 'cluster-setting',
      user,
      action: 'show',
      name,
      value: settingText(value),
    });
    return `SELECT ${typedSettingLiteral(settings, name, value)} AS ${this.#columnName(name)}`;
  }

  /**
   * A column named `name`: CockroachDB names SHOW CLUSTER SETTING's column
   * after the setting, which can be longer than PostgreSQL allows.
   */
  #columnName(name: string): string {
    if (Buffer.byteLength(name, 'utf8') <= MAX_IDENTIFIER_BYTES) return identifier(name);
    const alias = `crdb_double_column_${createHash('sha256').update(name).digest('hex').slice(0, 24)}`;
    this.#ctx.longColumnNames.set(alias, name);
    return identifier(alias);
  }

  /** SHOW [ALL] CLUSTER SETTINGS: every setting (pkg/sql/delegate/show_all_cluster_settings.go). */
  async #showAll(refuse: (e: CockroachError) => string): Promise<string> {
    const error = checkClusterSettingsTablePrivilege(await this.#ctx.caller());
    if (error) return refuse(error);
    return `SELECT variable, value, type AS setting_type, public, description FROM ${clusterSettingsTable(this.#ctx.settings, await this.#ctx.caller())} AS s`;
  }

  /** SET / RESET CLUSTER SETTING (pkg/sql/set_cluster_setting.go). */
  async #set(sig: Token[], refuse: (e: CockroachError) => string): Promise<string> {
    const reset = sig[0]?.value === 'reset';
    const { name, next } = dottedName(sig, 3);
    const settings = this.#ctx.settings;
    const user = this.#ctx.user;
    if (!settings.has(name)) return refuse(unknownSettingForSet(name));
    const error = checkSettingPrivilege(await this.#ctx.caller(), name, 'set');
    const record = (extra: { value?: string; code?: string; message?: string }) =>
      this.#ctx.record({
        type: 'cluster-setting',
        user,
        action: reset ? 'reset' : 'set',
        name,
        ...extra,
      });
    if (error) {
      record({ code: error.code, message: error.message });
      return refuse(error);
    }
    if (this.#ctx.transactionStatus() !== 'I') return refuse(SET_CLUSTER_SETTING_IN_TRANSACTION);
    let valueToken = sig[next];
    if (!reset) {
      if (valueToken?.text === '=' || isName(valueToken, 'to')) valueToken = sig[next + 1];
      const negative = valueToken?.text === '-';
      if (negative) valueToken = sig[next + 2];
      if (!valueToken) {
        return refuse({
          code: '42601',
          message: 'at or near "EOF": syntax error',
          source: 'pkg/sql/parser',
        });
      }
      if (!isName(valueToken, 'default')) {
        const kind =
          valueToken.kind === 'string'
            ? 'string'
            : valueToken.kind === 'number'
              ? 'number'
              : 'word';
        const parsed = parseSettingValue(name, settings.typeOf(name), {
          kind,
          value: `${negative ? '-' : ''}${valueToken.value}`,
        });
        if (typeof parsed === 'object') {
          record({ code: parsed.code, message: parsed.message });
          return refuse(parsed);
        }
        settings.set(name, parsed);
        record({ value: settingText(parsed) });
        return NOOP;
      }
    }
    settings.reset(name);
    record({ value: settingText(settings.get(name)) });
    return NOOP;
  }

  /**
   * ALTER USER|ROLE [IF EXISTS] <name> [WITH] PASSWORD <'...'|NULL>, and
   * nothing else (other role options go to PostgreSQL unchanged).
   */
  async #alterPassword(
    sig: Token[],
    refuse: (e: CockroachError) => string,
  ): Promise<string | undefined> {
    let i = 2;
    let ifExists = false;
    if (isName(sig[i], 'if') && isName(sig[i + 1], 'exists')) {
      ifExists = true;
      i += 2;
    }
    const nameToken = sig[i];
    if (!isIdentifier(nameToken)) return undefined;
    i++;
    if (isName(sig[i], 'with')) i++;
    if (!isName(sig[i], 'password')) return undefined;
    const passwordToken = sig[i + 1];
    if (sig.length !== i + 2 || !passwordToken) return undefined;
    let password: string | null;
    if (passwordToken.kind === 'string') password = passwordToken.value;
    else if (isName(passwordToken, 'null')) password = null;
    else return undefined;

    // Quoted or not, CockroachDB folds the name (pkg/sql/decodeusername/role_spec.go).
    const target = normalizeName(nameToken.value);
    const decision = decideAlterPassword({
      caller: await this.#ctx.caller(),
      target: await this.#ctx.role(target),
      ifExists,
      password,
      settings: this.#passwordSettings(),
    });
    const base = {
      type: 'alter-password',
      user: this.#ctx.user,
      target,
      password,
    } as const;
    const store = (hash: string | null, storedAs: 'pre-hashed' | 'cleartext' | 'null') => {
      this.#ctx.record({ ...base, outcome: 'stored', storedAs, stored: hash });
      return `CALL pg_temp.crdb_set_password(${literal(this.#ctx.token)}, ${literal(target)}, ${this.#postgresHash(target, hash)})`;
    };
    switch (decision.outcome) {
      case 'refuse':
        this.#ctx.record({
          ...base,
          outcome: 'refused',
          code: decision.error.code,
          message: decision.error.message,
        });
        return refuse(decision.error);
      case 'ignore':
        this.#ctx.record({ ...base, outcome: 'ignored' });
        return NOOP;
      case 'store-null':
        return store(null, 'null');
      case 'store-pre-hashed':
        return store(decision.hash, 'pre-hashed');
      case 'store-cleartext':
        if (password === null) return refuse(unreachableNull);
        return store(await hashCleartext(password, decision), 'cleartext');
    }
  }

  /** The password settings CREATE and ALTER read. */
  #passwordSettings() {
    const settings = this.#ctx.settings;
    return {
      storePreHashed: settings.bool(SETTINGS.storePreHashed),
      changeOwnPassword: settings.bool(SETTINGS.changeOwnPassword),
      passwordEncryption: settings.string(SETTINGS.passwordEncryption),
      scramCost: settings.int(SETTINGS.scramCost),
      bcryptCost: settings.int(SETTINGS.bcryptCost),
      minPasswordLength: settings.int(SETTINGS.minPasswordLength),
    };
  }

  /**
   * The hash to hand PostgreSQL for a role, as SQL: a SCRAM verifier it
   * parses, or NULL with the hash kept by the double (bcrypt, or a string
   * CockroachDB stored that PostgreSQL would take for a cleartext password).
   */
  #postgresHash(role: string, hash: string | null): string {
    const inPostgres = hash !== null && storedMethod(hash).method === 'scram';
    this.#ctx.keepHash(role, inPostgres || hash === null ? undefined : hash);
    return inPostgres ? literal(hash) : 'NULL';
  }

  /**
   * CREATE USER|ROLE [IF NOT EXISTS] <name> [WITH] [LOGIN|NOLOGIN] [PASSWORD
   * '<p>'|NULL] (pkg/sql/create_role.go). Other role options go to
   * PostgreSQL as they are (with the name folded).
   */
  async #createRole(
    sig: Token[],
    refuse: (e: CockroachError) => string,
  ): Promise<string | undefined> {
    let i = 2;
    let ifNotExists = false;
    if (isName(sig[i], 'if') && isName(sig[i + 1], 'not') && isName(sig[i + 2], 'exists')) {
      ifNotExists = true;
      i += 3;
    }
    const nameToken = sig[i];
    if (!isIdentifier(nameToken)) return undefined;
    i++;
    if (isName(sig[i], 'with')) i++;
    let login: boolean | undefined;
    let password: string | null | undefined;
    for (; i < sig.length; i++) {
      const t = sig[i];
      if (isName(t, 'login')) login = true;
      else if (isName(t, 'nologin')) login = false;
      else if (isName(t, 'password')) {
        const value = sig[i + 1];
        if (value?.kind === 'string') password = value.value;
        else if (isName(value, 'null')) password = null;
        else return undefined;
        i++;
      } else return undefined;
    }
    const existing = new Set((await this.#ctx.users()).map((u) => u.username));
    const decision = decideCreateRole({
      caller: await this.#ctx.caller(),
      name: nameToken.value,
      exists: (folded) => existing.has(folded),
      isRole: isName(sig[1], 'role'),
      ifNotExists,
      login,
      password,
      settings: this.#passwordSettings(),
    });
    const base = { type: 'create-role', user: this.#ctx.user } as const;
    switch (decision.outcome) {
      case 'refuse':
        this.#ctx.record({
          ...base,
          target: normalizeName(nameToken.value),
          outcome: 'refused',
          code: decision.error.code,
          message: decision.error.message,
        });
        return refuse(decision.error);
      case 'ignore':
        this.#ctx.record({ ...base, target: normalizeName(nameToken.value), outcome: 'ignored' });
        return NOOP;
      case 'create': {
        const storage = decision.password;
        let hash: string | null = null;
        if (storage?.outcome === 'store-pre-hashed') hash = storage.hash;
        else if (storage?.outcome === 'store-cleartext' && typeof password === 'string') {
          hash = await hashCleartext(password, storage);
        }
        this.#ctx.record({
          ...base,
          target: decision.name,
          outcome: 'created',
          storedAs:
            storage === undefined
              ? 'none'
              : storage.outcome === 'store-pre-hashed'
                ? 'pre-hashed'
                : 'cleartext',
        });
        return `CALL pg_temp.crdb_create_role(${literal(this.#ctx.token)}, ${literal(decision.name)}, ${decision.login}, ${this.#postgresHash(decision.name, hash)})`;
      }
    }
  }

  /**
   * `ALTER ROLE <name> [WITH] CREATELOGIN | VIEWCLUSTERSETTING | ...`: the
   * CockroachDB role options PostgreSQL lacks, kept with the double's
   * system privileges (pkg/sql/roleoption/role_option.go). Admins only here;
   * a statement that also holds PostgreSQL options goes to PostgreSQL.
   */
  async #alterRoleOptions(
    sig: Token[],
    refuse: (e: CockroachError) => string,
  ): Promise<string | undefined> {
    const nameToken = sig[2];
    if (!isIdentifier(nameToken)) return undefined;
    const options = sig.slice(isName(sig[3], 'with') ? 4 : 3);
    const changes: { privilege: SystemPrivilege; grant: boolean }[] = [];
    for (const option of options) {
      const word = option.kind === 'word' ? option.value.toUpperCase() : '';
      const grant = !word.startsWith('NO');
      const privilege = (grant ? word : word.slice(2)) as SystemPrivilege;
      if (!ROLE_OPTIONS.includes(privilege)) return undefined;
      changes.push({ privilege, grant });
    }
    if (changes.length === 0) return undefined;
    const caller = await this.#ctx.caller();
    if (!caller.admin) {
      return refuse({
        code: '42501',
        message: `cockroach double: only admins may set ${changes.map((c) => c.privilege).join(', ')} here`,
        source: 'pkg/sql/alter_role.go',
      });
    }
    for (const { privilege, grant } of changes) {
      const role = normalizeName(nameToken.value);
      if (grant) this.#ctx.privileges.grant(role, privilege);
      else this.#ctx.privileges.revoke(role, privilege);
    }
    this.#ctx.record({
      type: 'system-privilege',
      user: caller.user,
      detail: `ALTER ROLE ${nameToken.value} ${options.map((o) => o.text.toUpperCase()).join(' ')}`,
    });
    return NOOP;
  }

  /** GRANT/REVOKE SYSTEM <privilege>[, ...] TO|FROM <role>[, ...] (admins only here). */
  async #grantSystem(
    sig: Token[],
    verb: string,
    refuse: (e: CockroachError) => string,
  ): Promise<string> {
    const caller = await this.#ctx.caller();
    const privileges: SystemPrivilege[] = [];
    let i = 2;
    for (; i < sig.length; i++) {
      const t = sig[i];
      if (isName(t, 'to') || isName(t, 'from')) break;
      if (t?.text === ',') continue;
      const name = (t?.value ?? '').toUpperCase();
      if (!SYSTEM_PRIVILEGES.includes(name as SystemPrivilege)) {
        return refuse({
          code: '0A000',
          message: `cockroach double: system privilege ${name} is not modelled`,
          source: 'pkg/sql/privilege/kind.go',
        });
      }
      privileges.push(name as SystemPrivilege);
    }
    const roles = sig
      .slice(i + 1)
      .filter((t) => isIdentifier(t))
      .map((t) => normalizeName(t.value));
    if (!caller.admin) {
      const error: CockroachError = {
        code: '42501',
        message: `cockroach double: only admins may ${verb.toUpperCase()} SYSTEM privileges here`,
        source: 'pkg/sql/grant_revoke_system.go',
      };
      this.#ctx.record({
        type: 'system-privilege',
        user: caller.user,
        code: error.code,
        message: error.message,
      });
      return refuse(error);
    }
    for (const role of roles) {
      if (verb === 'grant') this.#ctx.privileges.grant(role, ...privileges);
      else this.#ctx.privileges.revoke(role, ...privileges);
    }
    this.#ctx.record({
      type: 'system-privilege',
      user: caller.user,
      detail: `${verb.toUpperCase()} ${privileges.join(', ')} ${verb === 'grant' ? 'TO' : 'FROM'} ${roles.join(', ')}`,
    });
    return NOOP;
  }

  /**
   * Replaces CockroachDB-only names inside any other statement:
   * `version()`, `crdb_internal.cluster_settings`, `system.users`,
   * `crdb_internal.check_password_hash_format(...)` and the `BYTES` and
   * `STRING` type names after `::`.
   */
  async #replaceReferences(
    text: string,
    sig: Token[],
    refuse: (e: CockroachError) => string,
  ): Promise<string> {
    const edits: { start: number; end: number; text: string }[] = [];
    const user = this.#ctx.user;
    for (let i = 0; i < sig.length; i++) {
      const t = sig[i];
      if (!t) continue;
      const dot = sig[i + 1]?.text === '.';
      const afterDot = sig[i + 2];
      if (isName(t, 'crdb_internal') && dot && isName(afterDot, 'cluster_settings') && afterDot) {
        const error = checkClusterSettingsTablePrivilege(await this.#ctx.caller());
        if (error) {
          this.#ctx.record({
            type: 'cluster-setting',
            user,
            action: 'read-table',
            name: '*',
            code: error.code,
            message: error.message,
          });
          return refuse(error);
        }
        this.#ctx.record({ type: 'cluster-setting', user, action: 'read-table', name: '*' });
        const alias = hasAlias(sig, i + 3) ? '' : ' AS cluster_settings';
        edits.push({
          start: t.start,
          end: afterDot.end,
          text: `${clusterSettingsTable(this.#ctx.settings, await this.#ctx.caller())}${alias}`,
        });
        i += 2;
      } else if (isName(t, 'system') && dot && isName(afterDot, 'users') && afterDot) {
        const error = checkSystemUsersPrivilege(await this.#ctx.caller(), this.#ctx.version);
        if (error) {
          this.#ctx.record({
            type: 'system-users-read',
            user,
            code: error.code,
            message: error.message,
          });
          return refuse(error);
        }
        this.#ctx.record({ type: 'system-users-read', user });
        const alias = hasAlias(sig, i + 3) ? '' : ' AS users';
        edits.push({
          start: t.start,
          end: afterDot.end,
          text: `${systemUsersTable(await this.#ctx.users())}${alias}`,
        });
        i += 2;
      } else if (
        isName(t, 'crdb_internal') &&
        dot &&
        isName(afterDot, 'check_password_hash_format') &&
        afterDot
      ) {
        this.#ctx.record({ type: 'hash-format-check', user });
        edits.push({
          start: t.start,
          end: afterDot.end,
          text: 'pg_temp.check_password_hash_format',
        });
        i += 2;
      } else if (t.text === '::' && (isName(sig[i + 1], 'bytes') || isName(sig[i + 1], 'string'))) {
        const typeToken = sig[i + 1];
        if (typeToken) {
          edits.push({
            start: typeToken.start,
            end: typeToken.end,
            text: typeToken.value === 'bytes' ? 'bytea' : 'text',
          });
        }
        i += 1;
      } else if (isName(t, 'version') && sig[i + 1]?.text === '(' && sig[i + 2]?.text === ')') {
        const before = sig[i - 1];
        const qualifiedByCatalog = before?.text === '.' && isName(sig[i - 2], 'pg_catalog');
        if (before?.text === '.' && !qualifiedByCatalog) continue;
        const start = qualifiedByCatalog ? (sig[i - 2]?.start ?? t.start) : t.start;
        const close = sig[i + 2];
        if (close) {
          edits.push({
            start,
            end: close.end,
            text: `(SELECT ${literal(this.#ctx.version)}::text AS version)`,
          });
        }
        i += 2;
      }
    }
    if (edits.length === 0) return text;
    let out = '';
    let at = 0;
    for (const edit of edits) {
      out += text.slice(at, edit.start) + edit.text;
      at = edit.end;
    }
    return out + text.slice(at);
  }
}

/** Never raised: a NULL password is stored as NULL, not hashed. */
const unreachableNull: CockroachError = {
  code: 'XX000',
  message: 'cockroach double: a NULL password cannot be hashed',
  source: 'local/cockroach/statements.ts',
};

/** A cleartext password hashed as CockroachDB would store it (`security.HashPassword`). */
async function hashCleartext(
  password: string,
  storage: Extract<PasswordStorage, { outcome: 'store-cleartext' }>,
): Promise<string> {
  return storage.method === 'crdb-bcrypt'
    ? hashPasswordBcrypt(password, storage.cost)
    : hashPasswordScram(password, storage.cost);
}

/**
 * Folds the role names CockroachDB folds even when quoted
 * (pkg/sql/decodeusername/role_spec.go): the name of CREATE and ALTER
 * USER|ROLE, every name of GRANT/REVOKE <role> TO|FROM <role> and DROP
 * ROLE|USER, and the grantees of GRANT/REVOKE ... ON ... TO|FROM. Unquoted
 * names are folded by PostgreSQL already; quoted ones are rewritten.
 * Returns `text` unchanged when there is nothing to fold.
 */
export function foldRoleNames(text: string, sig: readonly Token[]): string {
  const first = sig[0]?.value;
  const roleWord = isName(sig[1], 'role') || isName(sig[1], 'user');
  let targets: Token[] = [];
  if ((first === 'create' || first === 'alter') && roleWord) {
    let i = 2;
    if (isName(sig[i], 'if')) i += first === 'create' ? 3 : 2;
    targets = sig[i] ? [sig[i] as Token] : [];
  } else if (first === 'drop' && roleWord) {
    targets = sig.slice(2);
  } else if (first === 'grant' || first === 'revoke') {
    const on = sig.findIndex((t) => isName(t, 'on'));
    const from =
      on < 0
        ? 1
        : sig.findIndex((t, index) => index > on && (isName(t, 'to') || isName(t, 'from')));
    targets = from < 0 ? [] : sig.slice(from);
  }
  let out = '';
  let at = 0;
  for (const t of targets) {
    if (t.kind !== 'quoted-ident' || normalizeName(t.value) === t.value) continue;
    out += text.slice(at, t.start) + identifier(normalizeName(t.value));
    at = t.end;
  }
  return at === 0 ? text : out + text.slice(at);
}
