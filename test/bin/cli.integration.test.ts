import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { StackFile } from '../../local/stack.js';

const run = promisify(execFile);

/** Waits for a file to appear, or for the process to exit first. */
async function waitForFile(path: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(path)) return;
    if (child.exitCode !== null)
      throw new Error(`exited with ${child.exitCode} before writing ${path}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${path} did not appear within ${timeoutMs} ms`);
}

/** Runs `aws secretsmanager <args>` against the stack's endpoint and parses its JSON answer. */
/**
 * Waits until no process of the group `pgid` is left. npm exits on Ctrl-C
 * without waiting for its script, so npm's exit says nothing about the
 * stack's own cleanup (the server stopping, its folder removed).
 */
async function waitForGroupExit(pgid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline)
      throw new Error(`processes of group ${pgid} still run after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function aws(stack: StackFile, args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(
    'aws',
    [
      'secretsmanager',
      ...args,
      '--endpoint-url',
      stack.secretsManager.endpoint,
      '--region',
      stack.secretsManager.region,
      '--output',
      'json',
    ],
    { env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' } },
  );
  return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>);
}

interface SecretAnswer {
  ARN: string;
  VersionId: string;
  SecretString: string;
  VersionStages: string[];
}

async function readSecret(stack: StackFile): Promise<SecretAnswer> {
  return (await aws(stack, [
    'get-secret-value',
    '--secret-id',
    'scram-rotator/local/app',
  ])) as unknown as SecretAnswer;
}

/** Polls with the AWS CLI until AWSCURRENT has moved off `versionId` and no AWSPENDING is left. */
async function waitForNewCurrent(stack: StackFile, versionId: string): Promise<SecretAnswer> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const described = await aws(stack, [
      'describe-secret',
      '--secret-id',
      'scram-rotator/local/app',
    ]);
    const stages = Object.values(
      (described.VersionIdsToStages ?? {}) as Record<string, string[]>,
    ).flat();
    const current = await readSecret(stack);
    if (current.VersionId !== versionId && !stages.includes('AWSPENDING')) return current;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the rotation did not complete within 30 s');
}

describe('npm run local:up', () => {
  it('serves the seeded secret to the AWS CLI, rotates it on rotate-secret, and removes everything on Ctrl-C', async () => {
    const stackFile = join(mkdtempSync(join(tmpdir(), 'scram-rotator-up-')), 'stack.json');
    const child = spawn('npm', ['run', '--silent', 'local:up', '--', '--stack-file', stackFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      await waitForFile(stackFile, child, 60_000);
      const stack = JSON.parse(readFileSync(stackFile, 'utf8')) as StackFile;
      expect(stack.secrets.map((s) => s.name)).toEqual(['scram-rotator/local/app']);

      // A second local:up on the same file refuses, and leaves the file to the first.
      const second = await run(
        'npm',
        ['run', '--silent', 'local:up', '--', '--stack-file', stackFile],
        {
          timeout: 60_000,
        },
      ).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => error,
      );
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(
        `describes a stack that is still running (Secrets Manager ${stack.secretsManager.endpoint} answers)`,
      );
      expect(JSON.parse(readFileSync(stackFile, 'utf8'))).toEqual(stack);
      expect(existsSync(stack.postgres.caFile)).toBe(true);

      const answer = await readSecret(stack);
      expect(answer.ARN).toBe(stack.secrets[0]?.arn);
      expect(answer.VersionStages).toEqual(['AWSCURRENT']);
      const secret = JSON.parse(answer.SecretString) as Record<string, unknown>;
      expect(secret).toMatchObject({
        engine: 'postgres',
        host: stack.postgres.host,
        port: stack.postgres.port,
        username: 'app_user',
        dbname: stack.postgres.database,
      });
      expect(secret.ca).toBe(readFileSync(stack.postgres.caFile, 'utf8'));
      expect(output).not.toContain(secret.password as string);

      // Seeded as a deployed secret is: rotation on, with the function and
      // a schedule, so the plain rotate-secret needs nothing more.
      expect(stack.rotationFunctionArn).toMatch(/^arn:aws:lambda:/);
      const described = await aws(stack, [
        'describe-secret',
        '--secret-id',
        'scram-rotator/local/app',
      ]);
      expect(described).toMatchObject({
        RotationEnabled: true,
        RotationLambdaARN: stack.rotationFunctionArn,
        RotationRules: { AutomaticallyAfterDays: 30 },
      });
      await aws(stack, ['rotate-secret', '--secret-id', 'scram-rotator/local/app']);
      const rotated = await waitForNewCurrent(stack, answer.VersionId);
      const next = JSON.parse(rotated.SecretString) as { password: string };
      expect(next.password).not.toBe(secret.password);
      const client = new pg.Client({
        host: stack.postgres.host,
        port: stack.postgres.port,
        database: stack.postgres.database,
        user: 'app_user',
        password: next.password,
        ssl: { ca: secret.ca as string, rejectUnauthorized: true },
      });
      await client.connect();
      await client.end();
      expect(output).not.toContain(next.password);

      const exited = new Promise((resolve) => child.once('exit', resolve));
      // Ctrl-C reaches the whole process group, as in a terminal.
      process.kill(-(child.pid ?? 0), 'SIGINT');
      await exited;
      await waitForGroupExit(child.pid ?? 0, 30_000);
      expect(existsSync(stackFile)).toBe(false);
      expect(existsSync(stack.serverLogFile)).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        // A failed assertion left it running: do not leave servers behind.
        process.kill(-(child.pid ?? 0), 'SIGKILL');
      }
    }
  });
});

describe('npm run demo', () => {
  it('rotates on the local stack and proves the result in its last JSON line', async () => {
    const { stdout } = await run('npm', ['run', '--silent', 'demo', '--', '--json'], {
      timeout: 120_000,
    });
    const last = stdout.trim().split('\n').at(-1) ?? '';
    const summary = JSON.parse(last) as Record<string, unknown>;
    expect(summary).toMatchObject({
      ok: true,
      engine: 'postgres',
      newPasswordAccepted: true,
      oldPasswordRejected: true,
      cleartextInServerLog: false,
      iterations: 4096,
    });
    expect(summary.authMethod).toMatch(/^SCRAM-SHA-256/);
    expect((summary.steps as { step: string }[]).map((s) => s.step)).toEqual([
      'createSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
    ]);
  });

  it('rotates through an admin secret with --mode admin', async () => {
    const { stdout } = await run(
      'npm',
      ['run', '--silent', 'demo', '--', '--json', '--mode', 'admin'],
      {
        timeout: 120_000,
      },
    );
    const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
    expect(summary).toMatchObject({ ok: true, mode: 'admin', oldPasswordRejected: true });
  });

  it('rotates alternating users with --mode alternating: the new AWSCURRENT is the other user, and the previous one still logs in', async () => {
    const { stdout } = await run(
      'npm',
      ['run', '--silent', 'demo', '--', '--json', '--mode', 'alternating'],
      {
        timeout: 120_000,
      },
    );
    const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
    expect(summary).toMatchObject({
      ok: true,
      mode: 'alternating',
      newPasswordAccepted: true,
      oldPasswordRejected: false,
      previousUser: 'demo_app',
      cleartextInServerLog: false,
    });
    expect(summary.currentUser).not.toBe('demo_app');
  });

  it('rotates on the CockroachDB double with --engine cockroachdb', async () => {
    const { stdout } = await run(
      'npm',
      ['run', '--silent', 'demo', '--', '--json', '--engine', 'cockroachdb'],
      { timeout: 120_000 },
    );
    const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
    expect(summary).toMatchObject({
      ok: true,
      engine: 'cockroachdb',
      mode: 'single-user',
      oldPasswordRejected: true,
      iterations: 10610,
    });
    expect(stdout).toMatch(/CockroachDB double 127\.0\.0\.1:\d+ \(CockroachDB CCL v/);
  });
});

/** Runs `npm run --silent <script> -- <args>`; its exit code and output. */
async function npmRun(script: string, args: readonly string[]) {
  try {
    const { stdout, stderr } = await run('npm', ['run', '--silent', script, '--', ...args], {
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the checkout tools (local:up, demo, bench, follower)', () => {
  it('print their help and version and exit 0, starting nothing', async () => {
    const scripts = ['local:up', 'demo', 'bench', 'follower'];
    const runs = await Promise.all(
      scripts.flatMap((script) => [npmRun(script, ['--help']), npmRun(script, ['--version'])]),
    );
    scripts.forEach((script, i) => {
      const [help, version] = [runs[2 * i], runs[2 * i + 1]];
      expect({ script, code: help?.code, usage: help?.stdout.split('\n')[0] }).toEqual({
        script,
        code: 0,
        usage: `Usage: ${script} [options]`,
      });
      expect(help?.stdout).toContain('Exit codes:');
      expect({ script, code: version?.code }).toEqual({ script, code: 0 });
    });
  });

  it('refuse a mode that does not exist, an unknown option or a stray argument in one line, without a stack trace or the value', async () => {
    const runs = await Promise.all([
      npmRun('demo', ['--mode', 'Tr0ub4dor&3']),
      npmRun('demo', ['--bogus']),
      npmRun('local:up', ['Tr0ub4dor&3']),
      npmRun('bench', ['--quick', '--jsno']),
    ]);
    expect(runs.map((r) => [r.code, r.stdout, r.stderr])).toEqual([
      [
        64,
        '',
        'demo: --mode takes one of single-user, admin, alternating. See: npm run demo -- --help\n',
      ],
      [64, '', "demo: unknown option '--bogus'. See: npm run demo -- --help\n"],
      [
        64,
        '',
        'local:up: takes options only, and got 1 other argument(s) (not repeated here, in case one is a password). See: npm run local:up -- --help\n',
      ],
      [
        64,
        '',
        "bench: unknown option '--jsno'; did you mean --json? See: npm run bench -- --help\n",
      ],
    ]);
  });
});
