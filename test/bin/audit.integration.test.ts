import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
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

  it('reports each phase as the cluster moves through them', async () => {
    // Phase 0: pre-hashed passwords off.
    crdb.settings.set(SETTINGS.storePreHashed, false);
    const zero = await auditRun();
    expect(zero.code).toBe(1);
    expect(zero.json).toMatchObject({ phase: 0, engine: 'cockroachdb' });
    expect(line(zero, 'pre-hashed passwords')).toMatchObject({
      status: 'fail',
      fix: `SET CLUSTER SETTING ${SETTINGS.storePreHashed} = true`,
    });
    // Without admin or VIEWSYSTEMTABLE, the stored hashes are skipped, and said so.
    expect(line(zero, 'stored hashes')).toMatchObject({
      status: 'skip',
      fix: expect.stringContaining('GRANT SYSTEM VIEWSYSTEMTABLE'),
    });
    expect(zero.stdout).toContain('Skipped for lack of privilege: stored hashes');

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

    // Phase 2: strict HBA, recorded by --mark-phase2; the users are not rotated since.
    crdb.settings.set(SETTINGS.hba, 'host all all all scram-sha-256');
    const mark = await auditRun('--mark-phase2');
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
    expect(line(two, `user ${app.username}`)?.fix).toContain(`--users ${app.username}`);

    // Phase 3: every login user adopted (rotated after the mark). adopt
    // passes over a user a secret manages, so app's fixture secret goes:
    // app is then a legacy user whose password lives outside Secrets Manager.
    await forgetSecret(stack, app.secretArn);
    const adopted = await runCli(stack, 'adopt', [
      '--admin-secret-id',
      auditor.secretArn,
      '--all-login-users',
      // The fixture's own unmanaged secrets sit beside the admin's.
      '--secret-prefix',
      'managed/',
      '--rotation-lambda-arn',
      lambdaArn,
    ]);
    expect(adopted.code, adopted.stdout).toBe(0);
    const three = await auditRun();
    expect(three.json, three.stdout).toMatchObject({ phase: 3 });
    expect(line(three, `user ${app.username}`)).toMatchObject({
      status: 'pass',
      detail: expect.stringMatching(/^SCRAM \(10610 iterations\), managed, last rotated/),
    });
    // The superuser of the backing PostgreSQL shows as privileged, not rotated by design.
    expect(line(three, `user ${stack.postgres.admin.user}`)?.status).toBe('warn');

    // Weakening HBA again voids the mark and drops the cluster back.
    crdb.settings.set(SETTINGS.hba, 'host all all all scram-sha-256\nhost all all all password');
    const back = await auditRun();
    expect(back.json).toMatchObject({ phase: 1 });
    expect(line(back, 'strict hba since')).toMatchObject({ status: 'warn' });
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

  beforeAll(async () => {
    stack = await startLocalStack();
    lambdaArn = stack.registerRotationFunction({
      env: { ...process.env, TEST_LOGIN_ATTEMPTS: '2', TEST_LOGIN_DELAY_MS: '50' },
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

  it('reports MD5 users and weak pg_hba.conf rules, and the phases as they are fixed', async () => {
    const md5 = await stack.createApplicationUser({ storedAs: 'md5' });
    await stack.postgres.setHbaRules([{ user: md5.username, method: 'md5' }]);
    const one = await runCli(stack, 'audit', ['--secret-id', superSecret, '--json']);
    expect(one.json).toMatchObject({ phase: 1, engine: 'postgres' });
    expect(line(one, 'password encryption')?.status).toBe('pass');
    expect(line(one, 'hba')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/hostssl .* md5/),
    });
    expect(line(one, `user ${md5.username}`)).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('stored as MD5'),
    });

    await stack.postgres.setHbaRules([]);
    const mark = await runCli(stack, 'audit', [
      '--secret-id',
      superSecret,
      '--mark-phase2',
      '--json',
    ]);
    expect(mark.json).toMatchObject({ phase: 2 });

    // adopt passes over a user a secret manages: md5 becomes a legacy user.
    await forgetSecret(stack, md5.secretArn);
    const adopted = await runCli(stack, 'adopt', [
      '--admin-secret-id',
      superSecret,
      '--all-login-users',
      '--rotation-lambda-arn',
      lambdaArn,
    ]);
    expect(adopted.code, adopted.stdout).toBe(0);
    const three = await runCli(stack, 'audit', ['--secret-id', superSecret, '--json']);
    expect(three.json, three.stdout).toMatchObject({ phase: 3 });
    expect(line(three, `user ${md5.username}`)?.status).toBe('pass');
    expect(three.code).toBe(0);
  });

  it('skips what a role without privileges may not read, and says so', async () => {
    const reader = await stack.createApplicationUser();
    const run = await runCli(stack, 'audit', ['--secret-id', reader.secretName, '--json']);
    expect(line(run, 'hba')?.status).toBe('skip');
    expect(line(run, 'stored hashes')?.status).toBe('skip');
    expect(run.stdout).toContain('Skipped for lack of privilege: hba, stored hashes');
    expect(run.json).toMatchObject({ phaseKnown: false });
  });
});
