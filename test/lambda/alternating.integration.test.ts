/**
 * Alternating users (ROTATION_MODE=alternating) end to end, through
 * RotateSecret on the local Secrets Manager endpoint: on the real local
 * PostgreSQL, and on CockroachDB through the protocol double in front of the
 * same PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DatabaseConnector,
  type DatabaseSession,
  PgConnector,
} from '../../lambda/adapters/database.js';
import { SdkSecretStore } from '../../lambda/adapters/secrets-manager.js';
import type { RotationEvent } from '../../lambda/core/event.js';
import { createScramVerifier } from '../../lambda/core/scram.js';
import { type DatabaseSecret, parseDatabaseSecret } from '../../lambda/core/secret.js';
import { cloneMarkText } from '../../lambda/engines/postgres.js';
import {
  AuthenticationFailedError,
  ConnectionLostError,
  DatabaseServerError,
} from '../../lambda/errors.js';
import { createHandler } from '../../lambda/index.js';
import { Logger } from '../../lambda/telemetry.js';
import { type CockroachDouble, startCockroachDouble } from '../../local/cockroach/double.js';
import { type LocalPostgres, startPostgres } from '../../local/postgres.js';
import {
  createSecretsManagerClient,
  SecretsManagerEndpoint,
} from '../../local/secrets-manager/index.js';
import { targetOf } from '../fixtures/drive.js';
import { LeakWatch } from '../fixtures/leaks.js';

const ADMIN = 'alt_admin';
const ADMIN_PASSWORD = randomBytes(18).toString('base64url');
const COST = 10_610;
const limits = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 };

const watch = new LeakWatch();
let postgres: LocalPostgres;
let crdb: CockroachDouble;
let endpoint: SecretsManagerEndpoint;
let client: SecretsManagerClient;

beforeAll(async () => {
  watch.start();
  watch.secret(ADMIN_PASSWORD);
  postgres = await startPostgres();
  crdb = await startCockroachDouble({ postgres });
  endpoint = await SecretsManagerEndpoint.start();
  client = createSecretsManagerClient(endpoint);
  // The least-privilege admin for both: CREATEROLE; on CockroachDB also
  // CREATELOGIN and VIEWCLUSTERSETTING.
  await postgres.createUser(ADMIN, createScramVerifier(ADMIN_PASSWORD, { iterations: COST }), {
    createRole: true,
  });
  crdb.privileges.grant(ADMIN, 'CREATELOGIN', 'VIEWCLUSTERSETTING');
});

afterAll(async () => {
  client?.destroy();
  await endpoint?.stop();
  await crdb?.stop();
  await postgres?.stop();
  watch.stop();
});

/** Where and how a secret logs in: PostgreSQL itself, or the double in front of it. */
interface Server {
  readonly name: string;
  readonly engine: 'postgres' | 'cockroachdb';
  connection(): { host: string; port: number; dbname: string; ca: string };
  /** A superuser connection to the server's database (the double's backing PostgreSQL). */
  superuser(): Promise<pg.Client>;
}

const servers: Server[] = [
  {
    name: 'PostgreSQL',
    engine: 'postgres',
    connection: () => ({
      host: postgres.host,
      port: postgres.port,
      dbname: postgres.database,
      ca: postgres.caPem,
    }),
    superuser: () => postgres.connect(postgres.admin.user, postgres.admin.password),
  },
  {
    name: 'CockroachDB (the double)',
    engine: 'cockroachdb',
    connection: () => ({ host: crdb.host, port: crdb.port, dbname: crdb.database, ca: crdb.caPem }),
    superuser: () => postgres.connect(postgres.admin.user, postgres.admin.password, crdb.database),
  },
];

const adminSecrets = new Map<string, string>();

async function createSecret(value: Record<string, unknown>, name: string): Promise<string> {
  const out = await client.send(
    new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }),
  );
  return out.ARN ?? '';
}

/** The admin secret for a server, created once. */
async function adminSecret(server: Server): Promise<string> {
  const existing = adminSecrets.get(server.name);
  if (existing) return existing;
  const arn = await createSecret(
    { engine: server.engine, username: ADMIN, password: ADMIN_PASSWORD, ...server.connection() },
    `alt/admin-${server.engine}`,
  );
  adminSecrets.set(server.name, arn);
  return arn;
}

async function asSuperuser<T>(server: Server, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await server.superuser();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * An application user the admin may manage (ADMIN OPTION, as PostgreSQL 16+
 * and CockroachDB's GRANT want), allowed to create tables, and its secret
 * with `masterarn`.
 */
async function appUser(server: Server, username = `alt_${randomBytes(4).toString('hex')}`) {
  const password = randomBytes(24).toString('base64url');
  watch.secret(password);
  await postgres.createUser(username, createScramVerifier(password, { iterations: COST }));
  await asSuperuser(server, async (c) => {
    const role = c.escapeIdentifier(username);
    await c.query(`GRANT ${role} TO ${ADMIN} WITH ADMIN OPTION`);
    await c.query(`GRANT CREATE ON SCHEMA public TO ${role}`);
  });
  const secretArn = await createSecret(
    {
      engine: server.engine,
      username,
      password,
      ...server.connection(),
      masterarn: await adminSecret(server),
    },
    `alt/${username}`,
  );
  return { username, clone: `${username}_clone`, secretArn };
}

/** Registers the real handler in alternating mode; `afterSetSecret` runs between setSecret and testSecret. */
function rotationFunction(
  options: {
    env?: Record<string, string>;
    afterSetSecret?: () => Promise<void>;
    database?: DatabaseConnector;
  } = {},
): string {
  const arn = endpoint.lambdaArn(`alt-${randomBytes(3).toString('hex')}`);
  const handler = createHandler({
    secrets: new SdkSecretStore(client),
    ...(options.database ? { database: options.database } : {}),
    env: {
      ROTATION_MODE: 'alternating',
      TEST_LOGIN_ATTEMPTS: '2',
      TEST_LOGIN_DELAY_MS: '50',
      ...options.env,
    },
    logger: new Logger({ serviceName: 'scram-rotator', logLevel: 'SILENT' }),
  });
  endpoint.registerRotationFunction(arn, async (event: RotationEvent, context) => {
    await handler(event, context);
    if (event.Step === 'setSecret') await options.afterSetSecret?.();
  });
  return arn;
}

async function rotate(secretArn: string, lambdaArn = rotationFunction()) {
  await client.send(
    new RotateSecretCommand({
      SecretId: secretArn,
      RotationLambdaARN: lambdaArn,
      RotationRules: { AutomaticallyAfterDays: 30 },
    }),
  );
  const outcome = await endpoint.waitForRotation(secretArn, { timeoutMs: 30_000 });
  watch.text(outcome.errorMessage ?? '');
  return outcome;
}

async function read(secretArn: string, stage = 'AWSCURRENT'): Promise<DatabaseSecret> {
  const out = await client.send(
    new GetSecretValueCommand({ SecretId: secretArn, VersionStage: stage }),
  );
  const secret = parseDatabaseSecret(out.SecretString ?? '', { label: stage });
  watch.secret(secret.password);
  return secret;
}

async function login(secret: DatabaseSecret): Promise<DatabaseSession> {
  return new PgConnector().login(targetOf(secret), limits);
}

async function withLogin<T>(
  secret: DatabaseSecret,
  fn: (session: DatabaseSession) => Promise<T>,
): Promise<T> {
  const session = await login(secret);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

/** The stored hash of each role, as a snapshot (watched for leaks). */
async function storedHashes(...roles: string[]): Promise<Record<string, string | null>> {
  const entries = await Promise.all(
    roles.map(async (role) => {
      const hash = await postgres.storedPassword(role);
      watch.secret(hash);
      return [role, hash] as const;
    }),
  );
  return Object.fromEntries(entries);
}

async function roleExists(role: string): Promise<boolean> {
  return postgres.withAdmin(async (c) => {
    const result = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    return result.rowCount === 1;
  });
}

async function isMember(member: string, role: string): Promise<boolean> {
  return postgres.withAdmin(async (c) => {
    const result = await c.query<{ member: boolean }>(
      "SELECT pg_has_role($1, $2, 'MEMBER') AS member",
      [member, role],
    );
    return result.rows[0]?.member === true;
  });
}

/** Sets a role's password, as the superuser, to one nobody holds. */
async function scramble(role: string): Promise<void> {
  const verifier = createScramVerifier(randomBytes(12).toString('hex'), { iterations: COST });
  await postgres.withAdmin((c) =>
    c.query(`ALTER ROLE ${c.escapeIdentifier(role)} PASSWORD ${c.escapeLiteral(verifier)}`),
  );
}

/** Rotates with ALLOW_PRIVILEGED_TARGET=true, expects setSecret to refuse, and returns why. */
async function refusedWithPrivilegedAllowed(secretArn: string): Promise<string> {
  const outcome = await rotate(
    secretArn,
    rotationFunction({ env: { ALLOW_PRIVILEGED_TARGET: 'true' } }),
  );
  expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
  return outcome.errorMessage ?? '';
}

describe('alternating users on CockroachDB, cut short', () => {
  it('takes up the clone its own attempt created before it was cut short between CREATE USER and GRANT', async () => {
    const server = servers.find((s) => s.engine === 'cockroachdb') as Server;
    const user = await appUser(server);
    // The connection dies after CREATE USER committed: the GRANT and the
    // DROP USER that would undo the creation both fail. (On CockroachDB the
    // two cannot share a transaction; PostgreSQL creates the clone with its
    // membership in one statement.)
    let cut = false;
    const connector = new PgConnector();
    const cutBeforeGrant: DatabaseConnector = {
      async login(target, loginLimits, options) {
        const session = await connector.login(target, loginLimits, options);
        return new Proxy(session, {
          get: (inner, property) => {
            const value = Reflect.get(inner, property, inner) as unknown;
            if (property !== 'execute') {
              return typeof value === 'function' ? value.bind(inner) : value;
            }
            return async (statement: string) => {
              const gone = !cut && statement.startsWith('GRANT ');
              if (gone || (cut && statement.startsWith('DROP USER '))) {
                cut = true;
                throw new DatabaseServerError('db', 'XX000', statement.split(' ')[0] ?? '');
              }
              return inner.execute(statement);
            };
          },
        });
      },
    };
    const first = await rotate(user.secretArn, rotationFunction({ database: cutBeforeGrant }));
    expect(first).toMatchObject({ ok: false, failedStep: 'setSecret' });
    expect(cut).toBe(true);
    expect(await roleExists(user.clone)).toBe(true);
    expect(await isMember(user.clone, user.username)).toBe(false);
    // Secrets Manager's retry ("A previous rotation isn't complete. That
    // rotation will be reattempted."): the clone holds this rotation's
    // pending password, so it is this rotation's own, and is made a member.
    await expect(rotate(user.secretArn)).rejects.toMatchObject({
      name: 'InvalidRequestException',
    });
    expect(await endpoint.waitForRotation(user.secretArn, { timeoutMs: 30_000 })).toMatchObject({
      ok: true,
    });
    expect(await isMember(user.clone, user.username)).toBe(true);
    expect((await read(user.secretArn)).username).toBe(user.clone);
  });
});

describe.each(servers)('alternating users on $name', (server) => {
  it('creates the clone at the first rotation, then alternates, changing only the user AWSCURRENT does not name', async () => {
    const user = await appUser(server);
    const lambda = rotationFunction();
    const original = await read(user.secretArn);
    expect(await roleExists(user.clone)).toBe(false);

    // 1: the clone is created with the new password and becomes AWSCURRENT.
    let before = await storedHashes(user.username);
    expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
    const first = await read(user.secretArn);
    expect(first.username).toBe(user.clone);
    expect(first.password).not.toBe(original.password);
    expect(await isMember(user.clone, user.username)).toBe(true);
    expect(await storedHashes(user.username)).toEqual(before);
    // Clients still holding the old AWSCURRENT (now AWSPREVIOUS) log in.
    expect((await read(user.secretArn, 'AWSPREVIOUS')).password).toBe(original.password);
    await withLogin(original, async (s) =>
      expect((await s.identity()).sessionUser).toBe(user.username),
    );
    await withLogin(first, async (s) => expect((await s.identity()).sessionUser).toBe(user.clone));

    // 2 and 3: each changes only the other user.
    let current = first;
    for (const expected of [user.username, user.clone]) {
      before = await storedHashes(user.username, user.clone);
      expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
      const next = await read(user.secretArn);
      expect(next.username).toBe(expected);
      const after = await storedHashes(user.username, user.clone);
      expect(after[current.username]).toBe(before[current.username]);
      expect(after[expected]).not.toBe(before[expected]);
      // The previous credential still logs in; the new one does.
      await withLogin(current, async () => undefined);
      await withLogin(next, async () => undefined);
      current = next;
    }
    // Three rotations later, the first password is gone.
    await expect(login(original)).rejects.toBeInstanceOf(AuthenticationFailedError);
  });

  it('makes what the clone creates usable by the original, and owned by it on PostgreSQL', async () => {
    const user = await appUser(server);
    expect(await rotate(user.secretArn)).toMatchObject({ ok: true });
    const cloneSecret = await read(user.secretArn);
    const originalSecret = await read(user.secretArn, 'AWSPREVIOUS');
    const table = `made_by_clone_${randomBytes(3).toString('hex')}`;
    await withLogin(cloneSecret, async (s) => {
      expect((await s.identity()).sessionUser).toBe(user.clone);
      await s.execute(`CREATE TABLE ${table} (id int)`);
      await s.execute(`INSERT INTO ${table} VALUES (1)`);
    });
    const [owner] = await asSuperuser(server, async (c) =>
      (
        await c.query<{ owner: string }>(
          'SELECT tableowner AS owner FROM pg_tables WHERE tablename = $1',
          [table],
        )
      ).rows.map((r) => r.owner),
    );
    // PostgreSQL: the clone's sessions run as the original (ALTER ROLE clone
    // SET role). CockroachDB refuses that default: the clone owns it and
    // grants ALL on it to the original.
    expect(owner).toBe(server.engine === 'postgres' ? user.username : user.clone);
    await withLogin(originalSecret, async (s) => {
      await s.execute(`INSERT INTO ${table} VALUES (2)`);
      expect(await s.query(`SELECT id FROM ${table} ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
    });
    await withLogin(cloneSecret, async (s) => {
      expect(await s.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 2 }]);
    });
    if (server.engine === 'cockroachdb') {
      // SET ROLE (v21.2+) is how a CockroachDB application has the original own what it creates.
      const owned = `made_as_original_${randomBytes(3).toString('hex')}`;
      await withLogin(cloneSecret, async (s) => {
        await s.execute(`SET ROLE ${user.username}`);
        await s.execute(`CREATE TABLE ${owned} (id int)`);
      });
      const [setRoleOwner] = await asSuperuser(server, async (c) =>
        (
          await c.query<{ owner: string }>(
            'SELECT tableowner AS owner FROM pg_tables WHERE tablename = $1',
            [owned],
          )
        ).rows.map((r) => r.owner),
      );
      expect(setRoleOwner).toBe(user.username);
    }
  });

  it("lets the clone's sessions use a grant made to the original after the clone exists", async () => {
    const user = await appUser(server);
    expect(await rotate(user.secretArn)).toMatchObject({ ok: true });
    const cloneSecret = await read(user.secretArn);
    const table = `granted_later_${randomBytes(3).toString('hex')}`;
    await asSuperuser(server, async (c) => {
      await c.query(`CREATE TABLE ${table} (id int)`);
      await c.query(`INSERT INTO ${table} VALUES (7)`);
    });
    await withLogin(cloneSecret, async (s) =>
      expect(s.query(`SELECT id FROM ${table}`)).rejects.toThrow(),
    );
    await asSuperuser(server, (c) =>
      c.query(`GRANT SELECT ON ${table} TO ${c.escapeIdentifier(user.username)}`),
    );
    await withLogin(cloneSecret, async (s) =>
      expect(await s.query(`SELECT id FROM ${table}`)).toEqual([{ id: 7 }]),
    );
  });

  it('brings the clone back in line at every rotation: membership, VALID UNTIL (and CONNECTION LIMIT on PostgreSQL)', async () => {
    const user = await appUser(server);
    const lambda = rotationFunction();
    expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
    // AWSCURRENT is the clone now, AWSPREVIOUS the original: the secret has alternated.
    await postgres.withAdmin(async (c) => {
      const [original, clone] = [user.username, user.clone].map((r) => c.escapeIdentifier(r));
      // PostgreSQL 16+ revokes only the grants of the grantor named.
      const grantors = await c.query<{ grantor: string }>(
        `SELECT g.rolname AS grantor FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.grantor
          WHERE a.roleid = $1::regrole AND a.member = $2::regrole`,
        [original, clone],
      );
      for (const { grantor } of grantors.rows) {
        await c.query(`REVOKE ${original} FROM ${clone} GRANTED BY ${c.escapeIdentifier(grantor)}`);
      }
      await c.query(`ALTER ROLE ${original} VALID UNTIL '2031-06-01 00:00:00+00'`);
      await c.query(`ALTER ROLE ${original} CONNECTION LIMIT 7`);
    });
    expect(await isMember(user.clone, user.username)).toBe(false);
    expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
    expect(await isMember(user.clone, user.username)).toBe(true);
    const attributes = await postgres.withAdmin(async (c) =>
      Object.fromEntries(
        (
          await c.query<{ rolname: string; until: string | null; limit: number }>(
            'SELECT rolname, rolvaliduntil::text AS until, rolconnlimit AS limit FROM pg_roles WHERE rolname = ANY($1)',
            [[user.username, user.clone]],
          )
        ).rows.map((r) => [r.rolname, { until: r.until, limit: r.limit }]),
      ),
    );
    expect(attributes[user.clone]?.until).toBe('2031-06-01 00:00:00+00');
    // CockroachDB has no CONNECTION LIMIT for roles: the clone keeps none.
    expect(attributes[user.clone]?.limit).toBe(server.engine === 'postgres' ? 7 : -1);
  });

  it("only narrows the clone's limits: a narrower VALID UNTIL or CONNECTION LIMIT an operator put on the clone stays", async () => {
    const user = await appUser(server);
    const lambda = rotationFunction();
    expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
    const attributes = () =>
      postgres.withAdmin(async (c) =>
        Object.fromEntries(
          (
            await c.query<{ rolname: string; until: string | null; limit: number }>(
              'SELECT rolname, rolvaliduntil::text AS until, rolconnlimit AS limit FROM pg_roles WHERE rolname = ANY($1)',
              [[user.username, user.clone]],
            )
          ).rows.map((r) => [r.rolname, { until: r.until, limit: r.limit }]),
        ),
      );
    // The operator narrows the clone only; the original has no limit, then a wider one.
    await postgres.withAdmin(async (c) => {
      const [original, clone] = [user.username, user.clone].map((r) => c.escapeIdentifier(r));
      await c.query(`ALTER ROLE ${clone} VALID UNTIL '2030-01-01 00:00:00+00' CONNECTION LIMIT 3`);
      await c.query(`ALTER ROLE ${original} VALID UNTIL 'infinity' CONNECTION LIMIT -1`);
    });
    for (const wider of [undefined, "VALID UNTIL '2032-01-01 00:00:00+00' CONNECTION LIMIT 9"]) {
      if (wider !== undefined) {
        await postgres.withAdmin((c) =>
          c.query(`ALTER ROLE ${c.escapeIdentifier(user.username)} ${wider}`),
        );
      }
      // Both directions of the pair: the clone is next, then current.
      for (let i = 0; i < 2; i++) {
        expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
        const clone = (await attributes())[user.clone];
        expect(clone).toEqual({ until: '2030-01-01 00:00:00+00', limit: 3 });
      }
    }
    // A narrower date on the original still reaches the clone; its limit stays the narrower.
    await postgres.withAdmin((c) =>
      c.query(
        `ALTER ROLE ${c.escapeIdentifier(user.username)} VALID UNTIL '2029-01-01 00:00:00+00' CONNECTION LIMIT 5`,
      ),
    );
    expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
    expect((await attributes())[user.clone]).toEqual({
      until: '2029-01-01 00:00:00+00',
      limit: 3,
    });
  });

  it("gives the clone's sessions the original's per-role settings, at every rotation", async () => {
    const user = await appUser(server);
    const schema = `sch_${randomBytes(3).toString('hex')}`;
    await asSuperuser(server, async (c) => {
      const role = c.escapeIdentifier(user.username);
      await c.query(`CREATE SCHEMA ${schema} AUTHORIZATION ${role}`);
      await c.query(`CREATE TABLE ${schema}.things (id int)`);
      await c.query(`INSERT INTO ${schema}.things VALUES (5)`);
      await c.query(`ALTER TABLE ${schema}.things OWNER TO ${role}`);
      await c.query(`ALTER ROLE ${role} SET search_path = ${schema}, public`);
      await c.query(`ALTER ROLE ${role} SET lock_timeout = '4321ms'`);
    });
    const lambda = rotationFunction();
    const session = async (secret: DatabaseSecret) =>
      withLogin(secret, async (s) => ({
        user: (await s.identity()).sessionUser,
        rows: await s.query('SELECT id FROM things'),
        lockTimeout: (
          await s.query<{ v: string }>('SELECT current_setting($1) AS v', ['lock_timeout'])
        )[0]?.v,
      }));
    expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
    const asClone = await session(await read(user.secretArn));
    const asOriginal = await session(await read(user.secretArn, 'AWSPREVIOUS'));
    expect(asClone).toEqual({ ...asOriginal, user: user.clone });
    expect(asOriginal).toEqual({ user: user.username, rows: [{ id: 5 }], lockTimeout: '4321ms' });
    // A setting changed on the original later reaches the clone at the next rotation.
    await asSuperuser(server, (c) =>
      c.query(`ALTER ROLE ${c.escapeIdentifier(user.username)} RESET lock_timeout`),
    );
    expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
    const again = await session(await read(user.secretArn, 'AWSPREVIOUS'));
    expect(again.user).toBe(user.clone);
    expect(again.lockTimeout).toBe((await session(await read(user.secretArn))).lockTimeout);
    expect(again.rows).toEqual([{ id: 5 }]);
  });

  it('refuses a clone name over 63 bytes before anything is stored or created', async () => {
    const user = await appUser(server, `l${randomBytes(3).toString('hex')}${'b'.repeat(51)}`);
    const before = await read(user.secretArn);
    const outcome = await rotate(user.secretArn);
    expect(outcome).toMatchObject({ ok: false, failedStep: 'createSecret' });
    expect(outcome.errorMessage).toMatch(
      new RegExp(`^Clone name refused: ${user.clone} \\(64 bytes\\) is longer than 63 bytes`),
    );
    // No role was created under the name PostgreSQL would cut it to.
    expect(await roleExists(`${user.username}_clone`.slice(0, 63))).toBe(false);
    expect((await read(user.secretArn)).password).toBe(before.password);
    const pending = await client
      .send(new GetSecretValueCommand({ SecretId: user.secretArn, VersionStage: 'AWSPENDING' }))
      .then(
        (out) => out.SecretString,
        () => undefined,
      );
    expect(pending).toBeUndefined();
  });

  it('refuses to clone a privileged original, even where ALLOW_PRIVILEGED_TARGET allows rotating it', async () => {
    const user = await appUser(server);
    await postgres.withAdmin((c) =>
      c.query(`ALTER ROLE ${c.escapeIdentifier(user.username)} CREATEROLE`),
    );
    const message = await refusedWithPrivilegedAllowed(user.secretArn);
    expect(message).toMatch(
      new RegExp(
        `^Clone refused: ${user.clone}, the clone of ${user.username}, would inherit privileged .* \\(CREATEROLE\\); nothing was changed`,
      ),
    );
    expect(await roleExists(user.clone)).toBe(false);
  });

  it('refuses a role of the clone name it did not create, even a member of the original, and changes nothing', async () => {
    const user = await appUser(server);
    // Another application's role that happens to have the clone's name, and
    // is a member of the user.
    const theirs = randomBytes(12).toString('hex');
    watch.secret(theirs);
    await postgres.createUser(user.clone, createScramVerifier(theirs, { iterations: COST }));
    await asSuperuser(server, (c) =>
      c.query(`GRANT ${c.escapeIdentifier(user.username)} TO ${c.escapeIdentifier(user.clone)}`),
    );
    const before = await storedHashes(user.clone, user.username);
    const outcome = await rotate(user.secretArn);
    expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
    expect(outcome.errorMessage).toMatch(
      new RegExp(
        `^Clone refused: ${user.clone}, the clone of ${user.username}, is not proven to be the clone this function created for the original: it may be another role; nothing was changed\\. `,
      ),
    );
    // How to bring it under rotation deliberately, per engine.
    expect(outcome.errorMessage).toContain(
      server.engine === 'postgres' ? `COMMENT ON ROLE "${user.clone}" IS ` : 'as AWSPREVIOUS',
    );
    expect(await storedHashes(user.clone, user.username)).toEqual(before);
    // Its own application still logs in, and has no role setting of ours.
    await withLogin(
      { ...(await read(user.secretArn)), username: user.clone, password: theirs },
      async (s) => expect((await s.identity()).currentUser).toBe(user.clone),
    );
  });

  it("refuses an application user whose name ends in the suffix, and leaves the shorter role's password alone", async () => {
    const shorter = await appUser(server);
    // An application user named <shorter>_clone, a member of <shorter>,
    // rotated in alternating mode: it is not a clone the function made.
    const user = await appUser(server, shorter.clone);
    await asSuperuser(server, (c) =>
      c.query(
        `GRANT ${c.escapeIdentifier(shorter.username)} TO ${c.escapeIdentifier(user.username)}`,
      ),
    );
    const before = await storedHashes(shorter.username, user.username);
    const outcome = await rotate(user.secretArn);
    expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
    expect(outcome.errorMessage).toMatch(
      new RegExp(
        `^Clone refused: ${user.username}, the clone of ${shorter.username}, is not proven`,
      ),
    );
    expect(await storedHashes(shorter.username, user.username)).toEqual(before);
  });

  it('takes no AWSPREVIOUS naming the clone as proof, and grants nothing before every check passed', async () => {
    const user = await appUser(server);
    const theirs = randomBytes(12).toString('hex');
    watch.secret(theirs);
    await postgres.createUser(user.clone, createScramVerifier(theirs, { iterations: COST }));
    // Whoever may write the secret stages a version naming the clone.
    const current = await read(user.secretArn);
    const forged = randomBytes(12).toString('hex');
    watch.secret(forged);
    await client.send(
      new PutSecretValueCommand({
        SecretId: user.secretArn,
        SecretString: JSON.stringify({ ...current.raw, username: user.clone, password: forged }),
        VersionStages: ['AWSPREVIOUS'],
      }),
    );
    const before = await storedHashes(user.clone, user.username);
    const outcome = await rotate(user.secretArn);
    expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
    expect(outcome.errorMessage).toMatch(/is not proven to be the clone this function created/);
    expect(await isMember(user.clone, user.username)).toBe(false);
    expect(await storedHashes(user.clone, user.username)).toEqual(before);
  });

  it('holds the clone to the same rules as the user: a member of a CREATEROLE role is refused even with ALLOW_PRIVILEGED_TARGET', async () => {
    const user = await appUser(server);
    expect(await rotate(user.secretArn)).toMatchObject({ ok: true });
    const manager = `mgr_${randomBytes(4).toString('hex')}`;
    await postgres.withAdmin(async (c) => {
      await c.query(`CREATE ROLE ${manager} NOLOGIN CREATEROLE`);
      await c.query(`GRANT ${manager} TO ${c.escapeIdentifier(user.clone)}`);
    });
    const before = await storedHashes(user.clone, user.username);
    const message = await refusedWithPrivilegedAllowed(user.secretArn);
    expect(message).toMatch(
      new RegExp(
        `^Clone refused: ${user.clone}, the clone of ${user.username}, holds privileged attributes or roles .*\\(${manager}\\); nothing was changed`,
      ),
    );
    expect(await storedHashes(user.clone, user.username)).toEqual(before);
  });

  const disablings = [
    { setting: 'NOLOGIN', sql: 'NOLOGIN', engines: ['postgres', 'cockroachdb'] },
    { setting: 'CONNECTION LIMIT 0', sql: 'CONNECTION LIMIT 0', engines: ['postgres'] },
    {
      setting: 'VALID UNTIL',
      sql: "VALID UNTIL '2001-01-01 00:00:00+00'",
      engines: ['postgres', 'cockroachdb'],
    },
  ] as const;

  it.each(disablings.filter((d) => (d.engines as readonly string[]).includes(server.engine)))(
    'never enables a clone an operator disabled with $setting: it refuses, naming the setting',
    async ({ setting, sql }) => {
      const user = await appUser(server);
      const lambda = rotationFunction();
      expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
      await postgres.withAdmin((c) =>
        c.query(`ALTER ROLE ${c.escapeIdentifier(user.clone)} ${sql}`),
      );
      const attributes = () =>
        postgres.withAdmin(
          async (c) =>
            (
              await c.query(
                'SELECT rolcanlogin, rolconnlimit, rolvaliduntil::text AS until FROM pg_roles WHERE rolname = $1',
                [user.clone],
              )
            ).rows[0],
        );
      const before = {
        attributes: await attributes(),
        hashes: await storedHashes(user.clone, user.username),
      };
      const outcome = await rotate(user.secretArn, lambda);
      expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
      expect(outcome.errorMessage).toMatch(
        new RegExp(
          `^Clone refused: ${user.clone}, the clone of ${user.username}, was disabled by an operator, and a rotation never enables a role again \\(${setting}`,
        ),
      );
      expect(outcome.errorMessage).toContain('undo the setting by hand');
      expect({
        attributes: await attributes(),
        hashes: await storedHashes(user.clone, user.username),
      }).toEqual(before);
    },
  );

  it('puts back what setSecret changed when the test fails: every labelled version logs in, the withdrawn one does not', async () => {
    const user = await appUser(server);
    let sabotage = false;
    const lambda = rotationFunction({
      // Someone changes the changed user's password between setSecret and testSecret.
      afterSetSecret: async () => {
        if (!sabotage) return;
        await scramble((await read(user.secretArn, 'AWSPENDING')).username);
      },
    });
    // Rotation 1 fails: no labelled version names the clone, so its password
    // becomes one nobody holds.
    sabotage = true;
    const first = await rotate(user.secretArn, lambda);
    expect(first).toMatchObject({ ok: false, failedStep: 'testSecret' });
    expect(first.errorMessage).toMatch(
      new RegExp(
        `^Rotation rolled back: ${user.clone} did not log in with the pending password \\(Authentication failed: .*\\), so its password was set to a random one no version holds`,
      ),
    );
    await withLogin(await read(user.secretArn), async () => undefined);
    sabotage = false;
    if (server.engine === 'cockroachdb') {
      // No labelled version holds the clone's password now, and CockroachDB
      // has no role comment: the clone cannot be proven, and the message
      // says to drop it.
      const refused = await rotate(user.secretArn, lambda);
      expect(refused).toMatchObject({ ok: false, failedStep: 'setSecret' });
      expect(refused.errorMessage).toContain(
        `or drop ${user.clone} so that the next rotation creates it`,
      );
      await asSuperuser(server, async (c) => {
        await c.query(`DROP OWNED BY ${c.escapeIdentifier(user.clone)}`);
        await c.query(`DROP ROLE ${c.escapeIdentifier(user.clone)}`);
      });
      // Secrets Manager's retry of that rotation creates the clone again.
      await expect(rotate(user.secretArn, lambda)).rejects.toMatchObject({
        name: 'InvalidRequestException',
      });
      expect(await endpoint.waitForRotation(user.secretArn, { timeoutMs: 30_000 })).toMatchObject({
        ok: true,
      });
    } else {
      expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
    }
    // After rotations 2 and 3, AWSCURRENT is the original, AWSPREVIOUS the clone.
    expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
    const current = await read(user.secretArn);
    const previous = await read(user.secretArn, 'AWSPREVIOUS');
    expect([current.username, previous.username]).toEqual([user.username, user.clone]);
    // Rotation 4 changes the clone and fails its test: the clone gets
    // AWSPREVIOUS's password back.
    sabotage = true;
    let withdrawn: DatabaseSecret | undefined;
    const spy = rotationFunction({
      afterSetSecret: async () => {
        withdrawn = await read(user.secretArn, 'AWSPENDING');
        await scramble(user.clone);
      },
    });
    const fourth = await rotate(user.secretArn, spy);
    expect(fourth).toMatchObject({ ok: false, failedStep: 'testSecret' });
    expect(fourth.errorMessage).toMatch(
      new RegExp(
        `^Rotation rolled back: ${user.clone} .*so its password was set back to AWSPREVIOUS's`,
      ),
    );
    await withLogin(await read(user.secretArn), async () => undefined);
    await withLogin(await read(user.secretArn, 'AWSPREVIOUS'), async () => undefined);
    await expect(login(withdrawn as DatabaseSecret)).rejects.toBeInstanceOf(
      AuthenticationFailedError,
    );
    const stages = (await client.send(new DescribeSecretCommand({ SecretId: user.secretArn })))
      .VersionIdsToStages;
    expect(Object.values(stages ?? {}).flat()).not.toContain('AWSPENDING');
  });

  it('rolls nothing back on an unexpected error after the pending password logged in; the retry finishes', async () => {
    const user = await appUser(server);
    const pendingPassword = { value: '' };
    let broken = false;
    const connector = new PgConnector();
    // The pending login succeeds, then the connection drops while asking
    // who the session is: nothing about the password is proven wrong.
    const dropAfterLogin: DatabaseConnector = {
      async login(target, loginLimits, options) {
        const session = await connector.login(target, loginLimits, options);
        if (broken || target.password !== pendingPassword.value) return session;
        broken = true;
        return new Proxy(session, {
          get: (inner, property) => {
            if (property === 'identity') {
              return async () => {
                throw new ConnectionLostError('db', 'the identity query');
              };
            }
            const value = Reflect.get(inner, property, inner) as unknown;
            return typeof value === 'function' ? value.bind(inner) : value;
          },
        });
      },
    };
    const lambda = rotationFunction({
      database: dropAfterLogin,
      env: { TRANSIENT_RETRY_MS: '0' },
      afterSetSecret: async () => {
        pendingPassword.value = (await read(user.secretArn, 'AWSPENDING')).password;
      },
    });
    const first = await rotate(user.secretArn, lambda);
    expect(first).toMatchObject({ ok: false, failedStep: 'testSecret' });
    expect(first.errorMessage).toMatch(/^Database connection lost/);
    expect(broken).toBe(true);
    // Secrets Manager retries the same token; the rotation completes.
    await expect(rotate(user.secretArn, lambda)).rejects.toMatchObject({
      name: 'InvalidRequestException',
    });
    expect(await endpoint.waitForRotation(user.secretArn, { timeoutMs: 30_000 })).toMatchObject({
      ok: true,
    });
    const current = await read(user.secretArn);
    expect(current.username).toBe(user.clone);
    expect(current.password).toBe(pendingPassword.value);
    await withLogin(current, async () => undefined);
  });
});

describe("what a holder of the clone's credentials can do on PostgreSQL (the claims docs make)", () => {
  const server = servers[0] as Server;

  it('runs as the original; SET ROLE NONE makes it the clone, which still has the original privileges', async () => {
    const user = await appUser(server);
    expect(await rotate(user.secretArn)).toMatchObject({ ok: true });
    const table = `granted_${randomBytes(3).toString('hex')}`;
    await postgres.withAdmin(async (c) => {
      await c.query(`CREATE TABLE ${table} (id int)`);
      await c.query(`GRANT SELECT ON ${table} TO ${c.escapeIdentifier(user.username)}`);
    });
    await withLogin(await read(user.secretArn), async (s) => {
      expect(await s.identity()).toEqual({ sessionUser: user.clone, currentUser: user.username });
      await s.execute('SET ROLE NONE');
      expect(await s.identity()).toEqual({ sessionUser: user.clone, currentUser: user.clone });
      expect(await s.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 0 }]);
    });
  });

  it("can change the original's password, as the original may change its own", async () => {
    const user = await appUser(server);
    expect(await rotate(user.secretArn)).toMatchObject({ ok: true });
    const original = await read(user.secretArn, 'AWSPREVIOUS');
    const verifier = createScramVerifier(randomBytes(12).toString('hex'), { iterations: COST });
    await withLogin(await read(user.secretArn), (s) =>
      s.execute(
        `ALTER ROLE ${pg.escapeIdentifier(user.username)} PASSWORD ${pg.escapeLiteral(verifier)}`,
      ),
    );
    await expect(login(original)).rejects.toBeInstanceOf(AuthenticationFailedError);
  });

  it('can create a database through the original when the original has CREATEDB, and the original owns it', async () => {
    const user = await appUser(server);
    expect(await rotate(user.secretArn)).toMatchObject({ ok: true });
    await postgres.withAdmin((c) =>
      c.query(`ALTER ROLE ${c.escapeIdentifier(user.username)} CREATEDB`),
    );
    const database = `db_${randomBytes(3).toString('hex')}`;
    await withLogin(await read(user.secretArn), (s) => s.execute(`CREATE DATABASE ${database}`));
    const owner = await postgres.withAdmin(
      async (c) =>
        (
          await c.query<{ owner: string }>(
            'SELECT pg_get_userbyid(datdba)::text AS owner FROM pg_database WHERE datname = $1',
            [database],
          )
        ).rows[0]?.owner,
    );
    expect(owner).toBe(user.username);
  });
});

describe('a clone another role manager can administer, on PostgreSQL', () => {
  it('refuses a marked clone that another CREATEROLE role created (and so can set its password), and grants it nothing', async () => {
    const user = await appUser(servers[0] as Server);
    // Another role manager, with no right on the user: it creates the
    // clone's name, and writes the mark (it has ADMIN OPTION on what it creates).
    const manager = `mgr_${randomBytes(4).toString('hex')}`;
    const managerPassword = randomBytes(18).toString('base64url');
    watch.secret(managerPassword);
    await postgres.createUser(manager, createScramVerifier(managerPassword, { iterations: COST }), {
      createRole: true,
    });
    const theirs = randomBytes(12).toString('hex');
    watch.secret(theirs);
    const c = await postgres.connect(manager, managerPassword);
    try {
      const clone = c.escapeIdentifier(user.clone);
      const [row] = (
        await c.query<{ oid: string }>(
          'SELECT oid::int8::text AS oid FROM pg_roles WHERE rolname = $1',
          [user.username],
        )
      ).rows;
      await c.query(`CREATE ROLE ${clone} LOGIN PASSWORD ${c.escapeLiteral(theirs)}`);
      await c.query(
        `COMMENT ON ROLE ${clone} IS ${c.escapeLiteral(cloneMarkText(user.username, row?.oid ?? ''))}`,
      );
    } finally {
      await c.end();
    }
    const before = await storedHashes(user.clone, user.username);
    const outcome = await rotate(user.secretArn);
    expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
    // Nothing changed: no membership the manager could use, no password.
    expect(await isMember(user.clone, user.username)).toBe(false);
    expect(outcome.errorMessage).toMatch(
      new RegExp(
        `^Clone refused: ${user.clone}, the clone of ${user.username}, .*\\(${manager}\\)`,
      ),
    );
    expect(await storedHashes(user.clone, user.username)).toEqual(before);
  });
});

describe('a clone whose original was dropped and created again, on PostgreSQL', () => {
  it('refuses the clone: its mark names the old original by oid, and nothing changes', async () => {
    const user = await appUser(servers[0] as Server);
    const lambda = rotationFunction();
    expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
    // A new role of the original's name: same name, another oid, same grants to the admin.
    const password = randomBytes(18).toString('base64url');
    watch.secret(password);
    await postgres.withAdmin(async (c) => {
      const role = c.escapeIdentifier(user.username);
      await c.query(`DROP OWNED BY ${role}`);
      await c.query(`DROP ROLE ${role}`);
      await c.query(
        `CREATE ROLE ${role} LOGIN PASSWORD ${c.escapeLiteral(createScramVerifier(password, { iterations: COST }))}`,
      );
      await c.query(`GRANT ${role} TO ${ADMIN} WITH ADMIN OPTION`);
    });
    const before = await storedHashes(user.clone, user.username);
    const outcome = await rotate(user.secretArn, lambda);
    expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
    expect(outcome.errorMessage).toMatch(
      new RegExp(
        `^Clone refused: ${user.clone}, the clone of ${user.username}, is not proven to be the clone this function created`,
      ),
    );
    expect(await storedHashes(user.clone, user.username)).toEqual(before);
    expect(await isMember(user.clone, user.username)).toBe(false);
  });
});

describe('per-role settings a session cannot override, on PostgreSQL', () => {
  it('refuses to clear a log_statement an operator put on the clone alone, and changes nothing', async () => {
    const user = await appUser(servers[0] as Server);
    const lambda = rotationFunction();
    expect(await rotate(user.secretArn, lambda)).toMatchObject({ ok: true });
    // The operator audits the clone's sessions only.
    await postgres.withAdmin((c) =>
      c.query(`ALTER ROLE ${c.escapeIdentifier(user.clone)} SET log_statement = 'all'`),
    );
    const before = await storedHashes(user.clone, user.username);
    const outcome = await rotate(user.secretArn, lambda);
    expect(outcome).toMatchObject({ ok: false, failedStep: 'setSecret' });
    expect(await storedHashes(user.clone, user.username)).toEqual(before);
    expect(outcome.errorMessage).toMatch(
      new RegExp(
        `^Clone refused: ${user.clone}, the clone of ${user.username}, has per-role settings a session cannot override .*\\(log_statement\\); nothing was changed\\.`,
      ),
    );
    const config = await postgres.withAdmin(async (c) =>
      (
        await c.query<{ config: string[] }>(
          `SELECT s.setconfig AS config FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
            WHERE r.rolname = $1 AND s.setdatabase = 0`,
          [user.clone],
        )
      ).rows.flatMap((r) => r.config),
    );
    expect(config).toContain('log_statement=all');
  });
});

describe('across the alternating suite', () => {
  it('printed no password or verifier in any log line or error message', () => {
    for (const invocation of endpoint.invocations) watch.text(invocation.errorMessage ?? '');
    expect(watch.counts.secrets).toBeGreaterThan(10);
    expect(watch.leaks()).toEqual([]);
  });
});
