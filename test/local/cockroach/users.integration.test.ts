import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LoginTarget, PgConnector } from '../../../lambda/adapters/database.js';
import { assertVerifierAcceptable, createScramVerifier } from '../../../lambda/core/scram.js';
import { storedHash } from '../../../lambda/engines/cockroachdb.js';
import {
  AuthenticationFailedError,
  AuthenticationMethodRefusedError,
  ScramVerifierError,
} from '../../../lambda/errors.js';
import { SETTING_DEFINITIONS, SETTINGS } from '../../../local/cockroach/behaviours.js';
import { type CockroachDouble, startCockroachDouble } from '../../../local/cockroach/double.js';
import { type LocalPostgres, startPostgres } from '../../../local/postgres.js';

/**
 * What the double models about users that the rotation workflow's safety
 * depends on, each against the CockroachDB source file it follows: names
 * folded even when quoted, bcrypt-stored users and the upgrade and
 * downgrade at login, VIEWSYSTEMTABLE, and a SCRAM-looking string whose
 * base64 does not decode.
 */

const COST = 10_610;
const limits = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 };
const secret = () => randomBytes(18).toString('base64url');
const verifier = (password: string, iterations = COST) =>
  createScramVerifier(password, { iterations });
const name = (prefix: string) => `${prefix}_${randomBytes(3).toString('hex')}`;

let postgres: LocalPostgres;
let crdb: CockroachDouble;
const adminPassword = secret();

beforeAll(async () => {
  postgres = await startPostgres();
  crdb = await startCockroachDouble({
    postgres,
    systemPrivileges: { users_admin: ['CREATELOGIN', 'VIEWCLUSTERSETTING'] },
  });
  await postgres.createUser('users_admin', verifier(adminPassword), { createRole: true });
});

afterAll(async () => {
  await crdb?.stop();
  await postgres?.stop();
});

afterEach(() => {
  for (const [setting, definition] of Object.entries(SETTING_DEFINITIONS)) {
    crdb.settings.set(setting, definition.defaultValue);
  }
});

/** Runs `fn` on a plain node-postgres connection (which sends a cleartext password when asked). */
async function as<T>(user: string, password: string, fn: (c: pg.Client) => Promise<T>) {
  const client = await crdb.connect(user, password);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const target = (username: string, password: string): LoginTarget => ({
  host: crdb.host,
  port: crdb.port,
  database: crdb.database,
  username,
  password,
  ca: crdb.caPem,
});

/** A login the way the rotation function logs in: verify-full, SCRAM only. */
async function functionLogin(username: string, password: string): Promise<string> {
  const session = await new PgConnector().login(target(username, password), limits);
  try {
    return (await session.identity()).sessionUser;
  } finally {
    await session.close();
  }
}

describe('user names (pkg/sql/lexbase/normalize.go, pkg/sql/decodeusername/role_spec.go)', () => {
  it('folds a quoted name to lower case in CREATE, ALTER, GRANT and at login', async () => {
    const mixed = `Mixed_${randomBytes(3).toString('hex')}`;
    const folded = mixed.toLowerCase();
    const first = secret();
    const second = secret();
    await as('users_admin', adminPassword, async (c) => {
      await c.query(`CREATE USER "${mixed}" WITH LOGIN PASSWORD '${verifier(first)}'`);
      const { rows } = await c.query<{ username: string }>(
        'SELECT rolname AS username FROM pg_roles WHERE lower(rolname) = $1',
        [folded],
      );
      expect(rows.map((r) => r.username)).toEqual([folded]);
      await c.query(`ALTER USER "${mixed}" WITH PASSWORD '${verifier(second)}'`);
    });
    // The start-up message's user is folded too: both spellings are one user.
    expect(await functionLogin(mixed, second)).toBe(folded);
    expect(await functionLogin(folded, second)).toBe(folded);
    await expect(functionLogin(folded, first)).rejects.toBeInstanceOf(AuthenticationFailedError);
  });

  it("folds Turkish dotted and dotless i to ASCII i, and applies NFC, as Go's lexbase does", async () => {
    const suffix = randomBytes(2).toString('hex');
    await as('users_admin', adminPassword, async (c) => {
      await c.query(`CREATE ROLE "\u0130stanbul_${suffix}"`);
      // "e" + combining acute accent becomes the precomposed "é" (NFC).
      await c.query(`CREATE ROLE "Cafe\u0301_${suffix}"`);
    });
    const names = await postgres.withAdmin(async (c) =>
      (
        await c.query<{ rolname: string }>(
          'SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY rolname',
          [`%_${suffix}`],
        )
      ).rows.map((r) => r.rolname),
    );
    expect(names).toEqual([`caf\u00e9_${suffix}`, `istanbul_${suffix}`]);
  });

  it('reads the stored hash of a user named in mixed case (the function folds before it looks)', async () => {
    const user = name('stored');
    const password = secret();
    const sent = verifier(password);
    await as('users_admin', adminPassword, (c) =>
      c.query(`CREATE USER ${user} WITH PASSWORD '${sent}'`),
    );
    await postgres.withAdmin((c) => c.query('GRANT admin TO users_admin'));
    try {
      const session = await new PgConnector().login(target('users_admin', adminPassword), limits);
      try {
        expect(await storedHash(session, user.toUpperCase())).toBe(sent);
      } finally {
        await session.close();
      }
    } finally {
      await postgres.withAdmin((c) => c.query('REVOKE admin FROM users_admin'));
    }
  });
});

describe('bcrypt-stored users (pkg/sql/pgwire/auth_methods.go, pkg/security/password/password.go)', () => {
  it('asks a bcrypt-stored user for its cleartext password under cert-password, which the function refuses', async () => {
    const user = name('legacy');
    const password = secret();
    await postgres.createUser(user, verifier(secret()));
    await crdb.setBcryptPassword(user, password, 4);
    expect(await crdb.storedPassword(user)).toMatch(/^\$2a\$04\$/);
    await expect(functionLogin(user, password)).rejects.toMatchObject({
      name: 'AuthenticationMethodRefusedError',
      method: 'cleartext',
    });
  });

  it('upgrades a bcrypt hash to SCRAM after one cleartext login, at the cost its bcrypt cost maps to', async () => {
    const user = name('upgraded');
    const password = secret();
    await postgres.createUser(user, verifier(secret()));
    await crdb.setBcryptPassword(user, password, 10);
    await as(user, password, async (c) => {
      expect((await c.query('SELECT session_user AS u')).rows[0]?.u).toBe(user);
    });
    expect(crdb.events.filter((e) => e.type === 'password-converted').at(-1)).toMatchObject({
      user,
      from: 'bcrypt',
      to: 'scram',
    });
    // bcrypt cost 10 maps to 10610 iterations: the function's SCRAM login now works.
    expect(await crdb.storedPassword(user)).toMatch(/^SCRAM-SHA-256\$10610:/);
    expect(await functionLogin(user, password)).toBe(user);
  });

  it('refuses a bcrypt-stored user any login under a scram-sha-256 HBA rule', async () => {
    const user = name('locked');
    const password = secret();
    await postgres.createUser(user, verifier(secret()));
    await crdb.setBcryptPassword(user, password, 4);
    crdb.settings.set(SETTINGS.hba, 'host all all all scram-sha-256');
    await expect(as(user, password, async () => undefined)).rejects.toMatchObject({
      code: '28P01',
    });
  });

  it('stores a CRDB-BCRYPT pre-hashed password, and hashes cleartext with bcrypt under crdb-bcrypt', async () => {
    const user = name('bcrypted');
    const password = secret();
    await postgres.createUser(user, verifier(secret()));
    crdb.settings.set(SETTINGS.passwordEncryption, 'crdb-bcrypt');
    await as('users_admin', adminPassword, (c) =>
      c.query(`ALTER USER ${user} WITH PASSWORD '${password}'`),
    );
    expect(await crdb.storedPassword(user)).toMatch(/^\$2a\$10\$/);
    const bcrypt = await crdb.storedPassword(user);
    await as('users_admin', adminPassword, (c) =>
      c.query(`ALTER USER ${user} WITH PASSWORD 'CRDB-BCRYPT${bcrypt}'`),
    );
    expect(await crdb.storedPassword(user)).toBe(bcrypt);
    await as(user, password, async () => undefined);
  });

  it('turns a SCRAM-stored user back into a cleartext login under crdb-bcrypt with the downgrade on', async () => {
    const user = name('downgraded');
    const password = secret();
    await postgres.createUser(user, verifier(password));
    expect(await functionLogin(user, password)).toBe(user);
    crdb.settings.set(SETTINGS.passwordEncryption, 'crdb-bcrypt');
    // The function is asked for the cleartext password and refuses to send it.
    await expect(functionLogin(user, password)).rejects.toBeInstanceOf(
      AuthenticationMethodRefusedError,
    );
    // A client that sends it gets in, and the stored hash becomes bcrypt.
    await as(user, password, async () => undefined);
    expect(crdb.events.filter((e) => e.type === 'password-converted').at(-1)).toMatchObject({
      user,
      from: 'scram',
      to: 'bcrypt',
    });
    expect(await crdb.storedPassword(user)).toMatch(/^\$2a\$10\$/);
    // With the downgrade off, a SCRAM-stored user keeps logging in by SCRAM.
    const other = name('kept');
    const otherPassword = secret();
    await postgres.createUser(other, verifier(otherPassword));
    crdb.settings.set(SETTINGS.downgradeScram, false);
    expect(await functionLogin(other, otherPassword)).toBe(other);
  });
});

describe('system.users (pkg/sql/catalog/catprivilege/system.go, pkg/sql/authorization.go)', () => {
  const readUsers = (user: string, password: string, on: CockroachDouble) =>
    on.connect(user, password).then(async (c) => {
      try {
        return (await c.query('SELECT username FROM system.users')).rowCount;
      } finally {
        await c.end();
      }
    });

  it('lets VIEWSYSTEMTABLE read system.users from v23.1.11 on, and not before', async () => {
    const user = name('viewer');
    const password = secret();
    await postgres.createUser(user, verifier(password));
    await expect(readUsers(user, password, crdb)).rejects.toMatchObject({ code: '42501' });
    crdb.privileges.grant(user, 'VIEWSYSTEMTABLE');
    expect(await readUsers(user, password, crdb)).toBeGreaterThan(0);
    for (const [version, readable] of [
      ['v23.1.10', false],
      ['v23.1.11', true],
    ] as const) {
      const old = await startCockroachDouble({
        postgres,
        version: `CockroachDB CCL ${version} (x86_64-pc-linux-gnu, built 2023/09/20 00:00:00, go1.19.10)`,
        systemPrivileges: { [user]: ['VIEWSYSTEMTABLE'] },
      });
      try {
        const read = readUsers(user, password, old);
        if (readable) expect(await read).toBeGreaterThan(0);
        else await expect(read).rejects.toMatchObject({ code: '42501' });
      } finally {
        await old.stop();
      }
    }
  });
});

describe('a SCRAM-looking string whose base64 does not decode (pkg/security/password/password.go)', () => {
  // Matches CockroachDB's pattern (a salt of 5 base64 characters) but the
  // salt is not valid base64: CockroachDB stores it, and every login fails.
  const keys = `${'A'.repeat(43)}=:${'B'.repeat(43)}=`;
  const undecodable = `SCRAM-SHA-256$10610:abcde$${keys}`;

  it('is accepted by CockroachDB, stored as sent, and then no login succeeds', async () => {
    const user = name('broken');
    const password = secret();
    await postgres.createUser(user, verifier(password));
    await as('users_admin', adminPassword, async (c) => {
      const { rows } = await c.query(
        'SELECT crdb_internal.check_password_hash_format($1::BYTES) AS method',
        [undecodable],
      );
      expect(rows[0]?.method).toBe('scram-sha-256');
      await c.query(`ALTER USER ${user} WITH PASSWORD '${undecodable}'`);
    });
    expect(await crdb.storedPassword(user)).toBe(undecodable);
    await expect(functionLogin(user, password)).rejects.toBeInstanceOf(AuthenticationFailedError);
    await expect(functionLogin(user, undecodable)).rejects.toBeInstanceOf(
      AuthenticationFailedError,
    );
    crdb.settings.set(SETTINGS.hba, 'host all all all password');
    await expect(as(user, undecodable, async () => undefined)).rejects.toMatchObject({
      code: '28P01',
    });
  });

  it("is refused by the function's own check before anything is sent", () => {
    expect(() => assertVerifierAcceptable(undecodable, 'cockroachdb')).toThrow(ScramVerifierError);
  });
});

describe('CREATE USER (pkg/sql/create_role.go)', () => {
  it('needs CREATELOGIN for a password, and stores a verifier as cleartext when pre-hashing is off', async () => {
    const creator = name('creator');
    const creatorPassword = secret();
    await postgres.createUser(creator, verifier(creatorPassword), { createRole: true });
    const user = name('made');
    const password = secret();
    await as(creator, creatorPassword, async (c) => {
      await expect(
        c.query(`CREATE USER ${user} WITH PASSWORD '${verifier(password)}'`),
      ).rejects.toMatchObject({
        code: '42501',
        message: `user ${creator} does not have CREATELOGIN privilege`,
      });
      await c.query(`CREATE ROLE ${user}_group`);
    });
    crdb.settings.set(SETTINGS.storePreHashed, false);
    const sent = verifier(password);
    await as('users_admin', adminPassword, async (c) => {
      await c.query(`CREATE USER ${user} WITH PASSWORD '${sent}'`);
      await expect(c.query(`CREATE USER ${user}`)).rejects.toMatchObject({ code: '42710' });
    });
    // The password is now the verifier's text, hashed: the intended password fails.
    expect(await crdb.storedPassword(user)).not.toBe(sent);
    await expect(functionLogin(user, password)).rejects.toBeInstanceOf(AuthenticationFailedError);
    expect(await functionLogin(user, sent)).toBe(user);
  });
});
