/**
 * The database secret's JSON, as AWS's rotation templates define it for
 * PostgreSQL, plus CockroachDB. Keys are case-sensitive. Keys this module
 * does not know are kept and written back unchanged, so a rotation changes
 * the password and nothing else.
 *
 * @module
 */
import { inspect } from 'node:util';
import * as v from 'valibot';
import {
  type ComparedField,
  MalformedSecretError,
  PasswordPolicyError,
  SecretMismatchError,
  TARGET_FIELDS,
  type TargetField,
  WHOLE_SECRET_KEY,
} from '../errors.js';

export { type ComparedField, TARGET_FIELDS, type TargetField } from '../errors.js';

/** The `engine` values this function rotates. */
export const DATABASE_ENGINES = ['postgres', 'aurora-postgresql', 'cockroachdb'] as const;

/** One of {@link DATABASE_ENGINES}. */
export type DatabaseEngine = (typeof DATABASE_ENGINES)[number];

/** Port and database used when the secret has no `port` or `dbname`. */
export const ENGINE_DEFAULTS = {
  postgres: { port: 5432, dbname: 'postgres' },
  'aurora-postgresql': { port: 5432, dbname: 'postgres' },
  cockroachdb: { port: 26257, dbname: 'defaultdb' },
} as const satisfies Record<DatabaseEngine, { port: number; dbname: string }>;

/** A parsed database secret. */
export interface DatabaseSecret {
  readonly engine: DatabaseEngine;
  readonly host: string;
  /** From the secret (number or numeric string), else the engine's default. */
  readonly port: number;
  /** From the secret, else the engine's default. */
  readonly dbname: string;
  readonly username: string;
  readonly password: string;
  /** ARN of the admin secret that may change this user's password. */
  readonly masterarn?: string | undefined;
  /** PEM bundle of the CAs that may sign the server certificate. */
  readonly ca?: string | undefined;
  /** Startup `options`, e.g. `--cluster=<routing-id>` for CockroachDB Cloud. */
  readonly options?: string | undefined;
  /** The JSON object as stored, every key included; give it to {@link withPassword}. */
  readonly raw: Readonly<Record<string, unknown>>;
}

const PORT = v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(65_535));

/**
 * PostgreSQL keeps at most NAMEDATALEN-1 = 63 bytes of an identifier and cuts
 * longer ones silently, in SQL and in the startup packet alike: a 64-byte
 * username would log in, and be altered, as another (truncated) role.
 */
export const MAX_IDENTIFIER_BYTES = 63;

/**
 * A role or database name the server keeps exactly as written: 1 to 63 bytes
 * of UTF-8, no control characters (a NUL ends the name in the startup packet).
 */
const IDENTIFIER = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxBytes(MAX_IDENTIFIER_BYTES),
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  v.check((name) => !/[\u0000-\u001f\u007f]/.test(name)),
);

/** The keys this module reads, each with its schema. `null` counts as absent for optional keys. */
const SECRET_SCHEMA = v.object({
  engine: v.picklist(DATABASE_ENGINES),
  host: v.pipe(v.string(), v.regex(/^\S+$/)),
  username: IDENTIFIER,
  password: v.pipe(v.string(), v.minLength(1)),
  dbname: v.nullish(IDENTIFIER),
  port: v.nullish(
    v.union([PORT, v.pipe(v.string(), v.regex(/^[0-9]{1,5}$/), v.transform(Number), PORT)]),
  ),
  masterarn: v.nullish(v.pipe(v.string(), v.minLength(1))),
  ca: v.nullish(v.pipe(v.string(), v.includes('-----BEGIN CERTIFICATE-----'))),
  options: v.nullish(v.string()),
});

/**
 * The admin secret (`masterarn`): only `username` and `password` are
 * required. An RDS-managed master secret holds nothing else; CDK's
 * generated one adds engine, host, port, dbname and dbInstanceIdentifier.
 * A connection key it leaves out is taken from AWSCURRENT (see
 * {@link adminLogin}), never from a default.
 */
const ADMIN_SCHEMA = v.object({
  ...SECRET_SCHEMA.entries,
  engine: v.nullish(SECRET_SCHEMA.entries.engine),
  host: v.nullish(SECRET_SCHEMA.entries.host),
});

type SecretKey = keyof v.InferOutput<typeof SECRET_SCHEMA>;

/** What a secret string must be, for error messages. */
const JSON_SHAPE = 'a JSON object with engine, host, username and password';
/** What an admin secret string must be, for error messages. */
const ADMIN_JSON_SHAPE = 'a JSON object with at least username and password';
/** How to make an optional key fall back, for error messages. */
const OR_DEFAULT = 'or remove it for the engine default';

/** What to put in each key, for error messages. */
const KEY_FIXES = {
  engine: `set it to one of ${DATABASE_ENGINES.join(', ')}`,
  host: 'set it to the database host name or IP address, without spaces',
  username: `set it to the database user name exactly as the server stores it: 1 to ${MAX_IDENTIFIER_BYTES} bytes, no control characters (a longer one is cut short and names another role)`,
  password: "set it to the user's current password (a non-empty string)",
  dbname: `set it to the database name (1 to ${MAX_IDENTIFIER_BYTES} bytes, no control characters), ${OR_DEFAULT}`,
  port: `set it to a port from 1 to 65535 (a number or digits), ${OR_DEFAULT}`,
  masterarn: 'set it to the ARN of the admin secret, or remove it',
  ca: 'set it to a PEM bundle with at least one -----BEGIN CERTIFICATE----- block, or remove it',
  options: 'set it to a startup options string such as --cluster=<routing-id>, or remove it',
} as const satisfies Record<SecretKey, string>;

const REQUIRED_KEYS: ReadonlySet<SecretKey> = new Set<SecretKey>([
  'engine',
  'host',
  'username',
  'password',
]);
const ADMIN_REQUIRED_KEYS: ReadonlySet<SecretKey> = new Set<SecretKey>(['username', 'password']);

/** Key names that differ only in case, to point out the usual mistake. */
function sameKeyOtherCase(raw: Record<string, unknown>, key: string): string | undefined {
  return Object.keys(raw).find((k) => k !== key && k.toLowerCase() === key.toLowerCase());
}

/**
 * The first top-level key under which the JSON holds an integer beyond
 * 2^53: JSON.parse has already rounded it, so writing the secret back would
 * change it silently.
 */
function keyWithUnsafeInteger(raw: Record<string, unknown>): string | undefined {
  const unsafe = (value: unknown): boolean =>
    typeof value === 'number'
      ? Number.isInteger(value) && !Number.isSafeInteger(value)
      : typeof value === 'object' && value !== null && Object.values(value).some(unsafe);
  return Object.keys(raw).find((key) => unsafe(raw[key]));
}

/**
 * Keeps the password out of logs: JSON.stringify and util.inspect (used by
 * console.log and loggers) see the secret without `password` and `raw`.
 */
function redactedForLogs<S extends { readonly password: string; readonly raw: unknown }>(
  secret: S,
): S {
  const shown = () => {
    const { raw: _raw, password: _password, ...rest } = secret;
    return { ...rest, password: '[redacted]' };
  };
  Object.defineProperties(secret, {
    toJSON: { value: shown, enumerable: false },
    [inspect.custom]: { value: shown, enumerable: false },
  });
  return secret;
}

/**
 * JSON-parses a secret string and checks it against `schema`, reporting the
 * first key at fault. Neither the message nor a `cause` holds any part of
 * the secret string: JSON.parse's and valibot's own messages would quote it.
 */
function validated<T>(
  schema: v.GenericSchema<unknown, T>,
  required: ReadonlySet<SecretKey>,
  shape: string,
  secretString: string,
  label: string,
): { raw: Record<string, unknown>; data: T } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new MalformedSecretError(
      WHOLE_SECRET_KEY,
      label,
      `the secret string is not valid JSON; store ${shape}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new MalformedSecretError(WHOLE_SECRET_KEY, label, `the secret string must be ${shape}`);
  }
  const raw = parsed as Record<string, unknown>;
  const result = v.safeParse(schema, raw, { abortEarly: true });
  if (!result.success) {
    // Every issue of these flat schemas sits on one of their keys; report
    // the first, in the schema's order, and never valibot's message (it
    // quotes the input).
    const key = result.issues[0].path?.[0]?.key as SecretKey;
    const absent = raw[key] === undefined || (raw[key] === null && required.has(key));
    const otherCase = absent ? sameKeyOtherCase(raw, key) : undefined;
    const problem = absent
      ? `is missing${otherCase === undefined ? '' : ` (keys are case-sensitive; found ${otherCase})`}`
      : 'is not valid';
    throw new MalformedSecretError(key, label, `${problem}; ${KEY_FIXES[key]}`);
  }
  const unsafeKey = keyWithUnsafeInteger(raw);
  if (unsafeKey !== undefined) {
    throw new MalformedSecretError(
      unsafeKey,
      label,
      'holds an integer too large to be written back exactly; store it as a string',
    );
  }
  return { raw, data: result.output };
}

/** Refuses a CockroachDB username the server would store in another form. */
function assertStoredForm(engine: DatabaseEngine, username: string, label: string): void {
  if (engine === 'cockroachdb' && foldRoleName(username) !== username) {
    throw new MalformedSecretError(
      'username',
      label,
      'is not as CockroachDB stores it (folded to lower case and NFC, even when quoted); set it to that form',
    );
  }
}

/**
 * Parses a secret string into a {@link DatabaseSecret}. Unknown keys are
 * kept in `raw`.
 *
 * @param context.label - which secret or version this is, for messages
 *   (e.g. `AWSCURRENT`, `admin secret (masterarn)`)
 * @throws {@link MalformedSecretError} naming the key and what to put in it.
 *   Neither the message nor a `cause` holds any part of the secret string:
 *   JSON.parse's own message would quote it, so it is not attached.
 *
 * @example
 * ```ts
 * const secret = parseDatabaseSecret(text, { label: 'AWSCURRENT' });
 * secret.port; // 5432 when the secret has no port
 * ```
 */
export function parseDatabaseSecret(
  secretString: string,
  context: { readonly label: string },
): DatabaseSecret {
  const { raw, data } = validated(
    SECRET_SCHEMA,
    REQUIRED_KEYS,
    JSON_SHAPE,
    secretString,
    context.label,
  );
  const { label } = context;
  assertStoredForm(data.engine, data.username, label);
  const defaults = ENGINE_DEFAULTS[data.engine];
  return redactedForLogs({
    engine: data.engine,
    host: data.host,
    port: data.port ?? defaults.port,
    dbname: data.dbname ?? defaults.dbname,
    username: data.username,
    password: data.password,
    masterarn: data.masterarn ?? undefined,
    ca: data.ca ?? undefined,
    options: data.options ?? undefined,
    raw,
  });
}

/**
 * What an admin secret that names a server must share with AWSCURRENT: the
 * server and how it is trusted, not the user.
 */
export const ADMIN_SERVER_FIELDS = [
  'host',
  'port',
  'dbname',
  'options',
  'ca',
] as const satisfies readonly TargetField[];

/** The connection keys an admin secret may leave out, AWSCURRENT's then being used. */
const ADMIN_CONNECTION_KEYS = ['engine', ...ADMIN_SERVER_FIELDS] as const;

/** One of {@link ADMIN_CONNECTION_KEYS}. */
type AdminConnectionKey = (typeof ADMIN_CONNECTION_KEYS)[number];

/**
 * A parsed admin secret (`masterarn`): a login, and the connection keys it
 * holds. Keys it does not know (dbInstanceIdentifier, dbClusterIdentifier,
 * anything else) are ignored: it is read, never written.
 */
export interface AdminSecret {
  readonly username: string;
  readonly password: string;
  /** The connection keys the secret holds; one it leaves out is AWSCURRENT's. */
  readonly named: Readonly<Partial<Pick<DatabaseSecret, AdminConnectionKey>>>;
  /** The JSON object as stored. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/**
 * Parses the admin secret that `masterarn` names. Only `username` and
 * `password` are required, so an RDS-managed master secret (which holds
 * nothing else) and CDK's generated master secret (engine, host, port,
 * dbname, dbInstanceIdentifier too) are both accepted. Keys it holds are
 * checked as in {@link parseDatabaseSecret}.
 *
 * @throws {@link MalformedSecretError} naming the key, never its value
 *
 * @example
 * ```ts
 * const admin = parseAdminSecret('{"username":"postgres","password":"..."}', {
 *   label: 'admin secret (masterarn)',
 * });
 * admin.named; // {}: it logs in to the server AWSCURRENT names
 * ```
 */
export function parseAdminSecret(
  secretString: string,
  context: { readonly label: string },
): AdminSecret {
  const { raw, data } = validated(
    ADMIN_SCHEMA,
    ADMIN_REQUIRED_KEYS,
    ADMIN_JSON_SHAPE,
    secretString,
    context.label,
  );
  if (data.engine != null) assertStoredForm(data.engine, data.username, context.label);
  const named: Partial<Pick<DatabaseSecret, AdminConnectionKey>> = {};
  for (const key of ADMIN_CONNECTION_KEYS) {
    const value = data[key];
    if (value !== null && value !== undefined) Object.assign(named, { [key]: value });
  }
  return redactedForLogs({ username: data.username, password: data.password, named, raw });
}

/**
 * Where the admin logs in: AWSCURRENT's server, with each connection key the
 * admin secret holds in place of AWSCURRENT's, as the admin's user. A key
 * the admin secret leaves out (all of them, for an RDS-managed master
 * secret) is AWSCURRENT's, never a default: an admin secret without `host`
 * means "the server the user secret names". The result differs from
 * AWSCURRENT in {@link ADMIN_SERVER_FIELDS} only where the admin secret
 * holds another value: the function refuses to log in with it then, unless
 * ALLOW_ADMIN_TARGET_MISMATCH.
 *
 * @throws {@link MalformedSecretError} when AWSCURRENT is CockroachDB and the
 *   admin's username is not as CockroachDB stores it (folded), whether or not
 *   the admin secret has `engine`
 *
 * @example
 * ```ts
 * const login = adminLogin(current, admin);
 * assertSameServer(current, login, ADMIN_SERVER_FIELDS, 'admin secret (masterarn)', fix);
 * ```
 */
export function adminLogin(
  current: DatabaseSecret,
  admin: AdminSecret,
  label = 'admin secret (masterarn)',
): DatabaseSecret {
  // The server is AWSCURRENT's: an admin secret without `engine` (RDS's
  // shape) is held to that server's name folding, so that the login is never
  // made, and confirmed, as a role other than the one it names.
  assertStoredForm(current.engine, admin.username, label);
  return redactedForLogs<DatabaseSecret>({
    engine: admin.named.engine ?? current.engine,
    host: admin.named.host ?? current.host,
    port: admin.named.port ?? current.port,
    dbname: admin.named.dbname ?? current.dbname,
    username: admin.username,
    password: admin.password,
    masterarn: undefined,
    ca: admin.named.ca ?? current.ca,
    options: admin.named.options ?? current.options,
    raw: admin.raw,
  });
}

/**
 * The secret string for a new version: `raw` with `password` replaced (and
 * `username`, in alternating mode) and every other key, known or not,
 * carried over with its value (its position in the object too). Formatting
 * whitespace is not kept.
 *
 * @throws {@link PasswordPolicyError} for an empty password
 *
 * @example
 * ```ts
 * const next = withPassword(current.raw, generatePassword(policy));
 * ```
 */
export function withPassword(
  raw: Readonly<Record<string, unknown>>,
  password: string,
  username?: string,
): string {
  if (typeof password !== 'string' || password.length === 0) {
    throw new PasswordPolicyError('the new password is empty', 'generate a non-empty password');
  }
  return JSON.stringify({ ...raw, ...(username === undefined ? {} : { username }), password });
}

/** The fields that say where, as whom and trusting which CA a secret logs in. */
export type ConnectionIdentity = Readonly<Pick<DatabaseSecret, TargetField>>;

/**
 * Where and as whom `secret` logs in: host, port, database, user, startup
 * options (which pick the cluster on CockroachDB Cloud) and the CA it trusts.
 */
export function connectionIdentity(secret: DatabaseSecret): ConnectionIdentity {
  return {
    host: secret.host,
    port: secret.port,
    dbname: secret.dbname,
    username: secret.username,
    options: secret.options,
    ca: secret.ca,
  };
}

/**
 * How CockroachDB stores a user name given in SQL or at login, quoted or not
 * (`username.MakeSQLUsernameFromUserInput` → `lexbase.NormalizeName`,
 * pkg/sql/lexbase/normalize.go): each code point to lower case by Go's
 * simple mapping, Turkish dotted and dotless i (U+0130, U+0131) both to
 * ASCII `i`, then Unicode NFC. One code point at a time, so no
 * context-dependent final sigma as in `String.prototype.toLowerCase`.
 * PostgreSQL keeps names as written.
 *
 * @example
 * ```ts
 * foldRoleName('App_User'); // 'app_user'
 * ```
 */
export function foldRoleName(name: string): string {
  let lower = '';
  for (const ch of name) lower += ch === '\u0130' || ch === '\u0131' ? 'i' : ch.toLowerCase();
  return lower.normalize('NFC');
}

/**
 * A PEM bundle reduced to what identifies it: the base64 body of each
 * certificate, in order, without whitespace. Line endings and wrapping may
 * differ between two copies of the same CA.
 */
function caFingerprint(ca: string | undefined): string | undefined {
  if (ca === undefined) return undefined;
  const blocks = ca.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks
    .map((block) => block.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''))
    .join('|');
}

/** Whether one field has the same value in both secrets (`ca` compared as certificates). */
function sameField(a: DatabaseSecret, b: DatabaseSecret, field: ComparedField): boolean {
  return field === 'ca' ? caFingerprint(a.ca) === caFingerprint(b.ca) : a[field] === b[field];
}

/** The fields among `fields` whose values differ between `a` and `b`. */
export function differingFields<F extends ComparedField>(
  a: DatabaseSecret,
  b: DatabaseSecret,
  fields: readonly F[],
): F[] {
  return fields.filter((field) => !sameField(a, b, field));
}

/** What a pending version must share with AWSCURRENT: createSecret copies all of it. */
export const PENDING_FIELDS = [
  ...TARGET_FIELDS,
  'masterarn',
] as const satisfies readonly ComparedField[];

/**
 * Refuses a pending version that logs in somewhere else than the current
 * one, trusts another CA, or names another admin secret, or whose username
 * is not the one this rotation changes: AWSCURRENT's own user, or in
 * alternating mode its alternate (the user or its clone), and nothing else.
 * Values are compared exactly (CA bundles as certificates): createSecret
 * copies them, so any difference means the pending version was edited, and
 * setting a password on an unexpected target is worse than failing.
 *
 * @param expectedUsername - the user this rotation changes
 *   (default: AWSCURRENT's own)
 * @throws {@link SecretMismatchError} naming the fields that differ, never
 *   the pending version's values
 *
 * @example
 * ```ts
 * assertSameTarget(current, pending); // before touching the database
 * assertSameTarget(current, pending, 'app_clone'); // alternating mode
 * ```
 */
export function assertSameTarget(
  current: DatabaseSecret,
  pending: DatabaseSecret,
  expectedUsername: string = current.username,
): void {
  const differing = PENDING_FIELDS.filter((field) =>
    field === 'username'
      ? pending.username !== expectedUsername
      : differingFields(current, pending, [field]).length > 0,
  );
  if (differing.length === 0) return;
  const alternate = expectedUsername !== current.username;
  throw new SecretMismatchError(
    differing,
    differing.includes('username') && alternate
      ? `in alternating mode the pending username must be ${expectedUsername}, the user AWSCURRENT (${current.username}) does not name; put it back in the pending version, or cancel the rotation`
      : undefined,
  );
}

/**
 * Refuses another secret the function would log in with (AWSPREVIOUS, the
 * admin secret) unless it names the same server as AWSCURRENT: the function
 * changes a password only on the server AWSCURRENT names.
 *
 * @param fields - the fields that must be equal (the admin's own `username`
 *   is not among them)
 * @param versus - the other secret, for the message
 * @param fix - what to do about it
 * @throws {@link SecretMismatchError} naming the fields that differ
 */
export function assertSameServer(
  current: DatabaseSecret,
  other: DatabaseSecret,
  fields: readonly TargetField[],
  versus: string,
  fix: string,
): void {
  const differing = differingFields(current, other, fields);
  if (differing.length > 0) throw new SecretMismatchError(differing, fix, { versus });
}
