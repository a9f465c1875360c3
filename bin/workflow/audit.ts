/**
 * `npm run audit`: where a cluster stands on strict credential isolation
 * (the CockroachDB guide's three phases; the same questions for
 * PostgreSQL), read-only, one line per check and per login user.
 *
 * - Phase 1: the server stores pre-hashed verifiers as sent and hashes new
 *   cleartext passwords as SCRAM (CockroachDB: `store_client_pre_hashed_passwords`,
 *   `password_encryption`, no bcrypt downgrade; PostgreSQL: `password_encryption`).
 * - Phase 2: no HBA rule lets a client send a cleartext password (or none),
 *   and no login user still has a stored password that is not SCRAM (strict
 *   HBA would lock such a user out).
 * - Phase 3: every login user with a password, privileged roles and the
 *   rotation admin included, has a SCRAM hash and a secret rotated (by this
 *   function, which proves a SCRAM login before finishing) after strict HBA
 *   was put in place.
 *
 * Unknown is never safe: a value this role may not read, one CockroachDB
 * shows as `<redacted>`, or one that does not parse fails its check, and the
 * line names the privilege that would let audit see it.
 *
 * When strict HBA was put in place is known from `--strict-hba-since`, or
 * from the tag `audit --mark-phase2` puts on the secret audit logs in with:
 * the time, and a fingerprint of the HBA rules it saw (a later change of
 * the rules voids the mark, since a weaker rule may have been in force in
 * between). Marking is the one write, and only with that flag.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import {
  DescribeSecretCommand,
  ListSecretsCommand,
  type SecretListEntry,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import type { DatabaseSession } from '../../lambda/adapters/database.js';
import { COCKROACH_SETTINGS, enableStatement } from '../../lambda/engines/cockroachdb.js';
import { engineOf } from '../../lambda/engines/detect.js';
import type { Engine } from '../../lambda/engines/engine.js';
import { readIfPermitted, WORKFLOW_STATEMENTS } from '../../lambda/engines/workflow.js';
import {
  cockroachRelease,
  readHbaRules,
  readSettingFact,
  releaseText,
  type SettingFact,
  storedHashKind,
  VIEWSYSTEMTABLE_SINCE,
} from './cockroach.js';
import { type LoadedSecret, loadSecret, loginAs, serverTag, TAGS } from './common.js';
import { type PgHbaRow, readPgHbaRule } from './postgres-hba.js';
import type { WorkflowDeps } from './provision.js';

/** The outcome of one check. */
export type AuditStatus = 'pass' | 'warn' | 'fail';

/** One line of the report. */
export interface AuditLine {
  readonly check: string;
  readonly status: AuditStatus;
  readonly detail: string;
  readonly fix?: string;
  /** A failure because audit could not see the fact (its fix names the privilege). */
  readonly unknown?: true;
  /** The phase whose requirement this is; per-user lines are phase 3. */
  readonly phase: 1 | 2 | 3;
}

/** The report. */
export interface AuditReport {
  readonly engine: string;
  /** The last phase whose requirements all hold (0: none). */
  readonly phase: 0 | 1 | 2 | 3;
  /** False when a check the next phase needs failed because its fact is unknown. */
  readonly phaseKnown: boolean;
  readonly strictHbaSince: string | undefined;
  readonly results: readonly AuditLine[];
}

/** What `audit` is asked. */
export interface AuditOptions {
  /** The secret to log in with (any role; more privilege, fewer skipped checks). */
  readonly secretId: string;
  /** When strict HBA was put in place, if the operator knows. */
  readonly strictHbaSince?: Date | undefined;
  /** Record now as the time strict HBA was put in place (phase 2 must hold). */
  readonly markPhase2: boolean;
}

/** The HBA rules as read, and what lets a cleartext password through; or why they are unknown. */
type HbaFinding =
  | { readonly kind: 'known'; readonly fingerprint: string; readonly weak: readonly string[] }
  | { readonly kind: 'unknown'; readonly why: string; readonly fix: string };

/** A failed line for a fact audit could not see. */
function unknownLine(
  check: string,
  phase: 1 | 2 | 3,
  subject: string,
  fact: { why: string; fix: string },
): AuditLine {
  return {
    check,
    status: 'fail',
    phase,
    unknown: true,
    detail: `unknown: ${subject} is ${fact.why}`,
    fix: fact.fix,
  };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** The mark as the tag holds it: `<ISO time> sha256:<fingerprint>`. */
export function parseMark(
  value: string | undefined,
): { since: Date; fingerprint: string } | undefined {
  const match = /^(\S+) sha256:([0-9a-f]{16})$/.exec(value ?? '');
  const since = match ? parseIsoTime(match[1] ?? '') : undefined;
  if (!match || !since) return undefined;
  return { since, fingerprint: match[2] ?? '' };
}

/** An ISO 8601 date and time with its offset: 2026-11-01T12:00:00Z, or with +02:00. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * A time for when strict HBA began, or undefined. Only a full ISO 8601 time
 * with an offset: `new Date` alone reads "1" as 2001 and "11" as 2001-11-01,
 * and an earlier "since" passes phase 3 for passwords set before strict HBA.
 */
export function parseIsoTime(text: string): Date | undefined {
  if (!ISO_TIME.test(text)) return undefined;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/** Phase 1 on CockroachDB: settings that make the server store what it is sent, as SCRAM. */
async function cockroachPhase1(session: DatabaseSession, who: string): Promise<AuditLine[]> {
  const lines: AuditLine[] = [];
  const preHashed = await readSettingFact(session, COCKROACH_SETTINGS.storePreHashed, who);
  lines.push(
    preHashed.kind === 'unknown'
      ? unknownLine('pre-hashed passwords', 1, COCKROACH_SETTINGS.storePreHashed, preHashed)
      : preHashed.value === 'true'
        ? {
            check: 'pre-hashed passwords',
            status: 'pass',
            phase: 1,
            detail: `${COCKROACH_SETTINGS.storePreHashed} is true`,
          }
        : {
            check: 'pre-hashed passwords',
            status: 'fail',
            phase: 1,
            detail: `${COCKROACH_SETTINGS.storePreHashed} is ${preHashed.value}: a verifier sent in ALTER USER becomes the password`,
            fix: enableStatement(COCKROACH_SETTINGS.storePreHashed),
          },
  );
  const encryption = await readSettingFact(session, 'server.user_login.password_encryption', who);
  const downgrade: SettingFact = await readSettingFact(
    session,
    'server.user_login.downgrade_scram_stored_passwords_to_bcrypt.enabled',
    who,
  );
  lines.push(
    encryption.kind === 'unknown'
      ? unknownLine('password encryption', 1, 'server.user_login.password_encryption', encryption)
      : encryption.value === 'scram-sha-256'
        ? {
            check: 'password encryption',
            status: 'pass',
            phase: 1,
            detail: 'server.user_login.password_encryption is scram-sha-256',
          }
        : {
            check: 'password encryption',
            status: 'fail',
            phase: 1,
            detail:
              `server.user_login.password_encryption is ${encryption.value}: new passwords are stored as bcrypt` +
              (downgrade.kind === 'known' && downgrade.value === 'true'
                ? ', and with the downgrade setting on every SCRAM-stored user is asked for its cleartext password at login and turned back into bcrypt'
                : ''),
            fix: "SET CLUSTER SETTING server.user_login.password_encryption = 'scram-sha-256'",
          },
  );
  return lines;
}

/** Phase 1 on PostgreSQL: new passwords hashed as SCRAM. */
async function postgresPhase1(session: DatabaseSession): Promise<AuditLine[]> {
  const encryption = await session.setting('password_encryption');
  return [
    encryption === 'scram-sha-256'
      ? {
          check: 'password encryption',
          status: 'pass',
          phase: 1,
          detail: 'password_encryption is scram-sha-256',
        }
      : {
          check: 'password encryption',
          status: 'fail',
          phase: 1,
          detail: `password_encryption is ${encryption ?? 'unknown'}: new passwords are stored as MD5`,
          fix: "ALTER SYSTEM SET password_encryption = 'scram-sha-256'; SELECT pg_reload_conf()",
        },
  ];
}

/** The HBA rules, or why they are unknown to this role. */
async function readHba(engine: Engine, session: DatabaseSession, who: string): Promise<HbaFinding> {
  if (engine.name === 'cockroachdb') {
    const setting = 'server.host_based_authentication.configuration';
    const fact = await readSettingFact(session, setting, who);
    if (fact.kind === 'unknown')
      return { kind: 'unknown', why: `${setting} is ${fact.why}`, fix: fact.fix };
    const config = fact.value;
    const reading = readHbaRules(config);
    if (reading.kind === 'unparsable') {
      return {
        kind: 'unknown',
        why: `${setting} does not parse (${reading.reason} in "${reading.line}")`,
        fix: 'correct the rule, or read it as an admin and check it by hand',
      };
    }
    return {
      kind: 'known',
      fingerprint: sha256(config),
      weak: reading.weak.map((rule) =>
        config.trim() === '' ? `${rule.line} (the built-in default)` : rule.line,
      ),
    };
  }
  const rows = await readIfPermitted(() =>
    session.query<PgHbaRow & { address: string | null }>(
      'SELECT line_number, type, database, user_name, address, auth_method, error FROM pg_hba_file_rules ORDER BY line_number',
    ),
  );
  if (rows === undefined) {
    return {
      kind: 'unknown',
      why: `pg_hba_file_rules is not readable by ${who}`,
      fix: 'log in as a superuser (pg_hba_file_rules is superuser-only by default)',
    };
  }
  const unknown = rows.flatMap((r) => {
    const reading = readPgHbaRule(r);
    return r.type !== 'local' && reading.kind === 'unknown' ? [reading.why] : [];
  });
  if (unknown.length > 0) {
    return {
      kind: 'unknown',
      why: `pg_hba.conf not understood: ${unknown.join('; ')}`,
      fix: 'fix pg_hba.conf until pg_hba_file_rules shows no error, then SELECT pg_reload_conf()',
    };
  }
  const rules = rows.map(
    (r) =>
      `${r.type} ${(r.database ?? []).join(',')} ${(r.user_name ?? []).join(',')} ${r.address ?? ''} ${r.auth_method}`,
  );
  return {
    kind: 'known',
    fingerprint: sha256(rules.join('\n')),
    weak: rows
      .filter((r) => {
        const reading = readPgHbaRule(r);
        return (
          r.type !== 'local' &&
          reading.kind === 'known' &&
          (reading.method === 'cleartext' || reading.method === 'md5' || reading.method === 'none')
        );
      })
      .map((r, i) => `line ${r.line_number}: ${rules[rows.indexOf(r)] ?? i}`),
  };
}

/** The secrets provision and adopt tagged, for users on this server. */
async function managedSecrets(
  deps: WorkflowDeps,
  server: string,
): Promise<Map<string, SecretListEntry[]> | undefined> {
  const byUser = new Map<string, SecretListEntry[]>();
  let next: string | undefined;
  try {
    do {
      const page = await deps.secrets.send(
        new ListSecretsCommand({
          Filters: [{ Key: 'tag-key', Values: [TAGS.username] }],
          ...(next ? { NextToken: next } : {}),
        }),
      );
      for (const entry of page.SecretList ?? []) {
        const tag = (key: string) => entry.Tags?.find((t) => t.Key === key)?.Value;
        const user = tag(TAGS.username);
        if (user === undefined || tag(TAGS.server) !== server) continue;
        byUser.set(user, [...(byUser.get(user) ?? []), entry]);
      }
      next = page.NextToken;
    } while (next);
  } catch (error) {
    if ((error as Error).name === 'AccessDeniedException') return undefined;
    throw error;
  }
  return byUser;
}

/** One login user's phase-3 line. */
function userLine(input: {
  readonly user: string;
  readonly hash: string | null | undefined;
  readonly hashesReadable: boolean;
  readonly privileged: readonly string[];
  readonly secrets: readonly SecretListEntry[] | undefined;
  readonly since: Date | undefined;
  readonly engine: string;
  readonly adoptCommand: string;
}): AuditLine {
  const problems: { status: AuditStatus; text: string; fix?: string; unknown?: true }[] = [];
  const kind = input.hashesReadable ? storedHashKind(input.hash) : undefined;
  const noPassword = kind?.kind === 'none';
  switch (kind?.kind) {
    case 'bcrypt':
      problems.push({
        status: 'fail',
        text: 'stored as crdb-bcrypt: its logins send the cleartext password',
        fix: input.adoptCommand,
      });
      break;
    case 'md5':
      problems.push({ status: 'fail', text: 'stored as MD5', fix: input.adoptCommand });
      break;
    case 'undecodable':
      problems.push({
        status: 'fail',
        text: 'stored as a SCRAM string whose base64 does not decode: no login can succeed',
        fix: input.adoptCommand,
      });
      break;
    case 'other':
      problems.push({
        status: 'fail',
        text: 'stored in cleartext or an unknown format',
        fix: input.adoptCommand,
      });
      break;
    default:
      break;
  }
  const candidates = (input.secrets ?? []).filter((s) => s.RotationEnabled);
  const latest = candidates
    .map((s) => s.LastRotatedDate)
    .filter((d): d is Date => d !== undefined)
    .sort((a, b) => b.getTime() - a.getTime())[0];
  const privileged =
    input.privileged.length > 0 ? `privileged (${input.privileged.join(', ')}): ` : '';
  if (input.secrets === undefined) {
    problems.push({
      status: 'fail',
      unknown: true,
      text: 'unknown: managed secrets not readable',
      fix: 'allow secretsmanager:ListSecrets',
    });
  } else if (!noPassword) {
    if (candidates.length === 0) {
      problems.push(
        input.privileged.length > 0
          ? {
              status: 'fail',
              text: `${privileged}no rotated secret proves its password was set again after strict HBA began`,
              fix: `ALLOW_PRIVILEGED_TARGET=true ${input.adoptCommand} (or enable rotation on the secret that holds it)`,
            }
          : {
              status: 'fail',
              text:
                input.secrets.length > 0
                  ? 'its secret does not have rotation enabled'
                  : `no secret managed by this rotation${input.engine === 'postgres' && kind?.kind === 'scram' ? ' (its verifier may have been computed by the server from a cleartext password)' : ''}`,
              fix: input.adoptCommand,
            },
      );
    } else if (latest === undefined) {
      problems.push({
        status: 'fail',
        text: `${privileged}never rotated`,
        fix: input.adoptCommand,
      });
    } else if (input.since === undefined) {
      problems.push({
        status: 'warn',
        text: `last rotated ${latest.toISOString()}; when strict HBA began is unknown`,
        fix: 'run npm run audit -- --mark-phase2 once phase 2 holds, or pass --strict-hba-since',
      });
    } else if (latest <= input.since) {
      problems.push({
        status: 'fail',
        text: `${privileged}last rotated ${latest.toISOString()}, before strict HBA (${input.since.toISOString()}): the server may have seen this password`,
        fix: `npm run rotate -- --secret-id ${candidates[0]?.ARN ?? ''}`,
      });
    }
  }
  if (!input.hashesReadable) {
    problems.push({ status: 'fail', unknown: true, text: 'unknown: stored hash not readable' });
  }
  const order: AuditStatus[] = ['fail', 'warn', 'pass'];
  const worst = order.find((s) => problems.some((p) => p.status === s)) ?? 'pass';
  const first = problems.find((p) => p.status === worst && p.fix);
  const good = noPassword
    ? 'no password (cannot log in by password)'
    : `SCRAM${kind?.kind === 'scram' ? ` (${kind.iterations} iterations)` : ''}, managed${latest ? `, last rotated ${latest.toISOString()}` : ''}`;
  return {
    check: `user ${input.user}`,
    status: worst,
    phase: 3,
    detail: problems.length === 0 ? good : problems.map((p) => p.text).join('; '),
    ...(first?.fix ? { fix: first.fix } : {}),
    ...(problems.some((p) => p.unknown) ? { unknown: true as const } : {}),
  };
}

/** Runs the audit (and the mark, when asked). */
export async function audit(options: AuditOptions, deps: WorkflowDeps): Promise<AuditReport> {
  const login: LoadedSecret = await loadSecret(
    deps.secrets,
    options.secretId,
    'secret (--secret-id)',
  );
  const session = await loginAs(deps.database, login.secret, deps.config, 'secret (--secret-id)');
  const results: AuditLine[] = [];
  try {
    const engine = await engineOf(session);
    const who = login.secret.username;
    if (engine.name === 'cockroachdb') {
      const release = cockroachRelease(await session.serverVersion());
      results.push({
        check: 'version',
        status: 'pass',
        phase: 1,
        detail: release
          ? `CockroachDB ${releaseText(release)}`
          : 'CockroachDB (release not recognised)',
      });
    }
    results.push(
      ...(engine.name === 'cockroachdb'
        ? await cockroachPhase1(session, who)
        : await postgresPhase1(session)),
    );

    const hba = await readHba(engine, session, who);
    results.push(
      hba.kind === 'unknown'
        ? {
            check: 'hba',
            status: 'fail',
            phase: 2,
            unknown: true,
            detail: `unknown: ${hba.why}`,
            fix: hba.fix,
          }
        : hba.weak.length === 0
          ? {
              check: 'hba',
              status: 'pass',
              phase: 2,
              detail: 'no HBA rule lets a client send a cleartext password',
            }
          : {
              check: 'hba',
              status: 'fail',
              phase: 2,
              detail: `rules let clients send cleartext passwords (or none): ${hba.weak.join('; ')}`,
              fix:
                engine.name === 'cockroachdb'
                  ? "SET CLUSTER SETTING server.host_based_authentication.configuration = 'host all all all scram-sha-256'"
                  : 'use hostssl ... scram-sha-256 rules only in pg_hba.conf, then SELECT pg_reload_conf()',
            },
    );

    // Strict HBA locks out every user whose stored password is not SCRAM.
    const hashes = await WORKFLOW_STATEMENTS[engine.name].storedHashes(session);
    const loginRoles = await WORKFLOW_STATEMENTS[engine.name].loginRoles(session);
    results.push(storedPasswordsLine(engine.name, who, loginRoles, hashes));

    // When strict HBA began: the flag, else the mark, if the rules are unchanged.
    const described = await deps.secrets.send(new DescribeSecretCommand({ SecretId: login.arn }));
    const mark = parseMark(described.Tags?.find((t) => t.Key === TAGS.strictHbaSince)?.Value);
    const phase2Holds =
      results.every((r) => r.phase === 3 || r.status === 'pass') && hba.kind === 'known';
    let since = options.strictHbaSince;
    if (options.markPhase2) {
      if (!phase2Holds || hba.kind !== 'known') {
        results.push({
          check: 'mark',
          status: 'fail',
          phase: 2,
          detail: 'not marked: phases 1 and 2 must hold first',
          fix: 'fix the lines above, then run --mark-phase2 again',
        });
      } else {
        const now = new Date();
        await deps.secrets.send(
          new TagResourceCommand({
            SecretId: login.arn,
            Tags: [
              { Key: TAGS.strictHbaSince, Value: `${now.toISOString()} sha256:${hba.fingerprint}` },
            ],
          }),
        );
        since = now;
        results.push({
          check: 'mark',
          status: 'pass',
          phase: 2,
          detail: `strict HBA recorded as in place since ${now.toISOString()} (tag ${TAGS.strictHbaSince} on ${login.name})`,
        });
      }
    } else if (since === undefined && mark !== undefined) {
      if (hba.kind === 'known' && mark.fingerprint === hba.fingerprint) {
        since = mark.since;
        results.push({
          check: 'strict hba since',
          status: 'pass',
          phase: 2,
          detail: `${mark.since.toISOString()} (recorded by audit --mark-phase2)`,
        });
      } else {
        results.push({
          check: 'strict hba since',
          status: 'warn',
          phase: 2,
          detail:
            'the HBA rules changed since audit --mark-phase2 recorded them (or cannot be read)',
          fix: 'run npm run audit -- --mark-phase2 again; rotations before it no longer count',
        });
      }
    } else if (since !== undefined) {
      results.push({
        check: 'strict hba since',
        status: 'pass',
        phase: 2,
        detail: `${since.toISOString()} (--strict-hba-since)`,
      });
    }

    // Phase 3: every login user, privileged ones included.
    const managed = await managedSecrets(deps, serverTag(login.secret));
    const loginSecretEntry: SecretListEntry = {
      ARN: login.arn,
      RotationEnabled: described.RotationEnabled,
      ...(described.LastRotatedDate ? { LastRotatedDate: described.LastRotatedDate } : {}),
    };
    for (const [index, user] of loginRoles.entries()) {
      deps.progress?.(index, loginRoles.length);
      const facts = await engine.roleFacts(session, user, undefined);
      const ownSecret = user === who ? [loginSecretEntry] : [];
      results.push(
        userLine({
          user,
          hash: hashes?.get(user),
          // A login role the hash query did not return has an unknown hash,
          // not "no password".
          hashesReadable: hashes?.has(user) === true,
          privileged: facts ? [...facts.attributes, ...facts.privilegedRoles] : [],
          secrets: managed === undefined ? undefined : [...(managed.get(user) ?? []), ...ownSecret],
          since,
          engine: engine.name,
          adoptCommand: `scram-rotator adopt --admin-secret-id <admin secret> --users ${user}`,
        }),
      );
    }
    deps.progress?.(loginRoles.length, loginRoles.length);
    return {
      engine: engine.name,
      ...phaseOf(results, since),
      strictHbaSince: since?.toISOString(),
      results,
    };
  } finally {
    await session.close();
  }
}

/**
 * Phase 2's line on stored passwords: every login user with a password that
 * is not SCRAM (crdb-bcrypt, MD5, cleartext or unknown), whom strict HBA
 * would lock out; unknown (fails) when the hashes, or any login user's, cannot be read.
 */
export function storedPasswordsLine(
  engine: Engine['name'],
  who: string,
  users: readonly string[],
  hashes: ReadonlyMap<string, string | null> | undefined,
): AuditLine {
  const check = 'stored passwords';
  if (hashes === undefined) {
    return {
      check,
      status: 'fail',
      phase: 2,
      unknown: true,
      detail:
        engine === 'cockroachdb'
          ? `unknown: system.users is not readable by ${who}, so users stored as crdb-bcrypt (whom strict HBA would lock out) cannot be found`
          : `unknown: pg_authid is not readable by ${who}, so MD5-stored users (whom strict HBA would lock out) cannot be found`,
      fix:
        engine === 'cockroachdb'
          ? `GRANT SYSTEM VIEWSYSTEMTABLE TO ${who} (${releaseText(VIEWSYSTEMTABLE_SINCE)}+), or audit as an admin`
          : 'audit as a superuser',
    };
  }
  // A login role the hash query did not return (CockroachDB: a role made
  // with CREATE ROLE ... LOGIN; or one created between the two reads) is
  // unknown: reading it as "no password" would pass the phase on no fact.
  const unread = users.filter((user) => !hashes.has(user));
  if (unread.length > 0) {
    return {
      check,
      status: 'fail',
      phase: 2,
      unknown: true,
      detail: `unknown: no stored hash was read for ${unread.join(', ')}, so whether strict HBA would lock them out cannot be told`,
      fix: 'run audit again; if it persists, audit as an admin',
    };
  }
  const weak = users.flatMap((user) => {
    const kind = storedHashKind(hashes.get(user)).kind;
    return kind === 'scram' || kind === 'none'
      ? []
      : [`${user} (${kind === 'bcrypt' ? 'crdb-bcrypt' : kind})`];
  });
  return weak.length === 0
    ? {
        check,
        status: 'pass',
        phase: 2,
        detail: 'every login user with a password has a SCRAM verifier',
      }
    : {
        check,
        status: 'fail',
        phase: 2,
        detail: `strict HBA would lock out the users whose password is not SCRAM: ${weak.join(', ')}`,
        fix: 'give each a SCRAM verifier first (phase 1: npm run adopt -- --users <name>, or npm run hash and ALTER USER as an admin), then make HBA strict',
      };
}

/** The last phase whose lines all pass (warnings allowed), and whether an unknown fact hid the next one. */
function phaseOf(
  results: readonly AuditLine[],
  since: Date | undefined,
): { phase: 0 | 1 | 2 | 3; phaseKnown: boolean } {
  let phase: 0 | 1 | 2 | 3 = 0;
  for (const p of [1, 2, 3] as const) {
    const lines = results.filter((r) => r.phase === p);
    const failed = lines.filter((r) => r.status === 'fail');
    if (failed.length > 0) return { phase, phaseKnown: !failed.some((r) => r.unknown) };
    if (p === 3 && (since === undefined || lines.some((r) => r.status === 'warn'))) {
      return { phase, phaseKnown: true };
    }
    phase = p;
  }
  return { phase, phaseKnown: true };
}
