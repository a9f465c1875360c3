import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

const run = promisify(execFile);

let stack: LocalStack;
let secretName: string;

beforeAll(async () => {
  stack = await startLocalStack();
  secretName = (await stack.createApplicationUser()).secretName;
});

afterAll(async () => {
  await stack?.stop();
});

/**
 * Runs `npm run <script>` against the local stack as someone who forgot the
 * README's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: no AWS variables, no
 * shared config or credentials files.
 */
async function withoutCredentials(script: string, args: string[]) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')),
  );
  try {
    const { stdout, stderr } = await run(
      'npm',
      [
        'run',
        '--silent',
        script,
        '--',
        '--endpoint-url',
        stack.secretsManager.url,
        '--region',
        stack.secretsManager.region,
        ...args,
      ],
      {
        env: { ...env, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
        timeout: 60_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('a CLI run without AWS credentials', () => {
  it('doctor says credentials are missing and how to give them, not to check the secret id', async () => {
    const result = await withoutCredentials('doctor', ['--secret-id', secretName]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^scram-rotator doctor: No AWS credentials: .*AWS_PROFILE.*AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local npm run doctor/m,
    );
    expect(result.stdout + result.stderr).not.toContain('check the secret id');
  });

  it('rotate says the same', async () => {
    const result = await withoutCredentials('rotate', ['--secret-id', secretName]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^scram-rotator rotate: No AWS credentials: .*AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local npm run rotate/m,
    );
  });
});
