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
import { type CockroachDouble, startCockroachDouble } from '../../local/cockroach/double.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { createCockroachUser } from '../fixtures/cockroach.js';

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
    expect(check?.fix).toMatch(new RegExp(`^GRANT ${user.username} TO \\S+ WITH ADMIN OPTION$`));
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

  it('fails an existing role of the clone name that is not a member of the user', async () => {
    const user = await postgresSetup();
    await stack.postgres.withAdmin((c) =>
      c.query(`CREATE ROLE ${c.escapeIdentifier(`${user.username}_clone`)} LOGIN`),
    );
    const check = find(await doctor(user.secretArn), 'clone');
    expect(check?.status).toBe('fail');
    expect(check?.fix).toContain('GRANT <original> TO <clone>');
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
  it('says the clone will own what it creates, and what the admin needs to grant it the user', async () => {
    const admin = await createCockroachUser(crdb, stack.client, {
      createRole: true,
      grants: ['CREATELOGIN', 'VIEWCLUSTERSETTING'],
    });
    const user = await createCockroachUser(crdb, stack.client, { masterarn: admin.secretArn });
    let results = await doctor(user.secretArn);
    expect(find(results, 'clone original')?.detail).toContain(
      `CockroachDB refuses a role default: what it creates is owned by ${user.username}_clone with ALL granted to ${user.username} (run SET ROLE ${user.username}`,
    );
    expect(find(results, 'clone admin')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('CREATEROLE is not enough on CockroachDB'),
    });
    await stack.postgres.withAdmin((c) =>
      c.query(`GRANT ${user.username} TO ${admin.username} WITH ADMIN OPTION`),
    );
    results = await doctor(user.secretArn);
    expect(results.filter((r) => r.status === 'fail')).toEqual([]);
  });
});
