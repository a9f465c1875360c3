/**
 * `npm run provision`: a new database user and its secret in one step,
 * through an admin secret, with the function's own core and engines.
 *
 * Order, and what undoes each step when a later one fails:
 *
 * 1. checks, read-only: the admin logs in (verify-full, SCRAM only) on the
 *    server its secret names; the name is one the server keeps as written;
 *    no role and no secret of that name exist; every role to grant exists
 *    and would not make the user privileged or a member of the admin; the
 *    server's settings allow a pre-hashed password (CockroachDB) and give
 *    the iteration count, as setSecret checks them;
 * 2. CREATE ROLE/USER ... PASSWORD '<verifier>' (computed here; the server
 *    never sees the password), then the grants;
 * 3. a login as the new user proves the verifier (undone by DROP ROLE);
 * 4. CreateSecret in AWS's JSON shape (undone by DROP ROLE; a secret
 *    created despite an error is deleted);
 * 5. with a rotation function: RotateSecret, and wait for the first
 *    rotation, so the only password left is one no operator machine saw.
 *    A failed rotation leaves a working user and secret, and the command
 *    that finishes it.
 *
 * Whatever cannot be undone is reported with the exact command to run.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { DatabaseConnector, DatabaseSession } from '../../lambda/adapters/database.js';
import type { RotationConfig } from '../../lambda/config.js';
import { assertIterationsWithinBound, targetRoleProblem } from '../../lambda/core/confinement.js';
import { generatePassword } from '../../lambda/core/password.js';
import { createScramVerifierAsync } from '../../lambda/core/scram.js';
import { type DatabaseSecret, parseDatabaseSecret } from '../../lambda/core/secret.js';
import { COCKROACH_ADMIN_ROLE, storedHash } from '../../lambda/engines/cockroachdb.js';
import { engineOf } from '../../lambda/engines/detect.js';
import type { Engine } from '../../lambda/engines/engine.js';
import { POSTGRES_PRIVILEGED_ROLES } from '../../lambda/engines/postgres.js';
import { WORKFLOW_STATEMENTS } from '../../lambda/engines/workflow.js';
import { TARGET_ROLE_FIXES, TARGET_ROLE_PROBLEMS } from '../../lambda/errors.js';
import { loginTarget } from '../../lambda/rotation/load.js';
import {
  createOutcome,
  limitsOf,
  loadSecret,
  loginAs,
  secretExists,
  serverTag,
  TAGS,
} from './common.js';
import { RecordingSession } from './dry-run.js';
import { rotateOnce } from './rotation.js';

/** What `provision` is asked to do. */
export interface ProvisionOptions {
  readonly adminSecretId: string;
  readonly username: string;
  /** @default `<admin secret's name without its last segment>/<username>` */
  readonly secretName?: string | undefined;
  readonly grants: readonly string[];
  /** Copy this role's direct memberships. */
  readonly like?: string | undefined;
  readonly rotationLambdaArn?: string | undefined;
  readonly schedule: string;
  readonly rotationTimeoutMs: number;
  /** Leave `masterarn` out: the user will rotate its own password. */
  readonly singleUser: boolean;
  readonly dryRun: boolean;
}

/** What `provision` works with. */
export interface WorkflowDeps {
  readonly secrets: SecretsManagerClient;
  readonly logs: CloudWatchLogsClient;
  readonly database: DatabaseConnector;
  readonly config: RotationConfig;
  /** One line of the report. Never given a password, verifier or secret value. */
  readonly out: (line: string) => void;
  /** Called as work over many users goes on: `done` of `total` (a progress line on a terminal). */
  readonly progress?: (done: number, total: number) => void;
}

/** The outcome, for `--json`. */
export interface ProvisionReport {
  readonly ok: boolean;
  readonly username: string;
  readonly secretArn?: string;
  readonly rotated: boolean;
  /** What was left behind and the command that finishes or removes it. */
  readonly leftover?: string;
  readonly error?: string;
}

/** A refusal found by the read-only checks: nothing was changed. */
export class ProvisionRefused extends Error {
  override readonly name = 'ProvisionRefused';
}

/** The default secret name: beside the admin secret, named after the user. */
export function defaultSecretName(adminSecretName: string, username: string): string {
  const slash = adminSecretName.lastIndexOf('/');
  return slash < 0 ? username : `${adminSecretName.slice(0, slash)}/${username}`;
}

/** The secret's JSON object: the admin's server, the new user, `masterarn`, `ca`, `options`. */
export function userSecretValue(
  admin: DatabaseSecret,
  username: string,
  password: string,
  masterarn: string | undefined,
): Record<string, unknown> {
  return {
    engine: admin.engine,
    host: admin.host,
    port: admin.port,
    username,
    password,
    dbname: admin.dbname,
    ...(masterarn ? { masterarn } : {}),
    ...(admin.ca ? { ca: admin.ca } : {}),
    ...(admin.options ? { options: admin.options } : {}),
  };
}

/** Checks the roles to grant: they exist, and membership keeps the user unprivileged. */
async function checkGrants(
  session: DatabaseSession,
  engine: Engine,
  roles: readonly string[],
  admin: string,
  allowPrivileged: boolean,
): Promise<void> {
  for (const role of roles) {
    const facts = await engine.roleFacts(session, role, admin);
    if (facts === undefined) {
      throw new ProvisionRefused(`--grant ${role}: no role of exactly that name exists`);
    }
    if (role === admin || facts.memberOfChanger) {
      throw new ProvisionRefused(
        `--grant ${role}: the user would be a member of the admin ${admin} and could act as it; ${TARGET_ROLE_FIXES['member-of-changer']}`,
      );
    }
    // A role that is privileged by name (PostgreSQL's predefined file and
    // program roles, CockroachDB's admin) reports no privilege of its own.
    const byName = (
      engine.name === 'postgres' ? POSTGRES_PRIVILEGED_ROLES : [COCKROACH_ADMIN_ROLE]
    ) as readonly string[];
    const privileges = [
      ...(byName.includes(role) ? [role] : []),
      ...facts.attributes,
      ...facts.privilegedRoles,
    ];
    if (privileges.length > 0 && !allowPrivileged) {
      throw new ProvisionRefused(
        `--grant ${role}: ${role} is privileged (${privileges.join(', ')}), so the user would be; ${TARGET_ROLE_FIXES['member-of-privileged']}`,
      );
    }
  }
}

/** Creates the user and its secret; see the module comment for the order. */
export async function provision(
  options: ProvisionOptions,
  deps: WorkflowDeps,
): Promise<ProvisionReport> {
  const { out, config } = deps;
  const admin = await loadSecret(deps.secrets, options.adminSecretId, 'admin secret');
  const username = options.username;
  const secretName = options.secretName ?? defaultSecretName(admin.name, username);
  const masterarn = options.singleUser ? undefined : admin.arn;
  // The stored secret must pass the function's parser: check its shape first.
  parseDatabaseSecret(
    JSON.stringify(userSecretValue(admin.secret, username, 'placeholder-password', masterarn)),
    { label: 'the secret to store' },
  );
  if (username === admin.secret.username) {
    throw new ProvisionRefused(`${username} ${TARGET_ROLE_PROBLEMS.changer}`);
  }
  if (await secretExists(deps.secrets, secretName)) {
    throw new ProvisionRefused(
      `a secret named ${secretName} exists already; choose another --secret-name, or run scram-rotator adopt for an existing user`,
    );
  }

  const session = await loginAs(deps.database, admin.secret, config, 'admin secret');
  try {
    const engine = await engineOf(session);
    out(
      `provision ${username} on ${engine.name} ${admin.secret.host}:${admin.secret.port}/${admin.secret.dbname} as ${admin.secret.username}`,
    );
    const stored = engine.foldRoleName(username);
    if (stored !== username) {
      throw new ProvisionRefused(
        `${username} ${TARGET_ROLE_PROBLEMS.folded}: use ${stored}; ${TARGET_ROLE_FIXES.folded}`,
      );
    }
    if ((await engine.roleFacts(session, username, undefined)) !== undefined) {
      throw new ProvisionRefused(
        `a role named ${username} exists already; to bring it under rotation run scram-rotator adopt --admin-secret-id ${options.adminSecretId} --users ${username}`,
      );
    }
    const roles = [...options.grants];
    if (options.like !== undefined) {
      if ((await engine.roleFacts(session, options.like, undefined)) === undefined) {
        throw new ProvisionRefused(`--like ${options.like}: no role of exactly that name exists`);
      }
      for (const role of await WORKFLOW_STATEMENTS[engine.name].memberships(
        session,
        options.like,
      )) {
        if (!roles.includes(role)) roles.push(role);
      }
    }
    await checkGrants(session, engine, roles, admin.secret.username, config.allowPrivilegedTarget);
    const { iterations, source } = await engine.prepareChange(session, {
      changer: admin.secret.username,
      selfService: false,
      configuredIterations: config.scramIterations,
      allowIterationMismatch: config.allowIterationMismatch,
    });
    assertIterationsWithinBound(iterations, config.maxScramIterations, source);
    const password = generatePassword(config.passwordPolicy);
    const verifier = await createScramVerifierAsync(password, { iterations });

    if (options.dryRun) {
      const recording = new RecordingSession(session);
      await WORKFLOW_STATEMENTS[engine.name].createLoginRole(recording, username, verifier);
      for (const role of roles) await engine.grantRole(recording, role, username);
      for (const statement of recording.statements) out(`  would run: ${statement}`);
      out(
        `  would store secret ${secretName} (engine, host, port, dbname, username, password${masterarn ? ', masterarn' : ''}${admin.secret.ca ? ', ca' : ''}${admin.secret.options ? ', options' : ''}; the password is not shown)`,
      );
      out(
        options.rotationLambdaArn
          ? `  would enable rotation with ${options.rotationLambdaArn} (${options.schedule}) and rotate once`
          : '  would not enable rotation: give --rotation-lambda-arn or --stack-outputs',
      );
      out('Dry run: nothing was changed.');
      return { ok: true, username, rotated: false };
    }

    // 2. The role and its grants. From here on, a failure drops the role.
    await WORKFLOW_STATEMENTS[engine.name].createLoginRole(session, username, verifier);
    out(`  created ${username} (LOGIN, SCRAM-SHA-256 verifier, ${iterations} iterations)`);
    const undoRole = async (why: string): Promise<ProvisionReport> => {
      try {
        await WORKFLOW_STATEMENTS[engine.name].dropRole(session, username);
        out(`  rolled back: dropped ${username}; nothing is left`);
        return { ok: false, username, rotated: false, error: why };
      } catch {
        const leftover = `the role ${username} exists without a secret: run DROP ROLE ${quoteIdent(username)}; as ${admin.secret.username}`;
        out(`  could not roll back: ${leftover}`);
        return { ok: false, username, rotated: false, leftover, error: why };
      }
    };
    try {
      for (const role of roles) {
        await engine.grantRole(session, role, username);
        out(`  granted ${role} to ${username}`);
      }
      // The function's own rule, now that the memberships are real: the
      // first rotation would refuse a user that breaks it.
      const finding = targetRoleProblem({
        role: username,
        storedName: username,
        facts: await engine.roleFacts(session, username, admin.secret.username),
        changer: admin.secret.username,
        allowPrivileged: config.allowPrivilegedTarget,
      });
      if (finding) {
        throw new ProvisionRefused(
          `${username} ${TARGET_ROLE_PROBLEMS[finding.problem]}${finding.privileges.length > 0 ? ` (${finding.privileges.join(', ')})` : ''}; ${TARGET_ROLE_FIXES[finding.problem]}`,
        );
      }
      // 3. The new password logs in by SCRAM over verify-full TLS.
      const user = await deps.database.login(
        { ...loginTarget(admin.secret, config), username, password },
        limitsOf(config),
      );
      out(`  ${username} logged in over verify-full TLS by ${user.mechanism}`);
      await user.close();
      if (engine.name === 'cockroachdb') {
        const hash = await storedHash(session, username);
        if (hash !== undefined && hash !== verifier) {
          throw new ProvisionRefused(`the server stored another hash for ${username} than sent`);
        }
      }
    } catch (error) {
      out(`  failed: ${(error as Error).message}`);
      return await undoRole((error as Error).message);
    }

    // 4. The secret. ClientRequestToken tells a secret we created from another's.
    const token = randomUUID();
    let secretArn: string;
    try {
      const created = await deps.secrets.send(
        new CreateSecretCommand({
          Name: secretName,
          ClientRequestToken: token,
          SecretString: JSON.stringify(
            userSecretValue(admin.secret, username, password, masterarn),
          ),
          Description: `Database user ${username} on ${serverTag(admin.secret)}, provisioned by scram-rotator`,
          Tags: [
            { Key: TAGS.username, Value: username },
            { Key: TAGS.server, Value: serverTag(admin.secret) },
          ],
        }),
      );
      secretArn = created.ARN ?? secretName;
      out(`  stored secret ${secretArn}`);
    } catch (error) {
      out(`  failed to store the secret: ${(error as Error).name}: ${(error as Error).message}`);
      const orphan = await removeSecretIfOurs(deps.secrets, secretName, token);
      const report = await undoRole((error as Error).message);
      return orphan === undefined
        ? report
        : { ...report, leftover: [report.leftover, orphan].filter(Boolean).join('; ') };
    }

    // 5. The first rotation, so that no password this machine saw stays.
    if (options.rotationLambdaArn === undefined) {
      out(
        `  rotation not enabled: the password this machine generated stays until you run scram-rotator rotate --secret-id ${secretArn} --rotation-lambda-arn <function ARN>`,
      );
      out('Provisioned.');
      return { ok: true, username, secretArn, rotated: false };
    }
    const result = await rotateOnce(deps.secrets, deps.logs, {
      secretId: secretArn,
      lambdaArn: options.rotationLambdaArn,
      schedule: options.schedule,
      timeoutMs: options.rotationTimeoutMs,
    }).catch((error: Error) => ({ ok: false as const, reason: `${error.name}: ${error.message}` }));
    if (!result.ok) {
      const leftover = `the user and its secret work, with the password this machine generated; after fixing the cause run scram-rotator rotate --secret-id ${secretArn}`;
      out(`  first rotation failed: ${result.reason}`);
      out(`  ${leftover}`);
      return { ok: false, username, secretArn, rotated: false, leftover, error: result.reason };
    }
    out(
      `  rotation enabled (${options.schedule}); first rotation done (version ${result.version}): the provisioned password no longer logs in`,
    );
    out('Provisioned.');
    return { ok: true, username, secretArn, rotated: true };
  } finally {
    await session.close();
  }
}

/** A name as a SQL identifier, for the commands printed. */
function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * After a failed CreateSecret: if the secret exists with our request token
 * (the call succeeded but its answer was lost), delete it. Returns what is
 * left and the command that removes it, if the delete failed too.
 */
async function removeSecretIfOurs(
  client: SecretsManagerClient,
  name: string,
  token: string,
): Promise<string | undefined> {
  const outcome = await createOutcome(client, name, token);
  if (outcome.state === 'unknown') {
    return `if a secret named ${name} was created, delete it: aws secretsmanager delete-secret --secret-id ${name} --force-delete-without-recovery`;
  }
  if (outcome.state === 'absent') return undefined;
  try {
    await client.send(
      new DeleteSecretCommand({ SecretId: outcome.arn, ForceDeleteWithoutRecovery: true }),
    );
    return undefined;
  } catch {
    return `the secret ${name} was created without its user: aws secretsmanager delete-secret --secret-id ${name} --force-delete-without-recovery`;
  }
}
