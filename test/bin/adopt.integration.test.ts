import { randomBytes } from 'node:crypto';
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
});
