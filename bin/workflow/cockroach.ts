/**
 * What doctor and audit know about a CockroachDB cluster beyond a single
 * rotation: the release each feature the workflow relies on needs, how a
 * stored `"hashedPassword"` reads, and the HBA rules that let a client send
 * a cleartext password.
 *
 * @module
 */

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
 * The rules of `server.host_based_authentication.configuration` that let a
 * client send a cleartext password (`password`, `cert-password`) or skip
 * authentication (`trust`). An empty setting means CockroachDB's default
 * (pkg/sql/pgwire/hba_conf.go, DefaultHBAConfig): `host all all all
 * cert-password` and `local all all password`. The mandatory root rule is
 * not counted: it cannot be removed (give root no password instead).
 */
export function weakHbaRules(configuration: string): WeakHbaRule[] {
  const lines =
    configuration.trim() === ''
      ? ['host  all all  all cert-password', 'local all all      password']
      : configuration.split('\n');
  const weak: WeakHbaRule[] = [];
  for (const raw of lines) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const fields = line.split(/\s+/);
    // host/hostssl/hostnossl lines: type db user address method; local: type db user method.
    const method = fields[0] === 'local' ? fields[3] : fields[4];
    if (fields.slice(0, 5).join(' ') === COCKROACH_ROOT_RULE) continue;
    if (method === 'password' || method === 'cert-password' || method === 'trust') {
      weak.push({ line: fields.join(' '), method });
    }
  }
  return weak;
}
