import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../../lambda/telemetry.js';
import { findFreePort } from '../../local/postgres.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

const run = promisify(execFile);

let stack: LocalStack;
let lambdaArn: string;

/**
 * The function's own JSON log lines would go to this process's stdout (the
 * function's logger writes past vitest's console capture); the CLI reads the
 * runtime's lines from the endpoint's log store, which are kept.
 */
const quiet = () => new Logger({ serviceName: 'scram-rotator', logLevel: 'SILENT' });

beforeAll(async () => {
  stack = await startLocalStack();
  lambdaArn = stack.registerRotationFunction({
    // No retries: a closed port (one test) fails at once instead of after TRANSIENT_RETRY_MS.
    env: {
      ...process.env,
      TEST_LOGIN_ATTEMPTS: '2',
      TEST_LOGIN_DELAY_MS: '50',
      TRANSIENT_RETRY_MS: '0',
    },
    logger: quiet(),
  });
});

afterAll(async () => {
  await stack?.stop();
});

/** Runs `npm run rotate` as a user would, returning its exit code and output. */
async function rotate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      'npm',
      [
        'run',
        '--silent',
        'rotate',
        '--',
        '--endpoint-url',
        stack.secretsManager.url,
        '--region',
        stack.secretsManager.region,
        '--interval',
        '100',
        ...args,
      ],
      {
        env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' },
        timeout: 60_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function currentPassword(secretArn: string): Promise<string> {
  const out = await stack.client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  return (JSON.parse(out.SecretString ?? '{}') as { password: string }).password;
}

describe('npm run rotate', () => {
  it('rotates a secret, shows the stages as they move, and exits 0', async () => {
    const user = await stack.createApplicationUser();
    const before = await currentPassword(user.secretArn);
    const result = await rotate([
      '--secret-id',
      user.secretName,
      '--rotation-lambda-arn',
      lambdaArn,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/RotateSecret: started, new version (\S+)/);
    const token = /new version (\S+)/.exec(result.stdout)?.[1] ?? '';
    expect(result.stdout).toContain(`${token} (this rotation): AWSCURRENT`);
    expect(result.stdout).toContain(`Rotated: AWSCURRENT is version ${token}.`);

    const after = await currentPassword(user.secretArn);
    expect(after).not.toBe(before);
    expect(result.stdout + result.stderr).not.toContain(after);
    expect(result.stdout + result.stderr).not.toContain(before);
    // The new password really is the user's now.
    const client = new pg.Client({
      host: stack.postgres.host,
      port: stack.postgres.port,
      database: stack.postgres.database,
      user: user.username,
      password: after,
      ssl: { ca: stack.postgres.caPem, rejectUnauthorized: true },
    });
    await client.connect();
    await client.end();
  });

  it('uses the rotation function already configured when none is given', async () => {
    const user = await stack.createApplicationUser();
    expect(
      (await rotate(['--secret-id', user.secretArn, '--rotation-lambda-arn', lambdaArn])).code,
    ).toBe(0);
    const second = await rotate(['--secret-id', user.secretArn]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`rotation function ${lambdaArn}`);
  });

  it('reports a failing rotation with its reason from the function log and exits 1', async () => {
    // A secret whose database nothing listens on: setSecret cannot connect.
    const user = await stack.createApplicationUser({ extraKeys: { port: await findFreePort() } });
    const before = await currentPassword(user.secretArn);
    const result = await rotate([
      '--secret-id',
      user.secretName,
      '--rotation-lambda-arn',
      lambdaArn,
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /Rotation failed: DatabaseUnreachableError: Database unreachable: .*127\.0\.0\.1/,
    );
    expect(result.stdout).toContain('AWSCURRENT is unchanged');
    expect(await currentPassword(user.secretArn)).toBe(before);
  });

  it('finds the failure reason in a log group with a generated name, without --log-group', async () => {
    // As the CDK construct deploys it: the function logs to its own log
    // group, whose name CloudFormation generates, not /aws/lambda/<function>.
    const logGroupName = 'ScramRotator-RotatorLogGroup254C4D64-Xq2J9vLmA1B3';
    const deployedArn = stack.registerRotationFunction({
      functionName: 'ScramRotator-RotatorFunctionB8D4D3C5-7hTq2LmZ9wXy',
      logGroupName,
      env: { ...process.env, TEST_LOGIN_ATTEMPTS: '2', TEST_LOGIN_DELAY_MS: '50' },
      logger: quiet(),
    });
    const user = await stack.createApplicationUser({ extraKeys: { port: await findFreePort() } });
    const result = await rotate([
      '--secret-id',
      user.secretName,
      '--rotation-lambda-arn',
      deployedArn,
    ]);
    expect(result.stdout).toContain(
      `log group ${logGroupName} (the function's logging configuration)`,
    );
    expect(result.stdout).toMatch(
      /Rotation failed: DatabaseUnreachableError: Database unreachable: .*127\.0\.0\.1/,
    );
    expect(result.code).toBe(1);
  });

  it('still reads the log group given with --log-group', async () => {
    const user = await stack.createApplicationUser({ extraKeys: { port: await findFreePort() } });
    const result = await rotate([
      '--secret-id',
      user.secretName,
      '--rotation-lambda-arn',
      lambdaArn,
      '--log-group',
      '/aws/lambda/scram-rotator',
    ]);
    expect(result.stdout).not.toContain("the function's logging configuration");
    expect(result.stdout).toMatch(/Rotation failed: DatabaseUnreachableError/);
    expect(result.code).toBe(1);
  });

  it('exits 2 when the rotation does not end within --timeout', async () => {
    const user = await stack.createApplicationUser();
    const slow = stack.secretsManager.lambdaArn('slow-rotation');
    stack.secretsManager.registerRotationFunction(slow, () => new Promise(() => undefined));
    const result = await rotate([
      '--secret-id',
      user.secretName,
      '--rotation-lambda-arn',
      slow,
      '--timeout',
      '1',
    ]);
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/Timed out after 1 s: AWSPENDING is still on \S+/);
  });

  it('refuses to run without --secret-id, with usage and exit 64', async () => {
    const result = await rotate([]);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain('--secret-id is required');
  });

  it('says so when the secret has no rotation function configured', async () => {
    const user = await stack.createApplicationUser();
    const result = await rotate(['--secret-id', user.secretName]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('Rotation is not configured');
  });
});
