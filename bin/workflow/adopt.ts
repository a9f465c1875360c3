/**
 * `npm run adopt`: brings existing users under rotation, the CockroachDB
 * guide's phase 3 as one command. Per user, through the admin secret:
 *
 * 1. checks, read-only: the role exists under exactly that name (never
 *    trimmed: ` app` is not `app`), can log in, is not the admin nor a
 *    member of it, is not privileged (unless ALLOW_PRIVILEGED_TARGET); no
 *    other secret manages it (see managing-secrets.ts: every secret in the
 *    account is read, whoever created it, RDS-managed ones included; a
 *    secret whose server cannot be told counts as managing it, and a secret
 *    that cannot be read refuses every user unless
 *    `ignoreUnreadableSecrets`); the admin may change its password
 *    (PostgreSQL 16+: ADMIN OPTION); `<prefix><user>` is a valid secret
 *    name and no secret has it. A dry run stops here and shows all of it;
 * 2. CreateSecret with a new password (tagged, `masterarn` = the admin). A
 *    CreateSecret whose answer was lost is reconciled by its request token
 *    (as provision does): if it took effect, adopt goes on with it;
 * 3. ALTER USER ... WITH PASSWORD '<verifier>' through the engine, after
 *    the settings checks setSecret makes; its old password, which may once
 *    have been sent in cleartext, stops working here. A failure deletes the
 *    secret: the user keeps its old password;
 * 4. a login proves the new password;
 * 5. the first rotation, through the rotation function, replaces the
 *    password this machine generated.
 *
 * One line of result per user, whatever happens to another user: an error
 * while adopting one user fails that user only. Then a summary.
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
import {
  createOutcome,
  limitsOf,
  loadSecret,
  loginAs,
  secretExists,
  secretNameProblem,
  serverTag,
  TAGS,
} from './common.js';
import { RecordingSession } from './dry-run.js';
import { claimsOn, EVERY_SECRET, surveySecrets, type UserClaim } from './managing-secrets.js';
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
  /**
   * Go on when some secrets cannot be read (AccessDenied, a KMS failure, a
   * value that is not a JSON object): such a secret may manage any user, so
   * by default every user is refused while one exists.
   * @default false
   */
  readonly ignoreUnreadableSecrets?: boolean | undefined;
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

    // Every secret that may already manage one of these users, read once.
    const found = await surveySecrets(deps.secrets, admin.secret);
    for (const secret of found.unreadable) {
      out(
        secret.arn === EVERY_SECRET
          ? `cannot list the secrets: ${secret.reason}`
          : `cannot read secret ${secret.name}${secret.arn === secret.name ? '' : ` (${secret.arn})`}: ${secret.reason}`,
      );
    }
    const ignoreUnreadable = options.ignoreUnreadableSecrets === true;
    if (found.unreadable.length > 0) {
      out(
        ignoreUnreadable
          ? `going on without ${found.unreadable.length} unreadable secret(s) (--ignore-unreadable-secrets): if one manages a user adopted here, that secret's next rotation will fail`
          : `${found.unreadable.length} secret(s) could not be read: any of them may manage a user, so every user is refused`,
      );
    }

    deps.progress?.(0, users.length);
    for (const user of users) {
      const result = await adoptOne(user).catch(
        (error: Error): AdoptResult => ({
          user,
          status: 'failed',
          detail: `${error.name}: ${error.message}`,
        }),
      );
      results.push(result);
      deps.progress?.(results.length, users.length);
      out(
        `${result.status.toUpperCase().padEnd(7)} ${shownName(user)}  ${result.detail}${result.fix ? `\n        fix: ${result.fix}` : ''}`,
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
      const claims = claimsOn(found, user, engine);
      const proven = claims.filter((claim) => claim.server === 'same-server');
      if (proven.length > 0) {
        const detail = `managed already by ${listClaims(proven)}: adopting it would change the password that secret holds`;
        // --all-login-users passes over users that are managed already.
        return options.allLoginUsers
          ? { user, status: 'skipped', detail }
          : fail(
              detail,
              `rotate it through that secret (scram-rotator rotate --secret-id ${proven[0]?.arn}), or remove that secret first`,
            );
      }
      if (claims.length > 0) {
        return fail(
          `may be managed already by ${listClaims(claims)}`,
          'adopt refuses a user a secret may manage; if that secret is for this server, rotate the user through it; if not, give it the host and port of its server',
        );
      }
      if (found.unreadable.length > 0 && !ignoreUnreadable) {
        return fail(
          `${found.unreadable.length} secret(s) could not be read (listed above); any of them may manage ${shownName(user)}`,
          'allow secretsmanager:GetSecretValue (and kms:Decrypt on their keys) for them, or, once you know none of them manages these users, run again with --ignore-unreadable-secrets',
        );
      }
      const blocker = await WORKFLOW_STATEMENTS[engine.name].passwordChangeBlocker(
        session,
        user,
        changer,
      );
      if (blocker)
        return fail(`${changer} may not change its password: ${blocker.reason}`, blocker.fix);
      const secretName = `${options.secretPrefix ?? defaultSecretName(admin.name, '')}${user}`;
      const badName = secretNameProblem(secretName);
      if (badName) {
        return fail(
          `its secret cannot be named ${JSON.stringify(secretName)}: ${badName}`,
          'give --secret-prefix a valid prefix; a user whose own name holds other characters cannot be adopted under its name',
        );
      }
      const existing = await secretExists(deps.secrets, secretName);
      if (existing) {
        return fail(
          `a secret named ${secretName} exists already`,
          `if it manages ${user}, rotate it with scram-rotator rotate --secret-id ${secretName}; else give --secret-prefix`,
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
      const secretArn = await deps.secrets
        .send(
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
        )
        .then(
          (created) => created.ARN ?? secretName,
          async (error: Error) => {
            // The answer may be lost while the secret was created: the token tells.
            const outcome = await createOutcome(deps.secrets, secretName, token);
            if (outcome.state === 'created') return outcome.arn;
            return fail(
              `storing its secret failed: ${error.name}: ${error.message}; its password was not changed`,
              outcome.state === 'unknown'
                ? `if a secret named ${secretName} exists now, delete it (aws secretsmanager delete-secret --secret-id ${secretName} --force-delete-without-recovery), then run adopt again`
                : 'fix the cause, then run adopt again',
            );
          },
        );
      if (typeof secretArn !== 'string') return secretArn;
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
          `fix the login (HBA rule, TLS), then run scram-rotator doctor --secret-id ${secretArn}`,
        );
      }
      if (options.rotationLambdaArn === undefined) {
        return {
          user,
          status: 'stored',
          secretArn,
          detail: `password changed and stored in ${secretArn}; rotation not enabled`,
          fix: `scram-rotator rotate --secret-id ${secretArn} --rotation-lambda-arn <function ARN>, so that no password this machine saw stays`,
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
          `fix the cause, then scram-rotator rotate --secret-id ${secretArn}`,
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

/** A user name as lines show it: quoted when spaces or other characters would hide what it is. */
export function shownName(user: string): string {
  return /^[\p{L}\p{N}_.@$-]+$/u.test(user) ? user : JSON.stringify(user);
}

/** Secrets that claim a user, for one line: names, ARNs and why, never values. */
function listClaims(claims: readonly UserClaim[]): string {
  return claims.map((claim) => `secret ${claim.name} (${claim.arn}; ${claim.basis})`).join(', ');
}
