import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  ADMIN_SERVER_FIELDS,
  adminLogin,
  assertSameServer,
  assertSameTarget,
  connectionIdentity,
  type DatabaseSecret,
  differingFields,
  foldRoleName,
  MAX_IDENTIFIER_BYTES,
  parseAdminSecret,
  parseDatabaseSecret,
  withPassword,
} from '../../../lambda/core/secret.js';
import {
  MalformedSecretError,
  PasswordPolicyError,
  SecretMismatchError,
} from '../../../lambda/errors.js';

const PASSWORD = 'Zq8!distinctive-password-value';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

const base = {
  engine: 'postgres',
  host: 'db.example.com',
  username: 'app_user',
  password: PASSWORD,
};

const parse = (value: unknown, label = 'AWSCURRENT') =>
  parseDatabaseSecret(typeof value === 'string' ? value : JSON.stringify(value), { label });

function malformed(value: unknown): MalformedSecretError {
  try {
    parse(value);
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedSecretError);
    const err = error as MalformedSecretError;
    expect(err.message).toMatch(/^Malformed secret: AWSCURRENT/);
    expect(err.message).not.toContain(PASSWORD);
    expect(err.cause).toBeUndefined();
    return err;
  }
  return expect.fail('expected a MalformedSecretError');
}

describe('parseDatabaseSecret', () => {
  it('reads a PostgreSQL secret with the engine defaults for port and dbname', () => {
    const secret = parse(base);
    expect(secret).toMatchObject({
      engine: 'postgres',
      host: 'db.example.com',
      port: 5432,
      dbname: 'postgres',
      username: 'app_user',
      password: PASSWORD,
    });
    expect(secret.masterarn).toBeUndefined();
    expect(secret.ca).toBeUndefined();
    expect(secret.options).toBeUndefined();
  });

  it('uses the same defaults for aurora-postgresql', () => {
    expect(parse({ ...base, engine: 'aurora-postgresql' })).toMatchObject({
      port: 5432,
      dbname: 'postgres',
    });
  });

  it('uses port 26257 and database defaultdb for cockroachdb', () => {
    expect(parse({ ...base, engine: 'cockroachdb' })).toMatchObject({
      port: 26257,
      dbname: 'defaultdb',
    });
  });

  it('reads every optional key', () => {
    const secret = parse({
      ...base,
      engine: 'cockroachdb',
      port: 26258,
      dbname: 'bank',
      masterarn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:admin-AbCdEf',
      ca: PEM,
      options: '--cluster=blue-cat-123',
    });
    expect(secret).toMatchObject({
      port: 26258,
      dbname: 'bank',
      masterarn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:admin-AbCdEf',
      ca: PEM,
      options: '--cluster=blue-cat-123',
    });
  });

  it('accepts the port as a numeric string, as some AWS secrets store it', () => {
    expect(parse({ ...base, port: '5433' }).port).toBe(5433);
  });

  it('treats null optional keys as absent', () => {
    const secret = parse({ ...base, port: null, dbname: null, masterarn: null, ca: null });
    expect(secret).toMatchObject({ port: 5432, dbname: 'postgres' });
    expect(secret.masterarn).toBeUndefined();
    expect(secret.ca).toBeUndefined();
  });

  it('keeps unknown keys in raw, exactly as stored', () => {
    const stored = { ...base, dbInstanceIdentifier: 'prod-1', nested: { a: [1, 'two', null] } };
    expect(parse(stored).raw).toEqual(stored);
  });

  it('refuses a string that is not JSON, without quoting any of it', () => {
    const error = malformed(`{"password": "${PASSWORD}",}`);
    expect(error.key).toBe('$');
    expect(error.message).toBe(
      'Malformed secret: AWSCURRENT: the secret string is not valid JSON; store a JSON object with engine, host, username and password',
    );
  });

  it.each([
    ['an array', [base]],
    ['null', null],
    ['a string', PASSWORD],
  ])('refuses JSON that is %s rather than an object', (_, value) => {
    const error = malformed(JSON.stringify(value));
    expect(error.key).toBe('$');
    expect(error.message).toContain('must be a JSON object');
  });

  it.each(['engine', 'host', 'username', 'password'])(
    'refuses a secret without %s, naming the key',
    (key) => {
      const error = malformed({ ...base, [key]: undefined });
      expect(error.key).toBe(key);
      expect(error.message).toMatch(
        new RegExp(`^Malformed secret: AWSCURRENT, key ${key}: is missing; set it to `),
      );
    },
  );

  it('points out a key that differs only in case', () => {
    const { password: _, ...rest } = base;
    const error = malformed({ ...rest, Password: PASSWORD });
    expect(error.key).toBe('password');
    expect(error.message).toContain('keys are case-sensitive; found Password');
  });

  it.each([
    ['engine', 'mysql-distinct'],
    ['host', 'db example com'],
    ['host', ''],
    ['username', ''],
    ['password', ''],
    ['password', 1234567],
    ['port', 0],
    ['port', 65536],
    ['port', 5432.5],
    ['port', '54a2'],
    ['port', ''],
    ['port', '123456'],
    ['dbname', ''],
    ['ca', 'not a certificate'],
    ['options', 42],
  ])('refuses an invalid %s, naming the key but not the value', (key, value) => {
    const error = malformed({ ...base, [key]: value });
    expect(error.key).toBe(key);
    expect(error.message).toMatch(new RegExp(`key ${key}: is not valid; set it to `));
    if (String(value).length > 3) expect(error.message).not.toContain(String(value));
  });

  it('refuses an integer too large to write back exactly, naming its key', () => {
    const error = malformed(
      `${JSON.stringify(base).slice(0, -1)},"accountId":12345678901234567890}`,
    );
    expect(error.key).toBe('accountId');
  });

  it('uses the label it is given in messages', () => {
    expect(() => parseDatabaseSecret('nope', { label: 'admin secret (masterarn)' })).toThrow(
      /^Malformed secret: admin secret \(masterarn\): /,
    );
  });

  it('keeps the password out of JSON.stringify and util.inspect', () => {
    const secret = parse(base);
    expect(JSON.stringify(secret)).not.toContain(PASSWORD);
    expect(JSON.stringify(secret)).toContain('db.example.com');
    expect(inspect(secret)).not.toContain(PASSWORD);
    expect(secret.password).toBe(PASSWORD);
  });
});

describe('withPassword', () => {
  it('replaces the password and carries every other key over unchanged, in order', () => {
    const stored = {
      dbInstanceIdentifier: 'prod-1',
      ...base,
      port: '5432',
      proxy: true,
      nested: { list: [1, 2.5, 'x', null], deep: { k: 'v' } },
      Password: 'a different key',
    };
    const next = JSON.parse(withPassword(parse(stored).raw, 'new-password-1'));
    expect(next).toEqual({ ...stored, password: 'new-password-1' });
    expect(Object.keys(next)).toEqual(Object.keys(stored));
  });

  it('does not change the record it is given', () => {
    const secret = parse(base);
    withPassword(secret.raw, 'new-password-1');
    expect(secret.raw.password).toBe(PASSWORD);
  });

  it('produces a secret that parses back with the new password', () => {
    const next = parse(withPassword(parse(base).raw, 'new-password-1'), 'AWSPENDING');
    expect(next.password).toBe('new-password-1');
    expect(connectionIdentity(next)).toEqual(connectionIdentity(parse(base)));
  });

  it('refuses an empty password', () => {
    expect(() => withPassword(parse(base).raw, '')).toThrow(PasswordPolicyError);
  });
});

describe('assertSameTarget', () => {
  const current = parse({ ...base, options: '--cluster=a' });
  const pendingWith = (changes: Record<string, unknown>): DatabaseSecret =>
    parse({ ...current.raw, password: 'another-password', ...changes }, 'AWSPENDING');

  it('accepts a pending version that differs only in the password and unknown keys', () => {
    expect(() => assertSameTarget(current, pendingWith({ team: 'payments' }))).not.toThrow();
  });

  it('treats a port given as a string like the same port as a number', () => {
    expect(() => assertSameTarget(current, pendingWith({ port: '5432' }))).not.toThrow();
  });

  it.each([
    ['host', { host: 'evil.example.com' }],
    ['port', { port: 5433 }],
    ['dbname', { dbname: 'other' }],
    ['username', { username: 'someone_else' }],
    ['options', { options: '--cluster=b' }],
    ['ca', { ca: PEM.replace('MIIB', 'MIIC') }],
    ['masterarn', { masterarn: 'arn:aws:secretsmanager:us-east-1:1:secret:other' }],
  ])(
    'refuses a pending version whose %s differs, naming it but not its value',
    (field, changes) => {
      let error: unknown;
      try {
        assertSameTarget(current, pendingWith(changes));
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(SecretMismatchError);
      expect((error as SecretMismatchError).fields).toEqual([field]);
      expect((error as Error).message).toMatch(
        new RegExp(`^Secret mismatch: ${field} differs between AWSCURRENT and AWSPENDING; `),
      );
      for (const value of Object.values(changes)) {
        expect((error as Error).message).not.toContain(String(value));
      }
    },
  );

  it('names every field that differs', () => {
    expect(() =>
      assertSameTarget(current, pendingWith({ host: 'other.example.com', username: 'x' })),
    ).toThrow(/^Secret mismatch: host, username differ between/);
  });

  describe('with the username the rotation changes (alternating mode)', () => {
    it('accepts the clone and nothing else, not even the current user', () => {
      expect(() =>
        assertSameTarget(current, pendingWith({ username: 'app_user_clone' }), 'app_user_clone'),
      ).not.toThrow();
      for (const username of ['app_user', 'someone_else', 'app_user_clone2']) {
        expect(() =>
          assertSameTarget(current, pendingWith({ username }), 'app_user_clone'),
        ).toThrow(
          'Secret mismatch: username differs between AWSCURRENT and AWSPENDING; in alternating mode the pending username must be app_user_clone, the user AWSCURRENT (app_user) does not name',
        );
      }
    });

    it('still refuses any other field that differs', () => {
      expect(() =>
        assertSameTarget(
          current,
          pendingWith({ username: 'app_user_clone', dbname: 'other' }),
          'app_user_clone',
        ),
      ).toThrow(/^Secret mismatch: dbname differs between/);
    });
  });
});

describe('connectionIdentity', () => {
  it('is host, port, dbname, username, options and ca, and nothing else', () => {
    expect(connectionIdentity(parse({ ...base, engine: 'cockroachdb', team: 'x' }))).toEqual({
      host: 'db.example.com',
      port: 26257,
      dbname: 'defaultdb',
      username: 'app_user',
      options: undefined,
      ca: undefined,
    });
  });
});

describe('identifiers the server would alter', () => {
  it.each([
    ['username', 'u'.repeat(MAX_IDENTIFIER_BYTES + 1)],
    ['username', `${'u'.repeat(61)}ée`],
    ['username', 'app\u0000admin'],
    ['username', 'app\nuser'],
    ['dbname', 'd'.repeat(64)],
    ['dbname', 'db\u0000'],
  ])('refuses a %s the server would cut short or end early, naming the limit', (key, name) => {
    const error = malformed({ ...base, [key]: name });
    expect(error.key).toBe(key);
    expect(error.message).toContain('1 to 63 bytes');
    expect(error.message).not.toContain(name);
  });

  it('accepts names of exactly 63 bytes, multi-byte letters counted in bytes', () => {
    expect(parse({ ...base, username: 'u'.repeat(63) }).username).toHaveLength(63);
    expect(parse({ ...base, username: `${'u'.repeat(61)}é` }).username).toHaveLength(62);
  });

  it.each(['App_User', 'app_\u0065\u0301'])(
    'refuses a CockroachDB username that CockroachDB would fold (%j)',
    (username) => {
      const error = malformed({ ...base, engine: 'cockroachdb', username });
      expect(error.key).toBe('username');
      expect(error.message).toContain('lower case and NFC');
    },
  );

  it('keeps PostgreSQL names as written, case included', () => {
    expect(parse({ ...base, username: 'App_User' }).username).toBe('App_User');
  });

  it('folds names the way CockroachDB does: lower case, then NFC', () => {
    expect(foldRoleName('App_User')).toBe('app_user');
    expect(foldRoleName('CAF\u0045\u0301')).toBe('caf\u00e9');
  });
});

describe('comparing the CA', () => {
  const withCa = (ca: string) => parse({ ...base, ca });

  it('treats the same certificates with other line endings and wrapping as the same CA', () => {
    const a = withCa(`${PEM}${PEM.replace('MIIB', 'MIIC')}`);
    const b = withCa(`${PEM}${PEM.replace('MIIB', 'MIIC')}`.replaceAll('\n', '\r\n'));
    expect(differingFields(a, b, ['ca'])).toEqual([]);
  });

  it('tells apart another certificate, another order, and a missing CA', () => {
    const one = withCa(PEM);
    const two = withCa(`${PEM}${PEM.replace('MIIB', 'MIIC')}`);
    const swapped = withCa(`${PEM.replace('MIIB', 'MIIC')}${PEM}`);
    expect(differingFields(one, two, ['ca'])).toEqual(['ca']);
    expect(differingFields(two, swapped, ['ca'])).toEqual(['ca']);
    expect(differingFields(one, parse(base), ['ca'])).toEqual(['ca']);
  });
});

describe('assertSameServer', () => {
  const current = parse({ ...base, port: 5432, dbname: 'app' });

  it('compares only the fields it is given, naming the other secret in the message', () => {
    const admin = parse({ ...base, username: 'rot_admin', dbname: 'app', port: 5432 }, 'admin');
    expect(() =>
      assertSameServer(current, admin, ['host', 'port', 'dbname'], 'admin secret', 'fix it'),
    ).not.toThrow();
    const elsewhere = parse({ ...base, host: 'evil.example.com' }, 'admin');
    let error: unknown;
    try {
      assertSameServer(current, elsewhere, ['host', 'port', 'dbname'], 'admin secret', 'fix it');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SecretMismatchError);
    expect(error).toMatchObject({ fields: ['host', 'dbname'], versus: 'admin secret' });
    expect((error as Error).message).toBe(
      'Secret mismatch: host, dbname differ between AWSCURRENT and admin secret; fix it',
    );
    expect((error as Error).message).not.toContain('evil');
  });
});

describe('parseAdminSecret', () => {
  const ADMIN_PASSWORD = 'Adm1n!distinctive-password-value';
  const admin = (value: unknown) =>
    parseAdminSecret(typeof value === 'string' ? value : JSON.stringify(value), {
      label: 'admin secret (masterarn)',
    });
  const current = parse({ ...base, port: 5433, dbname: 'app', ca: PEM, options: '-c x=1' });

  it('reads an RDS-managed master secret (username and password only), naming no server', () => {
    const secret = admin({ username: 'postgres', password: ADMIN_PASSWORD });
    expect(secret).toMatchObject({ username: 'postgres', password: ADMIN_PASSWORD, named: {} });
  });

  it("reads CDK's generated master secret, ignoring dbInstanceIdentifier and keys it does not know", () => {
    const secret = admin({
      dbname: 'app',
      engine: 'postgres',
      port: 5433,
      dbInstanceIdentifier: 'mydb-abc123',
      host: 'db.example.com',
      username: 'postgres',
      password: ADMIN_PASSWORD,
      somethingNew: { nested: true },
    });
    expect(secret.named).toEqual({
      engine: 'postgres',
      host: 'db.example.com',
      port: 5433,
      dbname: 'app',
    });
  });

  it('logs in to the server AWSCURRENT names for every key the admin secret leaves out', () => {
    const login = adminLogin(current, admin({ username: 'postgres', password: ADMIN_PASSWORD }));
    expect(login).toMatchObject({
      engine: 'postgres',
      host: 'db.example.com',
      port: 5433,
      dbname: 'app',
      username: 'postgres',
      password: ADMIN_PASSWORD,
      ca: PEM,
      options: '-c x=1',
    });
    expect(differingFields(current, login, ADMIN_SERVER_FIELDS)).toEqual([]);
  });

  it('never takes a default for a key it leaves out: no host is never localhost, no port never 5432', () => {
    const login = adminLogin(
      current,
      admin({ host: 'db.example.com', username: 'p', password: 'x' }),
    );
    expect(login.port).toBe(5433);
    expect(login.dbname).toBe('app');
  });

  it("holds an admin secret without engine to AWSCURRENT's CockroachDB name folding, naming the key and never the password", () => {
    const crdb = parse({ ...base, engine: 'cockroachdb', username: 'app_user' });
    expect(() =>
      adminLogin(crdb, admin({ username: 'Rot_Admin', password: ADMIN_PASSWORD })),
    ).toThrow(
      expect.objectContaining({
        name: 'MalformedSecretError',
        key: 'username',
        message: expect.not.stringContaining(ADMIN_PASSWORD),
      }),
    );
    expect(
      adminLogin(crdb, admin({ username: 'rot_admin', password: ADMIN_PASSWORD })).username,
    ).toBe('rot_admin');
  });

  it('keeps what the admin secret names, so confinement sees each difference', () => {
    const login = adminLogin(
      current,
      admin({
        host: 'other.example.com',
        port: 5432,
        username: 'postgres',
        password: ADMIN_PASSWORD,
      }),
    );
    expect(differingFields(current, login, ADMIN_SERVER_FIELDS)).toEqual(['host', 'port']);
  });

  it.each([
    ['no username', { password: ADMIN_PASSWORD }, 'username', /is missing/],
    ['no password', { username: 'postgres' }, 'password', /is missing/],
    [
      'an engine it does not rotate',
      { engine: 'mysql', username: 'a', password: 'b' },
      'engine',
      /is not valid/,
    ],
    ['a host with spaces', { host: 'a b', username: 'a', password: 'b' }, 'host', /is not valid/],
    ['a port out of range', { port: 70000, username: 'a', password: 'b' }, 'port', /is not valid/],
  ])(
    'refuses a secret with %s, naming the key and never the password',
    (_, value, key, problem) => {
      let error: unknown;
      try {
        admin(value);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(MalformedSecretError);
      expect(error).toMatchObject({ key, label: 'admin secret (masterarn)' });
      expect((error as Error).message).toMatch(problem);
      expect((error as Error).message).not.toContain(ADMIN_PASSWORD);
    },
  );

  it('refuses a string that is not a JSON object, saying only username and password are needed', () => {
    expect(() => admin('[]')).toThrow(/at least username and password/);
  });

  it('keeps the password out of JSON.stringify and util.inspect', () => {
    const secret = admin({ username: 'postgres', password: ADMIN_PASSWORD });
    expect(JSON.stringify(secret)).not.toContain(ADMIN_PASSWORD);
    expect(inspect(secret)).not.toContain(ADMIN_PASSWORD);
    expect(JSON.stringify(adminLogin(current, secret))).not.toContain(ADMIN_PASSWORD);
  });
});

describe('foldRoleName', () => {
  it("folds as CockroachDB's lexbase.NormalizeName: simple lower case, Turkish i, NFC", () => {
    expect(foldRoleName('App_User')).toBe('app_user');
    expect(foldRoleName('\u0130stanbul')).toBe('istanbul');
    expect(foldRoleName('\u0131')).toBe('i');
    expect(foldRoleName('\u039F\u03A3')).toBe('\u03BF\u03C3');
    expect(foldRoleName('Cafe\u0301')).toBe('caf\u00e9');
  });
});
