/**
 * The floor the function is measured against: a handler that uses only
 * `@aws-sdk/client-secrets-manager` and `pg`, built with the function's
 * own esbuild options (bench/bundles.ts).
 *
 * It imports every command the function sends and does, for the event the
 * cold-start measurement sends (testSecret of a staged rotation), the same
 * I/O the function does: DescribeSecret, GetSecretValue of the pending
 * version, a verify-full TLS login by SCRAM and `SELECT session_user`. It
 * does nothing else: no validation, no checks, no logs. Whatever the
 * function costs beyond it is the price of what the function does on top.
 *
 * @module
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import pg from 'pg';

/** The commands the function sends besides those the handler below does. */
export const otherCommands = [PutSecretValueCommand, UpdateSecretVersionStageCommand];

// Made at the first event, as the function makes its own, so that the
// import and first-event columns compare like with like.
let client: SecretsManagerClient | undefined;

/** testSecret's I/O, and nothing else. */
export async function handler(event: {
  SecretId: string;
  ClientRequestToken: string;
}): Promise<void> {
  client ??= new SecretsManagerClient({});
  await client.send(new DescribeSecretCommand({ SecretId: event.SecretId }));
  const pending = await client.send(
    new GetSecretValueCommand({
      SecretId: event.SecretId,
      VersionId: event.ClientRequestToken,
      VersionStage: 'AWSPENDING',
    }),
  );
  const secret = JSON.parse(pending.SecretString ?? '{}');
  const db = new pg.Client({
    host: secret.host,
    port: secret.port,
    user: secret.username,
    password: secret.password,
    database: secret.dbname,
    ssl: { ca: secret.ca, rejectUnauthorized: true },
    enableChannelBinding: true,
  } as pg.ClientConfig);
  await db.connect();
  await db.query('SELECT session_user');
  await db.end();
}
