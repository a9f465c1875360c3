/**
 * Issue 9's classes against the real local PostgreSQL over verify-full TLS:
 * every refusal happens before anything changes, leaves AWSCURRENT logging
 * in, and fails with a typed error that names the fix.
 *
 * - the role the changing session would alter (the admin itself, privileged
 *   roles, members of either, a role that does not exist);
 * - secrets that name another server (admin, AWSPREVIOUS, AWSPENDING's CA);
 * - iteration counts above the bound, or too costly for the time left;
 * - names the server would cut short;
 * - finishSecret without a proof;
 * - pending passwords not every client hashes alike, and weak policies.
 */
import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DatabaseConnector,
  type LoginLimits,
  type LoginTarget,
  PgConnector,
} from '../../lambda/adapters/database.js';
import type { RotationStep } from '../../lambda/core/event.js';
import { createScramVerifier } from '../../lambda/core/scram.js';
import { MAX_IDENTIFIER_BYTES } from '../../lambda/core/secret.js';
import {
  AuthenticationFailedError,
  ConfigurationError,
  DeadlineError,
  IterationLimitError,
  MalformedSecretError,
  PasswordPolicyError,
  SecretMismatchError,
  TargetRoleError,
  UnprovenVersionError,
} from '../../lambda/errors.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { createCertificateAuthority } from '../../local/tls.js';
import { LeakWatch } from '../fixtures/leaks.js';
import { type ScriptedServer, startScriptedServer } from '../fixtures/scripted-server.js';
import { pendingWith, quietHandler, runStep, stagePending } from '../fixtures/steps.js';

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
const limits = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 };

const watch = new LeakWatch();
let stack: LocalStack;
/** A server that must never hear from the function: it counts connections. */
let elsewhere: ScriptedServer;

beforeAll(async () => {
  watch.start();
  stack = await startLocalStack();
  elsewhere = await startScriptedServer({ password: randomBytes(12).toString('hex') });
});

afterAll(async () => {
  await elsewhere?.stop();
  await stack?.stop();
  watch.stop();
});

/** The real connector, counting logins by user. */
class CountingConnector implements DatabaseConnector {
  readonly logins: string[] = [];
  readonly #inner = new PgConnector();

  login(target: LoginTarget, loginLimits: LoginLimits) {
    this.logins.push(target.username);
    return this.#inner.login(target, loginLimits);
  }
}

interface Secret {
  readonly arn: string;
  readonly username: string;
  readonly password: string;
  readonly value: Record<string, unknown>;
}

/** Reads AWSCURRENT, remembering its password as a value that must not leak. */
async function current(arn: string): Promise<Secret> {
  const out = await stack.client.send(new GetSecretValueCommand({ SecretId: arn }));
  const value = JSON.parse(out.SecretString ?? '{}') as Record<string, unknown>;
  watch.secret(value.password as string);
  return {
    arn,
    username: value.username as string,
    password: value.password as string,
    value,
  };
}

/** A role and its secret on the local PostgreSQL. */
async function user(
  options: Parameters<LocalStack['createApplicationUser']>[0] = {},
): Promise<Secret> {
  const created = await stack.createApplicationUser(options);
  return current(created.secretArn);
}

/** A secret stored by hand (for values createApplicationUser would not write). */
async function secretWith(value: Record<string, unknown>): Promise<string> {
  watch.secret(value.password as string);
  const out = await stack.client.send(
    new CreateSecretCommand({
      Name: `confinement/${randomBytes(4).toString('hex')}`,
      SecretString: JSON.stringify(value),
    }),
  );
  return out.ARN ?? '';
}

/** The stored verifier of a role (watched for leaks). */
async function stored(role: string): Promise<string | null> {
  const hash = await stack.postgres.storedPassword(role);
  watch.secret(hash);
  return hash;
}

/** Logs in with verify-full SCRAM as `username`/`password` and returns session_user. */
async function loginAs(username: string, password: string): Promise<string> {
  const session = await new PgConnector().login(
    {
      host: stack.postgres.host,
      port: stack.postgres.port,
      database: stack.postgres.database,
      username,
      password,
      ca: stack.postgres.caPem,
    },
    limits,
  );
  try {
    return (await session.identity()).sessionUser;
  } finally {
    await session.close();
  }
}

/**
 * Runs the rotation's steps up to setSecret by hand (createSecret for a
 * fresh pending password), with `env`, and returns setSecret's error.
 */
async function setSecretError(
  arn: string,
  env: Record<string, string> = {},
  database?: DatabaseConnector,
): Promise<unknown> {
  const handler = quietHandler(stack.client, env, database);
  const token = await stagePending(stack.client, stack.secretsManager, arn);
  const created = await runStep(handler, arn, 'createSecret', token);
  expect(created).toBeUndefined();
  const error = await runStep(handler, arn, 'setSecret', token);
  watch.error(error);
  // Leave the secret ready for another rotation (RotateSecret refuses while
  // a version is still AWSPENDING).
  await cancelPending(arn, token);
  return error;
}

/** What must hold after every refusal: nothing changed, AWSCURRENT still logs in. */
async function expectUnchanged(secret: Secret, storedBefore: string | null): Promise<void> {
  expect(await stored(secret.username)).toBe(storedBefore);
  expect(await loginAs(secret.username, secret.password)).toBe(secret.username);
}

/** A superuser statement on the local PostgreSQL. */
async function asSuperuser(sql: (q: (id: string) => string) => string): Promise<void> {
  await stack.postgres.withAdmin((c) => c.query(sql((id) => c.escapeIdentifier(id))));
}

describe('the role a changing session would alter', () => {
  /** An admin with CREATEROLE and ADMIN OPTION on the roles it manages, and its secret. */
  async function rotationAdmin(): Promise<Secret> {
    return user({ username: `adm_${randomBytes(3).toString('hex')}`, createRole: true });
  }

  it('is never the admin itself: a user secret naming the admin is refused, the admin untouched', async () => {
    const admin = await rotationAdmin();
    // Whoever can write the user secret names the admin role in it.
    const arn = await secretWith({ ...admin.value, masterarn: admin.arn });
    const before = await stored(admin.username);
    const error = await setSecretError(arn);
    expect(error).toBeInstanceOf(TargetRoleError);
    expect(error).toMatchObject({ problem: 'changer', role: admin.username });
    expect((error as Error).message).toMatch(
      /^Target role refused: adm_\w+ is the role that logs in/,
    );
    await expectUnchanged(admin, before);
  });

  it('is not a member of the admin role', async () => {
    // On PostgreSQL 16+ an admin holding ADMIN OPTION on the target is its
    // member, so the reverse is a loop PostgreSQL refuses; a superuser admin
    // (or PostgreSQL 15's CREATEROLE) needs no such grant.
    const admin = await rotationAdmin();
    await asSuperuser((id) => `ALTER ROLE ${id(admin.username)} SUPERUSER`);
    const target = await user({ extraKeys: { masterarn: admin.arn } });
    await asSuperuser((id) => `GRANT ${id(admin.username)} TO ${id(target.username)}`);
    const before = await stored(target.username);
    const error = await setSecretError(target.arn);
    expect(error).toMatchObject({ name: 'TargetRoleError', problem: 'member-of-changer' });
    await expectUnchanged(target, before);
  });

  it.each([
    ['SUPERUSER', 'SUPERUSER'],
    ['CREATEROLE', 'CREATEROLE'],
    ['BYPASSRLS', 'BYPASSRLS'],
    ['REPLICATION', 'REPLICATION'],
  ])('holds no %s attribute', async (attribute, named) => {
    const admin = await rotationAdmin();
    const target = await user({ managedBy: admin.username, extraKeys: { masterarn: admin.arn } });
    await asSuperuser((id) => `ALTER ROLE ${id(target.username)} ${attribute}`);
    const before = await stored(target.username);
    const error = await setSecretError(target.arn);
    expect(error).toMatchObject({ name: 'TargetRoleError', problem: 'privileged' });
    expect((error as TargetRoleError).privileges).toContain(named);
    expect((error as Error).message).toContain('ALLOW_PRIVILEGED_TARGET=true');
    await expectUnchanged(target, before);
  });

  it('is not a member, even indirectly, of a superuser role or a server-files role', async () => {
    const admin = await rotationAdmin();
    const target = await user({ managedBy: admin.username, extraKeys: { masterarn: admin.arn } });
    const group = `grp_${randomBytes(3).toString('hex')}`;
    const root = `root_${randomBytes(3).toString('hex')}`;
    await asSuperuser((id) => `CREATE ROLE ${id(root)} SUPERUSER NOLOGIN`);
    await asSuperuser((id) => `CREATE ROLE ${id(group)} NOLOGIN IN ROLE ${id(root)}`);
    await asSuperuser((id) => `GRANT ${id(group)} TO ${id(target.username)}`);
    await asSuperuser((id) => `GRANT pg_write_server_files TO ${id(target.username)}`);
    const before = await stored(target.username);
    const error = await setSecretError(target.arn);
    expect(error).toMatchObject({ name: 'TargetRoleError', problem: 'member-of-privileged' });
    expect((error as TargetRoleError).privileges).toEqual([root, 'pg_write_server_files'].sort());
    await expectUnchanged(target, before);
  });

  it('exists under exactly its name: another case is another role, and refused', async () => {
    const admin = await rotationAdmin();
    const target = await user({ managedBy: admin.username, extraKeys: { masterarn: admin.arn } });
    const arn = await secretWith({ ...target.value, username: target.username.toUpperCase() });
    const error = await setSecretError(arn);
    expect(error).toMatchObject({ name: 'TargetRoleError', problem: 'missing' });
    expect(await loginAs(target.username, target.password)).toBe(target.username);
  });

  it('may be privileged only when ALLOW_PRIVILEGED_TARGET says so', async () => {
    // A CREATEROLE user rotating itself (single user).
    const privileged = await user({ createRole: true });
    const before = await stored(privileged.username);
    expect(await setSecretError(privileged.arn)).toMatchObject({ problem: 'privileged' });
    await expectUnchanged(privileged, before);
    expect(
      await setSecretError(privileged.arn, { ALLOW_PRIVILEGED_TARGET: 'true' }),
    ).toBeUndefined();
    expect(await stored(privileged.username)).not.toBe(before);
  });
});

describe('secrets that name another server', () => {
  it('never send the admin to a host AWSCURRENT does not name', async () => {
    const admin = await user({
      username: `adm_${randomBytes(3).toString('hex')}`,
      createRole: true,
    });
    const adminElsewhere = await secretWith({
      ...admin.value,
      host: elsewhere.host,
      port: elsewhere.port,
      ca: elsewhere.caPem,
    });
    const target = await user({
      managedBy: admin.username,
      extraKeys: { masterarn: adminElsewhere },
    });
    const before = await stored(target.username);
    const connections = elsewhere.connections();
    const error = await setSecretError(target.arn);
    expect(error).toBeInstanceOf(SecretMismatchError);
    expect(error).toMatchObject({ versus: 'admin secret (masterarn)' });
    expect((error as SecretMismatchError).fields).toEqual(['host', 'port', 'ca']);
    expect((error as Error).message).toContain('ALLOW_ADMIN_TARGET_MISMATCH=true');
    expect(elsewhere.connections()).toBe(connections);
    await expectUnchanged(target, before);
  });

  it('refuse an admin secret that trusts another CA, or names another database, unless allowed', async () => {
    const admin = await user({
      username: `adm_${randomBytes(3).toString('hex')}`,
      createRole: true,
    });
    const otherCa = await secretWith({
      ...admin.value,
      ca: createCertificateAuthority('someone else').certPem,
    });
    const target = await user({ managedBy: admin.username, extraKeys: { masterarn: otherCa } });
    const error = await setSecretError(target.arn);
    expect((error as SecretMismatchError).fields).toEqual(['ca']);

    await asSuperuser(() => 'CREATE DATABASE admin_home');
    const otherDb = await secretWith({ ...admin.value, dbname: 'admin_home' });
    const second = await user({ managedBy: admin.username, extraKeys: { masterarn: otherDb } });
    const before = await stored(second.username);
    expect((await setSecretError(second.arn)) as SecretMismatchError).toMatchObject({
      fields: ['dbname'],
    });
    await expectUnchanged(second, before);
    // Roles are cluster-wide: with the opt-in the admin changes it from its own database.
    expect(
      await setSecretError(second.arn, { ALLOW_ADMIN_TARGET_MISMATCH: 'true' }),
    ).toBeUndefined();
    expect(await stored(second.username)).not.toBe(before);
  });

  it('never log in with an AWSPREVIOUS that names another server, even when AWSCURRENT fails', async () => {
    const target = await user();
    // AWSPREVIOUS points elsewhere; AWSCURRENT's password no longer works.
    await stageVersionAs(target.arn, 'AWSPREVIOUS', {
      ...target.value,
      host: elsewhere.host,
      port: elsewhere.port,
      ca: elsewhere.caPem,
    });
    const changed = randomBytes(16).toString('hex');
    await asSuperuser(
      (id) => `ALTER ROLE ${id(target.username)} PASSWORD '${createScramVerifier(changed)}'`,
    );
    const before = await stored(target.username);
    const connections = elsewhere.connections();
    const counting = new CountingConnector();
    const error = await setSecretError(target.arn, {}, counting);
    expect(error).toBeInstanceOf(AuthenticationFailedError);
    expect(elsewhere.connections()).toBe(connections);
    // AWSCURRENT, then AWSPENDING (already set?): never AWSPREVIOUS.
    expect(counting.logins).toEqual([target.username, target.username]);
    expect(await stored(target.username)).toBe(before);
  });

  it('log in with an AWSPREVIOUS that names the same server, after a partial rotation', async () => {
    const target = await user();
    const previousPassword = randomBytes(16).toString('hex');
    watch.secret(previousPassword);
    await stageVersionAs(target.arn, 'AWSPREVIOUS', {
      ...target.value,
      password: previousPassword,
    });
    await asSuperuser(
      (id) =>
        `ALTER ROLE ${id(target.username)} PASSWORD '${createScramVerifier(previousPassword)}'`,
    );
    expect(await setSecretError(target.arn)).toBeUndefined();
  });

  it('refuse a pending version that trusts another CA, or names another admin secret', async () => {
    const target = await user();
    const before = await stored(target.username);
    for (const [changes, field] of [
      [{ ca: createCertificateAuthority('other').certPem }, 'ca'],
      [
        { masterarn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf' },
        'masterarn',
      ],
    ] as const) {
      const { value, password } = await pendingWith(stack.client, target.arn, changes);
      watch.secret(password);
      const token = await stagePending(stack.client, stack.secretsManager, target.arn, value);
      const error = await runStep(quietHandler(stack.client), target.arn, 'setSecret', token);
      expect(error).toBeInstanceOf(SecretMismatchError);
      expect((error as SecretMismatchError).fields).toEqual([field]);
      await cancelPending(target.arn, token);
    }
    await expectUnchanged(target, before);
  });

  it('accept the same CA written with other line endings and wrapping', async () => {
    const target = await user();
    const ca = (target.value.ca as string).replaceAll('\n', '\r\n');
    const { value, password } = await pendingWith(stack.client, target.arn, { ca });
    watch.secret(password);
    const token = await stagePending(stack.client, stack.secretsManager, target.arn, value);
    expect(
      await runStep(quietHandler(stack.client), target.arn, 'setSecret', token),
    ).toBeUndefined();
    expect(await loginAs(target.username, password)).toBe(target.username);
  });
});

/** Stores `value` as a new version and moves `label` to it. */
async function stageVersionAs(arn: string, label: string, value: Record<string, unknown>) {
  watch.secret(value.password as string);
  const put = await stack.client.send(
    new PutSecretValueCommand({
      SecretId: arn,
      SecretString: JSON.stringify(value),
      VersionStages: ['STAGING'],
    }),
  );
  const stages = (await stack.client.send(new DescribeSecretCommand({ SecretId: arn })))
    .VersionIdsToStages;
  const holder = Object.entries(stages ?? {}).find(([, labels]) => labels.includes(label))?.[0];
  await stack.client.send(
    new UpdateSecretVersionStageCommand({
      SecretId: arn,
      VersionStage: label,
      MoveToVersionId: put.VersionId,
      ...(holder ? { RemoveFromVersionId: holder } : {}),
    }),
  );
}

/** Removes AWSPENDING from `token`'s version, so the secret can rotate again. */
async function cancelPending(arn: string, token: string) {
  await stack.client.send(
    new UpdateSecretVersionStageCommand({
      SecretId: arn,
      VersionStage: 'AWSPENDING',
      RemoveFromVersionId: token,
    }),
  );
}

describe('iteration counts', () => {
  it('refuse a role-level scram_iterations above SCRAM_MAX_ITERATIONS before anything changes', async () => {
    const target = await user();
    await asSuperuser((id) => `ALTER ROLE ${id(target.username)} SET scram_iterations = 200000`);
    const before = await stored(target.username);
    const error = await setSecretError(target.arn);
    expect(error).toBeInstanceOf(IterationLimitError);
    expect(error).toMatchObject({ iterations: 200_000, limit: 100_000 });
    expect((error as Error).message).toMatch(
      /^SCRAM iteration count refused: the server's scram_iterations asks for 200000 iterations, above SCRAM_MAX_ITERATIONS \(100000\)/,
    );
    await expectUnchanged(target, before);
  });

  it('refuse a count raised through the startup options the secret carries', async () => {
    const target = await user({ extraKeys: { options: '-c scram_iterations=150000' } });
    const before = await stored(target.username);
    expect(await setSecretError(target.arn)).toMatchObject({ iterations: 150_000 });
    await expectUnchanged(target, before);
  });

  it('refuse a count whose PBKDF2 would outlast the function, without starting it', async () => {
    const target = await user();
    await asSuperuser(
      (id) => `ALTER ROLE ${id(target.username)} SET scram_iterations = 2147483647`,
    );
    const before = await stored(target.username);
    const error = await setSecretError(target.arn, { SCRAM_MAX_ITERATIONS: '2147483647' });
    expect(error).toBeInstanceOf(DeadlineError);
    expect((error as Error).message).toMatch(
      /^Not enough time left: PBKDF2 over 2147483647 iterations needs about \d+ ms but \d+ ms are left; it was not started/,
    );
    await expectUnchanged(target, before);
  });

  it('refuse to log in with a stored verifier above the bound, naming the setting', async () => {
    const target = await user();
    await asSuperuser(
      (id) =>
        `ALTER ROLE ${id(target.username)} PASSWORD '${createScramVerifier(target.password, { iterations: 150_000 })}'`,
    );
    const before = await stored(target.username);
    const error = await setSecretError(target.arn);
    expect(error).toBeInstanceOf(IterationLimitError);
    expect((error as Error).message).toContain("the server's SCRAM login");
    expect(await stored(target.username)).toBe(before);
  });

  it('always store a verifier the test login accepts: a full rotation at the bound', async () => {
    const target = await user();
    await asSuperuser((id) => `ALTER ROLE ${id(target.username)} SET scram_iterations = 100000`);
    const handler = quietHandler(stack.client);
    const token = await stagePending(stack.client, stack.secretsManager, target.arn);
    for (const step of STEPS)
      expect(await runStep(handler, target.arn, step, token)).toBeUndefined();
    const after = await current(target.arn);
    expect(await loginAs(target.username, after.password)).toBe(target.username);
    expect(await stored(target.username)).toMatch(/^SCRAM-SHA-256\$100000:/);
  });
});

describe('names the server would cut short', () => {
  it.each([
    ['64 ASCII bytes', 'u'.repeat(64), true],
    // PostgreSQL cuts the startup name byte-wise: that login fails either way.
    ['64 bytes of UTF-8 (62 + a 2-byte letter)', `${'u'.repeat(62)}é`, false],
  ])('refuse a username of %s before anything changes', async (_, name, logsIn) => {
    expect(Buffer.byteLength(name)).toBe(MAX_IDENTIFIER_BYTES + 1);
    // PostgreSQL keeps the first 63 bytes of the name it is given.
    const truncated = Buffer.from(name)
      .subarray(0, 63)
      .toString('utf8')
      .replace(/\uFFFD$/, '');
    const password = randomBytes(16).toString('hex');
    await stack.postgres.createUser(truncated, createScramVerifier(password));
    const arn = await secretWith({
      engine: 'postgres',
      host: stack.postgres.host,
      port: stack.postgres.port,
      dbname: stack.postgres.database,
      username: name,
      password,
      ca: stack.postgres.caPem,
    });
    const before = await stored(truncated);
    const handler = quietHandler(stack.client);
    const token = await stagePending(stack.client, stack.secretsManager, arn);
    const error = await runStep(handler, arn, 'createSecret', token);
    watch.error(error);
    expect(error).toBeInstanceOf(MalformedSecretError);
    expect((error as Error).message).toMatch(
      /^Malformed secret: AWSCURRENT, key username: is not valid; .*1 to 63 bytes/,
    );
    expect(await stored(truncated)).toBe(before);
    // The secret's own login still works (as the truncated role): nothing was changed.
    if (logsIn) expect(await loginAs(name, password)).toBe(truncated);
    expect(await loginAs(truncated, password)).toBe(truncated);
  });
});

describe('finishSecret', () => {
  it('refuses to promote a version nobody tested (called right after createSecret)', async () => {
    const target = await user();
    const handler = quietHandler(stack.client);
    const token = await stagePending(stack.client, stack.secretsManager, target.arn);
    expect(await runStep(handler, target.arn, 'createSecret', token)).toBeUndefined();
    const error = await runStep(handler, target.arn, 'finishSecret', token);
    watch.error(error);
    expect(error).toBeInstanceOf(UnprovenVersionError);
    expect((error as Error).message).toMatch(
      /^Pending version not proven: version \S+ was not proved by testSecret and does not log in; AWSCURRENT was not moved/,
    );
    const stages = (await stack.client.send(new DescribeSecretCommand({ SecretId: target.arn })))
      .VersionIdsToStages;
    expect(stages?.[token]).toEqual(['AWSPENDING']);
    expect(await loginAs(target.username, target.password)).toBe(target.username);
  });

  it('uses the proof testSecret left in the same environment, logging in no more', async () => {
    const target = await user();
    const counting = new CountingConnector();
    const handler = quietHandler(stack.client, {}, counting);
    const token = await stagePending(stack.client, stack.secretsManager, target.arn);
    for (const step of STEPS)
      expect(await runStep(handler, target.arn, step, token)).toBeUndefined();
    // setSecret's login as the user, testSecret's: finishSecret adds none.
    expect(counting.logins).toEqual([target.username, target.username]);
  });

  it('proves the version itself when another environment ran testSecret', async () => {
    const target = await user();
    const first = new CountingConnector();
    const second = new CountingConnector();
    const token = await stagePending(stack.client, stack.secretsManager, target.arn);
    const early = quietHandler(stack.client, {}, first);
    for (const step of STEPS.slice(0, 3)) {
      expect(await runStep(early, target.arn, step, token)).toBeUndefined();
    }
    const late = quietHandler(stack.client, {}, second);
    expect(await runStep(late, target.arn, 'finishSecret', token)).toBeUndefined();
    expect(second.logins).toEqual([target.username]);
    const after = await current(target.arn);
    expect(await loginAs(target.username, after.password)).toBe(target.username);
  });
});

describe('pending passwords and password policies', () => {
  it('refuse a pending password that is not printable ASCII, before any login', async () => {
    const target = await user();
    const { value } = await pendingWith(stack.client, target.arn, {
      password: `pässword-${randomBytes(8).toString('hex')}`,
    });
    watch.secret(JSON.parse(value).password);
    const token = await stagePending(stack.client, stack.secretsManager, target.arn, value);
    const counting = new CountingConnector();
    const error = await runStep(
      quietHandler(stack.client, {}, counting),
      target.arn,
      'setSecret',
      token,
    );
    watch.error(error);
    expect(error).toBeInstanceOf(PasswordPolicyError);
    expect(counting.logins).toEqual([]);
  });

  it('refuse a policy below the minimum strength, storing no pending value', async () => {
    const target = await user();
    const handler = quietHandler(stack.client, {
      EXCLUDE_NUMBERS: 'true',
      EXCLUDE_PUNCTUATION: 'true',
      EXCLUDE_UPPERCASE: 'true',
      EXCLUDE_CHARACTERS: 'abcdefghijklmnopqrstuvwxy',
    });
    const token = await stagePending(stack.client, stack.secretsManager, target.arn);
    const error = await runStep(handler, target.arn, 'createSecret', token);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain('at least 96 bits');
    await expect(
      stack.client.send(new GetSecretValueCommand({ SecretId: target.arn, VersionId: token })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('across this suite', () => {
  it('printed no password or verifier in any log line or error message', () => {
    expect(watch.counts.secrets).toBeGreaterThan(10);
    expect(watch.leaks()).toEqual([]);
  });
});
