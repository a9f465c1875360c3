import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  ListSecretsCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../../local/cockroach/behaviours.js';
import { type CockroachDouble, startCockroachDouble } from '../../local/cockroach/double.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { type CockroachUser, createCockroachUser } from '../fixtures/cockroach.js';
import { type CliRun, runCli } from './workflow.js';

/**
 * `npm run audit` on a cluster walked through the guide's phases: each
 * audit reports the phase the cluster is in, and moving it to the next
 * phase changes the report. Read-only except `--mark-phase2`.
 */

/** Deletes a fixture's secret, so that its user is one no secret manages. */
async function forgetSecret(stack: LocalStack, secretArn: string): Promise<void> {
  await stack.client.send(
    new DeleteSecretCommand({ SecretId: secretArn, ForceDeleteWithoutRecovery: true }),
  );
}

type Line = { check: string; status: string; detail: string; fix?: string };
const line = (run: CliRun, check: string) =>
  (run.json?.results as Line[] | undefined)?.find((r) => r.check === check);

describe('npm run audit on CockroachDB (the double)', () => {
  let stack: LocalStack;
  let crdb: CockroachDouble;
  let lambdaArn: string;
  let auditor: CockroachUser;
  let app: CockroachUser;

  beforeAll(async () => {
    stack = await startLocalStack();
    crdb = await startCockroachDouble({ postgres: stack.postgres });
    lambdaArn = stack.registerRotationFunction({
      env: { ...process.env, TEST_LOGIN_ATTEMPTS: '2', TEST_LOGIN_DELAY_MS: '50' },
    });
    auditor = await createCockroachUser(crdb, stack.client, {
      createRole: true,
      grants: ['CREATELOGIN', 'VIEWCLUSTERSETTING'],
    });
    app = await createCockroachUser(crdb, stack.client);
  });

  afterAll(async () => {
    await crdb?.stop();
    await stack?.stop();
  });

  const auditRun = (...args: string[]) =>
    runCli(stack, 'audit', ['--secret-id', auditor.secretArn, '--json', ...args]);

  it('reports each phase as the cluster moves through them, in an order that locks no user out', async () => {
    // Phase 0: pre-hashed passwords off.
    crdb.settings.set(SETTINGS.storePreHashed, false);
    const zero = await auditRun();
    expect(zero.code).toBe(1);
    expect(zero.json).toMatchObject({ phase: 0, engine: 'cockroachdb' });
    expect(line(zero, 'pre-hashed passwords')).toMatchObject({
      status: 'fail',
      fix: `SET CLUSTER SETTING ${SETTINGS.storePreHashed} = true`,
    });
    // Without admin or VIEWSYSTEMTABLE, the stored passwords are unknown: a failure that names the grant.
    expect(line(zero, 'stored passwords')).toMatchObject({
      status: 'fail',
      unknown: true,
      fix: expect.stringContaining('GRANT SYSTEM VIEWSYSTEMTABLE'),
    });
    expect(zero.stdout).toMatch(/Unknown to this role, so failed: .*stored passwords/);

    // Phase 1: the settings right; the default HBA still sends cleartext.
    crdb.settings.set(SETTINGS.storePreHashed, true);
    crdb.privileges.grant(auditor.username, 'VIEWSYSTEMTABLE');
    await crdb.setBcryptPassword(app.username, app.password, 4);
    const one = await auditRun();
    expect(one.json).toMatchObject({ phase: 1, phaseKnown: true });
    expect(line(one, 'hba')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('cert-password (the built-in default)'),
    });
    expect(line(one, `user ${app.username}`)).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('stored as crdb-bcrypt'),
    });
    expect(one.stdout).toMatch(/Phase 1 of 3 complete on cockroachdb/);

    // Strict HBA while a user is still stored as bcrypt: it would be locked
    // out, so phase 2 fails, names the user, and the mark is refused.
    crdb.settings.set(SETTINGS.hba, 'host all all all scram-sha-256');
    const early = await auditRun('--mark-phase2');
    expect(early.json).toMatchObject({ phase: 1 });
    expect(line(early, 'hba')?.status).toBe('pass');
    expect(line(early, 'stored passwords')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining(`${app.username} (crdb-bcrypt)`),
    });
    expect(line(early, 'mark')).toMatchObject({ status: 'fail' });

    // Phase 1 done right: the user gets a SCRAM verifier (adopt rotates it).
    // adopt passes over a user a secret manages, so app's fixture secret
    // goes: app is then a legacy user whose password lives outside Secrets Manager.
    crdb.settings.set(SETTINGS.hba, '');
    await forgetSecret(stack, app.secretArn);
    const adopted = await runCli(stack, 'adopt', [
      '--admin-secret-id',
      auditor.secretArn,
      '--users',
      app.username,
      '--secret-prefix',
      'managed/',
      '--rotation-lambda-arn',
      lambdaArn,
    ]);
    expect(adopted.code, adopted.stdout).toBe(0);

    // Phase 2: strict HBA, recorded by --mark-phase2; the users are not rotated since.
    crdb.settings.set(SETTINGS.hba, 'host all all all scram-sha-256');
    const mark = await auditRun('--mark-phase2');
    expect(line(mark, 'stored passwords')?.status).toBe('pass');
    expect(line(mark, 'mark')).toMatchObject({ status: 'pass' });
    const tags = (
      await stack.client.send(new DescribeSecretCommand({ SecretId: auditor.secretArn }))
    ).Tags;
    expect(tags?.find((t) => t.Key === 'scram-rotator:strict-hba-since')?.Value).toMatch(
      /^\S+Z sha256:[0-9a-f]{16}$/,
    );
    const two = await auditRun();
    expect(two.json).toMatchObject({ phase: 2 });
    expect(line(two, 'strict hba since')).toMatchObject({ status: 'pass' });
    expect(line(two, `user ${app.username}`)).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('before strict HBA'),
      fix: expect.stringContaining('npm run rotate -- --secret-id'),
    });

    // The user's secret rotated again after the mark: its line passes.
    const listed = await stack.client.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['managed/'] }] }),
    );
    const appSecret = listed.SecretList?.find((e) =>
      e.Tags?.some((t) => t.Key === 'scram-rotator:username' && t.Value === app.username),
    )?.ARN;
    expect(appSecret).toBeDefined();
    await stack.rotate(appSecret ?? '', lambdaArn);
    const three = await auditRun();
    expect(line(three, `user ${app.username}`)).toMatchObject({
      status: 'pass',
      detail: expect.stringMatching(/^SCRAM \(10610 iterations\), managed, last rotated/),
    });
    // Phase 3 is not complete while a privileged role's password (the
    // rotation admin's, the backing superuser's) is not proven set again
    // after strict HBA began.
    expect(three.json).toMatchObject({ phase: 2 });
    for (const privileged of [auditor.username, stack.postgres.admin.user]) {
      expect(line(three, `user ${privileged}`)).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining('privileged'),
      });
    }

    // Weakening HBA again voids the mark and drops the cluster back.
    crdb.settings.set(SETTINGS.hba, 'host all all all scram-sha-256\nhost all all all password');
    const back = await auditRun();
    expect(back.json).toMatchObject({ phase: 1 });
    expect(line(back, 'strict hba since')).toMatchObject({ status: 'warn' });
    crdb.settings.set(SETTINGS.hba, 'host all all all scram-sha-256');
  });

  it('fails phase 2 on an ldap rule, which takes the cleartext password (pkg/sql/pgwire/auth_methods.go, AuthLDAP)', async () => {
    crdb.settings.set(
      SETTINGS.hba,
      `host all ${app.username} all ldap ldapserver=ldap.example.com ldapport=636\nhost all all all scram-sha-256`,
    );
    const run = await auditRun('--mark-phase2');
    expect(line(run, 'hba')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining(`host all ${app.username} all ldap`),
    });
    expect(line(run, 'mark')?.status).toBe('fail');
    expect(run.json).toMatchObject({ phase: 1 });
  });

  it('fails phase 2 when the HBA setting is redacted, and names the privilege that shows it (pkg/settings/masked.go)', async () => {
    crdb.settings.set(SETTINGS.hba, 'host all all all cert-password');
    crdb.settings.set(SETTINGS.redactSensitive, true);
    try {
      const run = await auditRun('--mark-phase2');
      expect(line(run, 'hba')).toMatchObject({
        status: 'fail',
        unknown: true,
        detail: expect.stringContaining('<redacted>'),
        fix: expect.stringContaining('MODIFYCLUSTERSETTING'),
      });
      expect(line(run, 'mark')?.status).toBe('fail');
      expect(run.json).toMatchObject({ phase: 1, phaseKnown: false });
      expect(run.code).toBe(1);

      // With MODIFYCLUSTERSETTING the real rule shows, and fails as weak.
      crdb.privileges.grant(auditor.username, 'MODIFYCLUSTERSETTING');
      const seen = await auditRun();
      expect(line(seen, 'hba')).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining('host all all all cert-password'),
      });
    } finally {
      crdb.privileges.revoke(auditor.username, 'MODIFYCLUSTERSETTING');
      crdb.settings.set(SETTINGS.redactSensitive, false);
      crdb.settings.set(SETTINGS.hba, 'host all all all scram-sha-256');
    }
  });

  it('names the crdb-bcrypt downgrade in phase 1', async () => {
    crdb.settings.set(SETTINGS.passwordEncryption, 'crdb-bcrypt');
    try {
      const run = await auditRun();
      expect(line(run, 'password encryption')).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining('turned back into bcrypt'),
      });
      expect(run.json).toMatchObject({ phase: 0 });
    } finally {
      crdb.settings.set(SETTINGS.passwordEncryption, 'scram-sha-256');
    }
  });
});

describe('npm run audit on PostgreSQL', () => {
  let stack: LocalStack;
  let lambdaArn: string;
  let superSecret: string;
  let privilegedLambdaArn: string;

  beforeAll(async () => {
    stack = await startLocalStack();
    const env = { ...process.env, TEST_LOGIN_ATTEMPTS: '2', TEST_LOGIN_DELAY_MS: '50' };
    lambdaArn = stack.registerRotationFunction({ env });
    privilegedLambdaArn = stack.registerRotationFunction({
      env: { ...env, ALLOW_PRIVILEGED_TARGET: 'true' },
    });
    const admin = stack.postgres.admin;
    const created = await stack.client.send(
      new CreateSecretCommand({
        Name: `audit/${randomBytes(3).toString('hex')}`,
        SecretString: JSON.stringify({
          engine: 'postgres',
          host: admin.host,
          port: admin.port,
          username: admin.user,
          password: admin.password,
          dbname: admin.database,
          ca: stack.postgres.caPem,
        }),
      }),
    );
    superSecret = created.ARN ?? '';
  });

  afterAll(async () => {
    await stack?.stop();
  });

  // First: the last test rotates the superuser's password.
  it('fails what a role without privileges may not read, and names the privilege', async () => {
    const reader = await stack.createApplicationUser();
    const run = await runCli(stack, 'audit', ['--secret-id', reader.secretName, '--json']);
    expect(line(run, 'hba')).toMatchObject({
      status: 'fail',
      unknown: true,
      fix: expect.stringContaining('superuser'),
    });
    expect(line(run, 'stored passwords')).toMatchObject({ status: 'fail', unknown: true });
    expect(run.stdout).toContain('Unknown to this role, so failed: hba, stored passwords');
    expect(run.json).toMatchObject({ phase: 1, phaseKnown: false });
    expect(run.code).toBe(1);
  });

  it('reports MD5 users and weak pg_hba.conf rules, and reaches phase 3 only once the superuser is rotated after strict HBA', async () => {
    const md5 = await stack.createApplicationUser({ storedAs: 'md5' });
    await stack.postgres.setHbaRules([{ user: md5.username, method: 'md5' }]);
    const one = await runCli(stack, 'audit', ['--secret-id', superSecret, '--json']);
    expect(one.json).toMatchObject({ phase: 1, engine: 'postgres' });
    expect(line(one, 'password encryption')?.status).toBe('pass');
    expect(line(one, 'hba')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/hostssl .* md5/),
    });
    expect(line(one, 'stored passwords')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining(`${md5.username} (md5)`),
    });

    // Phase 1 first: every user gets a SCRAM verifier; then strict HBA locks no one out.
    const adopt = () =>
      runCli(stack, 'adopt', [
        '--admin-secret-id',
        superSecret,
        '--all-login-users',
        '--rotation-lambda-arn',
        lambdaArn,
      ]);
    // adopt passes over a user a secret manages: md5 (and the reader of the
    // test before) become legacy users.
    for (const { arn } of stack.secrets) await forgetSecret(stack, arn);
    const adopted = await adopt();
    expect(adopted.code, adopted.stdout).toBe(0);
    await stack.postgres.setHbaRules([]);
    const mark = await runCli(stack, 'audit', [
      '--secret-id',
      superSecret,
      '--mark-phase2',
      '--json',
    ]);
    expect(mark.json, mark.stdout).toMatchObject({ phase: 2 });

    // Phase 3: every user rotated after the mark, the superuser (the
    // rotation admin) included; before its rotation phase 3 is not complete.
    const listed = await stack.client.send(
      new ListSecretsCommand({ Filters: [{ Key: 'tag-key', Values: ['scram-rotator:username'] }] }),
    );
    for (const entry of listed.SecretList ?? []) await stack.rotate(entry.ARN ?? '', lambdaArn);
    const before = await runCli(stack, 'audit', ['--secret-id', superSecret, '--json']);
    expect(line(before, `user ${md5.username}`)?.status).toBe('pass');
    expect(line(before, `user ${stack.postgres.admin.user}`)).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('privileged ('),
    });
    expect(before.json).toMatchObject({ phase: 2 });

    await stack.rotate(superSecret, privilegedLambdaArn);
    const three = await runCli(stack, 'audit', ['--secret-id', superSecret, '--json']);
    expect(three.json, three.stdout).toMatchObject({ phase: 3 });
    expect(three.code).toBe(0);
  });
});
