import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../../local/cockroach/behaviours.js';
import { type CockroachDouble, startCockroachDouble } from '../../local/cockroach/double.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { createCockroachUser } from '../fixtures/cockroach.js';
import { type CliRun, runCli } from './workflow.js';

/**
 * doctor on CockroachDB, beyond one rotation's settings: the release
 * against each feature's minimum, bcrypt-stored users and the bcrypt
 * downgrade, each with its fix.
 */

type Result = { check: string; status: string; detail: string; fix?: string };
const result = (run: CliRun, check: string) =>
  (run.json?.results as Result[] | undefined)?.find((r) => r.check === check);

let stack: LocalStack;
let crdb: CockroachDouble;

beforeAll(async () => {
  stack = await startLocalStack();
  crdb = await startCockroachDouble({ postgres: stack.postgres });
});

afterAll(async () => {
  await crdb?.stop();
  await stack?.stop();
});

/** A user rotated through an admin that may read system.users (VIEWSYSTEMTABLE). */
async function adminAndUser(on: CockroachDouble) {
  const admin = await createCockroachUser(on, stack.client, {
    createRole: true,
    grants: ['CREATELOGIN', 'VIEWCLUSTERSETTING'],
  });
  on.privileges.grant(admin.username, 'VIEWSYSTEMTABLE');
  const user = await createCockroachUser(on, stack.client, { masterarn: admin.secretArn });
  return { admin, user };
}

const doctor = (secretId: string) => runCli(stack, 'doctor', ['--secret-id', secretId, '--json']);

describe('npm run doctor on CockroachDB: releases and stored hashes', () => {
  it("reports the release against every feature's minimum, and SCRAM-stored user and admin", async () => {
    const { admin, user } = await adminAndUser(crdb);
    const run = await doctor(user.secretArn);
    expect(run.code, run.stdout).toBe(0);
    expect(result(run, 'release')).toMatchObject({
      status: 'pass',
      detail: expect.stringMatching(/^v25\.2\.2 has every feature/),
    });
    expect(result(run, `stored hash ${user.username}`)).toMatchObject({
      status: 'pass',
      detail: 'SCRAM-SHA-256 (10610 iterations)',
    });
    expect(result(run, `stored hash ${admin.username}`)?.status).toBe('pass');
  });

  it('warns on a release without single-user rotation or VIEWSYSTEMTABLE', async () => {
    const old = await startCockroachDouble({
      postgres: stack.postgres,
      version: 'CockroachDB CCL v22.2.5 (x86_64-pc-linux-gnu, built 2023/02/16 00:00:00, go1.19.4)',
    });
    try {
      const { user } = await adminAndUser(old);
      const run = await doctor(user.secretArn);
      const release = result(run, 'release');
      expect(release?.status).toBe('warn');
      expect(release?.detail).toContain(
        'single-user rotation (sql.auth.change_own_password.enabled) needs v23.1.0',
      );
      expect(release?.detail).toContain('VIEWSYSTEMTABLE reads system.users');
      expect(release?.detail).toContain(
        'cost 10610 and re-hash on cost change needs v23.1.0 (or a v22.2 patch release',
      );
      expect(result(run, `stored hash ${user.username}`)?.status).toBe('skip');
    } finally {
      await old.stop();
    }
  });

  it('names a bcrypt-stored user and the way to convert it', async () => {
    const { user } = await adminAndUser(crdb);
    await crdb.setBcryptPassword(user.username, user.password, 4);
    const run = await doctor(user.secretArn);
    expect(run.code).toBe(1);
    expect(result(run, 'login')).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining(`${user.username}'s stored hash is crdb-bcrypt`),
    });
    expect(result(run, 'login')?.fix).toContain('npm run hash');
  });

  it('names the bcrypt downgrade: a warning with it off, the failed login with it on', async () => {
    const { user } = await adminAndUser(crdb);
    crdb.settings.set(SETTINGS.passwordEncryption, 'crdb-bcrypt');
    crdb.settings.set(SETTINGS.downgradeScram, false);
    try {
      const off = await doctor(user.secretArn);
      expect(result(off, 'password encryption')).toMatchObject({
        status: 'warn',
        fix: "SET CLUSTER SETTING server.user_login.password_encryption = 'scram-sha-256'",
      });
      crdb.settings.set(SETTINGS.downgradeScram, true);
      const on = await doctor(user.secretArn);
      expect(result(on, 'login')).toMatchObject({
        status: 'fail',
        fix: expect.stringContaining('password_encryption is crdb-bcrypt with the downgrade on'),
      });
    } finally {
      crdb.settings.set(SETTINGS.passwordEncryption, 'scram-sha-256');
      crdb.settings.set(SETTINGS.downgradeScram, true);
    }
  });
});

describe('npm run doctor on CockroachDB: HBA it cannot see is a failure', () => {
  it('fails a redacted HBA setting and names MODIFYCLUSTERSETTING (pkg/settings/masked.go), and warns on an ldap rule it can see', async () => {
    const { admin, user } = await adminAndUser(crdb);
    crdb.settings.set(SETTINGS.hba, 'host all all all cert-password');
    crdb.settings.set(SETTINGS.redactSensitive, true);
    try {
      const redacted = await doctor(user.secretArn);
      expect(result(redacted, 'hba')).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining('<redacted>'),
        fix: expect.stringContaining(`GRANT SYSTEM MODIFYCLUSTERSETTING TO "${admin.username}"`),
      });
      expect(redacted.code).toBe(1);

      crdb.privileges.grant(admin.username, 'MODIFYCLUSTERSETTING');
      crdb.settings.set(
        SETTINGS.hba,
        'host all ldap_people all ldap ldapserver=ldap.example.com\nhost all all all scram-sha-256',
      );
      const seen = await doctor(user.secretArn);
      expect(result(seen, 'hba')).toMatchObject({
        status: 'warn',
        detail: expect.stringContaining('host all ldap_people all ldap'),
      });
    } finally {
      crdb.privileges.revoke(admin.username, 'MODIFYCLUSTERSETTING');
      crdb.settings.set(SETTINGS.redactSensitive, false);
      crdb.settings.set(SETTINGS.hba, '');
    }
  });
});
