import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  ListSecretsCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScramVerifier } from '../../lambda/core/scram.js';
import { type CockroachDouble, startCockroachDouble } from '../../local/cockroach/double.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { createCockroachUser } from '../fixtures/cockroach.js';
import { LeakWatch } from '../fixtures/leaks.js';
import { logsIn, runCli, secretVersion, targetOf } from './workflow.js';

/**
 * `npm run adopt`: existing users brought under rotation through the real
 * CLI, the local Secrets Manager endpoint and the rotation function it
 * runs, on PostgreSQL and through the CockroachDB double.
 */

let stack: LocalStack;
let crdb: CockroachDouble;
let lambdaArn: string;

beforeAll(async () => {
  stack = await startLocalStack();
  crdb = await startCockroachDouble({ postgres: stack.postgres });
  lambdaArn = stack.registerRotationFunction({
    env: { ...process.env, TEST_LOGIN_ATTEMPTS: '2', TEST_LOGIN_DELAY_MS: '50' },
  });
});

afterAll(async () => {
  await crdb?.stop();
  await stack?.stop();
});

/** An existing user with a password set long ago (by the superuser), as adopt finds them. */
async function legacyUser(prefix: string, managedBy?: string) {
  const username = `${prefix}_${randomBytes(3).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  await stack.postgres.createUser(username, createScramVerifier(password));
  if (managedBy) {
    await stack.postgres.withAdmin((c) =>
      c.query(`GRANT ${username} TO ${managedBy} WITH ADMIN OPTION`),
    );
  }
  return { username, password };
}

const pgTarget = (username: string, password: string) => ({
  host: stack.postgres.host,
  port: stack.postgres.port,
  database: 'postgres',
  username,
  password,
  ca: stack.postgres.caPem,
});

/** A secret adopt did not create: another team's name, no tags, AWS's JSON shape. */
async function foreignSecret(username: string, password: string, host = stack.postgres.host) {
  const name = `other-team/${randomBytes(3).toString('hex')}/db-credentials`;
  const created = await stack.client.send(
    new CreateSecretCommand({
      Name: name,
      SecretString: JSON.stringify({
        engine: 'postgres',
        host,
        port: String(stack.postgres.port),
        username,
        password,
        dbname: 'postgres',
        ca: stack.postgres.caPem,
      }),
    }),
  );
  return { name, arn: String(created.ARN) };
}

/** The names of the secrets whose name starts with `prefix`. */
async function secretsNamed(prefix: string): Promise<string[]> {
  const listed = await stack.client.send(
    new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }] }),
  );
  return (listed.SecretList ?? []).map((s) => String(s.Name));
}

type Result = { user: string; status: string; detail: string; fix?: string; secretArn?: string };

describe('npm run adopt', () => {
  it('adopts three users where the admin lacks privilege on one: two rotated, one failure with the fix', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const a = await legacyUser('adopt_a', admin.username);
    const b = await legacyUser('adopt_b', admin.username);
    const c = await legacyUser('adopt_c');
    const run = await runCli(stack, 'adopt', [
      '--admin-secret-id',
      admin.secretName,
      '--users',
      `${a.username},${b.username},${c.username}`,
      '--rotation-lambda-arn',
      lambdaArn,
      '--json',
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toContain(
      'adopt: 2 rotated, 0 stored without rotation, 0 skipped, 1 failed',
    );
    const results = run.json?.results as {
      user: string;
      status: string;
      fix?: string;
      secretArn?: string;
    }[];
    expect(results.map((r) => [r.user, r.status])).toEqual([
      [a.username, 'rotated'],
      [b.username, 'rotated'],
      [c.username, 'failed'],
    ]);
    expect(results[2]?.fix).toBe(`GRANT "${c.username}" TO "${admin.username}" WITH ADMIN OPTION`);
    expect(run.stdout).toMatch(new RegExp(`FAILED +${c.username} .*not ADMIN OPTION`));
    // The old passwords stop working; the secrets' current ones log in; c is untouched.
    const watch = new LeakWatch();
    watch.text(run.stdout + run.stderr);
    for (const [user, result] of [
      [a, results[0]],
      [b, results[1]],
    ] as const) {
      expect(await logsIn(pgTarget(user.username, user.password))).toBe(
        'AuthenticationFailedError',
      );
      const current = await secretVersion(stack.client, String(result?.secretArn));
      expect(await logsIn(targetOf(current))).toBe(true);
      watch.secret(user.password);
      watch.secret(current.password);
      watch.secret(
        (await secretVersion(stack.client, String(result?.secretArn), 'AWSPREVIOUS')).password,
      );
    }
    expect(watch.leaks()).toEqual([]);
    expect(await logsIn(pgTarget(c.username, c.password))).toBe(true);
    // Running the fix, then adopt again for that user, finishes the job.
    await stack.postgres.withAdmin((client) => client.query(String(results[2]?.fix)));
    const again = await runCli(stack, 'adopt', [
      '--admin-secret-id',
      admin.secretName,
      '--users',
      c.username,
      '--rotation-lambda-arn',
      lambdaArn,
    ]);
    expect(again.code, again.stdout).toBe(0);
    expect(await logsIn(pgTarget(c.username, c.password))).toBe('AuthenticationFailedError');
  });

  it('passes over the admin and privileged roles with --all-login-users, and refuses them by name', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const run = await runCli(stack, 'adopt', [
      '--admin-secret-id',
      admin.secretName,
      '--users',
      admin.username,
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAILED +\S+ +is the role that logs in to change it/);
    const mine = await legacyUser('adopt_dry', admin.username);
    const dry = await runCli(stack, 'adopt', [
      '--admin-secret-id',
      admin.secretName,
      '--all-login-users',
      '--dry-run',
    ]);
    // The superuser is passed over, whatever other users the other tests left.
    expect(dry.stdout).toMatch(new RegExp(`SKIPPED +${stack.postgres.admin.user} +`));
    expect(dry.stdout).not.toContain(`${admin.username}  `);
    expect(dry.stdout).toMatch(
      new RegExp(
        `PLANNED +${mine.username} +would store .* ALTER USER "${mine.username}" WITH PASSWORD 'SCRAM-SHA-256\\$4096:<redacted>'`,
      ),
    );
    expect(await logsIn(pgTarget(mine.username, mine.password))).toBe(true);
  });

  it('refuses, in the dry run as in the real run and before storing anything, a user the admin may not set a password for under rds.restrict_password_commands', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const user = await legacyUser('adopt_rds', admin.username);
    // RDS's restriction, simulated: the setting on in the admin's sessions, rds_password without it.
    await stack.postgres.withAdmin(async (c) => {
      await c.query(
        `ALTER ROLE ${c.escapeIdentifier(admin.username)} SET rds.restrict_password_commands = 'on'`,
      );
      await c.query(
        'DO $$ BEGIN CREATE ROLE rds_password NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$',
      );
    });
    const prefix = `adopt-rds-${randomBytes(3).toString('hex')}/`;
    for (const dryRun of [['--dry-run'], []]) {
      const run = await runCli(stack, 'adopt', [
        '--admin-secret-id',
        admin.secretName,
        '--users',
        user.username,
        '--secret-prefix',
        prefix,
        ...dryRun,
        '--json',
      ]);
      expect(run.code, run.stdout + run.stderr).toBe(1);
      const [result] = (run.json?.results ?? []) as Result[];
      expect(result).toMatchObject({
        status: 'failed',
        fix: `GRANT "rds_password" TO "${admin.username}"`,
      });
      expect(result?.detail).toContain(
        `rds.restrict_password_commands is on and ${admin.username} is not a member of rds_password`,
      );
    }
    expect(await secretsNamed(prefix)).toEqual([]);
    expect(await logsIn(pgTarget(user.username, user.password))).toBe(true);
  });

  it('converts a bcrypt-stored CockroachDB user to SCRAM through the admin, then rotates it', async () => {
    const admin = await createCockroachUser(crdb, stack.client, {
      createRole: true,
      grants: ['CREATELOGIN', 'VIEWCLUSTERSETTING'],
    });
    const user = `legacy_${randomBytes(3).toString('hex')}`;
    const old = randomBytes(18).toString('base64url');
    await stack.postgres.createUser(user, createScramVerifier(randomBytes(8).toString('hex')));
    await crdb.setBcryptPassword(user, old, 4);
    const run = await runCli(stack, 'adopt', [
      '--admin-secret-id',
      admin.secretArn,
      '--users',
      user,
      '--rotation-lambda-arn',
      lambdaArn,
      '--json',
    ]);
    expect(run.code, run.stdout).toBe(0);
    const [result] = (run.json?.results ?? []) as { secretArn: string }[];
    expect(await crdb.storedPassword(user)).toMatch(/^SCRAM-SHA-256\$10610:/);
    const current = await secretVersion(stack.client, String(result?.secretArn));
    expect(current.engine).toBe('cockroachdb');
    expect(await logsIn(targetOf(current))).toBe(true);
    await expect(crdb.connect(user, old)).rejects.toMatchObject({ code: '28P01' });
  });

  it('refuses, in the dry run and for real, a user a secret it did not create manages (no tags, another name), and that secret still logs in', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const managed = await legacyUser('adopt_managed', admin.username);
    const free = await legacyUser('adopt_free', admin.username);
    // Another name of the same server: localhost and 127.0.0.1 share an address.
    const other = await foreignSecret(managed.username, managed.password, 'LocalHost');
    const args = ['--admin-secret-id', admin.secretName, '--users'];
    const dry = await runCli(stack, 'adopt', [
      ...args,
      `${managed.username},${free.username}`,
      '--dry-run',
      '--json',
    ]);
    expect(dry.code, dry.stdout + dry.stderr).toBe(1);
    expect(dry.stdout).toMatch(
      new RegExp(
        `FAILED +${managed.username} +managed already by secret ${other.name} \\(${other.arn}; its value names LocalHost:${stack.postgres.port}\\)`,
      ),
    );
    expect(dry.stdout).toMatch(new RegExp(`PLANNED +${free.username} +would store`));
    expect(dry.stdout).toContain(
      'adopt: 0 rotated, 0 stored without rotation, 0 skipped, 1 failed (dry run: nothing was changed)',
    );
    const run = await runCli(stack, 'adopt', [...args, managed.username, '--json']);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    const [result] = (run.json?.results ?? []) as Result[];
    expect(result).toMatchObject({ user: managed.username, status: 'failed' });
    expect(result?.fix).toContain(`scram-rotator rotate --secret-id ${other.arn}`);
    // Nothing was created and the other secret's password still logs in.
    expect(await secretsNamed(`scram-rotator/local/${managed.username}`)).toEqual([]);
    expect(await logsIn(targetOf(await secretVersion(stack.client, other.arn)))).toBe(true);
    const watch = new LeakWatch();
    watch.text(dry.stdout + dry.stderr + run.stdout + run.stderr);
    watch.secret(managed.password);
    expect(watch.leaks()).toEqual([]);
    // --all-login-users passes over it instead.
    const all = await runCli(stack, 'adopt', [
      '--admin-secret-id',
      admin.secretName,
      '--all-login-users',
      '--dry-run',
    ]);
    expect(all.stdout).toMatch(new RegExp(`SKIPPED +${managed.username} +managed already by`));
    await stack.client.send(
      new DeleteSecretCommand({ SecretId: other.arn, ForceDeleteWithoutRecovery: true }),
    );
  });

  it('refuses a user an RDS-managed master secret names, since that secret names no server, and its password still logs in', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const master = await legacyUser('adopt_rds', admin.username);
    const instance = `arn:aws:rds:us-east-1:123456789012:db:db-${randomBytes(3).toString('hex')}`;
    const arn = stack.secretsManager.createServiceSecret({
      name: `rds!db-${randomBytes(8).toString('hex')}`,
      owningService: 'rds',
      secretString: JSON.stringify({ username: master.username, password: master.password }),
      tags: [{ Key: 'aws:rds:primaryDBInstanceArn', Value: instance }],
    });
    const run = await runCli(stack, 'adopt', [
      '--admin-secret-id',
      admin.secretName,
      '--users',
      master.username,
      '--rotation-lambda-arn',
      lambdaArn,
      '--json',
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toMatch(
      new RegExp(`FAILED +${master.username} +may be managed already by secret rds!db-`),
    );
    expect(run.stdout).toContain(
      `its value names no host, so adopt cannot tell which server it is on, managed by RDS for ${instance}`,
    );
    expect(run.stdout).toContain(
      'adopt: 0 rotated, 0 stored without rotation, 0 skipped, 1 failed',
    );
    expect(await logsIn(pgTarget(master.username, master.password))).toBe(true);
    expect(run.stdout + run.stderr).not.toContain(master.password);
    await stack.client.send(
      new DeleteSecretCommand({ SecretId: arn, ForceDeleteWithoutRecovery: true }),
    );
  });

  it('names each secret it cannot read, refuses every user while one exists, and goes on only with --ignore-unreadable-secrets', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const user = await legacyUser('adopt_unread', admin.username);
    const denied = await stack.createApplicationUser();
    const text = await stack.client.send(
      new CreateSecretCommand({
        Name: `plain-${randomBytes(3).toString('hex')}`,
        SecretString: 'postgres://someone@elsewhere/db',
      }),
    );
    const deny = () =>
      stack.secretsManager.injectFault({
        operation: 'GetSecretValue',
        secretId: denied.secretArn,
        error: { type: 'AccessDeniedException', message: 'not authorized' },
      });
    try {
      deny();
      const refused = await runCli(stack, 'adopt', [
        '--admin-secret-id',
        admin.secretName,
        '--users',
        user.username,
        '--json',
      ]);
      expect(refused.code, refused.stdout + refused.stderr).toBe(1);
      expect(refused.stdout).toContain(
        `cannot read secret ${denied.secretName} (${denied.secretArn}): GetSecretValue answered AccessDeniedException`,
      );
      expect(refused.stdout).toContain(
        `cannot read secret ${text.Name} (${text.ARN}): its value is not JSON`,
      );
      expect(refused.stdout).toMatch(
        new RegExp(`FAILED +${user.username} +2 secret\\(s\\) could not be read`),
      );
      expect(((refused.json?.results ?? []) as Result[])[0]?.fix).toContain(
        '--ignore-unreadable-secrets',
      );
      expect(refused.stdout).toContain(
        'adopt: 0 rotated, 0 stored without rotation, 0 skipped, 1 failed',
      );
      expect(await logsIn(pgTarget(user.username, user.password))).toBe(true);
      deny();
      const forced = await runCli(stack, 'adopt', [
        '--admin-secret-id',
        admin.secretName,
        '--users',
        user.username,
        '--ignore-unreadable-secrets',
      ]);
      expect(forced.code, forced.stdout + forced.stderr).toBe(0);
      expect(forced.stdout).toContain('going on without 2 unreadable secret(s)');
      expect(forced.stdout).toMatch(new RegExp(`STORED +${user.username} `));
      expect(await logsIn(pgTarget(user.username, user.password))).toBe(
        'AuthenticationFailedError',
      );
    } finally {
      stack.secretsManager.clearFaults();
      await stack.client.send(
        new DeleteSecretCommand({ SecretId: String(text.ARN), ForceDeleteWithoutRecovery: true }),
      );
    }
  });

  it('takes user names exactly as given, and a name that cannot be a secret name fails that user only', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const plain = await legacyUser('adopt_trim', admin.username);
    const spaced = `adopt space ${randomBytes(3).toString('hex')}`;
    const password = randomBytes(18).toString('base64url');
    await stack.postgres.createUser(spaced, createScramVerifier(password));
    await stack.postgres.withAdmin((c) =>
      c.query(
        `GRANT ${c.escapeIdentifier(spaced)} TO ${c.escapeIdentifier(admin.username)} WITH ADMIN OPTION`,
      ),
    );
    const good = await legacyUser('adopt_good', admin.username);
    const run = await runCli(stack, 'adopt', [
      '--admin-secret-id',
      admin.secretName,
      '--users',
      ` ${plain.username},${spaced},${good.username}`,
      '--json',
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    const results = (run.json?.results ?? []) as Result[];
    expect(results.map((r) => [r.user, r.status])).toEqual([
      [` ${plain.username}`, 'failed'],
      [spaced, 'failed'],
      [good.username, 'stored'],
    ]);
    expect(run.stdout).toContain(
      `FAILED  " ${plain.username}"  does not exist on the server under exactly this name`,
    );
    expect(results[1]?.detail).toContain(
      'a secret name holds only ASCII letters, digits and /_+=.@-',
    );
    expect(run.stdout).toContain(
      'adopt: 0 rotated, 1 stored without rotation, 0 skipped, 2 failed',
    );
    // Neither the untrimmed name nor the unnameable user was touched.
    expect(await logsIn(pgTarget(plain.username, plain.password))).toBe(true);
    expect(await logsIn(pgTarget(spaced, password))).toBe(true);
    expect(await logsIn(pgTarget(good.username, good.password))).toBe('AuthenticationFailedError');
  });

  it('fails only the user whose checks break on an unexpected error, and adopts the next one', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const first = await legacyUser('adopt_err', admin.username);
    const second = await legacyUser('adopt_next', admin.username);
    // The first DescribeSecret (the first user's secret-name check) is denied.
    stack.secretsManager.injectFault({
      operation: 'DescribeSecret',
      error: { type: 'AccessDeniedException', message: 'not authorized' },
    });
    try {
      const run = await runCli(stack, 'adopt', [
        '--admin-secret-id',
        admin.secretName,
        '--users',
        `${first.username},${second.username}`,
        '--json',
      ]);
      expect(run.code, run.stdout + run.stderr).toBe(1);
      expect(run.stdout).toMatch(
        new RegExp(`FAILED +${first.username} +AccessDeniedException: not authorized`),
      );
      expect(run.stdout).toMatch(new RegExp(`STORED +${second.username} `));
      expect(run.stdout).toContain(
        'adopt: 0 rotated, 1 stored without rotation, 0 skipped, 1 failed',
      );
      expect(await logsIn(pgTarget(first.username, first.password))).toBe(true);
    } finally {
      stack.secretsManager.clearFaults();
    }
  });

  it('goes on with the secret a CreateSecret made when its answer was lost, and leaves exactly one', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const user = await legacyUser('adopt_lost', admin.username);
    // Every attempt the SDK makes (3) is served, and every answer is lost.
    stack.secretsManager.injectFault({
      operation: 'CreateSecret',
      served: true,
      times: 3,
      error: { type: 'InternalServiceError' },
    });
    try {
      const run = await runCli(stack, 'adopt', [
        '--admin-secret-id',
        admin.secretName,
        '--users',
        user.username,
        '--json',
      ]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      const [result] = (run.json?.results ?? []) as Result[];
      expect(result?.status).toBe('stored');
      expect(await secretsNamed(`scram-rotator/local/${user.username}`)).toEqual([
        `scram-rotator/local/${user.username}`,
      ]);
      const current = await secretVersion(stack.client, String(result?.secretArn));
      expect(await logsIn(targetOf(current))).toBe(true);
      expect(await logsIn(pgTarget(user.username, user.password))).toBe(
        'AuthenticationFailedError',
      );
      expect(run.stdout).not.toContain(current.password);
    } finally {
      stack.secretsManager.clearFaults();
    }
  });
});
