/**
 * Running the workflow CLIs as a user would (`npm run --silent <cmd>`)
 * against the local stack, and the checks their tests share.
 */
import { execFile } from 'node:child_process';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type LoginTarget, PgConnector } from '../../lambda/adapters/database.js';
import { parseDatabaseSecret } from '../../lambda/core/secret.js';
import type { LocalStack } from '../../local/stack.js';
import { targetOf } from '../fixtures/drive.js';

/** What a CLI run printed, and its exit code. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The last stdout line parsed as JSON, when `--json` was given. */
  readonly json: Record<string, unknown> | undefined;
}

/** Runs `npm run --silent <command> -- <args>` with the local stack's endpoint. */
export function runCli(
  stack: LocalStack,
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(
      'npm',
      [
        'run',
        '--silent',
        command,
        '--',
        '--endpoint-url',
        stack.secretsManager.url,
        '--region',
        stack.secretsManager.region,
        ...args,
      ],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
          ...options.env,
        },
        timeout: 120_000,
      },
      (error, stdout, stderr) => {
        const last = stdout.trim().split('\n').at(-1) ?? '';
        let json: Record<string, unknown> | undefined;
        try {
          json = last.startsWith('{') ? (JSON.parse(last) as Record<string, unknown>) : undefined;
        } catch {
          json = undefined;
        }
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr, json });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}

/** A secret version's parsed value. */
export async function secretVersion(
  client: SecretsManagerClient,
  secretId: string,
  stage: 'AWSCURRENT' | 'AWSPREVIOUS' = 'AWSCURRENT',
) {
  const out = await client.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }),
  );
  return parseDatabaseSecret(out.SecretString ?? '', { label: stage });
}

const limits = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 };

/** Whether a login the way the function logs in succeeds; the error's name when it does not. */
export async function logsIn(target: LoginTarget): Promise<true | string> {
  try {
    const session = await new PgConnector().login(target, limits);
    await session.close();
    return true;
  } catch (error) {
    return (error as Error).name;
  }
}

export { targetOf };
