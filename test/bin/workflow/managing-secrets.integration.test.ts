import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TAGS } from '../../../bin/workflow/common.js';
import {
  claimsOn,
  EVERY_SECRET,
  type SecretSurvey,
  surveySecrets,
} from '../../../bin/workflow/managing-secrets.js';
import { foldRoleName, parseDatabaseSecret } from '../../../lambda/core/secret.js';
import {
  createSecretsManagerClient,
  SecretsManagerEndpoint,
} from '../../../local/secrets-manager/index.js';

/**
 * Which secrets manage a user, read through the real SDK from the local
 * Secrets Manager endpoint: every rule the module comment states, one
 * secret each, in one account.
 */

let endpoint: SecretsManagerEndpoint;
let client: SecretsManagerClient;
let found: SecretSurvey;

const server = parseDatabaseSecret(
  JSON.stringify({
    engine: 'postgres',
    host: 'db.example.com',
    port: 5432,
    username: 'rot_admin',
    password: 'admin-password-never-shown',
  }),
  { label: 'admin' },
);
const postgres = { foldRoleName: (name: string) => name };
const cockroach = { foldRoleName };
const PASSWORD = 'value-password-never-shown';

async function put(name: string, value: unknown, tags?: { Key: string; Value: string }[]) {
  const out = await client.send(
    new CreateSecretCommand({
      Name: name,
      SecretString: typeof value === 'string' ? value : JSON.stringify(value),
      ...(tags ? { Tags: tags } : {}),
    }),
  );
  return String(out.ARN);
}

const db = (fields: Record<string, unknown>) => ({
  engine: 'postgres',
  host: 'db.example.com',
  port: 5432,
  password: PASSWORD,
  ...fields,
});

let denied: string;

beforeAll(async () => {
  endpoint = await SecretsManagerEndpoint.start();
  client = createSecretsManagerClient(endpoint);
  // More than one page of secrets that name nobody, before the ones that do.
  for (let i = 0; i < 105; i++) await put(`aaa/filler-${i}`, { apiKey: PASSWORD });
  await put('zz/same', db({ username: 'same_user', host: 'DB.Example.COM.' }));
  await put('zz/other-port', db({ username: 'port_user', port: 6432 }));
  await put('zz/other-host', db({ username: 'host_user', host: 'elsewhere.invalid' }));
  await put('zz/no-host', { username: 'rds_user', password: PASSWORD });
  await put('zz/bad-port', db({ username: 'odd_user', port: 'five' }));
  await put('zz/alias', db({ username: 'alias_user', host: 'alias.example.com' }));
  await put('zz/private', db({ username: 'private_user', host: 'db.private.internal' }));
  await put('zz/upper', db({ username: 'App_User' }));
  await put('zz/not-json', 'postgresql://someone@db.example.com/app');
  denied = await put('zz/denied', db({ username: 'tagged_user' }), [
    { Key: TAGS.username, Value: 'tagged_user' },
    { Key: TAGS.server, Value: 'db.example.com:5432' },
  ]);
  const deleted = await put('zz/deleted', db({ username: 'deleted_user' }));
  await client.send(new DeleteSecretCommand({ SecretId: deleted, RecoveryWindowInDays: 7 }));
  await client.send(
    new CreateSecretCommand({ Name: 'zz/binary', SecretBinary: new Uint8Array([1, 2, 3]) }),
  );
  // AWSCURRENT names no user here; the pending version of a rotation in flight does.
  const pending = await put('zz/pending', { apiKey: PASSWORD });
  await client.send(
    new PutSecretValueCommand({
      SecretId: pending,
      SecretString: JSON.stringify(db({ username: 'pending_user' })),
      VersionStages: ['AWSPENDING'],
    }),
  );
  // Alternating users: AWSCURRENT names the clone, AWSPREVIOUS the original.
  const pair = await put('zz/alternating', db({ username: 'alt_user' }));
  await client.send(
    new PutSecretValueCommand({
      SecretId: pair,
      SecretString: JSON.stringify(db({ username: 'alt_user_clone' })),
    }),
  );
  endpoint.injectFault({
    operation: 'GetSecretValue',
    secretId: denied,
    error: { type: 'AccessDeniedException', message: 'not authorized' },
  });
  // DNS as this test defines it: an alias of the server, and a host of its own.
  const addresses: Record<string, string[]> = {
    'db.example.com': ['10.0.0.5'],
    'alias.example.com': ['10.0.0.5'],
    'elsewhere.invalid': ['10.9.9.9'],
  };
  found = await surveySecrets(client, server, async (host) => new Set(addresses[host] ?? []));
});

afterAll(async () => {
  client?.destroy();
  await endpoint?.stop();
});

const on = (user: string, engine = postgres) =>
  claimsOn(found, user, engine).map((c) => [c.name, c.server]);

describe('surveySecrets', () => {
  it('finds a secret on this server across every page, its host compared as a DNS name', () => {
    expect(on('same_user')).toEqual([['zz/same', 'same-server']]);
    expect(claimsOn(found, 'same_user', postgres)[0]?.basis).toBe(
      'its value names DB.Example.COM.:5432',
    );
  });

  it('takes another port or another host that shares no address as another server, and a host that shares one as this server', () => {
    expect(on('port_user')).toEqual([]);
    expect(on('host_user')).toEqual([]);
    expect(on('alias_user')).toEqual([['zz/alias', 'same-server']]);
  });

  it('counts a secret that names the user but no server it can tell (an RDS-managed master secret) as unknown, never as none', () => {
    expect(on('rds_user')).toEqual([['zz/no-host', 'unknown-server']]);
    // A host this machine cannot resolve may be a private name of this server.
    expect(on('private_user')).toEqual([['zz/private', 'unknown-server']]);
    expect(on('odd_user')).toEqual([['zz/bad-port', 'unknown-server']]);
    expect(claimsOn(found, 'odd_user', postgres)[0]?.basis).toMatch(
      /^its value's port is not one the function reads/,
    );
  });

  it('reads every labelled version, so a user named only by AWSPENDING or AWSPREVIOUS is claimed too', () => {
    expect(on('pending_user')).toEqual([['zz/pending', 'same-server']]);
    expect(on('alt_user')).toEqual([['zz/alternating', 'same-server']]);
    expect(on('alt_user_clone')).toEqual([['zz/alternating', 'same-server']]);
  });

  it('proves a match from its own tags even when the value cannot be read, and lists that secret as unreadable', () => {
    expect(on('tagged_user')).toEqual([['zz/denied', 'same-server']]);
    expect(found.unreadable).toContainEqual({
      arn: denied,
      name: 'zz/denied',
      reason: 'GetSecretValue answered AccessDeniedException',
    });
  });

  it('lists binary and non-JSON values as unreadable, passes over JSON that names no user, and leaves out deleted secrets', () => {
    expect(found.unreadable.map((u) => u.name).sort()).toEqual([
      'zz/binary',
      'zz/denied',
      'zz/not-json',
    ]);
    expect(found.claims.some((c) => c.name.startsWith('aaa/'))).toBe(false);
    expect(on('deleted_user')).toEqual([]);
  });

  it('compares user names as the server stores them: exact on PostgreSQL, folded on CockroachDB, never trimmed', () => {
    expect(on('App_User')).toEqual([['zz/upper', 'same-server']]);
    expect(on('app_user')).toEqual([]);
    expect(on('app_user', cockroach)).toEqual([['zz/upper', 'same-server']]);
    expect(on(' same_user')).toEqual([]);
  });

  it('makes every secret unreadable when ListSecrets itself is denied', async () => {
    endpoint.injectFault({
      operation: 'ListSecrets',
      error: { type: 'AccessDeniedException', message: 'not authorized' },
    });
    expect(await surveySecrets(client, server, async () => new Set())).toEqual({
      claims: [],
      unreadable: [
        {
          arn: EVERY_SECRET,
          name: 'every secret',
          reason: 'ListSecrets answered AccessDeniedException',
        },
      ],
    });
  });

  it('never carries a secret value', () => {
    expect(JSON.stringify(found)).not.toContain(PASSWORD);
    expect(JSON.stringify(found)).not.toContain('someone@');
  });
});
