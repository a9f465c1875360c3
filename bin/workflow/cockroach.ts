/**
 * What doctor and audit know about a CockroachDB cluster beyond a single
 * rotation: the release each feature the workflow relies on needs, how a
 * stored `"hashedPassword"` reads, and the HBA rules that let a client send
 * a cleartext password.
 *
 * @module
 */
import pg from 'pg';
import type { DatabaseSession } from '../../lambda/adapters/database.js';
import { type ReadableSetting, readClusterSetting } from '../../lambda/engines/cockroachdb.js';

/** A release, `[major, minor, patch]`. */
export type Release = readonly [number, number, number];

/** The release `version()` names (`CockroachDB CCL v23.1.11 (...)`), or undefined. */
export function cockroachRelease(version: string): Release | undefined {
  const match = /\bv(\d+)\.(\d+)\.(\d+)/.exec(version);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

/** `v<major>.<minor>.<patch>`. */
export function releaseText(release: Release): string {
  return `v${release.join('.')}`;
}

/** Whether `release` is `least` or newer. */
export function atLeast(release: Release, least: Release): boolean {
  for (let i = 0; i < 3; i++) {
    const a = release[i] ?? 0;
    const b = least[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** The first release whose VIEWSYSTEMTABLE lets a role read system.users. */
export const VIEWSYSTEMTABLE_SINCE: Release = [23, 1, 11];

/** A feature the workflow relies on, and the first release that has it. */
export interface CockroachFeature {
  readonly feature: string;
  readonly since: Release;
  /** A line that got it in a patch release, where the exact patch varies. */
  readonly backportedTo?: string;
  /** What happens without it. */
  readonly without: string;
}

/**
 * The CockroachDB releases each feature needs (from CockroachDB's release
 * notes and sources; README "CockroachDB versions").
 */
export const COCKROACH_FEATURES: readonly CockroachFeature[] = [
  {
    feature: 'SCRAM-SHA-256 logins and pre-hashed passwords',
    since: [22, 1, 0],
    without: 'passwords are bcrypt and cleartext at login; the function cannot rotate',
  },
  {
    feature: 'reading server.user_login.* with VIEWCLUSTERSETTING (system privileges)',
    since: [22, 2, 0],
    without: 'only admins can read the settings the function checks',
  },
  {
    feature: 'cost 10610 and re-hash on cost change',
    since: [23, 1, 0],
    backportedTo: 'v22.2',
    without: 'the default SCRAM cost is 119680, and a cost change is not re-hashed',
  },
  {
    feature: 'single-user rotation (sql.auth.change_own_password.enabled)',
    since: [23, 1, 0],
    without: 'a user cannot change its own password: rotate through an admin (masterarn)',
  },
  {
    feature: 'VIEWSYSTEMTABLE reads system.users (stored hashes without admin)',
    since: [23, 1, 11],
    without: 'only admins can confirm stored hashes or audit bcrypt users',
  },
];

/** How a stored `"hashedPassword"` reads (pkg/security/password/password.go, LoadPasswordHash). */
export type StoredHashKind =
  | { readonly kind: 'none' }
  | { readonly kind: 'scram'; readonly iterations: number }
  | { readonly kind: 'bcrypt' }
  | { readonly kind: 'md5' }
  /** Matches the SCRAM pattern, but a part does not decode: no login can succeed. */
  | { readonly kind: 'undecodable' }
  | { readonly kind: 'other' };

const SCRAM =
  /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]{43}=):([A-Za-z0-9+/]{43}=)$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Classifies a stored hash, never returning any part of it. */
export function storedHashKind(hash: string | null | undefined): StoredHashKind {
  if (!hash) return { kind: 'none' };
  if (/^(CRDB-BCRYPT)?\$\d[a-z]?\$\d\d\$[0-9A-Za-z./]{22}/.test(hash)) return { kind: 'bcrypt' };
  if (/^md5[0-9a-f]{32}$/.test(hash)) return { kind: 'md5' };
  const scram = SCRAM.exec(hash);
  if (scram) {
    const decodes = [scram[2], scram[3], scram[4]].every((part) => BASE64.test(part ?? ''));
    return decodes ? { kind: 'scram', iterations: Number(scram[1]) } : { kind: 'undecodable' };
  }
  return { kind: 'other' };
}

/** One HBA rule that lets a client send its password in cleartext (or none at all). */
export interface WeakHbaRule {
  readonly line: string;
  readonly method: string;
}

/** The mandatory first rule CockroachDB prepends (pkg/sql/pgwire/hba_conf.go, rootEntry). */
export const COCKROACH_ROOT_RULE = 'host all root all cert-password';

/**
 * What each HBA method CockroachDB registers asks of a client
 * (pkg/sql/pgwire/auth_methods.go, loadDefaultMethods and the CCL methods):
 * `cleartext` methods send an AuthenticationCleartextPassword request, so the
 * server sees the password (`ldap` binds with it, `jwt_token` reads a token
 * from the password field, so a client configured with a password sends it);
 * `trust` asks for nothing. A method not in this table is not understood,
 * and a rule with it makes the whole configuration unknown.
 */
export const HBA_METHODS = {
  'scram-sha-256': 'scram',
  'cert-scram-sha-256': 'scram',
  cert: 'certificate',
  gss: 'kerberos',
  reject: 'reject',
  password: 'cleartext',
  'cert-password': 'cleartext',
  ldap: 'cleartext',
  jwt_token: 'cleartext',
  trust: 'none',
} as const;

/** The connection types an HBA rule may start with (pkg/sql/pgwire/hba/hba.go). */
const HBA_TYPES = ['host', 'hostssl', 'hostnossl', 'local'] as const;

/** How an HBA configuration reads: its weak rules, or why it cannot be read. */
export type HbaReading =
  | { readonly kind: 'parsed'; readonly weak: readonly WeakHbaRule[] }
  | { readonly kind: 'unparsable'; readonly line: string; readonly reason: string };

/** The value CockroachDB shows for a sensitive setting it hides (pkg/settings/masked.go). */
export const REDACTED_SETTING = '<redacted>';

/**
 * Reads `server.host_based_authentication.configuration`: the rules that let
 * a client send a cleartext password (`password`, `cert-password`, `ldap`,
 * `jwt_token`) or skip authentication (`trust`), or `unparsable` for a rule
 * this reader does not understand (an unknown type or method, too few
 * fields, the `<redacted>` mask): unknown is never read as safe. An empty
 * setting means CockroachDB's default (pkg/sql/pgwire/hba_conf.go,
 * DefaultHBAConfig): `host all all all cert-password` and `local all all
 * password`. The mandatory root rule is not counted: it cannot be removed
 * (give root no password instead).
 */
export function readHbaRules(configuration: string): HbaReading {
  const lines =
    configuration.trim() === ''
      ? ['host  all all  all cert-password', 'local all all      password']
      : configuration.split('\n');
  const weak: WeakHbaRule[] = [];
  for (const raw of lines) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const fields = line.split(/\s+/);
    const type = fields[0] ?? '';
    if (!(HBA_TYPES as readonly string[]).includes(type)) {
      return {
        kind: 'unparsable',
        line,
        reason: `unknown connection type ${JSON.stringify(type)}`,
      };
    }
    // host*: type db user address [mask] method [options]; local: type db user method [options].
    let at = type === 'local' ? 3 : 4;
    if (type !== 'local' && /^[0-9.]+$|^[0-9a-f:]+:[0-9a-f:]*$/i.test(fields[at] ?? '')) at += 1;
    const method = fields[at];
    if (method === undefined) {
      return { kind: 'unparsable', line, reason: 'no authentication method' };
    }
    if (!Object.hasOwn(HBA_METHODS, method)) {
      return { kind: 'unparsable', line, reason: `unknown method ${JSON.stringify(method)}` };
    }
    if (fields.slice(0, 5).join(' ') === COCKROACH_ROOT_RULE) continue;
    const asks = HBA_METHODS[method as keyof typeof HBA_METHODS];
    if (asks === 'cleartext' || asks === 'none') weak.push({ line: fields.join(' '), method });
  }
  return { kind: 'parsed', weak };
}

/** A cluster setting as read: its value, or why it is unknown and what would let it be seen. */
export type SettingFact =
  | { readonly kind: 'known'; readonly value: string }
  | {
      readonly kind: 'unknown';
      /** `... is unknown: <why>`. */
      readonly why: string;
      /** The privilege that would let the reader see it, as a statement to run. */
      readonly fix: string;
    };

/**
 * Reads a cluster setting as a fact: `unknown` when the role may not read it
 * (VIEWCLUSTERSETTING names the grant), when CockroachDB shows it as
 * `<redacted>` (with `server.redact_sensitive_settings.enabled`, only admin
 * or MODIFYCLUSTERSETTING see sensitive settings, pkg/settings/masked.go).
 * Never a guess: the callers fail the check on `unknown`, and compare a
 * known value with the one they need (anything else fails too).
 */
export async function readSettingFact(
  session: DatabaseSession,
  setting: ReadableSetting,
  who: string,
): Promise<SettingFact> {
  const value = await readClusterSetting(session, setting);
  const role = pg.escapeIdentifier(who);
  if (value === undefined) {
    return {
      kind: 'unknown',
      why: `not readable by ${who}`,
      fix: `GRANT SYSTEM VIEWCLUSTERSETTING TO ${role}`,
    };
  }
  if (value === REDACTED_SETTING) {
    return {
      kind: 'unknown',
      why: `shown to ${who} as ${REDACTED_SETTING} (server.redact_sensitive_settings.enabled hides sensitive settings from VIEWCLUSTERSETTING)`,
      fix: `GRANT SYSTEM MODIFYCLUSTERSETTING TO ${role}, or run this as an admin (only admin or MODIFYCLUSTERSETTING see a redacted setting)`,
    };
  }
  return { kind: 'known', value };
}

/** The first release where CREATEROLE alone grants membership in any non-admin role (PR #104376). */
export const CREATEROLE_GRANTS_SINCE: Release = [23, 2, 0];

/** The v23.1 setting that lets CREATEROLE grant role membership (default off; gone in v23.2). */
export const CREATEROLE_GRANTS_SETTING = 'sql.auth.createrole_allows_grant_role_membership.enabled';

/** Whether CREATEROLE alone lets a role grant membership in a non-admin role, and why. */
export type CreateRoleGrants =
  | { readonly grants: true; readonly why: string }
  | { readonly grants: false; readonly why: string; readonly fix: string };

/**
 * Whether a CREATEROLE holder may grant membership in any role but `admin`
 * on this cluster (pkg/sql/grant_role.go): since v23.2 always; on v23.1 only
 * with {@link CREATEROLE_GRANTS_SETTING} on (unknown counts as off); before
 * that, only ADMIN OPTION on the role lets a non-admin grant it, and that
 * GRANT makes the admin a member of the role, with its privileges on the
 * application's data, so the fix there is an upgrade.
 */
export async function createRoleGrants(
  session: DatabaseSession,
  who: string,
): Promise<CreateRoleGrants> {
  const release = cockroachRelease(await session.serverVersion());
  if (release === undefined) {
    return {
      grants: false,
      why: 'the release is unknown (version() names none), so whether CREATEROLE may grant membership is unknown',
      fix: `upgrade to ${releaseText(CREATEROLE_GRANTS_SINCE)}+`,
    };
  }
  if (atLeast(release, CREATEROLE_GRANTS_SINCE)) {
    return {
      grants: true,
      why: `CREATEROLE grants membership in any non-admin role since ${releaseText(CREATEROLE_GRANTS_SINCE)}`,
    };
  }
  if (atLeast(release, [23, 1, 0])) {
    const fact = await readSettingFact(session, CREATEROLE_GRANTS_SETTING, who);
    if (fact.kind === 'known' && fact.value === 'true') {
      return { grants: true, why: `${CREATEROLE_GRANTS_SETTING} is true (v23.1)` };
    }
    return {
      grants: false,
      why:
        fact.kind === 'known'
          ? `on ${releaseText(release)} CREATEROLE grants membership only with ${CREATEROLE_GRANTS_SETTING}, which is ${fact.value}`
          : `on ${releaseText(release)} CREATEROLE grants membership only with ${CREATEROLE_GRANTS_SETTING}, which is unknown: ${fact.why}`,
      fix: `SET CLUSTER SETTING ${CREATEROLE_GRANTS_SETTING} = true${fact.kind === 'unknown' ? ` (and ${fact.fix} so doctor can see it)` : ''}`,
    };
  }
  return {
    grants: false,
    why: `on ${releaseText(release)} only ADMIN OPTION on the role lets a non-admin grant it, and that GRANT also gives the admin the role's privileges on the application's data`,
    fix: `upgrade to ${releaseText(CREATEROLE_GRANTS_SINCE)}+ (or v23.1 with ${CREATEROLE_GRANTS_SETTING} on), where CREATEROLE is enough`,
  };
}
