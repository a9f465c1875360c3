/**
 * `npm run adopt`: brings existing users under rotation, the CockroachDB
 * guide's phase 3 as one command. Per user, through the admin secret:
 *
 * 1. checks, read-only: the role exists under exactly that name, can log
 *    in, is not the admin nor a member of it, is not privileged (unless
 *    ALLOW_PRIVILEGED_TARGET), and the admin may change its password
 *    (PostgreSQL 16+: ADMIN OPTION);
 * 2. CreateSecret with a new password (tagged, `masterarn` = the admin);
 * 3. ALTER USER ... WITH PASSWORD '<verifier>' through the engine, after
 *    the settings checks setSecret makes; its old password, which may once
 *    have been sent in cleartext, stops working here. A failure deletes the
 *    secret: the user keeps its old password;
 * 4. a login proves the new password;
 * 5. the first rotation, through the rotation function, replaces the
 *    password this machine generated.
 *
 * One line of result per user, then a summary.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { assertIterationsWithinBound, targetRoleProblem } from '../../lambda/core/confinement.js';
import { generatePassword } from '../../lambda/core/password.js';
import { createScramVerifierAsync } from '../../lambda/core/scram.js';
import { engineOf } from '../../lambda/engines/detect.js';
import { WORKFLOW_STATEMENTS } from '../../lambda/engines/workflow.js';
import {
  TARGET_ROLE_FIXES,
  TARGET_ROLE_PROBLEMS,
  VerifierNotStoredError,
} from '../../lambda/errors.js';
import { loginTarget } from '../../lambda/rotation/load.js';
import { limitsOf, loadSecret, loginAs, secretExists, serverTag, TAGS } from './common.js';
import { RecordingSession } from './dry-run.js';
import { defaultSecretName, userSecretValue, type WorkflowDeps } from './provision.js';
import { rotateOnce } from './rotation.js';

/** What `adopt` is asked to do. */
export interface AdoptOptions {
  readonly adminSecretId: string;
  /** The users named with --users; empty with --all-login-users. */
  readonly users: readonly string[];
  readonly allLoginUsers: boolean;
  readonly exclude: readonly string[];
  /** Secret names: `<prefix><user>`. @default beside the admin secret */
  readonly secretPrefix?: string | undefined;
  readonly rotationLambdaArn?: string | undefined;
  readonly schedule: string;
  readonly rotationTimeoutMs: number;
  readonly dryRun: boolean;
}

/** One user's outcome. */
export interface AdoptResult {
  readonly user: string;
  readonly status: 'rotated' | 'stored' | 'skipped' | 'failed' | 'planned';
  readonly detail: string;
  readonly secretArn?: string;
  readonly fix?: string;
}

/** Adopts each user in turn; never throws for one user's failure. */
export async function adopt(options: AdoptOptions, deps: WorkflowDeps): Promise<AdoptResult[]> {
  const { config, out } = deps;
  const admin = await loadSecret(deps.secrets, options.adminSecretId, 'admin secret');
  const session = await loginAs(deps.database, admin.secret, config, 'admin secret');
  const results: AdoptResult[] = [];
  try {
    const engine = await engineOf(session);
    const changer = admin.secret.username;
    out(
      `adopt on ${engine.name} ${admin.secret.host}:${admin.secret.port}/${admin.secret.dbname} as ${changer}`,
    );
    const logins = new Set(await WORKFLOW_STATEMENTS[engine.name].loginRoles(session));
    const users = options.allLoginUsers
      ? [...logins].filter((u) => u !== changer && !options.exclude.includes(u))
      : [...options.users];
    const { iterations, source } = await engine.prepareChange(session, {
      changer,
      selfService: false,
      configuredIterations: config.scramIterations,
      allowIterationMismatch: config.allowIterationMismatch,
    });
    assertIterationsWithinBound(iterations, config.maxScramIterations, source);

    for (const user of users) {
      const result = await adoptOne(user);
      results.push(result);
      out(
        `${result.status.toUpperCase().padEnd(7)} ${user}  ${result.detail}${result.fix ? `\n        fix: ${result.fix}` : ''}`,
      );
    }
    return results;

    async function adoptOne(user: string): Promise<AdoptResult> {
      const fail = (detail: string, fix?: string): AdoptResult => ({
        user,
        status: 'failed',
        detail,
        ...(fix ? { fix } : {}),
      });
      const storedName = engine.foldRoleName(user);
      const finding = targetRoleProblem({
        role: user,
        storedName,
        facts: storedName === user ? await engine.roleFacts(session, user, changer) : undefined,
        changer,
        allowPrivileged: config.allowPrivilegedTarget,
      });
      if (finding) {
        const detail = `${TARGET_ROLE_PROBLEMS[finding.problem]}${finding.privileges.length > 0 ? ` (${finding.privileges.join(', ')})` : ''}`;
        // --all-login-users passes over roles the function may never rotate.
        return options.allLoginUsers && finding.problem !== 'missing'
          ? { user, status: 'skipped', detail }
          : fail(detail, TARGET_ROLE_FIXES[finding.problem]);
      }
      if (!logins.has(user)) {
        return fail('cannot log in (NOLOGIN): it is a group role, there is nothing to adopt');
      }
      const blocker = await WORKFLOW_STATEMENTS[engine.name].passwordChangeBlocker(
        session,
        user,
        changer,
      );
      if (blocker)
        return fail(`${changer} may not change its password: ${blocker.reason}`, blocker.fix);
      const secretName = `${options.secretPrefix ?? defaultSecretName(admin.name, '')}${user}`;
      const existing = await secretExists(deps.secrets, secretName);
      if (existing) {
        return fail(
          `a secret named ${secretName} exists already`,
          `if it manages ${user}, rotate it with npm run rotate -- --secret-id ${secretName}; else give --secret-prefix`,
        );
      }
      const password = generatePassword(config.passwordPolicy);
      const verifier = await createScramVerifierAsync(password, { iterations });
      if (options.dryRun) {
        const recording = new RecordingSession(session);
        await recording.setPasswordVerifier(user, verifier);
        return {
          user,
          status: 'planned',
          detail: `would store ${secretName}, run ${recording.statements.join('; ')}${options.rotationLambdaArn ? ', and rotate once' : ''}`,
        };
      }
      // The secret first: a failed ALTER then deletes it and the user keeps its password.
      const token = randomUUID();
      const created = await deps.secrets.send(
        new CreateSecretCommand({
          Name: secretName,
          ClientRequestToken: token,
          SecretString: JSON.stringify(userSecretValue(admin.secret, user, password, admin.arn)),
          Description: `Database user ${user} on ${serverTag(admin.secret)}, adopted by scram-rotator`,
          Tags: [
            { Key: TAGS.username, Value: user },
            { Key: TAGS.server, Value: serverTag(admin.secret) },
          ],
        }),
      );
      const secretArn = created.ARN ?? secretName;
      try {
        await engine.setVerifier(session, user, verifier, () =>
          Promise.reject(
            new VerifierNotStoredError(
              user,
              `its old password is unknown to adopt and cannot be put back: enable pre-hashed passwords and run adopt for ${user} again`,
            ),
          ),
        );
      } catch (error) {
        const deleted = await deps.secrets
          .send(new DeleteSecretCommand({ SecretId: secretArn, ForceDeleteWithoutRecovery: true }))
          .then(
            () => 'its secret was deleted; the user keeps its old password',
            () =>
              `delete its unused secret: aws secretsmanager delete-secret --secret-id ${secretArn} --force-delete-without-recovery`,
          );
        return fail(`the password change failed: ${(error as Error).message}`, deleted);
      }
      try {
        const proof = await deps.database.login(
          { ...loginTarget(admin.secret, config), username: user, password },
          limitsOf(config),
        );
        await proof.close();
      } catch (error) {
        return fail(
          `the new password was set and stored in ${secretArn} but does not log in: ${(error as Error).message}`,
          `fix the login (HBA rule, TLS), then run npm run doctor -- --secret-id ${secretArn}`,
        );
      }
      if (options.rotationLambdaArn === undefined) {
        return {
          user,
          status: 'stored',
          secretArn,
          detail: `password changed and stored in ${secretArn}; rotation not enabled`,
          fix: `npm run rotate -- --secret-id ${secretArn} --rotation-lambda-arn <function ARN>, so that no password this machine saw stays`,
        };
      }
      const rotation = await rotateOnce(deps.secrets, deps.logs, {
        secretId: secretArn,
        lambdaArn: options.rotationLambdaArn,
        schedule: options.schedule,
        timeoutMs: options.rotationTimeoutMs,
      }).catch((error: Error) => ({
        ok: false as const,
        reason: `${error.name}: ${error.message}`,
      }));
      if (!rotation.ok) {
        return fail(
          `password changed and stored in ${secretArn}, but the first rotation failed: ${rotation.reason}`,
          `fix the cause, then npm run rotate -- --secret-id ${secretArn}`,
        );
      }
      const described = await deps.secrets.send(new DescribeSecretCommand({ SecretId: secretArn }));
      return {
        user,
        status: 'rotated',
        secretArn,
        detail: `secret ${secretArn}, rotated (version ${rotation.version}, ${described.RotationEnabled ? 'rotation enabled' : 'rotation off'}): its old password no longer logs in`,
      };
    }
  } finally {
    await session.close();
  }
}
