/**
 * Where the CockroachDB double follows CockroachDB and not the PostgreSQL
 * behind it, against a real local PostgreSQL: table privileges
 * (local/cockroach/tables.ts), the redaction of SHOW [ALL] CLUSTER
 * SETTINGS and crdb_internal.cluster_settings, and the SQLSTATEs of
 * setting and password refusals. Each test names the CockroachDB source
 * file (github.com/cockroachdb/cockroach) or documented behaviour it
 * follows.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createScramVerifier } from '../../../lambda/core/scram.js';
import { SETTINGS } from '../../../local/cockroach/behaviours.js';
import { type CockroachDouble, startCockroachDouble } from '../../../local/cockroach/double.js';
import { type LocalPostgres, startPostgres } from '../../../local/postgres.js';
import {
  asDoubleUser,
  CLUSTER_COST,
  resetClusterSettings,
  statementFailure,
} from '../../fixtures/cockroach.js';

/** A stored verifier at the cluster's cost, for a random password. */
const verifier = (secret: string) => createScramVerifier(secret, { iterations: CLUSTER_COST });
const password = () => randomBytes(18).toString('base64url');
const unique = (prefix: string) => `${prefix}_${randomBytes(3).toString('hex')}`;

let postgres: LocalPostgres;
let crdb: CockroachDouble;
const secrets = {
  owner: password(),
  grantee: password(),
  reader: password(),
  viewer: password(),
  root: password(),
};
type User = keyof typeof secrets;

beforeAll(async () => {
  postgres = await startPostgres();
  crdb = await startCockroachDouble({
    postgres,
    systemPrivileges: { viewer: ['VIEWCLUSTERSETTING'] },
  });
  for (const user of ['owner', 'grantee', 'reader', 'viewer'] as const) {
    await postgres.createUser(user, verifier(secrets[user]));
  }
  await postgres.createUser('crdb_root', verifier(secrets.root));
  await postgres.withAdmin((c) => c.query('GRANT admin TO crdb_root'));
  const superuser = await postgres.connect(
    postgres.admin.user,
    postgres.admin.password,
    crdb.database,
  );
  await superuser.query('GRANT CREATE ON SCHEMA public TO owner').finally(() => superuser.end());
});

afterAll(async () => {
  await crdb?.stop();
  await postgres?.stop();
});

afterEach(() => resetClusterSettings(crdb));

const login = (user: User) => (user === 'root' ? 'crdb_root' : user);

function as<T>(user: User, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return asDoubleUser(crdb, login(user), secrets[user], fn);
}

function failure(user: User, sql: string): Promise<{ code: string; message: string } | undefined> {
  return statementFailure(crdb, login(user), secrets[user], sql);
}

async function tableExists(name: string): Promise<boolean> {
  return as('root', async (c) => {
    const { rows } = await c.query<{ found: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS found',
      [name],
    );
    return rows[0]?.found === true;
  });
}

/** A table's columns, read by the PostgreSQL superuser in the double's database. */
async function columns(name: string): Promise<string[]> {
  const c = await postgres.connect(postgres.admin.user, postgres.admin.password, crdb.database);
  try {
    const { rows } = await c.query<{ attname: string }>(
      'SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 ORDER BY attnum',
      [name],
    );
    return rows.map((r) => r.attname);
  } finally {
    await c.end();
  }
}

describe("ALL on a table: CockroachDB's TablePrivileges include DROP and CREATE (pkg/sql/privilege/privilege.go)", () => {
  it('lets a non-owner granted ALL drop the table (pkg/sql/drop_table.go: DROP on table, not ownership)', async () => {
    const table = unique('t');
    await as('owner', async (c) => {
      await c.query(`CREATE TABLE ${table} (id int)`);
      await c.query(`GRANT ALL ON TABLE ${table} TO grantee`);
    });
    expect(await failure('grantee', `DROP TABLE ${table}`)).toBeUndefined();
    expect(await tableExists(table)).toBe(false);
  });

  it('lets a non-owner granted ALL alter the table (pkg/sql/alter_table.go: CREATE on table)', async () => {
    const table = unique('t');
    await as('owner', async (c) => {
      await c.query(`CREATE TABLE ${table} (id int)`);
      await c.query(`GRANT ALL ON ${table} TO grantee`);
    });
    expect(await failure('grantee', `ALTER TABLE ${table} ADD COLUMN note text`)).toBeUndefined();
    expect(await columns(table)).toEqual(['id', 'note']);
  });

  it('refuses DROP and ALTER to a role with SELECT only, with the error of the ALTER DEFAULT PRIVILEGES docs ("user max does not have DROP privilege on relation albums", 42501)', async () => {
    const table = unique('t');
    await as('owner', async (c) => {
      await c.query(`CREATE TABLE ${table} (id int)`);
      await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE ${table} TO reader`);
    });
    expect(await failure('reader', `DROP TABLE ${table}`)).toEqual({
      code: '42501',
      message: `user reader does not have DROP privilege on relation ${table}`,
    });
    expect(await failure('reader', `ALTER TABLE ${table} ADD COLUMN note text`)).toEqual({
      code: '42501',
      message: `user reader does not have CREATE privilege on relation ${table}`,
    });
    expect(await tableExists(table)).toBe(true);
    expect(await columns(table)).toEqual(['id']);
  });

  it("gives the same to ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES, alternating mode's statement: the grantee drops and alters what the creator makes next", async () => {
    const [altered, dropped] = [unique('t'), unique('t')];
    await as('owner', async (c) => {
      await c.query('ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO grantee WITH GRANT OPTION');
      await c.query(`CREATE TABLE ${altered} (id int)`);
      await c.query(`CREATE TABLE ${dropped} (id int)`);
    });
    await as('grantee', async (c) => {
      await c.query(`ALTER TABLE IF EXISTS ${altered} ADD COLUMN note text`);
      await c.query(`DROP TABLE IF EXISTS public.${dropped} RESTRICT`);
      // IF EXISTS on a table that is gone is a no-op, as on CockroachDB.
      await c.query(`DROP TABLE IF EXISTS ${dropped}`);
    });
    expect(await columns(altered)).toEqual(['id', 'note']);
    expect(await tableExists(dropped)).toBe(false);
    expect(await failure('grantee', `DROP TABLE ${dropped}`)).toEqual({
      code: '42P01',
      message: `relation "${dropped}" does not exist`,
    });
  });

  it('keeps the owner and admins able to drop and alter', async () => {
    const [mine, theirs] = [unique('t'), unique('t')];
    await as('owner', async (c) => {
      await c.query(`CREATE TABLE ${mine} (id int)`);
      await c.query(`CREATE TABLE ${theirs} (id int)`);
      await c.query(`ALTER TABLE ${mine} ADD COLUMN note text`);
      await c.query(`DROP TABLE ${mine}`);
    });
    expect(await failure('root', `DROP TABLE ${theirs}`)).toBeUndefined();
    expect(await tableExists(mine)).toBe(false);
    expect(await tableExists(theirs)).toBe(false);
  });
});

describe('redaction of every settings listing (pkg/settings/masked.go; pkg/sql/crdb_internal.go, cluster_settings via LookupForDisplay)', () => {
  const rules = 'host all all all cert-password';

  async function listings(user: User): Promise<Record<string, unknown>> {
    return as(user, async (c) => {
      const pick = (rows: { variable: string; value: string }[]) =>
        rows.find((r) => r.variable === SETTINGS.hba)?.value;
      const all = await c.query('SHOW ALL CLUSTER SETTINGS');
      const some = await c.query('SHOW CLUSTER SETTINGS');
      const table = await c.query<{ value: string }>(
        'SELECT value FROM crdb_internal.cluster_settings WHERE variable = $1',
        [SETTINGS.hba],
      );
      const one = await c.query(`SHOW CLUSTER SETTING ${SETTINGS.hba}`);
      return {
        'SHOW ALL CLUSTER SETTINGS': pick(all.rows),
        'SHOW CLUSTER SETTINGS': pick(some.rows),
        'crdb_internal.cluster_settings': table.rows[0]?.value,
        'SHOW CLUSTER SETTING': one.rows[0]?.[SETTINGS.hba],
      };
    });
  }

  const every = (value: string) => ({
    'SHOW ALL CLUSTER SETTINGS': value,
    'SHOW CLUSTER SETTINGS': value,
    'crdb_internal.cluster_settings': value,
    'SHOW CLUSTER SETTING': value,
  });

  it('masks the HBA setting as <redacted> in all four to VIEWCLUSTERSETTING while server.redact_sensitive_settings.enabled is on', async () => {
    crdb.settings.set(SETTINGS.hba, rules);
    expect(await listings('viewer')).toEqual(every(rules));
    crdb.settings.set(SETTINGS.redactSensitive, true);
    expect(await listings('viewer')).toEqual(every('<redacted>'));
  });

  it('shows the value to an admin, and an empty value as empty to everyone (MaskedSetting.String)', async () => {
    crdb.settings.set(SETTINGS.redactSensitive, true);
    crdb.settings.set(SETTINGS.hba, rules);
    expect(await listings('root')).toEqual(every(rules));
    crdb.settings.set(SETTINGS.hba, '');
    expect(await listings('viewer')).toEqual(every(''));
  });

  it('leaves settings that are not sensitive readable', async () => {
    crdb.settings.set(SETTINGS.redactSensitive, true);
    const value = await as('viewer', async (c) => {
      const { rows } = await c.query<{ variable: string; value: string }>(
        'SHOW ALL CLUSTER SETTINGS',
      );
      return rows.find((r) => r.variable === SETTINGS.scramCost)?.value;
    });
    expect(value).toBe(String(CLUSTER_COST));
  });
});

describe('SQLSTATEs of refusals that carry no pgcode: pgcode.Uncategorized, XXUUU (pkg/sql/pgwire/pgcode)', () => {
  it('answers an out-of-range or negative setting and an unknown enum value with XXUUU (pkg/settings/int.go IntInRange and NonNegativeInt, ParseEnum, passed on by toSettingString in pkg/sql/set_cluster_setting.go)', async () => {
    expect(await failure('root', `SET CLUSTER SETTING ${SETTINGS.scramCost} = 4095`)).toEqual({
      code: 'XXUUU',
      message: 'expected value in range [4096, 240000000000], got: 4095',
    });
    expect(await failure('root', `SET CLUSTER SETTING ${SETTINGS.minPasswordLength} = -1`)).toEqual(
      {
        code: 'XXUUU',
        message: 'cannot be set to a negative value: -1',
      },
    );
    // ParseEnum's refusal, also without a pgcode.
    expect(
      await failure('root', `SET CLUSTER SETTING ${SETTINGS.passwordEncryption} = 'nope'`),
    ).toEqual({ code: 'XXUUU', message: "invalid string value 'nope' for enum setting" });
    expect(crdb.settings.get(SETTINGS.scramCost)).toBe(CLUSTER_COST);
    expect(crdb.settings.get(SETTINGS.passwordEncryption)).toBe('scram-sha-256');
  });

  it('answers a cleartext password shorter than server.user_login.min_password_length with XXUUU (security.ErrPasswordTooShort, errors.New in pkg/security/password.go, hinted by checkPasswordAndGetHash)', async () => {
    crdb.settings.set(SETTINGS.minPasswordLength, 64);
    const refused = await as('root', (c) =>
      c.query(`ALTER USER reader WITH PASSWORD ${c.escapeLiteral('short cleartext')}`).then(
        () => undefined,
        (error: { code: string; message: string; hint: string }) => ({
          code: error.code,
          message: error.message,
          hint: error.hint,
        }),
      ),
    );
    expect(refused).toEqual({
      code: 'XXUUU',
      message: 'password too short',
      hint: 'Passwords must be 64 characters or longer.',
    });
    // The refusal changed nothing: the old password still logs in.
    const client = await crdb.connect('reader', secrets.reader);
    await client.end();
  });
});
