/**
 * `npm run doctor` with ROTATION_MODE=alternating, on PostgreSQL and on the
 * CockroachDB double: the checks run in process (runChecks, what the CLI
 * prints), once through the CLI itself.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckResult, runChecks } from '../../bin/doctor/checks.js';
import { PgConnector } from '../../lambda/adapters/database.js';
import { SdkSecretStore } from '../../lambda/adapters/secrets-manager.js';
import { configFromEnv } from '../../lambda/config.js';
import { CLONE_FIXES, CLONE_PROBLEMS, CloneRefusedError } from '../../lambda/errors.js';
import { type CockroachDouble, startCockroachDouble } from '../../local/cockroach/double.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { createCockroachUser } from '../fixtures/cockroach.js';
import { completeRotation, handlerFor, runStep, STEPS, stagePending } from '../fixtures/drive.js';
import { modeEnv } from '../fixtures/modes.js';

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

async function doctor(secretId: string, env: Record<string, string> = {}) {
  const config = configFromEnv({ ROTATION_MODE: 'alternating', ...env });
  return runChecks({
    secretId,
    secrets: new SdkSecretStore(stack.client),
    database: new PgConnector(),
    config,
    limits: { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 },
  });
}

const find = (results: CheckResult[], check: string) => results.find((r) => r.check === check);

const rotationEnv = { ...modeEnv('alternating'), CLONE_SUFFIX: '_clone' };

/** One whole alternating rotation by the real handler, as Secrets Manager runs it. */
async function rotate(secretArn: string): Promise<void> {
  const handler = handlerFor({ secrets: new SdkSecretStore(stack.client), env: rotationEnv });
  const token = await stagePending(stack.client, stack.secretsManager, secretArn);
  for (const step of STEPS) {
    expect((await runStep(handler, step, secretArn, token)).error).toBeUndefined();
  }
  await completeRotation(stack.client, secretArn, token);
}

/** The error the next rotation's setSecret stops with (createSecret first, as Secrets Manager runs it). */
async function refusalOf(secretArn: string): Promise<unknown> {
  const handler = handlerFor({ secrets: new SdkSecretStore(stack.client), env: rotationEnv });
  const token = await stagePending(stack.client, stack.secretsManager, secretArn);
  expect((await runStep(handler, 'createSecret', secretArn, token)).error).toBeUndefined();
  const { error } = await runStep(handler, 'setSecret', secretArn, token);
  expect(error).toBeInstanceOf(CloneRefusedError);
  return error;
}

/** An application user managed by a fresh admin (ADMIN OPTION unless told otherwise). */
async function postgresSetup(options: { username?: string; adminOption?: boolean } = {}) {
  const admin = await stack.createApplicationUser({ createRole: true });
  return stack.createApplicationUser({
    ...(options.username ? { username: options.username } : {}),
    extraKeys: { masterarn: admin.secretArn },
    ...(options.adminOption === false ? {} : { managedBy: admin.username }),
  });
}

describe('doctor in alternating mode on PostgreSQL', () => {
  it('passes a setup the first rotation can create the clone in, and says what the clone gets', async () => {
    const user = await postgresSetup();
    const results = await doctor(user.secretArn);
    expect(results.filter((r) => r.status === 'fail')).toEqual([]);
    expect(find(results, 'clone name')?.detail).toBe(
      `the secret alternates between ${user.username} and ${user.username}_clone (${user.username.length + 6} bytes); the next rotation changes ${user.username}_clone`,
    );
    expect(find(results, 'clone original')?.detail).toContain(
      `would get every privilege granted to ${user.username}, now or later`,
    );
    expect(find(results, 'clone original')?.detail).toContain(
      `its sessions run as ${user.username}`,
    );
    expect(find(results, 'clone')?.detail).toContain('the first alternating rotation creates it');
    expect(find(results, 'clone admin')?.status).toBe('pass');
  });

  it('fails an admin without ADMIN OPTION on the user, with the GRANT that fixes it', async () => {
    const user = await postgresSetup({ adminOption: false });
    const results = await doctor(user.secretArn);
    const check = find(results, 'clone admin');
    expect(check?.status).toBe('fail');
    expect(check?.detail).toMatch(/has no ADMIN OPTION on/);
    // ADMIN OPTION without INHERIT or SET: the admin gets no access to the user's data.
    expect(check?.fix).toMatch(
      new RegExp(
        `^GRANT "${user.username}" TO "\\S+" WITH ADMIN OPTION, INHERIT FALSE, SET FALSE$`,
      ),
    );
    await stack.postgres.withAdmin((c) => c.query(check?.fix ?? ''));
    expect(find(await doctor(user.secretArn), 'clone admin')?.status).toBe('pass');
  });

  it('fails a clone name over 63 bytes', async () => {
    const user = await postgresSetup({
      username: `d${randomBytes(3).toString('hex')}${'x'.repeat(51)}`,
    });
    const check = find(await doctor(user.secretArn), 'clone name');
    expect(check?.status).toBe('fail');
    expect(check?.detail).toMatch(/^Clone name refused: .* \(64 bytes\) is longer than 63 bytes/);
  });

  it('fails a privileged original, and names what it holds', async () => {
    const user = await postgresSetup();
    await stack.postgres.withAdmin((c) =>
      c.query(`ALTER ROLE ${c.escapeIdentifier(user.username)} CREATEROLE`),
    );
    const check = find(
      await doctor(user.secretArn, { ALLOW_PRIVILEGED_TARGET: 'true' }),
      'clone original',
    );
    expect(check?.status).toBe('fail');
    expect(check?.detail).toMatch(/would inherit privileged .* \(CREATEROLE\)$/);
  });

  it('fails an unmarked role of the clone name, even one that is a member of the user, with the statement that adopts it', async () => {
    const user = await postgresSetup();
    const clone = `${user.username}_clone`;
    // A member of the user: what the doctor took for proof before.
    await stack.postgres.withAdmin((c) =>
      c.query(
        `CREATE ROLE ${c.escapeIdentifier(clone)} LOGIN IN ROLE ${c.escapeIdentifier(user.username)}`,
      ),
    );
    const results = await doctor(user.secretArn);
    const check = find(results, 'clone');
    expect(check).toMatchObject({
      status: 'fail',
      detail: `${clone} ${CLONE_PROBLEMS.unproven}`,
    });
    expect(check?.fix).toContain(`It carries no mark of this function for ${user.username}`);
    expect(check?.fix).toMatch(new RegExp(`COMMENT ON ROLE "${clone}" IS `));
    // The rotation refuses the same role for the same reason, and changes nothing.
    expect(await refusalOf(user.secretArn)).toMatchObject({ role: clone, problem: 'unproven' });
  });

  it('fails a clone granted to another role, naming it, and passes the pair the rotation made before that', async () => {
    const user = await postgresSetup();
    const clone = `${user.username}_clone`;
    await rotate(user.secretArn);
    const clean = await doctor(user.secretArn);
    expect(clean.filter((r) => r.status === 'fail')).toEqual([]);
    expect(find(clean, 'clone')?.detail).toBe(
      `${clone} exists and passes every check of the next rotation (proven the clone of ${user.username}, held by no other role, not disabled, settings alike)`,
    );

    const other = `other_${randomBytes(3).toString('hex')}`;
    await stack.postgres.withAdmin(async (c) => {
      await c.query(`CREATE ROLE ${c.escapeIdentifier(other)}`);
      await c.query(`GRANT ${c.escapeIdentifier(clone)} TO ${c.escapeIdentifier(other)}`);
    });
    const check = find(await doctor(user.secretArn), 'clone');
    expect(check).toMatchObject({
      status: 'fail',
      detail: `${clone} ${CLONE_PROBLEMS['held-by-others']} (${other})`,
      fix: CLONE_FIXES['held-by-others'],
    });
    expect(await refusalOf(user.secretArn)).toMatchObject({
      role: clone,
      problem: 'held-by-others',
    });
  });

  it('reports every refusal of the next rotation, not only the first', async () => {
    const user = await postgresSetup();
    const clone = `${user.username}_clone`;
    const other = `other_${randomBytes(3).toString('hex')}`;
    await stack.postgres.withAdmin(async (c) => {
      await c.query(`CREATE ROLE ${c.escapeIdentifier(clone)} LOGIN CONNECTION LIMIT 0`);
      await c.query(
        `CREATE ROLE ${c.escapeIdentifier(other)} IN ROLE ${c.escapeIdentifier(clone)}`,
      );
    });
    const failed = (await doctor(user.secretArn)).filter((r) => r.check === 'clone');
    expect(failed.map((r) => [r.status, r.detail])).toEqual([
      ['fail', `${clone} ${CLONE_PROBLEMS['held-by-others']} (${other})`],
      ['fail', `${clone} ${CLONE_PROBLEMS.unproven}`],
      ['fail', `${clone} ${CLONE_PROBLEMS.disabled} (CONNECTION LIMIT 0)`],
    ]);
  });

  it('fails a setting sessions cannot override that the clone would not share, before the clone exists', async () => {
    const user = await postgresSetup();
    await stack.postgres.withAdmin((c) =>
      c.query(`ALTER ROLE ${c.escapeIdentifier(user.username)} SET log_statement = 'none'`),
    );
    const check = find(await doctor(user.secretArn), 'clone');
    expect(check).toMatchObject({
      status: 'fail',
      detail: `${user.username}_clone ${CLONE_PROBLEMS.settings} (log_statement)`,
    });
    expect(check?.fix).toContain('(which this rotation would create)');
    expect(await refusalOf(user.secretArn)).toMatchObject({ problem: 'settings' });
  });

  it('fails a clone given a privileged attribute after the rotation made it', async () => {
    const user = await postgresSetup();
    await rotate(user.secretArn);
    await stack.postgres.withAdmin((c) =>
      c.query(`ALTER ROLE ${c.escapeIdentifier(`${user.username}_clone`)} CREATEROLE`),
    );
    const check = find(await doctor(user.secretArn), 'clone');
    expect(check?.status).toBe('fail');
    expect(check?.detail).toMatch(/\(CREATEROLE\)$/);
  });

  it('runs from the CLI with ROTATION_MODE=alternating in the environment', async () => {
    const user = await postgresSetup();
    const { stdout } = await run(
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
        user.secretName,
      ],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
          ROTATION_MODE: 'alternating',
        },
        timeout: 60_000,
      },
    );
    expect(stdout).toMatch(/PASS +clone name +the secret alternates between/);
    expect(stdout).toMatch(/PASS +clone admin /);
  });
});

describe('doctor in alternating mode on CockroachDB', () => {
  const setup = async (on: CockroachDouble) => {
    const admin = await createCockroachUser(on, stack.client, {
      createRole: true,
      grants: ['CREATELOGIN', 'VIEWCLUSTERSETTING'],
    });
    const user = await createCockroachUser(on, stack.client, { masterarn: admin.secretArn });
    return { admin, user };
  };

  it('passes a CREATEROLE admin on v23.2+ without a GRANT of the user, and says the clone will own what it creates (pkg/sql/grant_role.go, PR #104376)', async () => {
    const { admin, user } = await setup(crdb);
    const results = await doctor(user.secretArn);
    expect(find(results, 'clone original')?.detail).toContain(
      `CockroachDB refuses a role default: what it creates is owned by ${user.username}_clone with ALL granted to ${user.username} (run SET ROLE ${user.username}`,
    );
    expect(find(results, 'clone admin')).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining(
        'CREATEROLE grants membership in any non-admin role since v23.2.0',
      ),
    });
    expect(results.filter((r) => r.status === 'fail')).toEqual([]);
    // The admin is not a member of the user: it has no access to its data.
    const member = await stack.postgres.withAdmin((c) =>
      c.query<{ m: boolean }>("SELECT pg_has_role($1, $2, 'MEMBER') AS m", [
        admin.username,
        user.username,
      ]),
    );
    expect(member.rows[0]?.m).toBe(false);
  });

  it('passes the pair a rotation made, proven by possession of AWSPREVIOUS as the rotation proves it', async () => {
    const { user } = await setup(crdb);
    await rotate(user.secretArn);
    const results = await doctor(user.secretArn);
    expect(results.filter((r) => r.status === 'fail')).toEqual([]);
    expect(find(results, 'clone')?.detail).toContain(`${user.username}_clone exists and passes`);
  });

  it('on v23.1 asks for the setting, not for a GRANT that gives the admin the data; before v23.1 for an upgrade', async () => {
    const v231 = await startCockroachDouble({
      postgres: stack.postgres,
      version:
        'CockroachDB CCL v23.1.11 (x86_64-pc-linux-gnu, built 2023/09/27 01:53:43, go1.19.10)',
    });
    const v222 = await startCockroachDouble({
      postgres: stack.postgres,
      version:
        'CockroachDB CCL v22.2.19 (x86_64-pc-linux-gnu, built 2024/02/05 18:43:57, go1.19.10)',
    });
    try {
      const { user } = await setup(v231);
      expect(find(await doctor(user.secretArn), 'clone admin')).toMatchObject({
        status: 'fail',
        fix: 'SET CLUSTER SETTING sql.auth.createrole_allows_grant_role_membership.enabled = true',
      });
      v231.settings.set('sql.auth.createrole_allows_grant_role_membership.enabled', true);
      expect(find(await doctor(user.secretArn), 'clone admin')?.status).toBe('pass');

      const old = await setup(v222);
      expect(find(await doctor(old.user.secretArn), 'clone admin')).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining("privileges on the application's data"),
        fix: expect.stringMatching(/^upgrade to v23\.2\.0\+/),
      });
    } finally {
      await v231.stop();
      await v222.stop();
    }
  });
});
