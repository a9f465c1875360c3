import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { COCKROACH_SETTINGS } from '../../lambda/engines/cockroachdb.js';
import { SETTING_DEFINITIONS } from '../../local/cockroach/behaviours.js';
import { type CockroachDouble, startCockroachDouble } from '../../local/cockroach/double.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { createCertificateAuthority } from '../../local/tls.js';
import { type CockroachUserOptions, createCockroachUser } from '../fixtures/cockroach.js';

const run = promisify(execFile);

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

interface DoctorRun {
  readonly code: number;
  readonly stdout: string;
  readonly results: { check: string; status: string; detail: string; fix?: string }[];
}

/** Runs `npm run doctor` as a user would, against the stack's endpoint. */
async function doctor(secretId: string, env: Record<string, string> = {}): Promise<DoctorRun> {
  let code = 0;
  let stdout = '';
  try {
    ({ stdout } = await run(
      'npm',
      [
        'run',
        '--silent',
        'doctor',
        '--',
        '--endpoint-url',
        stack.secretsManager.url,
        '--region',
        stack.secretsManager.region,
        '--secret-id',
        secretId,
        '--json',
      ],
      {
        env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', ...env },
        timeout: 60_000,
      },
    ));
  } catch (error) {
    const e = error as { code?: number; stdout?: string };
    code = e.code ?? -1;
    stdout = e.stdout ?? '';
  }
  const last = stdout.trim().split('\n').at(-1) ?? '{}';
  return { code, stdout, results: (JSON.parse(last) as { results: DoctorRun['results'] }).results };
}

const status = (r: DoctorRun, check: string) => r.results.find((x) => x.check === check)?.status;

describe('npm run doctor on PostgreSQL', () => {
  it('passes a healthy single-user secret, one line per check, and exits 0', async () => {
    const user = await stack.createApplicationUser();
    const result = await doctor(user.secretName);
    expect(result.code).toBe(0);
    expect(status(result, 'secret')).toBe('pass');
    expect(status(result, 'login')).toBe('pass');
    expect(result.stdout).toMatch(
      /PASS +login +\S+ logged in over verify-full TLS .* by SCRAM-SHA-256/,
    );
    expect(status(result, 'privilege')).toBe('pass');
    expect(status(result, 'iterations')).toBe('pass');
    expect(result.stdout).toContain('Ready to rotate');
  });

  it('changes nothing: the stored password and the statement log show no change', async () => {
    const user = await stack.createApplicationUser();
    const before = await stack.postgres.storedPassword(user.username);
    const logBefore = (await stack.postgres.readServerLog()).length;
    await doctor(user.secretName);
    expect(await stack.postgres.storedPassword(user.username)).toBe(before);
    const logAfter = (await stack.postgres.readServerLog()).slice(logBefore);
    expect(logAfter).toMatch(/statement: SELECT/);
    expect(logAfter).not.toMatch(/ALTER|UPDATE|INSERT|DELETE|CREATE|GRANT/);
  });

  it('fails an admin that lacks ADMIN OPTION on the user, with the GRANT to run', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const user = await stack.createApplicationUser({ extraKeys: { masterarn: admin.secretArn } });
    const result = await doctor(user.secretName);
    expect(result.code).toBe(1);
    expect(status(result, 'admin login')).toBe('pass');
    const privilege = result.results.find((r) => r.check === 'privilege');
    expect(privilege?.status).toBe('fail');
    expect(privilege?.fix).toContain(
      `GRANT "${user.username}" TO "${admin.username}" WITH ADMIN OPTION`,
    );
  });

  it('passes an admin with CREATEROLE and ADMIN OPTION', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    const user = await stack.createApplicationUser({
      managedBy: admin.username,
      extraKeys: { masterarn: admin.secretArn },
    });
    const result = await doctor(user.secretName);
    expect(result.code).toBe(0);
    expect(status(result, 'privilege')).toBe('pass');
  });

  it('reports what setSecret would refuse: the admin as target, a privileged role, a count above the bound', async () => {
    const admin = await stack.createApplicationUser({ createRole: true });
    // A user secret naming the admin itself.
    const takeover = await stack.createApplicationUser({
      username: `takeover_${admin.username}`,
      extraKeys: { masterarn: admin.secretArn },
    });
    await stack.client.send(
      new PutSecretValueCommand({
        SecretId: takeover.secretArn,
        SecretString: JSON.stringify({
          ...JSON.parse(
            (await stack.client.send(new GetSecretValueCommand({ SecretId: admin.secretArn })))
              .SecretString ?? '{}',
          ),
          masterarn: admin.secretArn,
        }),
      }),
    );
    const result = await doctor(takeover.secretName);
    expect(result.code).toBe(1);
    const target = result.results.find((r) => r.check === 'target role');
    expect(target?.status).toBe('fail');
    expect(target?.detail).toContain('is the role that logs in to change it');

    const privileged = await stack.createApplicationUser({ createRole: true });
    const refused = await doctor(privileged.secretName);
    expect(status(refused, 'target role')).toBe('fail');
    const allowed = await doctor(privileged.secretName, { ALLOW_PRIVILEGED_TARGET: 'true' });
    expect(status(allowed, 'target role')).toBe('warn');

    const user = await stack.createApplicationUser();
    await stack.postgres.withAdmin((c) =>
      c.query(`ALTER ROLE ${c.escapeIdentifier(user.username)} SET scram_iterations = 200000`),
    );
    const costly = await doctor(user.secretName);
    const iterations = costly.results.find((r) => r.check === 'iterations');
    expect(iterations?.status).toBe('fail');
    expect(iterations?.detail).toContain('above SCRAM_MAX_ITERATIONS (100000)');
  });

  it('fails an admin secret that names another database, unless ALLOW_ADMIN_TARGET_MISMATCH', async () => {
    const admin = await stack.createApplicationUser({
      createRole: true,
      extraKeys: { dbname: 'template1' },
    });
    const user = await stack.createApplicationUser({
      managedBy: admin.username,
      extraKeys: { masterarn: admin.secretArn },
    });
    const refused = await doctor(user.secretName);
    expect(refused.code).toBe(1);
    expect(refused.results.find((r) => r.check === 'admin target')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('differs from AWSCURRENT in dbname'),
    });
    // The admin's credentials went nowhere: no admin login was attempted.
    expect(status(refused, 'admin login')).toBeUndefined();
    const allowed = await doctor(user.secretName, { ALLOW_ADMIN_TARGET_MISMATCH: 'true' });
    expect(status(allowed, 'admin target')).toBe('warn');
    expect(status(allowed, 'admin login')).toBe('pass');
  });

  it('fails a configuration the function would refuse, such as a weak password policy', async () => {
    const user = await stack.createApplicationUser();
    const result = await doctor(user.secretName, { PASSWORD_LENGTH: '10' });
    expect(result.code).toBe(1);
    expect(result.results).toEqual([
      expect.objectContaining({
        check: 'configuration',
        status: 'fail',
        detail: expect.stringContaining('at least 96 bits'),
      }),
    ]);
  });

  it('fails when the server asks for MD5 instead of SCRAM', async () => {
    const user = await stack.createApplicationUser({ storedAs: 'md5' });
    await stack.postgres.addHbaRules([{ user: user.username, method: 'md5' }]);
    try {
      const result = await doctor(user.secretName);
      expect(result.code).toBe(1);
      const login = result.results.find((r) => r.check === 'login');
      expect(login?.status).toBe('fail');
      expect(login?.detail).toMatch(/^Authentication method refused: .*MD5/);
    } finally {
      await stack.postgres.setHbaRules([]);
    }
  });

  it('fails a certificate from another CA, saying where to put the right one', async () => {
    const other = createCertificateAuthority('another CA');
    const user = await stack.createApplicationUser({ extraKeys: { ca: other.certPem } });
    const result = await doctor(user.secretName);
    expect(result.code).toBe(1);
    const login = result.results.find((r) => r.check === 'login');
    expect(login?.detail).toMatch(/^TLS verification failed: .*ca key/);
  });

  it('fails a malformed secret, naming the key and not the value', async () => {
    const name = `scram-rotator/local/malformed-${Date.now()}`;
    await stack.client.send(
      new CreateSecretCommand({
        Name: name,
        SecretString: JSON.stringify({
          engine: 'postgres',
          username: 'x',
          password: 'p4ssw0rd-value',
        }),
      }),
    );
    const result = await doctor(name);
    expect(result.code).toBe(1);
    const secret = result.results.find((r) => r.check === 'secret');
    expect(secret?.status).toBe('fail');
    expect(secret?.detail).toMatch(/^Malformed secret: .*host/);
    expect(result.stdout).not.toContain('p4ssw0rd-value');
  });

  it('reads pg_hba.conf through a superuser admin and flags weaker rules for the user', async () => {
    const superuser = `scram-rotator/local/superuser-${Date.now()}`;
    const admin = stack.postgres.admin;
    const created = await stack.client.send(
      new CreateSecretCommand({
        Name: superuser,
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
    const user = await stack.createApplicationUser({
      extraKeys: { masterarn: created.ARN },
    });
    expect(status(await doctor(user.secretName), 'hba')).toBe('pass');
    // An md5 rule still logs a SCRAM-stored user in by SCRAM, so rotation
    // works, but a password stored as MD5 would be asked for by MD5.
    await stack.postgres.addHbaRules([{ user: user.username, method: 'md5' }]);
    try {
      const result = await doctor(user.secretName);
      expect(status(result, 'login')).toBe('pass');
      const hba = result.results.find((r) => r.check === 'hba');
      expect(hba?.status).toBe('warn');
      expect(hba?.detail).toMatch(/hostssl md5/);
    } finally {
      await stack.postgres.setHbaRules([]);
    }
    // A line the server cannot parse: it keeps its previous rules, so the
    // file no longer says what is in force. Unknown, so the check fails.
    await stack.postgres.addHbaRules([{ user: user.username, method: 'ldap' }]);
    try {
      const hba = (await doctor(user.secretName)).results.find((r) => r.check === 'hba');
      expect(hba?.status).toBe('fail');
      expect(hba?.detail).toMatch(/^unknown: line \d+ has an error/);
    } finally {
      await stack.postgres.setHbaRules([]);
    }
  });
});

describe('npm run doctor on CockroachDB (through the protocol double)', () => {
  afterEach(() => {
    for (const name of Object.keys(SETTING_DEFINITIONS)) crdb.settings.reset(name);
  });

  const cockroachUser = (options: CockroachUserOptions = {}) =>
    createCockroachUser(crdb, stack.client, options);

  async function withAdmin() {
    const admin = await cockroachUser({
      createRole: true,
      grants: ['CREATELOGIN', 'VIEWCLUSTERSETTING'],
    });
    return cockroachUser({ masterarn: admin.secretArn });
  }

  it('passes a least-privilege admin setup and warns about the default cert-password HBA', async () => {
    const user = await withAdmin();
    const result = await doctor(user.secretArn);
    expect(result.code).toBe(0);
    expect(result.results.find((r) => r.check === 'engine')?.detail).toMatch(/^CockroachDB CCL v/);
    expect(status(result, 'pre-hashed passwords')).toBe('pass');
    expect(status(result, 'iterations')).toBe('pass');
    expect(status(result, 'login channel binding')).toBe('warn');
    const hba = result.results.find((r) => r.check === 'hba');
    expect(hba?.status).toBe('warn');
    expect(hba?.fix).toContain('host all all all scram-sha-256');
  });

  it('fails when pre-hashed passwords are off, with the SET CLUSTER SETTING to run', async () => {
    crdb.settings.set(COCKROACH_SETTINGS.storePreHashed, false);
    const user = await withAdmin();
    const result = await doctor(user.secretArn);
    expect(result.code).toBe(1);
    const check = result.results.find((r) => r.check === 'pre-hashed passwords');
    expect(check?.status).toBe('fail');
    expect(check?.fix).toBe(
      'run SET CLUSTER SETTING server.user_login.store_client_pre_hashed_passwords.enabled = true',
    );
  });

  it('fails a single user while change_own_password is off', async () => {
    const user = await cockroachUser({ grants: ['VIEWCLUSTERSETTING'] });
    const result = await doctor(user.secretArn);
    expect(result.code).toBe(1);
    expect(result.results.find((r) => r.check === 'privilege')?.fix).toContain('add masterarn');
  });

  it('fails a SCRAM_ITERATIONS that differs from the cluster cost', async () => {
    const user = await withAdmin();
    const result = await doctor(user.secretArn, { SCRAM_ITERATIONS: '4096' });
    expect(result.code).toBe(1);
    expect(result.results.find((r) => r.check === 'iterations')?.detail).toContain(
      "SCRAM_ITERATIONS is 4096 but the cluster's cost is 10610",
    );
  });

  it('fails when the admin cannot read cluster settings, naming the grant', async () => {
    const admin = await cockroachUser({ createRole: true, grants: ['CREATELOGIN'] });
    const user = await cockroachUser({ masterarn: admin.secretArn });
    const result = await doctor(user.secretArn);
    expect(result.code).toBe(1);
    expect(result.results.find((r) => r.check === COCKROACH_SETTINGS.storePreHashed)?.fix).toBe(
      `run GRANT SYSTEM VIEWCLUSTERSETTING TO "${admin.username}"`,
    );
  });
});
