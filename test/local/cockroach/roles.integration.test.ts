/**
 * The role statements the CockroachDB double answers by CockroachDB's rules
 * (local/cockroach/roles.ts), against a real local PostgreSQL. Each test
 * names the CockroachDB source file whose behaviour it checks.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScramVerifier } from '../../../lambda/core/scram.js';
import { type CockroachDouble, startCockroachDouble } from '../../../local/cockroach/double.js';
import { type LocalPostgres, startPostgres } from '../../../local/postgres.js';

const COST = 10610;
const password = () => randomBytes(18).toString('base64url');
const verifier = (secret: string) => createScramVerifier(secret, { iterations: COST });
const unique = (prefix: string) => `${prefix}_${randomBytes(3).toString('hex')}`;

let postgres: LocalPostgres;
let crdb: CockroachDouble;
const secrets = { rotator: password(), creator: password(), root: password(), app: password() };

beforeAll(async () => {
  postgres = await startPostgres();
  crdb = await startCockroachDouble({
    postgres,
    systemPrivileges: { rotator: ['CREATELOGIN', 'VIEWCLUSTERSETTING'] },
  });
  await postgres.createUser('rotator', verifier(secrets.rotator), { createRole: true });
  // CREATEROLE without CREATELOGIN.
  await postgres.createUser('creator', verifier(secrets.creator), { createRole: true });
  await postgres.createUser('crdb_root', verifier(secrets.root));
  await postgres.createUser('app', verifier(secrets.app));
  await postgres.withAdmin((c) => c.query('GRANT admin TO crdb_root'));
});

afterAll(async () => {
  await crdb?.stop();
  await postgres?.stop();
});

async function as<T>(user: keyof typeof secrets, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await crdb.connect(user === 'root' ? 'crdb_root' : user, secrets[user]);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The SQLSTATE and message a statement fails with, or `undefined` when it succeeds. */
async function failure(
  user: keyof typeof secrets,
  sql: string,
  values: unknown[] = [],
): Promise<{ code: string; message: string } | undefined> {
  return as(user, (c) =>
    c.query(sql, values).then(
      () => undefined,
      (error: { code: string; message: string }) => ({
        code: error.code,
        message: error.message,
      }),
    ),
  );
}

/** Creates a role as the PostgreSQL superuser (not through the double). */
async function createRole(name: string, login = false): Promise<void> {
  await postgres.withAdmin((c) =>
    c.query(`CREATE ROLE ${c.escapeIdentifier(name)} ${login ? 'LOGIN' : 'NOLOGIN'}`),
  );
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

describe('a role default (pkg/sql/alter_role.go, processSetOrResetClause)', () => {
  it.each([
    'ALTER ROLE app SET role = rotator',
    "ALTER USER app SET role TO 'rotator'",
    'ALTER ROLE app IN DATABASE defaultdb SET role = rotator',
    'ALTER ROLE ALL SET role = rotator',
  ])('refuses %s with 55P02, even for an admin', async (sql) => {
    expect(await failure('root', sql)).toEqual({
      code: '55P02',
      message: 'parameter "role" cannot be changed',
    });
  });

  it.each([
    'ALTER ROLE <r> RESET role',
    'ALTER ROLE <r> SET role = DEFAULT',
    'ALTER ROLE <r> IN DATABASE defaultdb RESET role',
  ])('accepts %s: CockroachDB does not validate the name of a RESET', async (sql) => {
    const role = unique('r');
    await as('rotator', (c) => c.query(`CREATE ROLE ${role} NOLOGIN`));
    expect(await failure('rotator', sql.replace('<r>', role))).toBeUndefined();
  });

  it('still lets other per-role defaults through to PostgreSQL', async () => {
    const role = unique('d');
    await as('rotator', (c) => c.query(`CREATE ROLE ${role} NOLOGIN`));
    expect(
      await failure('rotator', `ALTER ROLE ${role} SET statement_timeout = '10s'`),
    ).toBeUndefined();
  });
});

describe("a login role's session defaults (CockroachDB docs, ALTER ROLE: session variable precedence)", () => {
  it("applies them when the role's session starts, its per-database default over its own over ALTER ROLE ALL's", async () => {
    const role = unique('s');
    const secret = password();
    await postgres.createUser(role, verifier(secret));
    await postgres.withAdmin(async (c) => {
      await c.query(`ALTER ROLE ${role} SET lock_timeout = '1111ms'`);
      await c.query(`ALTER ROLE ${role} SET idle_in_transaction_session_timeout = '2222ms'`);
      await c.query(
        `ALTER ROLE ${role} IN DATABASE ${c.escapeIdentifier(crdb.database)} SET idle_in_transaction_session_timeout = '3333ms'`,
      );
      await c.query('ALTER ROLE ALL SET lock_timeout = 7777');
    });
    try {
      const client = await crdb.connect(role, secret);
      try {
        const { rows } = await client.query<{ lock: string; idle: string; user: string }>(
          "SELECT current_setting('lock_timeout') AS lock, current_setting('idle_in_transaction_session_timeout') AS idle, session_user AS user",
        );
        expect(rows).toEqual([{ lock: '1111ms', idle: '3333ms', user: role }]);
      } finally {
        await client.end();
      }
    } finally {
      await postgres.withAdmin((c) => c.query('ALTER ROLE ALL RESET lock_timeout'));
    }
  });
});

describe('CONNECTION LIMIT (pkg/sql/parser/sql.y: not a role option)', () => {
  it.each([
    'ALTER ROLE app WITH CONNECTION LIMIT 5',
    'ALTER ROLE app LOGIN CONNECTION LIMIT 5 VALID UNTIL NULL',
    'CREATE ROLE limited CONNECTION LIMIT 5',
  ])('is a syntax error: %s', async (sql) => {
    expect(await failure('root', sql)).toEqual({
      code: '42601',
      message: 'at or near "connection": syntax error',
    });
  });
});

describe('CREATE USER (pkg/sql/create_role.go)', () => {
  it('needs CREATEROLE', async () => {
    expect(await failure('app', `CREATE ROLE ${unique('r')}`)).toEqual({
      code: '42501',
      message: 'user app does not have CREATEROLE privilege',
    });
  });

  it('needs CREATELOGIN too for a user (LOGIN by default) or a password', async () => {
    const name = unique('u');
    expect(await failure('creator', `CREATE USER ${name}`)).toEqual({
      code: '42501',
      message: 'user creator does not have CREATELOGIN privilege',
    });
    expect(
      await failure('creator', `CREATE ROLE ${name} WITH PASSWORD '${verifier(password())}'`),
    ).toMatchObject({ message: 'user creator does not have CREATELOGIN privilege' });
    expect(await failure('creator', `CREATE ROLE ${name} NOLOGIN`)).toBeUndefined();
    expect(
      await failure('rotator', `CREATE USER ${unique('u')} WITH LOGIN PASSWORD '${verifier('x')}'`),
    ).toBeUndefined();
  });
});

describe('GRANT <role> TO <member> (pkg/sql/grant_role.go)', () => {
  it('lets CREATEROLE alone grant any role but admin since v23.2 (PR #104376)', async () => {
    const [group, member] = [unique('g'), unique('m')];
    await createRole(group);
    await createRole(member);
    expect(await failure('rotator', `GRANT ${group} TO ${member}`)).toBeUndefined();
    expect(await isMember(member, group)).toBe(true);
    expect(await failure('rotator', `GRANT admin TO ${member}`)).toEqual({
      code: '42501',
      message: 'rotator is not a role admin for role admin',
    });
    expect(await failure('app', `GRANT ${group} TO ${member}`)).toEqual({
      code: '42501',
      message: `app is not a superuser or role admin for role ${group}`,
    });
  });

  it('lets CREATEROLE grant on v23.1 only with sql.auth.createrole_allows_grant_role_membership.enabled, and not before v23.1', async () => {
    const older = async (version: string) =>
      startCockroachDouble({
        postgres,
        version: `CockroachDB CCL ${version} (x86_64-pc-linux-gnu, built 2023/09/27 01:53:43, go1.19.10)`,
        systemPrivileges: { rotator: ['CREATELOGIN'] },
      });
    const grant = async (on: CockroachDouble, group: string, member: string) => {
      const client = await on.connect('rotator', secrets.rotator);
      try {
        return await client.query(`GRANT ${group} TO ${member}`).then(
          () => undefined,
          (error: { code: string }) => error.code,
        );
      } finally {
        await client.end();
      }
    };
    const [v231, v222] = [await older('v23.1.11'), await older('v22.2.19')];
    try {
      const [group, member] = [unique('g'), unique('m')];
      await createRole(group);
      await createRole(member);
      expect(await grant(v231, group, member)).toBe('42501');
      v231.settings.set('sql.auth.createrole_allows_grant_role_membership.enabled', true);
      expect(await grant(v231, group, member)).toBeUndefined();
      expect(await isMember(member, group)).toBe(true);

      // Before v23.1: ADMIN OPTION is needed, and PostgreSQL 16+'s automatic
      // ADMIN OPTION for the role a creator made does not count.
      const [made, other] = [unique('g'), unique('m')];
      const client = await v222.connect('rotator', secrets.rotator);
      await client.query(`CREATE ROLE ${made} NOLOGIN`).finally(() => client.end());
      await createRole(other);
      expect(await grant(v222, made, other)).toBe('42501');
      v222.settings.set('sql.auth.createrole_allows_grant_role_membership.enabled', true);
      expect(await grant(v222, made, other)).toBe('42501');
    } finally {
      await v231.stop();
      await v222.stop();
    }
  });

  it('is allowed with ADMIN OPTION held directly or through another role, and grants silently again', async () => {
    const [group, middle, member] = [unique('g'), unique('mid'), unique('m')];
    await createRole(group);
    await createRole(middle);
    await createRole(member);
    await postgres.withAdmin(async (c) => {
      await c.query(`GRANT ${group} TO ${middle} WITH ADMIN OPTION`);
      await c.query(`GRANT ${middle} TO app`);
    });
    expect(await failure('app', `GRANT ${group} TO ${member}`)).toBeUndefined();
    expect(await isMember(member, group)).toBe(true);
    expect(await failure('app', `GRANT ${group} TO ${member}`)).toBeUndefined();
  });

  it('refuses a cycle and a role of its own, with 0LP01', async () => {
    const [a, b] = [unique('a'), unique('b')];
    await createRole(a);
    await createRole(b);
    expect(await failure('root', `GRANT ${a} TO ${b}`)).toBeUndefined();
    expect(await failure('root', `GRANT ${b} TO ${a}`)).toEqual({
      code: '0LP01',
      message: `making ${a} a member of ${b} would create a cycle`,
    });
    expect(await failure('root', `GRANT ${a} TO ${a}`)).toEqual({
      code: '0LP01',
      message: `${a} cannot be a member of itself`,
    });
  });

  it('knows only WITH ADMIN OPTION: INHERIT and SET are syntax errors', async () => {
    const [a, b] = [unique('a'), unique('b')];
    await createRole(a);
    await createRole(b);
    expect(await failure('root', `GRANT ${a} TO ${b} WITH INHERIT TRUE, SET TRUE`)).toEqual({
      code: '42601',
      message: 'at or near "inherit": syntax error',
    });
    expect(await failure('root', `GRANT ${a} TO ${b} WITH ADMIN OPTION`)).toBeUndefined();
  });

  it('refuses an unknown role with 42704', async () => {
    expect(await failure('root', 'GRANT no_such_role TO app')).toEqual({
      code: '42704',
      message: 'role/user "no_such_role" does not exist',
    });
  });
});

describe('ALTER ROLE ... LOGIN / VALID UNTIL (pkg/sql/alter_role.go)', () => {
  const validUntil = async (role: string) =>
    postgres.withAdmin(async (c) => {
      const result = await c.query<{ v: string | null }>(
        'SELECT rolvaliduntil::text AS v FROM pg_roles WHERE rolname = $1',
        [role],
      );
      return result.rows[0]?.v;
    });

  it('needs CREATEROLE and CREATELOGIN, and sets and clears VALID UNTIL', async () => {
    const role = unique('v');
    await createRole(role, true);
    expect(await failure('creator', `ALTER ROLE ${role} VALID UNTIL '2031-01-01'`)).toEqual({
      code: '42501',
      message: 'user creator does not have CREATELOGIN privilege',
    });
    expect(
      await failure(
        'rotator',
        `ALTER ROLE ${role} WITH LOGIN VALID UNTIL '2031-01-01 00:00:00+00'`,
      ),
    ).toBeUndefined();
    expect(await validUntil(role)).toBe('2031-01-01 00:00:00+00');
    // CockroachDB's NULL is PostgreSQL's infinity (the double's limit).
    expect(await failure('rotator', `ALTER ROLE ${role} VALID UNTIL NULL`)).toBeUndefined();
    expect(await validUntil(role)).toBe('infinity');
  });

  it('refuses the admin role, and an admin to a non-admin', async () => {
    expect(await failure('root', 'ALTER ROLE admin VALID UNTIL NULL')).toEqual({
      code: '42501',
      message: 'cannot edit admin role',
    });
    expect(await failure('rotator', 'ALTER ROLE crdb_root NOLOGIN')).toEqual({
      code: '42501',
      message: 'only users with the admin role are allowed to alter another admin',
    });
  });
});

describe('ALTER DEFAULT PRIVILEGES (pkg/sql/alter_default_privileges.go)', () => {
  it('is refused FOR ROLE another role unless a member of it, even to an admin', async () => {
    expect(
      await failure('root', 'ALTER DEFAULT PRIVILEGES FOR ROLE app GRANT ALL ON TABLES TO rotator'),
    ).toEqual({ code: '42501', message: 'must be a member of app' });
    expect(
      await failure('app', 'ALTER DEFAULT PRIVILEGES FOR ALL ROLES GRANT ALL ON TABLES TO app'),
    ).toMatchObject({ code: '42501' });
  });

  it('accepts TABLES, SEQUENCES, TYPES, SCHEMAS and FUNCTIONS as targets, and records each', async () => {
    const kinds = {
      TABLES: 'r',
      SEQUENCES: 'S',
      TYPES: 'T',
      SCHEMAS: 'n',
      FUNCTIONS: 'f',
    } as const;
    await as('app', async (c) => {
      for (const target of Object.keys(kinds)) {
        await c.query(`ALTER DEFAULT PRIVILEGES GRANT ALL ON ${target} TO rotator`);
      }
    });
    // Default privileges are per database: read them in the double's.
    const c = await postgres.connect(postgres.admin.user, postgres.admin.password, crdb.database);
    const result = await c
      .query<{ kind: string }>(
        `SELECT defaclobjtype::text AS kind FROM pg_default_acl d
          JOIN pg_roles r ON r.oid = d.defaclrole WHERE r.rolname = 'app'`,
      )
      .finally(() => c.end());
    const recorded = result.rows.map((row) => row.kind);
    expect(recorded).toEqual(expect.arrayContaining(Object.values(kinds)));
  });

  it('for oneself: what the role then creates is usable by the grantee, who does not own it', async () => {
    const table = unique('t');
    const superuser = await postgres.connect(
      postgres.admin.user,
      postgres.admin.password,
      crdb.database,
    );
    await superuser.query('GRANT CREATE ON SCHEMA public TO app').finally(() => superuser.end());
    await as('app', async (c) => {
      await c.query('ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO rotator WITH GRANT OPTION');
      await c.query(`CREATE TABLE ${table} (id int)`);
    });
    await as('rotator', async (c) => {
      await c.query(`INSERT INTO ${table} VALUES (1)`);
      const owner = await c.query<{ owner: string }>(
        'SELECT tableowner AS owner FROM pg_tables WHERE tablename = $1',
        [table],
      );
      expect(owner.rows[0]?.owner).toBe('app');
    });
  });
});
