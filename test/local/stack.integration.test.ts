import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

/** The local stack on the CockroachDB double: the guide's workflow against CockroachDB. */

describe('startLocalStack({ engine: "cockroachdb" })', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({ engine: 'cockroachdb' });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('seeds secrets that name the double, and rotates through an admin secret with a SCRAM login at the cluster cost', async () => {
    const { user, admin, mode } = await stack.createRotationTarget({ username: 'crdb_app' });
    expect(mode).toBe('admin');
    const secret = JSON.parse(
      (await stack.client.send(new GetSecretValueCommand({ SecretId: user.secretArn })))
        .SecretString ?? '{}',
    ) as Record<string, unknown>;
    expect(secret).toMatchObject({
      engine: 'cockroachdb',
      host: stack.cockroach?.host,
      port: stack.cockroach?.port,
      dbname: 'defaultdb',
      masterarn: admin?.secretArn,
    });
    expect(stack.describe()).toMatchObject({
      engine: 'cockroachdb',
      cockroachdb: { host: stack.cockroach?.host, port: stack.cockroach?.port },
    });

    const lambdaArn = stack.registerRotationFunction();
    const outcome = await stack.rotate(user.secretArn, lambdaArn);
    expect(outcome, outcome.errorMessage).toMatchObject({ ok: true });
    const next = JSON.parse(
      (await stack.client.send(new GetSecretValueCommand({ SecretId: user.secretArn })))
        .SecretString ?? '{}',
    ) as { password: string };
    expect(next.password).not.toBe(secret.password);
    const stored = await stack.postgres.storedPassword('crdb_app');
    expect(stored).toMatch(/^SCRAM-SHA-256\$10610:/);
    const client = await stack.cockroach?.connect('crdb_app', next.password);
    await client?.end();
    expect(client).toBeDefined();
  });

  it('rotates a single user after turning on sql.auth.change_own_password.enabled', async () => {
    const { user } = await stack.createRotationTarget({
      username: 'crdb_self',
      mode: 'single-user',
    });
    expect(stack.cockroach?.settings.get('sql.auth.change_own_password.enabled')).toBe(true);
    const outcome = await stack.rotate(user.secretArn, stack.registerRotationFunction());
    expect(outcome, outcome.errorMessage).toMatchObject({ ok: true });
  });

  it('refuses an engine it does not know, and starts nothing', async () => {
    await expect(startLocalStack({ engine: 'mysql' as 'postgres' })).rejects.toThrow(
      /^unknown engine "mysql": use postgres or cockroachdb$/,
    );
  });
});
