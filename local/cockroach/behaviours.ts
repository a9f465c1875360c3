/**
 * What CockroachDB does, as pure functions and data, each with the source
 * file it was read from (github.com/cockroachdb/cockroach; recent master
 * where the file has changed over releases, older wording noted where only
 * that could be read). The double (double.ts) wires these into a wire
 * protocol front over PostgreSQL; keeping them here, free of I/O, makes each
 * behaviour readable next to its source and testable on its own.
 *
 * Error messages and SQLSTATEs are CockroachDB's, verbatim, so that clients
 * (the rotation function, `doctor`) can be tested against what they will
 * really see. Where the double has to say something CockroachDB never says
 * (a limit of the double itself), the message starts with "cockroach double:".
 *
 * @module
 */

/** A CockroachDB error as it reaches the client. */
export interface CockroachError {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  /** `ERROR` for statement errors; the SQL proxy sends `FATAL`. */
  readonly severity?: 'ERROR' | 'FATAL';
  /** The CockroachDB source file the behaviour comes from, for tests and logs. */
  readonly source: string;
}

// ---------------------------------------------------------------------------
// Version
// ---------------------------------------------------------------------------

/**
 * `SELECT version()` answers `build.GetInfo().Short()`:
 * `CockroachDB <distribution> <tag> (<platform>, built <time>, <go version>)`
 * (pkg/build/info.go, `Info.Short`; the builtin is in pkg/sql/sem/builtins/builtins.go).
 */
export const DEFAULT_VERSION =
  'CockroachDB CCL v25.2.2 (x86_64-pc-linux-gnu, built 2025/06/23 13:45:12, go1.23.7 X:nocoverageredesign)';

/**
 * CockroachDB reports PostgreSQL 13 compatibility in `server_version`
 * (pkg/sql/vars.go, `PgServerVersion`), and its own build in the
 * `crdb_version` ParameterStatus (pkg/sql/pgwire/conn.go, `statusReportParams`).
 */
export const PG_SERVER_VERSION = '13.0.0';

// ---------------------------------------------------------------------------
// Cluster settings
// ---------------------------------------------------------------------------

/** A cluster setting's value. */
export type SettingValue = boolean | number | string;

/** How CockroachDB types a setting (`crdb_internal.cluster_settings.type`). */
export type SettingType = 'b' | 'i' | 's' | 'e';

/** A cluster setting the double knows. */
export interface SettingDefinition {
  readonly type: SettingType;
  readonly defaultValue: SettingValue;
  readonly description: string;
  /** Where CockroachDB registers it. */
  readonly source: string;
  /** For enums: the accepted values. */
  readonly values?: readonly string[];
  /** For integers: the range CockroachDB's validator accepts, inclusive. */
  readonly range?: readonly [number, number];
  /** Registered with `settings.Sensitive`: redacted when {@link SETTINGS.redactSensitive} is on. */
  readonly sensitive?: true;
}

/**
 * The settings that matter to password rotation, with CockroachDB's defaults.
 * Others can be added through the double's `settings` option (typed from
 * their value).
 */
export const SETTING_DEFINITIONS: Readonly<Record<string, SettingDefinition>> = {
  'server.user_login.store_client_pre_hashed_passwords.enabled': {
    type: 'b',
    defaultValue: true,
    description: 'whether the server accepts to store passwords pre-hashed by clients',
    source: 'pkg/security/password.go',
  },
  'server.user_login.password_encryption': {
    type: 'e',
    defaultValue: 'scram-sha-256',
    values: ['crdb-bcrypt', 'scram-sha-256'],
    description:
      'which hash method to use to encode cleartext passwords passed via ALTER/CREATE USER/ROLE WITH PASSWORD',
    source: 'pkg/security/password.go',
  },
  'server.user_login.password_hashes.default_cost.scram_sha_256': {
    type: 'i',
    defaultValue: 10610,
    description:
      'the hashing cost to use when storing passwords supplied as cleartext by SQL clients with the hashing method scram-sha-256',
    source: 'pkg/security/password.go (DefaultSCRAMCost in pkg/security/password/password.go)',
    // IntInRange(ScramMinCost, ScramMaxCost) in pkg/security/password.go.
    range: [4096, 240_000_000_000],
  },
  'server.user_login.password_hashes.default_cost.crdb_bcrypt': {
    type: 'i',
    defaultValue: 10,
    description:
      'the hashing cost to use when storing passwords supplied as cleartext by SQL clients with the hashing method crdb-bcrypt',
    source: 'pkg/security/password.go',
  },
  'server.user_login.rehash_scram_stored_passwords_on_cost_change.enabled': {
    type: 'b',
    defaultValue: true,
    description:
      'if server.user_login.password_hashes.default_cost.scram_sha_256 differs from the cost of a stored hash, the hash is re-computed at the next login',
    source: 'pkg/security/password.go (AutoRehashOnSCRAMCostChange)',
  },
  'server.user_login.upgrade_bcrypt_stored_passwords_to_scram.enabled': {
    type: 'b',
    defaultValue: true,
    description:
      'whether to automatically re-encode stored passwords using crdb-bcrypt to scram-sha-256',
    source: 'pkg/security/password.go',
  },
  'server.user_login.downgrade_scram_stored_passwords_to_bcrypt.enabled': {
    type: 'b',
    defaultValue: true,
    description:
      'whether to automatically re-encode stored passwords using scram-sha-256 to crdb-bcrypt',
    source: 'pkg/security/password.go',
  },
  'server.user_login.min_password_length': {
    type: 'i',
    defaultValue: 1,
    description: 'the minimum length accepted for passwords set in cleartext via SQL',
    source: 'pkg/security/password.go',
    // NonNegativeInt: a negative length is refused.
    range: [0, Number.MAX_SAFE_INTEGER],
  },
  'server.user_login.cert_password_method.auto_scram_promotion.enabled': {
    type: 'b',
    defaultValue: true,
    description: 'whether to automatically promote cert-password authentication to use SCRAM',
    source: 'pkg/sql/pgwire/auth_methods.go (AutoSelectPasswordAuth)',
  },
  'sql.auth.change_own_password.enabled': {
    type: 'b',
    defaultValue: false,
    description:
      'controls whether a user is allowed to change their own password, even if they have no other privileges',
    source: 'pkg/sql/alter_role.go (changeOwnPasswordEnabled)',
  },
  'server.host_based_authentication.configuration': {
    type: 's',
    defaultValue: '',
    description: 'host-based authentication configuration to use during connection authentication',
    source: 'pkg/sql/pgwire/hba_conf.go',
    sensitive: true,
  },
  'sql.auth.createrole_allows_grant_role_membership.enabled': {
    type: 'b',
    defaultValue: false,
    description:
      'if set, users with CREATEROLE privilege can grant/revoke membership in roles (v23.1 only; always on since v23.2)',
    source: 'pkg/sql/grant_role.go (v23.1, PR #104376; removed in v23.2)',
  },
  'server.redact_sensitive_settings.enabled': {
    type: 'b',
    defaultValue: false,
    description:
      'enables or disables the redaction of sensitive settings in the output of SHOW CLUSTER SETTING and SHOW ALL CLUSTER SETTINGS for users without the MODIFYCLUSTERSETTING privilege',
    source: 'pkg/settings/settings.go (redactSensitiveSettingsEnabled); masked.go',
  },
};

/** Names of settings read by the rotation function and `doctor`. */
export const SETTINGS = {
  storePreHashed: 'server.user_login.store_client_pre_hashed_passwords.enabled',
  passwordEncryption: 'server.user_login.password_encryption',
  scramCost: 'server.user_login.password_hashes.default_cost.scram_sha_256',
  rehashOnCostChange: 'server.user_login.rehash_scram_stored_passwords_on_cost_change.enabled',
  changeOwnPassword: 'sql.auth.change_own_password.enabled',
  minPasswordLength: 'server.user_login.min_password_length',
  autoScramPromotion: 'server.user_login.cert_password_method.auto_scram_promotion.enabled',
  upgradeBcrypt: 'server.user_login.upgrade_bcrypt_stored_passwords_to_scram.enabled',
  downgradeScram: 'server.user_login.downgrade_scram_stored_passwords_to_bcrypt.enabled',
  bcryptCost: 'server.user_login.password_hashes.default_cost.crdb_bcrypt',
  hba: 'server.host_based_authentication.configuration',
  redactSensitive: 'server.redact_sensitive_settings.enabled',
  createRoleGrantsMembership: 'sql.auth.createrole_allows_grant_role_membership.enabled',
} as const;

/** The first release where CREATEROLE alone grants membership in any non-admin role (PR #104376). */
export const CREATEROLE_GRANTS_SINCE = [23, 2, 0] as const;

/**
 * Whether CREATEROLE alone lets a role grant (and revoke) membership in any
 * role but `admin` (pkg/sql/grant_role.go): always since v23.2; on v23.1
 * only with `sql.auth.createrole_allows_grant_role_membership.enabled`
 * (default off); never before, where ADMIN OPTION on the role is needed.
 */
export function createRoleGrantsMembership(version: string, settingOn: boolean): boolean {
  if (releaseAtLeast(version, CREATEROLE_GRANTS_SINCE)) return true;
  return releaseAtLeast(version, [23, 1, 0]) && settingOn;
}

/**
 * CockroachDB's SQLSTATE for an error that carries no pgcode:
 * `pgcode.Uncategorized` (pkg/sql/pgwire/pgcode/codes.go), which
 * pgerror.GetPGCode falls back to.
 */
export const UNCATEGORIZED = 'XXUUU';

/** What CockroachDB shows in place of a redacted setting (pkg/settings/masked.go, MaskedSetting.String). */
export const REDACTED = '<redacted>';

/**
 * The text a reader is shown for a setting: a sensitive setting is masked
 * as `<redacted>` while {@link SETTINGS.redactSensitive} is on, unless the
 * reader is an admin or holds MODIFYCLUSTERSETTING; an empty string stays
 * empty, so a customised value can still be told from the default
 * (pkg/settings/masked.go, MaskedSetting.String).
 */
export function shownSettingValue(
  caller: Caller,
  name: string,
  value: SettingValue,
  redactSensitive: boolean,
): SettingValue {
  if (!SETTING_DEFINITIONS[name]?.sensitive || !redactSensitive) return value;
  if (has(caller, 'MODIFYCLUSTERSETTING')) return value;
  return value === '' ? '' : REDACTED;
}

/** The type CockroachDB gives a setting the double did not define, from its value. */
export function settingTypeOf(name: string, value: SettingValue): SettingType {
  const known = SETTING_DEFINITIONS[name];
  if (known) return known.type;
  if (typeof value === 'boolean') return 'b';
  if (typeof value === 'number') return 'i';
  return 's';
}

/** The text form CockroachDB shows for a value (`crdb_internal.cluster_settings.value`). */
export function settingText(value: SettingValue): string {
  return String(value);
}

/**
 * Parses the value of `SET CLUSTER SETTING <name> = <value>` for a setting of
 * the given type, or returns an error. CockroachDB type-checks the expression
 * against the setting's type (`getAndValidateTypedClusterSetting` in
 * pkg/sql/set_cluster_setting.go).
 */
export function parseSettingValue(
  name: string,
  type: SettingType,
  raw: { kind: 'string' | 'number' | 'word'; value: string },
): SettingValue | CockroachError {
  const source = 'pkg/sql/set_cluster_setting.go';
  if (type === 'b') {
    const text = raw.value.toLowerCase();
    if (text === 'true' || text === 'on') return true;
    if (text === 'false' || text === 'off') return false;
    return {
      code: '22P02',
      message: `could not parse "${raw.value}" as type bool: invalid bool value`,
      source,
    };
  }
  if (type === 'i') {
    const range = SETTING_DEFINITIONS[name]?.range;
    if (/^-?\d+$/.test(raw.value) && range) {
      const n = Number(raw.value);
      // The validators (pkg/settings/int.go: NonNegativeInt, IntInRange)
      // return errors.Errorf without a pgcode and toSettingString in
      // pkg/sql/set_cluster_setting.go passes them on unwrapped, so the
      // client sees pgcode.Uncategorized (XXUUU, pkg/sql/pgwire/pgcode).
      if (range[0] === 0 && n < 0) {
        return { code: UNCATEGORIZED, message: `cannot be set to a negative value: ${n}`, source };
      }
      if (n < range[0] || n > range[1]) {
        return {
          code: UNCATEGORIZED,
          message: `expected value in range [${range[0]}, ${range[1]}], got: ${n}`,
          source,
        };
      }
      return n;
    }
    if (/^-?\d+$/.test(raw.value)) return Number(raw.value);
    return {
      code: '22P02',
      message: `could not parse "${raw.value}" as type int: strconv.ParseInt: parsing "${raw.value}": invalid syntax`,
      source,
    };
  }
  const definition = SETTING_DEFINITIONS[name];
  if (type === 'e' && definition?.values && !definition.values.includes(raw.value.toLowerCase())) {
    // ParseEnum's failure, errors.Errorf without a pgcode (toSettingString).
    return {
      code: UNCATEGORIZED,
      message: `invalid string value '${raw.value}' for enum setting`,
      source,
    };
  }
  return type === 'e' ? raw.value.toLowerCase() : raw.value;
}

/** Global privileges (and role options) that CockroachDB checks for what the double models. */
export type SystemPrivilege =
  | 'CREATEROLE'
  | 'CREATELOGIN'
  | 'MODIFYCLUSTERSETTING'
  | 'MODIFYSQLCLUSTERSETTING'
  | 'VIEWCLUSTERSETTING'
  | 'VIEWSYSTEMTABLE';

/** Every {@link SystemPrivilege}. */
export const SYSTEM_PRIVILEGES: readonly SystemPrivilege[] = [
  'CREATEROLE',
  'CREATELOGIN',
  'MODIFYCLUSTERSETTING',
  'MODIFYSQLCLUSTERSETTING',
  'VIEWCLUSTERSETTING',
  'VIEWSYSTEMTABLE',
];

/** Who is asking, as CockroachDB's privilege checks see it. */
export interface Caller {
  readonly user: string;
  /** Member of the `admin` role (or root): every privilege check passes. */
  readonly admin: boolean;
  /** Global privileges and role options held (admins need none). */
  readonly privileges: ReadonlySet<SystemPrivilege>;
}

function has(caller: Caller, privilege: SystemPrivilege): boolean {
  return caller.admin || caller.privileges.has(privilege);
}

/**
 * `SHOW CLUSTER SETTING` and `SET CLUSTER SETTING` privileges
 * (`checkPrivilegesForSetting` in pkg/sql/set_cluster_setting.go):
 * MODIFYCLUSTERSETTING shows and sets anything; MODIFYSQLCLUSTERSETTING only
 * `sql.defaults.*`; VIEWCLUSTERSETTING only shows. Admins hold all of them.
 */
export function checkSettingPrivilege(
  caller: Caller,
  name: string,
  action: 'show' | 'set',
): CockroachError | undefined {
  const source = 'pkg/sql/set_cluster_setting.go';
  if (has(caller, 'MODIFYCLUSTERSETTING')) return undefined;
  const isSqlSetting = name.startsWith('sql.defaults');
  if (isSqlSetting && has(caller, 'MODIFYSQLCLUSTERSETTING')) return undefined;
  if (action === 'set') {
    return isSqlSetting
      ? {
          code: '42501',
          message: `only users with the MODIFYCLUSTERSETTING or MODIFYSQLCLUSTERSETTING privilege are allowed to set cluster setting '${name}'`,
          source,
        }
      : {
          code: '42501',
          message: `only users with the MODIFYCLUSTERSETTING privilege are allowed to set cluster setting '${name}'`,
          source,
        };
  }
  if (has(caller, 'VIEWCLUSTERSETTING')) return undefined;
  return {
    code: '42501',
    message: `only users with MODIFYCLUSTERSETTING, MODIFYSQLCLUSTERSETTING or VIEWCLUSTERSETTING privileges are allowed to show cluster setting '${name}'`,
    source,
  };
}

/**
 * Reading `crdb_internal.cluster_settings` needs MODIFYCLUSTERSETTING or
 * VIEWCLUSTERSETTING (or admin): `crdbInternalClusterSettingsTable` in
 * pkg/sql/crdb_internal.go. The message is the one CockroachDB's logic tests
 * pin (pkg/sql/logictest/testdata/logic_test/system_privileges_mixed).
 */
export function checkClusterSettingsTablePrivilege(caller: Caller): CockroachError | undefined {
  if (has(caller, 'MODIFYCLUSTERSETTING') || has(caller, 'VIEWCLUSTERSETTING')) return undefined;
  return {
    code: '42501',
    message:
      'only users with either MODIFYCLUSTERSETTING or VIEWCLUSTERSETTING privileges are allowed to read crdb_internal.cluster_settings',
    source: 'pkg/sql/crdb_internal.go',
  };
}

/**
 * The release a `version()` string names, as `[major, minor, patch]`
 * (`CockroachDB CCL v23.1.11 (...)`: pkg/build/info.go), or undefined.
 */
export function releaseOf(version: string): readonly [number, number, number] | undefined {
  const match = /\bv(\d+)\.(\d+)\.(\d+)/.exec(version);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

/** Whether `version` is at least `[major, minor, patch]`; unknown versions count as new. */
export function releaseAtLeast(version: string, least: readonly [number, number, number]): boolean {
  const release = releaseOf(version);
  if (!release) return true;
  for (let i = 0; i < 3; i++) {
    const a = release[i] ?? 0;
    const b = least[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/**
 * The first release whose `VIEWSYSTEMTABLE` system privilege gives SELECT on
 * every system table, `system.users` included (PR #109474: v23.1.11, v23.2.0;
 * pkg/sql/authorization.go: "The VIEWSYSTEMTABLE system privilege is
 * equivalent to having SELECT on all system tables").
 */
export const VIEWSYSTEMTABLE_SINCE = [23, 1, 11] as const;

/**
 * `system.users` (which holds `"hashedPassword"`) grants SELECT to admin and
 * root (pkg/sql/catalog/catprivilege/system.go), and since v23.1.11 to
 * holders of VIEWSYSTEMTABLE; anyone else gets the generic
 * insufficient-privilege error (`NewInsufficientPrivilegeOnDescriptorError`
 * in pkg/sql/sqlerrors/errors.go).
 */
export function checkSystemUsersPrivilege(
  caller: Caller,
  version: string = DEFAULT_VERSION,
): CockroachError | undefined {
  if (caller.admin) return undefined;
  if (caller.privileges.has('VIEWSYSTEMTABLE') && releaseAtLeast(version, VIEWSYSTEMTABLE_SINCE)) {
    return undefined;
  }
  return {
    code: '42501',
    message: `user ${caller.user} does not have SELECT privilege on relation users`,
    source: 'pkg/sql/sqlerrors/errors.go',
  };
}

// ---------------------------------------------------------------------------
// User names
// ---------------------------------------------------------------------------

/**
 * How CockroachDB folds a user name given at login or in SQL, quoted or not
 * (`lexbase.NormalizeName` in pkg/sql/lexbase/normalize.go, called by
 * `username.MakeSQLUsernameFromUserInput`): each code point to lower case
 * by Go's simple mapping, with Turkish dotted and dotless i both folded to
 * ASCII `i`, then Unicode NFC (skipped for ASCII). Written here on its own,
 * not imported from the function's core, so that the two can disagree.
 */
export function normalizeName(name: string): string {
  let lower = '';
  for (const ch of name) {
    // One code point at a time: no context-dependent final sigma, as Go.
    lower += ch === '\u0130' || ch === '\u0131' ? 'i' : ch.toLowerCase();
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range, as isASCII
  return /^[\x00-\x7f]*$/.test(lower) ? lower : lower.normalize('NFC');
}

/** `unknown cluster setting` for SET/RESET (pkg/sql/set_cluster_setting.go). */
export function unknownSettingForSet(name: string): CockroachError {
  return {
    code: '42P02',
    message: `unknown cluster setting '${name}'`,
    source: 'pkg/sql/set_cluster_setting.go',
  };
}

/** `unknown setting` for SHOW (pkg/sql/show_cluster_setting.go; no SQLSTATE there, so XXUUU). */
export function unknownSettingForShow(name: string): CockroachError {
  return {
    code: 'XXUUU',
    message: `unknown setting: "${name}"`,
    source: 'pkg/sql/show_cluster_setting.go',
  };
}

/** SET CLUSTER SETTING refuses to run inside an explicit transaction (pkg/sql/set_cluster_setting.go). */
export const SET_CLUSTER_SETTING_IN_TRANSACTION: CockroachError = {
  code: 'XXUUU',
  message: 'SET CLUSTER SETTING cannot be used inside a multi-statement transaction',
  source: 'pkg/sql/set_cluster_setting.go',
};

// ---------------------------------------------------------------------------
// Password hashes
// ---------------------------------------------------------------------------

/** The SCRAM iteration bounds (pkg/security/password/password.go). */
export const SCRAM_MIN_COST = 4096;
/** "an arbitrary value to prevent unreasonably long logins" (pkg/security/password/password.go). */
export const SCRAM_MAX_COST = 240_000_000_000;

/**
 * CockroachDB's patterns for pre-hashed passwords, verbatim from
 * pkg/security/password/password.go (`bcryptHashRe`, `scramHashRe`; the MD5
 * check is `isMD5Hash`).
 */
export const HASH_PATTERNS = {
  bcrypt: /^(CRDB-BCRYPT)?\$\d[a-z]?\$\d\d\$[0-9A-Za-z./]{22}[0-9A-Za-z./]+$/,
  scram: /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]{43}=):([A-Za-z0-9+/]{43}=)$/,
  md5: /^md5[0-9a-f]{32}$/,
} as const;

/** The result of `CheckPasswordHashValidity` (pkg/security/password/password.go). */
export type HashValidity =
  | { readonly preHashed: false }
  | {
      readonly preHashed: true;
      readonly scheme: 'crdb-bcrypt' | 'scram-sha-256' | 'md5';
      /** False for md5: recognised but refused (issue 73337). */
      readonly supported: boolean;
      /** What would be stored (bcrypt loses its CRDB-BCRYPT prefix). */
      readonly hashed: string;
    }
  | {
      readonly preHashed: true;
      readonly scheme: 'crdb-bcrypt' | 'scram-sha-256';
      /** The Go error text, without SQLSTATE (callers add 42601). */
      readonly error: string;
    };

const BCRYPT_PREFIX = 'CRDB-BCRYPT';

/**
 * `bcrypt.Cost` from golang.org/x/crypto/bcrypt, which CockroachDB uses to
 * validate a CRDB-BCRYPT hash (`checkBcryptHash`): length first, then the
 * version, then the cost.
 */
function bcryptCostError(hash: string): string | undefined {
  if (hash.length < 59) return 'crypto/bcrypt: hashedSecret too short to be a bcrypted password';
  if (hash[0] !== '$') {
    return `crypto/bcrypt: bcrypt hashes must start with '$', but hashedSecret started with '${hash[0]}'`;
  }
  const major = hash[1] ?? '';
  if (major > '2') {
    return `crypto/bcrypt: bcrypt algorithm version '${major}' requested is newer than current version '2'`;
  }
  const costAt = hash[2] === '$' ? 3 : 4;
  const cost = Number(hash.slice(costAt, costAt + 2));
  if (cost < 4 || cost > 31) {
    return `crypto/bcrypt: cost ${cost} is outside allowed inclusive range 4..31`;
  }
  return undefined;
}

/**
 * Whether a string given as a password is a pre-hashed password, and if so
 * whether CockroachDB accepts it: `CheckPasswordHashValidity` in
 * pkg/security/password/password.go (bcrypt, then SCRAM, then MD5).
 */
export function checkPasswordHashValidity(input: string): HashValidity {
  if (HASH_PATTERNS.bcrypt.test(input) && input.startsWith(`${BCRYPT_PREFIX}$`)) {
    const hashed = input.slice(BCRYPT_PREFIX.length);
    const error = bcryptCostError(hashed);
    return error
      ? { preHashed: true, scheme: 'crdb-bcrypt', error }
      : { preHashed: true, scheme: 'crdb-bcrypt', supported: true, hashed };
  }
  const scram = HASH_PATTERNS.scram.exec(input);
  if (scram) {
    const digits = scram[1] ?? '';
    // strconv.ParseInt(_, 10, 64): anything above 2^63-1 is out of range.
    if (BigInt(digits) > 9_223_372_036_854_775_807n) {
      return {
        preHashed: true,
        scheme: 'scram-sha-256',
        error: `invalid scram-sha-256 iteration count: strconv.ParseInt: parsing "${digits}": value out of range`,
      };
    }
    const iterations = BigInt(digits);
    if (iterations < BigInt(SCRAM_MIN_COST) || iterations > BigInt(SCRAM_MAX_COST)) {
      return {
        preHashed: true,
        scheme: 'scram-sha-256',
        error: `scram-sha-256 iteration count not in allowed range (${SCRAM_MIN_COST},${SCRAM_MAX_COST})`,
      };
    }
    return { preHashed: true, scheme: 'scram-sha-256', supported: true, hashed: input };
  }
  if (HASH_PATTERNS.md5.test(input)) {
    return { preHashed: true, scheme: 'md5', supported: false, hashed: input };
  }
  return { preHashed: false };
}

/**
 * `crdb_internal.check_password_hash_format(password BYTES) -> STRING`
 * (pkg/sql/sem/builtins/builtins.go): the scheme name, or 42601 with
 * CockroachDB's message; builtin errors are prefixed with the function name
 * (`FuncExpr.MaybeWrapError` in pkg/sql/sem/tree/expr.go).
 */
export function checkPasswordHashFormat(input: string): string | CockroachError {
  const prefix = 'crdb_internal.check_password_hash_format(): ';
  const source = 'pkg/sql/sem/builtins/builtins.go';
  const validity = checkPasswordHashValidity(input);
  if (!validity.preHashed) {
    return { code: '42601', message: `${prefix}hash format not recognized`, source };
  }
  if ('error' in validity) return { code: '42601', message: `${prefix}${validity.error}`, source };
  return validity.scheme;
}

/**
 * The same builtin as a PL/pgSQL function, so that it can run inside the
 * backend session with bound parameters (`$1::BYTES` in the extended
 * protocol). Generated from the constants above; the integration tests run
 * the same inputs through this and {@link checkPasswordHashFormat}.
 * `encode(..., 'escape')` keeps ASCII as is and turns other bytes into
 * backslash escapes, which none of the patterns can match, as in Go's
 * byte-wise regexp.
 */
export function checkPasswordHashFormatFunctionSql(schema: string): string {
  const q = (s: string) => `'${s.replaceAll("'", "''")}'`;
  const re = (r: RegExp) => q(r.source.replaceAll('\\/', '/'));
  const prefix = 'crdb_internal.check_password_hash_format(): ';
  return `CREATE FUNCTION ${schema}.check_password_hash_format(password bytea) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $crdb$
DECLARE
  s text := encode(password, 'escape');
  m text[];
  h text;
  cost int;
  prefix constant text := ${q(prefix)};
BEGIN
  IF s ~ ${re(HASH_PATTERNS.bcrypt)} AND starts_with(s, ${q(`${BCRYPT_PREFIX}$`)}) THEN
    h := substr(s, ${BCRYPT_PREFIX.length + 1});
    IF length(h) < 59 THEN
      RAISE EXCEPTION USING ERRCODE = '42601', MESSAGE = prefix || 'crypto/bcrypt: hashedSecret too short to be a bcrypted password';
    END IF;
    IF substr(h, 2, 1) > '2' THEN
      RAISE EXCEPTION USING ERRCODE = '42601', MESSAGE = prefix || 'crypto/bcrypt: bcrypt algorithm version ''' || substr(h, 2, 1) || ''' requested is newer than current version ''2''';
    END IF;
    cost := CASE WHEN substr(h, 3, 1) = '$' THEN substr(h, 4, 2) ELSE substr(h, 5, 2) END::int;
    IF cost < 4 OR cost > 31 THEN
      RAISE EXCEPTION USING ERRCODE = '42601', MESSAGE = prefix || 'crypto/bcrypt: cost ' || cost || ' is outside allowed inclusive range 4..31';
    END IF;
    RETURN 'crdb-bcrypt';
  END IF;
  m := regexp_match(s, ${re(HASH_PATTERNS.scram)});
  IF m IS NOT NULL THEN
    IF m[1]::numeric > 9223372036854775807 THEN
      RAISE EXCEPTION USING ERRCODE = '42601', MESSAGE = prefix || 'invalid scram-sha-256 iteration count: strconv.ParseInt: parsing "' || m[1] || '": value out of range';
    END IF;
    IF m[1]::numeric < ${SCRAM_MIN_COST} OR m[1]::numeric > ${SCRAM_MAX_COST} THEN
      RAISE EXCEPTION USING ERRCODE = '42601', MESSAGE = prefix || 'scram-sha-256 iteration count not in allowed range (${SCRAM_MIN_COST},${SCRAM_MAX_COST})';
    END IF;
    RETURN 'scram-sha-256';
  END IF;
  IF s ~ ${re(HASH_PATTERNS.md5)} THEN
    RETURN 'md5';
  END IF;
  RAISE EXCEPTION USING ERRCODE = '42601', MESSAGE = prefix || 'hash format not recognized';
END
$crdb$`;
}

/**
 * What CockroachDB makes of a stored `"hashedPassword"` at login
 * (`LoadPasswordHash` in pkg/security/password/password.go): nothing
 * stored; a bcrypt hash (with or without the CRDB-BCRYPT prefix, as
 * releases before v22.2 stored them); a SCRAM hash whose parts decode; or
 * anything else, including a string that matches the SCRAM pattern but
 * whose base64 does not decode (`makeSCRAMHash` returns the invalid hash),
 * with which every login fails.
 */
export type StoredMethod =
  | { readonly method: 'missing' }
  | { readonly method: 'bcrypt'; readonly cost: number }
  | { readonly method: 'scram'; readonly iterations: number }
  | { readonly method: 'invalid' };

/** Go's `base64.StdEncoding.DecodeString` (padding required, trailing bits not checked). */
function goBase64Decodes(text: string): boolean {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text);
}

/** {@link StoredMethod} for a stored hash (`LoadPasswordHash`, pkg/security/password/password.go). */
export function storedMethod(hash: string | null | undefined): StoredMethod {
  if (!hash) return { method: 'missing' };
  if (HASH_PATTERNS.bcrypt.test(hash)) {
    const bare = hash.startsWith(BCRYPT_PREFIX) ? hash.slice(BCRYPT_PREFIX.length) : hash;
    const costAt = bare[2] === '$' ? 3 : 4;
    return { method: 'bcrypt', cost: Number(bare.slice(costAt, costAt + 2)) };
  }
  const scram = HASH_PATTERNS.scram.exec(hash);
  if (scram) {
    const iterations = Number(scram[1]);
    // strconv.Atoi, then the minimum; then each part through base64.
    if (!Number.isSafeInteger(iterations) || iterations < SCRAM_MIN_COST) {
      return { method: 'invalid' };
    }
    if (![scram[2], scram[3], scram[4]].every((part) => goBase64Decodes(part ?? ''))) {
      return { method: 'invalid' };
    }
    return { method: 'scram', iterations };
  }
  return { method: 'invalid' };
}

/**
 * `BcryptCostToSCRAMIterCount` (pkg/security/password/password.go): the
 * SCRAM iteration count a bcrypt hash of each cost is upgraded to.
 */
export const BCRYPT_COST_TO_SCRAM_ITERATIONS: readonly number[] = [
  0, 0, 0, 0, 4096, 4096, 4096, 4096, 6768, 8768, 10610, 24302, 47682, 94441, 187958, 374993,
  749063, 1497202, 2993481, 5986039, 11971154, 23941385, 47881848, 95762772, 191524622, 383048320,
  766095717, 1532190512, 3064380100, 6128759277, 12257517630, 24515034337,
];

/** `ScramIterCountToBcryptCost`, the inverse mapping used by the downgrade. */
export function scramIterationsToBcryptCost(iterations: number): number {
  const table = BCRYPT_COST_TO_SCRAM_ITERATIONS;
  for (let cost = 0; cost < table.length; cost++) {
    if (cost >= 31) return 31;
    if (iterations >= (table[cost] ?? 0) && iterations < (table[cost + 1] ?? 0)) return cost;
  }
  return 0;
}

/** What CockroachDB stores after a successful cleartext login, if anything. */
export type StoredHashConversion =
  | { readonly to: 'scram'; readonly iterations: number; readonly why: 'upgrade' | 'rehash' }
  | { readonly to: 'bcrypt'; readonly cost: number; readonly why: 'downgrade' };

/**
 * `MaybeConvertPasswordHash` (pkg/security/password/password.go), run by
 * `passwordAuthenticator` (pkg/sql/pgwire/auth_methods.go) after a
 * cleartext login succeeded: a bcrypt hash is upgraded to SCRAM (cost from
 * {@link BCRYPT_COST_TO_SCRAM_ITERATIONS}) when the upgrade setting is on and
 * the configured method is scram-sha-256; a SCRAM hash of another cost is
 * re-hashed at the cluster cost; and a SCRAM hash is downgraded to bcrypt
 * when the downgrade setting is on and the configured method is crdb-bcrypt.
 */
export function conversionAfterCleartextLogin(
  stored: StoredMethod,
  settings: {
    readonly upgradeBcrypt: boolean;
    readonly downgradeScram: boolean;
    readonly rehashOnCostChange: boolean;
    readonly passwordEncryption: string;
    readonly scramCost: number;
  },
): StoredHashConversion | undefined {
  const scramConfigured = settings.passwordEncryption === 'scram-sha-256';
  if (stored.method === 'bcrypt' && settings.upgradeBcrypt && scramConfigured) {
    const iterations = BCRYPT_COST_TO_SCRAM_ITERATIONS[stored.cost] ?? 0;
    return iterations === 0 ? undefined : { to: 'scram', iterations, why: 'upgrade' };
  }
  if (stored.method !== 'scram') return undefined;
  if (settings.rehashOnCostChange && scramConfigured && stored.iterations !== settings.scramCost) {
    return { to: 'scram', iterations: settings.scramCost, why: 'rehash' };
  }
  if (settings.downgradeScram && settings.passwordEncryption === 'crdb-bcrypt') {
    return { to: 'bcrypt', cost: scramIterationsToBcryptCost(stored.iterations), why: 'downgrade' };
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// ALTER USER/ROLE ... WITH PASSWORD
// ---------------------------------------------------------------------------

/** What the double knows about the role being altered. */
export interface TargetRole {
  readonly name: string;
  readonly exists: boolean;
  /** The `admin` role itself, or a member of it (or a PostgreSQL superuser). */
  readonly admin: boolean;
}

/** The settings ALTER ... PASSWORD reads. */
export interface PasswordSettings {
  readonly storePreHashed: boolean;
  readonly changeOwnPassword: boolean;
  readonly passwordEncryption: string;
  readonly scramCost: number;
  /** `server.user_login.password_hashes.default_cost.crdb_bcrypt`. @default 10 */
  readonly bcryptCost?: number;
  /** `server.user_login.min_password_length`: bytes, cleartext only. @default 1 */
  readonly minPasswordLength?: number;
}

/** What CockroachDB does with `ALTER USER <target> WITH PASSWORD <password>`. */
export type AlterPasswordDecision =
  | { readonly outcome: 'refuse'; readonly error: CockroachError }
  | { readonly outcome: 'ignore' }
  | { readonly outcome: 'store-null' }
  | {
      readonly outcome: 'store-pre-hashed';
      /** What is stored: the verifier as sent, or a bcrypt hash without its CRDB-BCRYPT prefix. */
      readonly hash: string;
      readonly scheme: 'scram-sha-256' | 'crdb-bcrypt';
    }
  | {
      readonly outcome: 'store-cleartext';
      /** Hash the password with this method and cost, as CockroachDB would. */
      readonly method: string;
      /** The cost for that method (SCRAM iterations, or bcrypt's cost). */
      readonly cost: number;
      /** Why it was not taken as pre-hashed. */
      readonly reason: 'pre-hashing-disabled' | 'not-a-hash';
    };

/**
 * CockroachDB's decision for `ALTER USER|ROLE <target> [WITH] PASSWORD <p>`,
 * in the order of `alterRoleNode.startExec` (pkg/sql/alter_role.go) and
 * `checkPasswordAndGetHash` (pkg/sql/create_role.go):
 *
 * 1. the `admin` role cannot be edited;
 * 2. a user changing only its own password to a non-NULL value needs nothing
 *    more when `sql.auth.change_own_password.enabled` is on; otherwise
 *    CREATEROLE, then CREATELOGIN (because PASSWORD is a login option);
 * 3. the role must exist (unless IF EXISTS);
 * 4. only admins may alter an admin;
 * 5. the password: NULL clears it; when pre-hashing is on, a recognised hash
 *    is stored as is (errors are 42601, MD5 is refused as unimplemented);
 *    anything else is a cleartext password, hashed with the configured
 *    method and cost, including a verifier when pre-hashing is off; a
 *    cleartext password shorter than `server.user_login.min_password_length`
 *    bytes is refused (a pre-hashed one is never measured).
 */
export function decideAlterPassword(input: {
  readonly caller: Caller;
  readonly target: TargetRole;
  readonly ifExists: boolean;
  /** null for `PASSWORD NULL`. */
  readonly password: string | null;
  readonly settings: PasswordSettings;
}): AlterPasswordDecision {
  const { caller, target, password, settings } = input;
  const alterRole = 'pkg/sql/alter_role.go';
  if (target.name === 'admin') {
    return {
      outcome: 'refuse',
      error: { code: '42501', message: 'cannot edit admin role', source: alterRole },
    };
  }
  const ownPassword =
    target.name === caller.user && password !== null && settings.changeOwnPassword;
  if (!ownPassword) {
    // CheckGlobalPrivilegeOrRoleOption (pkg/sql/authorization.go).
    for (const privilege of ['CREATEROLE', 'CREATELOGIN'] as const) {
      if (!has(caller, privilege)) {
        return {
          outcome: 'refuse',
          error: {
            code: '42501',
            message: `user ${caller.user} does not have ${privilege} privilege`,
            source: `${alterRole} (check in pkg/sql/authorization.go)`,
          },
        };
      }
    }
  }
  if (!target.exists) {
    if (input.ifExists) return { outcome: 'ignore' };
    return {
      outcome: 'refuse',
      error: {
        code: '42704',
        message: `role/user "${target.name}" does not exist`,
        source: `${alterRole} (NewUndefinedUserError in pkg/sql/sqlerrors/errors.go)`,
      },
    };
  }
  if (target.admin && !caller.admin) {
    return {
      outcome: 'refuse',
      error: {
        code: '42501',
        message: 'only users with the admin role are allowed to alter another admin',
        source: alterRole,
      },
    };
  }
  if (password === null) return { outcome: 'store-null' };
  return decidePasswordStorage(password, settings);
}

/** How a non-NULL password given to CREATE or ALTER USER is stored (`checkPasswordAndGetHash`). */
export type PasswordStorage = Exclude<AlterPasswordDecision, { outcome: 'ignore' | 'store-null' }>;

/**
 * `checkPasswordAndGetHash` (pkg/sql/create_role.go): an empty password is
 * refused; when pre-hashing is on, a recognised hash is stored as is (bcrypt
 * without its CRDB-BCRYPT prefix; a SCRAM string even if its base64 does not
 * decode, since only the pattern and the count are checked); anything else
 * is a cleartext password, hashed with the configured method and cost.
 */
export function decidePasswordStorage(
  password: string,
  settings: PasswordSettings,
): PasswordStorage {
  const createRole = 'pkg/sql/create_role.go (checkPasswordAndGetHash)';
  if (password === '') {
    // CockroachDB refuses empty passwords (security.ErrEmptyPassword); the
    // double does not reproduce that error's exact text.
    return {
      outcome: 'refuse',
      error: {
        code: '28P01',
        message: 'cockroach double: empty passwords are not permitted',
        source: createRole,
      },
    };
  }
  if (settings.storePreHashed) {
    const validity = checkPasswordHashValidity(password);
    if (validity.preHashed) {
      if ('error' in validity) {
        return {
          outcome: 'refuse',
          error: { code: '42601', message: validity.error, source: createRole },
        };
      }
      if (!validity.supported) {
        return {
          outcome: 'refuse',
          error: {
            code: '0A000',
            message: `unimplemented: the password hash scheme "${validity.scheme}" is not supported`,
            hint: 'You have attempted to use a feature that is not yet implemented.\nSee: https://go.crdb.dev/issue-v/73337/v25.2',
            source: createRole,
          },
        };
      }
      if (validity.scheme === 'md5') throw new Error('unreachable: md5 is never supported');
      return { outcome: 'store-pre-hashed', hash: validity.hashed, scheme: validity.scheme };
    }
  }
  // Only a cleartext password meets the minimum length (in bytes); a
  // pre-hashed one returned above, whatever its length.
  const minLength = settings.minPasswordLength ?? 1;
  if (minLength >= 1 && Buffer.byteLength(password, 'utf8') < minLength) {
    // security.ErrPasswordTooShort is errors.New("password too short")
    // (pkg/security/password.go), wrapped only WithHintf by
    // checkPasswordAndGetHash: no pgcode, so pgcode.Uncategorized (XXUUU).
    return {
      outcome: 'refuse',
      error: {
        code: UNCATEGORIZED,
        message: 'password too short',
        hint: `Passwords must be ${minLength} characters or longer.`,
        source: createRole,
      },
    };
  }
  return {
    outcome: 'store-cleartext',
    method: settings.passwordEncryption,
    cost:
      settings.passwordEncryption === 'crdb-bcrypt'
        ? (settings.bcryptCost ?? 10)
        : settings.scramCost,
    reason: settings.storePreHashed ? 'not-a-hash' : 'pre-hashing-disabled',
  };
}

/** What CockroachDB does with `CREATE USER|ROLE [IF NOT EXISTS] <name> [WITH] <options>`. */
export type CreateRoleDecision =
  | { readonly outcome: 'refuse'; readonly error: CockroachError }
  | { readonly outcome: 'ignore' }
  | {
      readonly outcome: 'create';
      readonly name: string;
      readonly login: boolean;
      /** How the password is stored; undefined for none (or PASSWORD NULL). */
      readonly password: PasswordStorage | undefined;
    };

/** `username.ValidateForCreation` (pkg/security/username/username.go). */
const USERNAME_CREATION = /^[\p{Ll}0-9_][-\p{Ll}0-9_.]*$/u;

/** Names CREATE refuses (`SQLUsername.IsReserved`, pkg/sql/create_role.go). */
function reservedName(name: string): boolean {
  return ['public', 'none', 'node'].includes(name) || /^(pg_|crdb_internal_)/.test(name);
}

/**
 * CockroachDB's decision for CREATE USER/ROLE, in the order of
 * `CreateRoleNode` and its `startExec` (pkg/sql/create_role.go): CREATEROLE;
 * then CREATELOGIN for PASSWORD, LOGIN or a user's implicit LOGIN
 * (`checkPasswordOptionConstraints`); the name, folded and validated
 * (`NormalizeAndValidateUsername`: 42622 too long, 42602 invalid, 42939
 * reserved); 42710 when it exists; then the password as
 * {@link decidePasswordStorage} stores it.
 */
export function decideCreateRole(input: {
  readonly caller: Caller;
  /** As written in the statement (quoted or not: CockroachDB folds both). */
  readonly name: string;
  /** Whether a role of the folded name exists. */
  readonly exists: (folded: string) => boolean;
  /** CREATE ROLE (NOLOGIN by default) rather than CREATE USER. */
  readonly isRole: boolean;
  readonly ifNotExists: boolean;
  /** LOGIN or NOLOGIN when given. */
  readonly login: boolean | undefined;
  /** undefined: no PASSWORD option; null: PASSWORD NULL. */
  readonly password: string | null | undefined;
  readonly settings: PasswordSettings;
}): CreateRoleDecision {
  const source = 'pkg/sql/create_role.go';
  const refuse = (code: string, message: string): CreateRoleDecision => ({
    outcome: 'refuse',
    error: { code, message, source },
  });
  if (!has(input.caller, 'CREATEROLE')) {
    return refuse('42501', `user ${input.caller.user} does not have CREATEROLE privilege`);
  }
  const login = input.login ?? !input.isRole;
  const needsCreateLogin = input.password !== undefined || login;
  if (needsCreateLogin && !has(input.caller, 'CREATELOGIN')) {
    return refuse('42501', `user ${input.caller.user} does not have CREATELOGIN privilege`);
  }
  const name = normalizeName(input.name);
  if (name === '') return refuse('42602', 'username is empty');
  if (Buffer.byteLength(name, 'utf8') > 63) {
    return refuse('42622', `"${name}": username is too long`);
  }
  if (!USERNAME_CREATION.test(name)) return refuse('42602', `"${name}": username is invalid`);
  if (reservedName(name)) return refuse('42939', `role name "${name}" is reserved`);
  if (input.exists(name)) {
    return input.ifNotExists
      ? { outcome: 'ignore' }
      : refuse('42710', `a role/user named ${name} already exists`);
  }
  let password: PasswordStorage | undefined;
  if (typeof input.password === 'string') {
    password = decidePasswordStorage(input.password, input.settings);
    if (password.outcome === 'refuse') return password;
  }
  return { outcome: 'create', name, login, password };
}

// ---------------------------------------------------------------------------
// Connections: TLS, cluster routing, authentication
// ---------------------------------------------------------------------------

/** A secure node refuses a start-up without TLS (ErrSSLRequired in pkg/sql/pgwire/server.go). */
export const SSL_REQUIRED: CockroachError = {
  code: '08P01',
  message: 'node is running secure mode, SSL connection required',
  source: 'pkg/sql/pgwire/server.go',
};

/**
 * Unknown users get the wrong-password error, so that logins do not reveal
 * which users exist; wrong passwords get 28P01 (pkg/sql/pgwire/auth.go,
 * `NewErrPasswordUserAuthFailed` in pkg/security/auth.go).
 */
export function passwordAuthFailed(user: string): CockroachError {
  return {
    code: '28P01',
    message: `password authentication failed for user ${user}`,
    source: 'pkg/sql/pgwire/auth.go',
  };
}

/** A role without LOGIN (pkg/sql/pgwire/auth.go). */
export function noLoginPrivilege(user: string): CockroachError {
  return {
    code: '28000',
    message: `${user} does not have login privilege`,
    source: 'pkg/sql/pgwire/auth.go',
  };
}

/** The hint the SQL proxy adds to routing errors (pkg/ccl/sqlproxyccl/proxy_handler.go). */
export const CLUSTER_IDENTIFIER_HINT = `Ensure that your cluster identifier is uniquely specified using any of the
following methods:

1) Host name:
   Use a driver that supports server name identification (SNI) with TLS 
   connection and the hostname assigned to your cluster 
   (e.g. serverless-101.5xj.gcp-us-central1.cockroachlabs.cloud)

2) Options parameter:
   Use "--cluster=<cluster identifier>" as the options parameter.
   (e.g. options="--cluster=active-roach-42")

3) Database parameter:
   Use "<cluster identifier>.<database name>" as the database parameter.
   (e.g. database="active-roach-42.defaultdb")

For more details, please visit our docs site at:
	https://www.cockroachlabs.com/docs/cockroachcloud/connect-to-a-serverless-cluster
`;

/** The routing outcome for one start-up message. */
export interface ClusterRouting {
  /** The routing id the client gave, if any. */
  readonly clusterId?: string;
  /** The database without a `<routing-id>.` prefix. */
  readonly database?: string;
  /** The options without `--cluster=...`. */
  readonly options?: string;
  readonly error?: CockroachError;
}

/**
 * `--cluster=<id>` in options: the sqlproxy accepts `--cluster=`, `-c
 * cluster=` and `-ccluster=` (`clusterIdentifierLongOptionRE` in
 * pkg/ccl/sqlproxyccl/proxy_handler.go).
 */
const CLUSTER_OPTION = /(?:-c\s*|--)cluster=([\S]*)/g;

/**
 * CockroachDB Cloud's SQL proxy finds the cluster from the database
 * parameter (`<id>.<db>`) or the options parameter (`--cluster=<id>`), and
 * refuses the connection when neither names one
 * (`clusterNameAndTenantFromParams` in pkg/ccl/sqlproxyccl/proxy_handler.go;
 * the proxy's `toPgError` sends routing errors FATAL with SQLSTATE 08004 and
 * the `codeParamsRoutingFailed:` prefix, as v22-v24 proxies do; newer proxies
 * may use a proxy-specific SQLSTATE). SNI routing is not modelled: the
 * double's certificate names only loopback.
 */
export function routeCluster(input: {
  readonly database?: string;
  readonly options?: string;
  readonly routingId: string;
  readonly required: boolean;
}): ClusterRouting {
  const source = 'pkg/ccl/sqlproxyccl/proxy_handler.go';
  const fail = (message: string, hint?: string): ClusterRouting => ({
    error: {
      code: '08004',
      severity: 'FATAL',
      message: `codeParamsRoutingFailed: ${message}`,
      ...(hint ? { hint } : {}),
      source,
    },
  });
  let fromDatabase: string | undefined;
  let database = input.database;
  if (database?.includes('.')) {
    const parts = database.split('.');
    if (parts.length > 2 || !parts[0] || !parts[1]) return fail('invalid database param');
    fromDatabase = parts[0];
    database = parts[1];
  }
  const matches = [...(input.options ?? '').matchAll(CLUSTER_OPTION)];
  if (matches.length > 1) return fail('multiple cluster flags provided');
  const fromOptions = matches[0]?.[1];
  if (matches.length === 1 && !fromOptions) return fail('invalid cluster flag');
  const options = (input.options ?? '').replace(CLUSTER_OPTION, '').trim();
  if (fromDatabase && fromOptions && fromDatabase !== fromOptions) {
    return fail(
      'multiple different cluster identifiers provided',
      `Is '${fromDatabase}' or '${fromOptions}' the identifier for the cluster that you're connecting to?\n${CLUSTER_IDENTIFIER_HINT}`,
    );
  }
  const clusterId = fromDatabase ?? fromOptions;
  if (!clusterId) {
    if (input.required) return fail('missing cluster identifier', CLUSTER_IDENTIFIER_HINT);
    return { ...(database ? { database } : {}), ...(options ? { options } : {}) };
  }
  const sep = clusterId.lastIndexOf('-');
  if (sep < 0 || sep === clusterId.length - 1) {
    return fail(
      `invalid cluster identifier '${clusterId}'`,
      'Did you forget to include your tenant ID in the cluster identifier?\nCluster identifiers come in the form of <name>-<tenant ID> (e.g. lazy-roach-3).',
    );
  }
  if (clusterId !== input.routingId) {
    // The real proxy asks its tenant directory; the double knows one cluster.
    return fail(
      `cockroach double: no cluster '${clusterId}' here (this double routes '${input.routingId}')`,
    );
  }
  return { clusterId, ...(database ? { database } : {}), ...(options ? { options } : {}) };
}

/** Authentication methods of CockroachDB's HBA the double models (pkg/sql/pgwire/auth_methods.go). */
export type HbaMethod =
  | 'cert-password'
  | 'cert-scram-sha-256'
  | 'scram-sha-256'
  | 'password'
  | 'cert'
  | 'trust'
  | 'reject';

/**
 * The rule CockroachDB applies to a TLS connection from `user`: the first
 * `host`/`hostssl` line matching the user in
 * `server.host_based_authentication.configuration`, after the mandatory root
 * rule; the built-in default when the setting is empty
 * (pkg/sql/pgwire/hba_conf.go: `rootEntry`, `DefaultHBAConfig`). Addresses
 * and databases are not checked: the double only listens on loopback.
 */
export function hbaMethodFor(configuration: string, user: string): HbaMethod | CockroachError {
  const lines =
    configuration.trim() === '' ? ['host all all all cert-password'] : configuration.split('\n');
  const rules = ['host all root all cert-password', ...lines];
  for (const raw of rules) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [type, , users, address, method] = line.split(/\s+/);
    if (type !== 'host' && type !== 'hostssl') continue;
    // "local" lines have no address, so the method sits one field earlier;
    // host lines always have all five fields.
    if (!users || !address || !method) continue;
    const names = users.split(',');
    if (!names.includes('all') && !names.includes(user)) continue;
    return method as HbaMethod;
  }
  return {
    code: '28000',
    message: `no server.host_based_authentication.configuration entry for host "127.0.0.1", user "${user}"`,
    source: 'pkg/sql/pgwire/auth.go (lookupAuthenticationMethodUsingRules)',
  };
}

/** What a login will ask the client for. */
export type LoginExchange = 'scram' | 'cleartext' | 'trust' | CockroachError;

/**
 * How CockroachDB authenticates a client without a TLS client certificate
 * (`authAutoSelectPasswordProtocol` in pkg/sql/pgwire/auth_methods.go):
 * `cert-password` asks for the cleartext password when the stored hash is
 * bcrypt ("we have no choice"), when a SCRAM hash would be downgraded
 * (downgrade setting on and `password_encryption` crdb-bcrypt), or when it
 * would be re-hashed for a cost change; otherwise it picks SCRAM, also for
 * a missing or undecodable hash (so that the login fails without a
 * cleartext password). `scram-sha-256` always asks for SCRAM, which fails
 * for a hash that is not SCRAM ("user password hash not in SCRAM format").
 */
export function loginExchange(input: {
  readonly method: HbaMethod;
  readonly stored: StoredMethod;
  readonly settings: {
    readonly autoScramPromotion: boolean;
    readonly rehashOnCostChange: boolean;
    readonly passwordEncryption: string;
    readonly scramCost: number;
    /** `downgrade_scram_stored_passwords_to_bcrypt.enabled`. @default true */
    readonly downgradeScram?: boolean;
  };
}): LoginExchange {
  const source = 'pkg/sql/pgwire/auth_methods.go';
  const { stored, settings } = input;
  switch (input.method) {
    case 'trust':
      return 'trust';
    case 'reject':
      return { code: '28000', message: 'authentication rejected by configuration', source };
    case 'cert':
      return { code: '28000', message: 'no TLS peer certificates, but required for auth', source };
    case 'password':
      return 'cleartext';
    case 'scram-sha-256':
    case 'cert-scram-sha-256':
      return 'scram';
    case 'cert-password': {
      if (!settings.autoScramPromotion) return 'cleartext';
      if (stored.method === 'bcrypt') return 'cleartext';
      if (stored.method !== 'scram') return 'scram';
      if ((settings.downgradeScram ?? true) && settings.passwordEncryption === 'crdb-bcrypt') {
        return 'cleartext';
      }
      if (
        settings.rehashOnCostChange &&
        settings.passwordEncryption === 'scram-sha-256' &&
        stored.iterations !== settings.scramCost
      ) {
        return 'cleartext';
      }
      return 'scram';
    }
    default:
      return {
        code: '28000',
        message: `cockroach double: unsupported HBA method "${String(input.method)}"`,
        source,
      };
  }
}
