/**
 * The preflight checks of `npm run doctor`: everything a rotation will rely
 * on, checked read-only against the real secret and the real database, one
 * result per check with the fix for anything that would fail.
 *
 * It reuses the function's own adapters and engine checks, so what passes
 * here is what the function will do: verify-full TLS, SCRAM only, the same
 * CA resolution, the same CockroachDB settings.
 *
 * @module
 */
import pg from 'pg';
import type {
  DatabaseConnector,
  DatabaseSession,
  LoginLimits,
} from '../../lambda/adapters/database.js';
import type { SecretStore } from '../../lambda/adapters/secrets-manager.js';
import type { RotationConfig } from '../../lambda/config.js';
import { targetRoleProblem } from '../../lambda/core/confinement.js';
import { parseScramVerifier } from '../../lambda/core/scram.js';
import {
  ADMIN_SERVER_FIELDS,
  adminLogin,
  type DatabaseSecret,
  differingFields,
  PENDING_FIELDS,
  parseAdminSecret,
  parseDatabaseSecret,
} from '../../lambda/core/secret.js';
import { COCKROACH_SETTINGS, enableStatement } from '../../lambda/engines/cockroachdb.js';
import { detectEngine, ENGINES, type ServerEngine } from '../../lambda/engines/detect.js';
import { postgresEngine } from '../../lambda/engines/postgres.js';
import { TARGET_FIELDS, TARGET_ROLE_FIXES, TARGET_ROLE_PROBLEMS } from '../../lambda/errors.js';
import { loginTarget } from '../../lambda/rotation/load.js';
import { readHbaRules, readSettingFact, type SettingFact } from '../workflow/cockroach.js';
import { mayApply, type PgHbaRow, readPgHbaRule } from '../workflow/postgres-hba.js';
import { alternatingChecks } from './alternating.js';
import { cockroachReleaseAndHashChecks } from './cockroach-release.js';
import { rdsPasswordCheck, trustStoreUsed } from './rds.js';
import type { CheckResult } from './result.js';

export { CHECK_STATUSES, type CheckResult, type CheckStatus } from './result.js';

/** What the checks run against. */
export interface DoctorInput {
  readonly secretId: string;
  readonly secrets: SecretStore;
  readonly database: DatabaseConnector;
  readonly config: RotationConfig;
  readonly limits: LoginLimits;
}

/** PostgreSQL HBA methods that send or skip the password instead of proving it by SCRAM. */
/** Methods a login of the user could meet instead of SCRAM (the function refuses all of them). */
const WEAK_METHODS = ['cleartext', 'md5', 'none', 'operating-system', 'reject'] as const;

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Runs every check in order; later checks are skipped when what they need failed. */
export async function runChecks(input: DoctorInput): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add = (result: CheckResult) => {
    results.push(result);
    return result;
  };

  // 1. The secret and its rotation configuration.
  let description: Awaited<ReturnType<SecretStore['describe']>>;
  try {
    description = await input.secrets.describe(input.secretId);
  } catch (error) {
    add({
      check: 'secret',
      status: 'fail',
      detail: `cannot describe ${input.secretId}: ${message(error)}`,
      fix: 'check the secret id, the region and secretsmanager:DescribeSecret permission',
    });
    return results;
  }
  add(
    description.rotationEnabled
      ? { check: 'rotation', status: 'pass', detail: 'rotation is enabled on the secret' }
      : {
          check: 'rotation',
          status: 'warn',
          detail: 'rotation is not enabled on the secret yet',
          fix: 'deploy the CDK app for this secret, or run npm run rotate -- --rotation-lambda-arn <arn>',
        },
  );
  const stages = description.versionIdsToStages;
  const stuck = Object.entries(stages).find(
    ([, labels]) => labels.includes('AWSPENDING') && !labels.includes('AWSCURRENT'),
  );
  if (stuck) {
    add({
      check: 'pending',
      status: 'warn',
      detail: `version ${stuck[0]} is AWSPENDING: a previous rotation did not finish`,
      fix: 'RotateSecret will reattempt it; find its error in the function log (npm run rotate shows it)',
    });
  }

  let secret: DatabaseSecret;
  try {
    const text = await input.secrets.getSecretString(input.secretId, { stage: 'AWSCURRENT' });
    if (text === undefined) throw new Error('AWSCURRENT has no value');
    secret = parseDatabaseSecret(text, { label: 'AWSCURRENT' });
  } catch (error) {
    add({
      check: 'secret',
      status: 'fail',
      detail: message(error),
      fix: 'store the database secret JSON (engine, host, username, password; see the README)',
    });
    return results;
  }
  add({
    check: 'secret',
    status: 'pass',
    detail: `engine ${secret.engine}, ${secret.username}@${secret.host}:${secret.port}/${secret.dbname}${secret.masterarn ? ', admin secret in masterarn' : ''}`,
  });
  // Every other version the function may log in with names AWSCURRENT's target.
  await versionChecks(input, secret, stuck?.[0], add);

  // 2. The user's own login: verify-full TLS, SCRAM only.
  const userSession = await loginCheck(input, secret, 'login', add);
  if (userSession === undefined) return results;
  let engine: ServerEngine;
  try {
    engine = await engineCheck(userSession, secret, add);
    // 3. The admin, if any.
    let changer = userSession;
    let adminSession: DatabaseSession | undefined;
    let changerName = secret.username;
    const useAdmin =
      input.config.mode === 'admin' ||
      input.config.mode === 'alternating' ||
      (input.config.mode === 'auto' && secret.masterarn);
    if (useAdmin) {
      if (!secret.masterarn) {
        add({
          check: 'admin',
          status: 'fail',
          detail: `ROTATION_MODE is ${input.config.mode} but the secret has no masterarn`,
          fix: 'add the admin secret ARN as masterarn',
        });
        return results;
      }
      let admin: DatabaseSecret;
      let namesServer = true;
      try {
        const text = await input.secrets.getSecretString(secret.masterarn, { stage: 'AWSCURRENT' });
        if (text === undefined) throw new Error('the admin secret has no AWSCURRENT value');
        const parsed = parseAdminSecret(text, { label: 'admin secret (masterarn)' });
        namesServer = Object.keys(parsed.named).length > 0;
        admin = adminLogin(secret, parsed);
      } catch (error) {
        add({
          check: 'admin',
          status: 'fail',
          detail: message(error),
          fix: 'point masterarn at a readable secret holding at least username and password (secretsmanager:GetSecretValue)',
        });
        return results;
      }
      if (!adminServerCheck(input, secret, admin, namesServer, add)) return results;
      adminSession = await loginCheck(input, admin, 'admin login', add);
      if (adminSession === undefined) return results;
      changer = adminSession;
      changerName = admin.username;
    }
    try {
      // 4. Is the user a role the function may change, through this changer?
      await targetRoleCheck(
        changer,
        engine,
        secret.username,
        adminSession ? changerName : undefined,
        input,
        add,
      );
      // 4b. Alternating users: the clone's name, its original, and what the admin may do.
      if (input.config.mode === 'alternating' && adminSession) {
        await alternatingChecks(adminSession, changerName, engine, secret, input, add);
      }
      // 5. May the changer change the password, and will the change be safe?
      if (engine === 'postgres') {
        await postgresChecks(changer, changerName, secret, Boolean(adminSession), input, add);
        const restricted = await rdsPasswordCheck(changer, changerName);
        if (restricted) add(restricted);
      } else {
        await cockroachChecks(changer, changerName, Boolean(adminSession), input, add);
        await cockroachReleaseAndHashChecks(
          userSession,
          changer,
          changerName,
          [secret.username, ...(adminSession ? [changerName] : [])],
          add,
        );
      }
    } finally {
      await adminSession?.close();
    }
  } finally {
    await userSession.close();
  }
  return results;
}

/** Logs in as a secret's user and reports TLS and SCRAM, or the failure and its fix. */
async function loginCheck(
  input: DoctorInput,
  secret: DatabaseSecret,
  check: string,
  add: (result: CheckResult) => CheckResult,
): Promise<DatabaseSession | undefined> {
  const trust = trustStoreUsed(secret, input.config);
  try {
    const session = await input.database.login(loginTarget(secret, input.config), input.limits);
    add({
      check,
      status: 'pass',
      detail: `${secret.username} logged in over verify-full TLS (trusting ${trust.name}) by ${session.mechanism}`,
    });
    if (session.mechanism !== 'SCRAM-SHA-256-PLUS') {
      add({
        check: `${check} channel binding`,
        status: 'warn',
        detail: 'the server does not offer SCRAM-SHA-256-PLUS (channel binding)',
        fix: 'nothing to do for CockroachDB, which has none; on PostgreSQL check ssl is on with a certificate that supports tls-server-end-point',
      });
    }
    return session;
  } catch (error) {
    const askedCleartext = (error as { method?: string } | undefined)?.method === 'cleartext';
    add({
      check,
      status: 'fail',
      detail: `${message(error)} (trusting ${trust.name})`,
      // Rotation errors end with their own fix; the generic one covers the rest.
      fix:
        (error as { reason?: string } | undefined)?.reason === 'untrusted-ca'
          ? trust.untrustedFix
          : askedCleartext && secret.engine === 'cockroachdb'
            ? `on CockroachDB this means ${secret.username}'s stored hash is crdb-bcrypt (clusters from before v22.2), or password_encryption is crdb-bcrypt with the downgrade on; npm run audit names them. Convert it: npm run hash, then ALTER USER ${secret.username} WITH PASSWORD '<verifier>' as an admin (or npm run adopt for a user)`
            : 'see the message: it names the setting, certificate or rule to change',
    });
    return undefined;
  }
}

async function engineCheck(
  session: DatabaseSession,
  secret: DatabaseSecret,
  add: (result: CheckResult) => CheckResult,
): Promise<ServerEngine> {
  const engine = await detectEngine(session);
  const declared = secret.engine === 'cockroachdb' ? 'cockroachdb' : 'postgres';
  const full = await session.serverVersion();
  // "PostgreSQL 18.4 on x86_64..." / "CockroachDB CCL v25.2.1 (x86_64...": name and version.
  const version = /^\S+(?: CCL| OSS)? v?[0-9][^\s,]*/.exec(full)?.[0] ?? full.slice(0, 40);
  add(
    engine === declared
      ? { check: 'engine', status: 'pass', detail: `${version}; the secret says ${secret.engine}` }
      : {
          check: 'engine',
          status: 'warn',
          detail: `the server is ${engine} (${version}) but the secret says ${secret.engine}; the function follows the server`,
          fix: `set the secret's engine to ${engine}`,
        },
  );
  return engine;
}

async function postgresChecks(
  session: DatabaseSession,
  changerName: string,
  secret: DatabaseSecret,
  viaAdmin: boolean,
  input: DoctorInput,
  add: (result: CheckResult) => CheckResult,
): Promise<void> {
  // Privilege: a role may always change its own password; an admin needs
  // superuser, or CREATEROLE and (PostgreSQL 16+) ADMIN OPTION on the user.
  if (!viaAdmin) {
    add({
      check: 'privilege',
      status: 'pass',
      detail: `${secret.username} changes its own password (allowed for every PostgreSQL role)`,
    });
  } else {
    const [role] = await session.query<{ rolsuper: boolean; rolcreaterole: boolean }>(
      'SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user',
    );
    const versionNum = Number(await session.setting('server_version_num'));
    const [admin] = await session.query<{ ok: boolean | null }>(
      "SELECT pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION') AS ok FROM pg_roles WHERE rolname = $1",
      [secret.username],
    );
    const can =
      role?.rolsuper === true ||
      (role?.rolcreaterole === true && (versionNum < 160000 || admin?.ok === true));
    add(
      can
        ? {
            check: 'privilege',
            status: 'pass',
            detail: `${changerName} may change ${secret.username}'s password (${role?.rolsuper ? 'superuser' : 'CREATEROLE and ADMIN OPTION'})`,
          }
        : {
            check: 'privilege',
            status: 'fail',
            detail: `${changerName} may not change ${secret.username}'s password`,
            fix: `ALTER ROLE ${pg.escapeIdentifier(changerName)} CREATEROLE; GRANT ${pg.escapeIdentifier(secret.username)} TO ${pg.escapeIdentifier(changerName)} WITH ADMIN OPTION`,
          },
    );
  }

  // Iterations: what the verifier will use, as setSecret chooses it.
  const { iterations, source } = await postgresEngine.prepareChange(session, {
    changer: changerName,
    selfService: !viaAdmin,
    configuredIterations: input.config.scramIterations,
    allowIterationMismatch: input.config.allowIterationMismatch,
  });
  add(iterationsResult(iterations, source, input.config.maxScramIterations));

  // The stored password's kind: an MD5 hash makes an md5 rule ask for MD5.
  const [stored] = await session
    .query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [
      secret.username,
    ])
    .catch(() => [undefined]);
  if (stored?.rolpassword) {
    const kind = stored.rolpassword.startsWith('SCRAM-SHA-256$') ? 'scram' : 'other';
    if (kind === 'scram') {
      const parsed = parseScramVerifier(stored.rolpassword);
      add({
        check: 'stored password',
        status: 'pass',
        detail: `stored as a SCRAM-SHA-256 verifier (${parsed.iterations} iterations)`,
      });
    } else {
      add({
        check: 'stored password',
        status: 'warn',
        detail:
          'stored as an MD5 hash: an md5 HBA rule would ask for MD5, which the function refuses',
        fix: 'rotate once (the new password is stored as SCRAM) and set password_encryption = scram-sha-256',
      });
    }
  }

  // HBA: rules a login of this user could meet with a weaker method.
  try {
    const rows = await session.query<PgHbaRow>(
      'SELECT line_number, type, database, user_name, auth_method, error FROM pg_hba_file_rules',
    );
    const rules = rows.filter(
      (rule) =>
        rule.type !== 'local' &&
        mayApply(rule.user_name, secret.username) &&
        mayApply(rule.database, secret.dbname),
    );
    const readings = rules.map((rule) => ({ rule, reading: readPgHbaRule(rule) }));
    const unknown = readings.flatMap(({ reading }) =>
      reading.kind === 'unknown' ? [reading.why] : [],
    );
    const weak = readings.flatMap(({ rule, reading }) =>
      reading.kind === 'known' && (WEAK_METHODS as readonly string[]).includes(reading.method)
        ? [{ rule, method: reading.method }]
        : [],
    );
    add(
      unknown.length > 0
        ? {
            check: 'hba',
            status: 'fail',
            detail: `unknown: ${unknown.join('; ')}`,
            fix: 'fix pg_hba.conf until pg_hba_file_rules shows no error, then SELECT pg_reload_conf()',
          }
        : weak.length === 0
          ? {
              check: 'hba',
              status: 'pass',
              detail: `no pg_hba.conf rule would let ${secret.username} in by cleartext, MD5 or trust`,
            }
          : {
              check: 'hba',
              status: weak.some(
                ({ rule, method }) => rule.type === 'hostnossl' || method === 'none',
              )
                ? 'fail'
                : 'warn',
              detail: `pg_hba.conf lines ${weak.map(({ rule }) => `${rule.line_number} (${rule.type} ${rule.auth_method})`).join(', ')} may apply to ${secret.username}`,
              fix: 'use hostssl ... scram-sha-256 for this user; the function refuses the other methods, but the application may not',
            },
    );
  } catch {
    add({
      check: 'hba',
      status: 'skip',
      detail:
        'pg_hba_file_rules is not readable by this role (superuser only); the login above was by SCRAM',
    });
  }
}

async function cockroachChecks(
  session: DatabaseSession,
  changerName: string,
  viaAdmin: boolean,
  input: DoctorInput,
  add: (result: CheckResult) => CheckResult,
): Promise<void> {
  // Unknown (unreadable, redacted) is a failure that names the privilege, never a pass.
  const read = (setting: (typeof COCKROACH_SETTINGS)[keyof typeof COCKROACH_SETTINGS]) =>
    readSettingFact(session, setting, changerName);
  const unreadable = (
    setting: string,
    fact: Extract<SettingFact, { kind: 'unknown' }>,
  ): CheckResult => ({
    check: setting,
    status: 'fail',
    detail: `unknown: ${setting} is ${fact.why}`,
    fix: `run ${fact.fix}`,
  });

  const preHashed = await read(COCKROACH_SETTINGS.storePreHashed);
  add(
    preHashed.kind === 'unknown'
      ? unreadable(COCKROACH_SETTINGS.storePreHashed, preHashed)
      : preHashed.value === 'true'
        ? {
            check: 'pre-hashed passwords',
            status: 'pass',
            detail: `${COCKROACH_SETTINGS.storePreHashed} is true`,
          }
        : {
            check: 'pre-hashed passwords',
            status: 'fail',
            detail: `${COCKROACH_SETTINGS.storePreHashed} is ${preHashed.value}: CockroachDB would store the verifier as a cleartext password`,
            fix: `run ${enableStatement(COCKROACH_SETTINGS.storePreHashed)}`,
          },
  );

  if (!viaAdmin) {
    const own = await read(COCKROACH_SETTINGS.changeOwnPassword);
    add(
      own.kind === 'unknown'
        ? unreadable(COCKROACH_SETTINGS.changeOwnPassword, own)
        : own.value === 'true'
          ? {
              check: 'privilege',
              status: 'pass',
              detail: `${COCKROACH_SETTINGS.changeOwnPassword} is true: the user may change its own password`,
            }
          : {
              check: 'privilege',
              status: 'fail',
              detail: `${COCKROACH_SETTINGS.changeOwnPassword} is ${own.value}: the user cannot change its own password`,
              fix: `add masterarn (an admin secret) or run ${enableStatement(COCKROACH_SETTINGS.changeOwnPassword)}`,
            },
    );
  } else {
    add({
      check: 'privilege',
      status: 'pass',
      detail: `${changerName} changes the password (needs admin, or CREATEROLE and CREATELOGIN; the first rotation proves it)`,
    });
  }

  const costText = await read(COCKROACH_SETTINGS.scramCost);
  if (costText.kind === 'unknown') {
    add(unreadable(COCKROACH_SETTINGS.scramCost, costText));
  } else if (!/^\d+$/.test(costText.value)) {
    add({
      check: COCKROACH_SETTINGS.scramCost,
      status: 'fail',
      detail: `unknown: ${COCKROACH_SETTINGS.scramCost} does not read as a number`,
      fix: `read SHOW CLUSTER SETTING ${COCKROACH_SETTINGS.scramCost} as an admin`,
    });
  } else {
    const cost = Number(costText.value);
    const configured = input.config.scramIterations;
    add(
      configured === undefined || configured === cost
        ? iterationsResult(cost, "the cluster's cost", input.config.maxScramIterations)
        : {
            check: 'iterations',
            status: input.config.allowIterationMismatch ? 'warn' : 'fail',
            detail: `SCRAM_ITERATIONS is ${configured} but the cluster's cost is ${cost}`,
            fix: 'unset SCRAM_ITERATIONS: another count may make CockroachDB ask the next login for a cleartext password to re-hash it',
          },
    );
  }

  // HBA: the default rule is cert-password, under which a re-hash asks for cleartext.
  const setting = 'server.host_based_authentication.configuration';
  const hba = await readSettingFact(session, setting, changerName);
  const reading = hba.kind === 'known' ? readHbaRules(hba.value) : undefined;
  if (hba.kind === 'unknown' || reading?.kind !== 'parsed') {
    add({
      check: 'hba',
      status: 'fail',
      detail:
        hba.kind === 'unknown'
          ? `unknown: ${setting} is ${hba.why}`
          : `unknown: ${setting} does not parse (${reading?.kind === 'unparsable' ? `${reading.reason} in "${reading.line}"` : ''})`,
      fix:
        hba.kind === 'unknown'
          ? `run ${hba.fix}`
          : 'correct the rule, or read it as an admin and check it by hand',
    });
  } else {
    const weak = reading.weak.map((rule) => rule.line);
    add(
      hba.value.trim() === '' || weak.length > 0
        ? {
            check: 'hba',
            status: 'warn',
            detail:
              hba.value.trim() === ''
                ? 'the default HBA (host all all all cert-password) applies: a login may be asked for a cleartext password'
                : `HBA lines take a cleartext password (or none): ${weak.join('; ')}`,
            fix: "require scram-sha-256 (the seed's phase 2): SET CLUSTER SETTING server.host_based_authentication.configuration = 'host all all all scram-sha-256'",
          }
        : {
            check: 'hba',
            status: 'pass',
            detail: 'the HBA configuration asks for scram-sha-256 (or certificates) only',
          },
    );
  }
}

/** The iteration count a rotation would use, against SCRAM_MAX_ITERATIONS. */
function iterationsResult(iterations: number, source: string, max: number): CheckResult {
  return iterations <= max
    ? {
        check: 'iterations',
        status: 'pass',
        detail: `verifiers will use ${iterations} iterations (${source}), within SCRAM_MAX_ITERATIONS (${max})`,
      }
    : {
        check: 'iterations',
        status: 'fail',
        detail: `${source} asks for ${iterations} iterations, above SCRAM_MAX_ITERATIONS (${max}): setSecret would refuse to rotate`,
        fix: 'lower the count on the server (or SCRAM_ITERATIONS), or raise SCRAM_MAX_ITERATIONS and the function timeout',
      };
}

/**
 * AWSPENDING (when a rotation is under way) and AWSPREVIOUS must name
 * AWSCURRENT's target: setSecret refuses the first and never logs in with
 * the second otherwise.
 */
async function versionChecks(
  input: DoctorInput,
  current: DatabaseSecret,
  pendingVersionId: string | undefined,
  add: (result: CheckResult) => CheckResult,
): Promise<void> {
  const read = async (label: 'AWSPENDING' | 'AWSPREVIOUS', versionId?: string) => {
    try {
      const text = await input.secrets.getSecretString(
        input.secretId,
        versionId === undefined ? { stage: label } : { versionId, stage: label },
      );
      return text === undefined ? undefined : parseDatabaseSecret(text, { label });
    } catch (error) {
      add({
        check: label.toLowerCase(),
        status: 'fail',
        detail: message(error),
        fix: `correct or remove the ${label} version`,
      });
      return undefined;
    }
  };
  if (pendingVersionId !== undefined) {
    const pending = await read('AWSPENDING', pendingVersionId);
    const differing = pending ? differingFields(current, pending, PENDING_FIELDS) : [];
    if (differing.length > 0) {
      add({
        check: 'pending target',
        status: 'fail',
        detail: `AWSPENDING differs from AWSCURRENT in ${differing.join(', ')}: setSecret refuses it`,
        fix: 'cancel the rotation (remove AWSPENDING from that version) and rotate again',
      });
    }
  }
  const previous = await read('AWSPREVIOUS');
  const differing = previous ? differingFields(current, previous, TARGET_FIELDS) : [];
  if (differing.length > 0) {
    add({
      check: 'previous target',
      status: 'warn',
      detail: `AWSPREVIOUS differs from AWSCURRENT in ${differing.join(', ')}: setSecret will not log in with it after a partial rotation`,
      fix: 'nothing, unless AWSCURRENT stops logging in: then set the password by hand to AWSCURRENT',
    });
  }
}

/** The admin secret names AWSCURRENT's server (unless allowed otherwise); false stops the checks. */
function adminServerCheck(
  input: DoctorInput,
  current: DatabaseSecret,
  admin: DatabaseSecret,
  namesServer: boolean,
  add: (result: CheckResult) => CheckResult,
): boolean {
  const differing = differingFields(current, admin, ADMIN_SERVER_FIELDS);
  if (differing.length === 0) {
    add({
      check: 'admin target',
      status: 'pass',
      detail: namesServer
        ? "the admin secret names AWSCURRENT's server"
        : "the admin secret names no server (as an RDS-managed master secret): the admin logs in to AWSCURRENT's",
    });
    return true;
  }
  const allowed = input.config.allowAdminTargetMismatch;
  add({
    check: 'admin target',
    status: allowed ? 'warn' : 'fail',
    detail: `the admin secret differs from AWSCURRENT in ${differing.join(', ')}${allowed ? ' (allowed by ALLOW_ADMIN_TARGET_MISMATCH)' : ': setSecret refuses to use it'}`,
    fix: allowed
      ? 'make sure the admin reaches the same server as AWSCURRENT'
      : "make the admin secret's connection fields equal AWSCURRENT's, or set ALLOW_ADMIN_TARGET_MISMATCH=true",
  });
  // The admin's credentials go only where setSecret would send them.
  return allowed;
}

/** The user is a role setSecret may change (exists as named, not the admin, not privileged). */
async function targetRoleCheck(
  session: DatabaseSession,
  engine: ServerEngine,
  role: string,
  changer: string | undefined,
  input: DoctorInput,
  add: (result: CheckResult) => CheckResult,
): Promise<void> {
  const rules = ENGINES[engine];
  const storedName = rules.foldRoleName(role);
  const facts = storedName === role ? await rules.roleFacts(session, role, changer) : undefined;
  const finding = targetRoleProblem({
    role,
    storedName,
    facts,
    changer,
    allowPrivileged: input.config.allowPrivilegedTarget,
  });
  const privileged = facts ? [...facts.attributes, ...facts.privilegedRoles] : [];
  add(
    finding === undefined
      ? {
          check: 'target role',
          status: privileged.length > 0 ? 'warn' : 'pass',
          detail:
            privileged.length > 0
              ? `${role} is privileged (${privileged.join(', ')}), allowed by ALLOW_PRIVILEGED_TARGET`
              : `${role} exists as named and is not privileged`,
          ...(privileged.length > 0
            ? { fix: 'rotate privileged roles only if this function is meant to hold them' }
            : {}),
        }
      : {
          check: 'target role',
          status: 'fail',
          detail: `${role} ${TARGET_ROLE_PROBLEMS[finding.problem]}${finding.privileges.length > 0 ? ` (${finding.privileges.join(', ')})` : ''}: setSecret refuses to change it`,
          fix: TARGET_ROLE_FIXES[finding.problem],
        },
  );
}
