import { randomBytes } from 'node:crypto';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logsClient } from '../../bin/cli/aws.js';
import { provision } from '../../bin/workflow/provision.js';
import { type DatabaseConnector, PgConnector } from '../../lambda/adapters/database.js';
import { configFromEnv } from '../../lambda/config.js';
import { type CockroachDouble, startCockroachDouble } from '../../local/cockroach/double.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { createCockroachUser } from '../fixtures/cockroach.js';
import { LeakWatch } from '../fixtures/leaks.js';
import { logsIn, runCli, secretVersion, targetOf } from './workflow.js';

/**
 * `npm run provision` end to end: the real CLI, the local PostgreSQL and the
 * CockroachDB double, the local Secrets Manager endpoint and the rotation
 * function registered with it, which runs the first rotation for real.
 */

let stack: LocalStack;
let crdb: CockroachDouble;
let lambdaArn: string;
let pgAdmin: { secretName: string; username: string };
let crdbAdmin: { secretArn: string; username: string };

beforeAll(async () => {
  stack = await startLocalStack();
  crdb = await startCockroachDouble({ postgres: stack.postgres });
  lambdaArn = stack.registerRotationFunction({
    env: { ...process.env, TEST_LOGIN_ATTEMPTS: '2', TEST_LOGIN_DELAY_MS: '50' },
  });
  pgAdmin = await stack.createApplicationUser({ createRole: true });
  crdbAdmin = await createCockroachUser(crdb, stack.client, {
    createRole: true,
    grants: ['CREATELOGIN', 'VIEWCLUSTERSETTING'],
  });
});

afterAll(async () => {
  await crdb?.stop();
  await stack?.stop();
});

const name = (prefix: string) => `${prefix}_${randomBytes(3).toString('hex')}`;

async function roleExists(role: string): Promise<boolean> {
  return stack.postgres.withAdmin(
    async (c) =>
      (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1,
  );
}

async function secretExists(id: string): Promise<boolean> {
  try {
    await stack.client.send(new DescribeSecretCommand({ SecretId: id }));
    return true;
  } catch {
    return false;
  }
}

describe('npm run provision', () => {
  it('creates a working PostgreSQL user and secret, and the first rotation leaves the provisioned password rejected', async () => {
    const username = name('prov_pg');
    const run = await runCli(stack, 'provision', [
      '--admin-secret-id',
      pgAdmin.secretName,
      '--username',
      username,
      '--rotation-lambda-arn',
      lambdaArn,
      '--json',
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.json).toMatchObject({ ok: true, username, rotated: true });
    const secretArn = String(run.json?.secretArn);
    const current = await secretVersion(stack.client, secretArn);
    const provisioned = await secretVersion(stack.client, secretArn, 'AWSPREVIOUS');
    expect(current.username).toBe(username);
    expect(current.masterarn).toBeDefined();
    expect(await logsIn(targetOf(current))).toBe(true);
    expect(await logsIn(targetOf(provisioned))).toBe('AuthenticationFailedError');
    const described = await stack.client.send(new DescribeSecretCommand({ SecretId: secretArn }));
    expect(described.RotationEnabled).toBe(true);
    expect(described.Tags).toContainEqual({ Key: 'scram-rotator:username', Value: username });
    // No password or verifier in anything the command printed.
    const watch = new LeakWatch();
    watch.text(run.stdout + run.stderr);
    watch.secret(current.password);
    watch.secret(provisioned.password);
    watch.secret(await stack.postgres.storedPassword(username));
    expect(watch.leaks()).toEqual([]);
    expect(run.stdout).toMatch(/the provisioned password no longer logs in/);
  });

  it('creates a CockroachDB user with its grants through the double, rotated once', async () => {
    const group = name('readers');
    await crdb.postgres.withAdmin((c) => c.query(`CREATE ROLE ${group} NOLOGIN`));
    await crdb.postgres.withAdmin((c) =>
      c.query(`GRANT ${group} TO ${crdbAdmin.username} WITH ADMIN OPTION`),
    );
    const username = name('prov_crdb');
    const run = await runCli(stack, 'provision', [
      '--admin-secret-id',
      crdbAdmin.secretArn,
      '--username',
      username,
      '--grant',
      group,
      '--rotation-lambda-arn',
      lambdaArn,
      '--json',
    ]);
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toContain('provision');
    expect(run.stdout).toContain('on cockroachdb');
    const secretArn = String(run.json?.secretArn);
    const current = await secretVersion(stack.client, secretArn);
    expect(current.engine).toBe('cockroachdb');
    expect(await logsIn(targetOf(current))).toBe(true);
    expect(
      await logsIn(targetOf(await secretVersion(stack.client, secretArn, 'AWSPREVIOUS'))),
    ).toBe('AuthenticationFailedError');
    const member = await crdb.postgres.withAdmin(
      async (c) =>
        (await c.query('SELECT pg_has_role($1, $2, $3) AS m', [username, group, 'MEMBER'])).rows[0]
          ?.m,
    );
    expect(member).toBe(true);
    // The double saw a pre-hashed verifier in CREATE USER, never a cleartext password.
    expect(
      crdb.events.find((e) => e.type === 'create-role' && e.target === username),
    ).toMatchObject({ outcome: 'created', storedAs: 'pre-hashed' });
  });

  it('prints the statements with the verifier redacted on --dry-run, and changes nothing', async () => {
    const username = name('dry');
    const run = await runCli(stack, 'provision', [
      '--admin-secret-id',
      pgAdmin.secretName,
      '--username',
      username,
      '--dry-run',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      `would run: CREATE ROLE "${username}" WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:<redacted>'`,
    );
    expect(run.stdout).not.toMatch(/SCRAM-SHA-256\$4096:[A-Za-z0-9+/]/);
    expect(await roleExists(username)).toBe(false);
    expect(await secretExists(`scram-rotator/local/${username}`)).toBe(false);
  });

  it('copies the direct memberships of --like, next to --grant', async () => {
    const [group, other, template] = [name('grp'), name('oth'), name('tpl')];
    await stack.postgres.withAdmin(async (c) => {
      await c.query(`CREATE ROLE ${group} NOLOGIN`);
      await c.query(`CREATE ROLE ${other} NOLOGIN`);
      await c.query(`CREATE ROLE ${template} NOLOGIN`);
      await c.query(`GRANT ${group} TO ${template}`);
      for (const role of [group, other]) {
        await c.query(`GRANT ${role} TO ${pgAdmin.username} WITH ADMIN OPTION`);
      }
    });
    const username = name('liked');
    const run = await runCli(stack, 'provision', [
      '--admin-secret-id',
      pgAdmin.secretName,
      '--username',
      username,
      '--grant',
      other,
      '--like',
      template,
    ]);
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toContain(`granted ${other} to ${username}`);
    expect(run.stdout).toContain(`granted ${group} to ${username}`);
    const memberships = await stack.postgres.withAdmin(async (c) =>
      (
        await c.query<{ rolname: string }>(
          `SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
              JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 ORDER BY 1`,
          [username],
        )
      ).rows.map((r) => r.rolname),
    );
    expect(memberships).toEqual([group, other].sort());
  });

  it('rolls back the user when storing the secret fails after it was created, leaving no orphan', async () => {
    const username = name('half');
    stack.secretsManager.injectFault({
      operation: 'CreateSecret',
      // Not retried by the SDK, as AWS answers when the secret's KMS key cannot be used.
      error: { type: 'EncryptionFailure', message: 'Injected fault.' },
    });
    const run = await runCli(stack, 'provision', [
      '--admin-secret-id',
      pgAdmin.secretName,
      '--username',
      username,
      '--json',
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toContain(`created ${username}`);
    expect(run.stdout).toContain(`rolled back: dropped ${username}; nothing is left`);
    expect(run.json).toMatchObject({ ok: false, username });
    expect(run.json?.leftover).toBeUndefined();
    expect(await roleExists(username)).toBe(false);
    expect(await secretExists(`scram-rotator/local/${username}`)).toBe(false);
  });

  it('says exactly how to finish when the rollback fails too, and that command works', async () => {
    const username = name('stuck');
    // The database refuses the DROP (as a lost connection would): the only
    // fault the real server cannot be made to produce on cue.
    const real = new PgConnector();
    const dropFails: DatabaseConnector = {
      async login(target, limits) {
        const session = await real.login(target, limits);
        const execute = session.execute.bind(session);
        session.execute = async (statement: string) => {
          if (statement.startsWith('DROP ROLE')) throw new Error('connection lost');
          return execute(statement);
        };
        return session;
      },
    };
    stack.secretsManager.injectFault({
      operation: 'CreateSecret',
      error: { type: 'EncryptionFailure' },
    });
    const lines: string[] = [];
    const logs = logsClient({
      region: stack.secretsManager.region,
      endpointUrl: stack.secretsManager.url,
    });
    const report = await provision(
      {
        adminSecretId: pgAdmin.secretName,
        username,
        grants: [],
        schedule: 'rate(30 days)',
        rotationTimeoutMs: 30_000,
        singleUser: false,
        dryRun: false,
      },
      {
        secrets: stack.client,
        logs,
        database: dropFails,
        config: configFromEnv({}),
        out: (l) => lines.push(l),
      },
    ).finally(() => logs.destroy());
    expect(report.ok).toBe(false);
    expect(report.leftover).toBe(
      `the role ${username} exists without a secret: run DROP ROLE "${username}"; as ${pgAdmin.username}`,
    );
    expect(lines.join('\n')).toContain(`DROP ROLE "${username}";`);
    expect(await roleExists(username)).toBe(true);
    await stack.postgres.withAdmin((c) =>
      c.query(`SET ROLE ${pgAdmin.username}; DROP ROLE "${username}"; RESET ROLE`),
    );
    expect(await roleExists(username)).toBe(false);
  });

  it('refuses an existing role, the admin itself and a privileged grant, changing nothing', async () => {
    const taken = await runCli(stack, 'provision', [
      '--admin-secret-id',
      pgAdmin.secretName,
      '--username',
      pgAdmin.username,
    ]);
    expect(taken.code).toBe(1);
    expect(taken.stdout).toMatch(/Refused: .*is the role that logs in to change it/);
    const other = await stack.createApplicationUser();
    const existing = await runCli(stack, 'provision', [
      '--admin-secret-id',
      pgAdmin.secretName,
      '--username',
      other.username,
      '--secret-name',
      `fresh/${other.username}`,
    ]);
    expect(existing.stdout).toMatch(
      /exists already; to bring it under rotation run scram-rotator adopt/,
    );
    const username = name('priv');
    const privileged = await runCli(stack, 'provision', [
      '--admin-secret-id',
      pgAdmin.secretName,
      '--username',
      username,
      '--grant',
      'pg_write_server_files',
    ]);
    expect(privileged.code).toBe(1);
    expect(privileged.stdout).toMatch(
      /Refused: --grant pg_write_server_files: pg_write_server_files is privileged/,
    );
    expect(privileged.stdout).not.toContain('created');
    expect(await roleExists(username)).toBe(false);
  });
});
