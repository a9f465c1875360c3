/**
 * PostgreSQL's HBA rules as `pg_hba_file_rules` shows them, read the one way
 * by doctor and audit: what each method asks of a client, and which rules
 * are weak or unknown. A rule the server could not parse (its `error` is
 * set) or a method not in {@link PG_HBA_METHODS} is unknown: the server
 * keeps its previous rules when the file has an error, so the file no longer
 * says what is in force.
 *
 * @module
 */

/**
 * What each method PostgreSQL documents asks of a client ("Authentication
 * Methods" in the PostgreSQL manual): `cleartext` methods send an
 * AuthenticationCleartextPassword request, so the server sees the password
 * (`ldap`, `radius`, `pam` and `bsd` check it elsewhere, but receive it
 * first); `trust` asks for nothing.
 */
export const PG_HBA_METHODS = {
  'scram-sha-256': 'scram',
  md5: 'md5',
  password: 'cleartext',
  ldap: 'cleartext',
  radius: 'cleartext',
  pam: 'cleartext',
  bsd: 'cleartext',
  trust: 'none',
  reject: 'reject',
  cert: 'certificate',
  gss: 'kerberos',
  sspi: 'kerberos',
  ident: 'operating-system',
  peer: 'operating-system',
} as const;

/**
 * One row of `pg_hba_file_rules` (auth_method is NULL on a line with an
 * error); a type, not an interface, so that it is a query row.
 */
export type PgHbaRow = {
  readonly line_number: number;
  readonly type: string | null;
  readonly database: readonly string[] | null;
  readonly user_name: readonly string[] | null;
  readonly auth_method: string | null;
  readonly error?: string | null;
};

/** How a rule reads: the method's kind, or unknown with why. */
export type PgHbaReading =
  | {
      readonly kind: 'known';
      readonly method: (typeof PG_HBA_METHODS)[keyof typeof PG_HBA_METHODS];
    }
  | { readonly kind: 'unknown'; readonly why: string };

/** What one rule's method asks of a client, or why that is unknown. */
export function readPgHbaRule(row: PgHbaRow): PgHbaReading {
  if (row.error) {
    return {
      kind: 'unknown',
      why: `line ${row.line_number} has an error, so the server kept its previous rules`,
    };
  }
  const method = row.auth_method ?? '';
  if (!Object.hasOwn(PG_HBA_METHODS, method)) {
    return { kind: 'unknown', why: `line ${row.line_number}'s method is not understood` };
  }
  return { kind: 'known', method: PG_HBA_METHODS[method as keyof typeof PG_HBA_METHODS] };
}

/**
 * Whether a rule's user or database list may match `name`: anything other
 * than `all` or the exact name (a `+group`, a `/regex`, `samerole`,
 * `sameuser`, an `@file` left unexpanded) is taken to match, since whether
 * it does is not proven here.
 */
export function mayApply(list: readonly string[] | null, name: string): boolean {
  if (list === null) return true;
  return list.some(
    (entry) => entry === 'all' || entry === name || /^[+/@]/.test(entry) || /^same/.test(entry),
  );
}
