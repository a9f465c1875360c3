import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createScramVerifier } from '../../../lambda/core/scram.js';
import {
  checkPasswordHashFormat,
  DEFAULT_VERSION,
  SETTING_DEFINITIONS,
  SETTINGS,
} from '../../../local/cockroach/behaviours.js';
import { type CockroachDouble, startCockroachDouble } from '../../../local/cockroach/double.js';
import { type LocalPostgres, startPostgres } from '../../../local/postgres.js';

/**
 * The CockroachDB double against a real local PostgreSQL. Each test names
 * the CockroachDB source file whose behaviour it checks
 * (github.com/cockroachdb/cockroach).
 */

/** CockroachDB's default SCRAM cost: verifiers at this cost log in with SCRAM. */
const COST = 10610;

const password = () => randomBytes(18).toString('base64url');
const verifier = (secret: string, iterations = COST) => createScramVerifier(secret, { iterations });

describe('CockroachDB double', () => {
  let postgres: LocalPostgres;
  let crdb: CockroachDouble;
  const secrets = {
    app: password(),
    rotator: password(),
    creator: password(),
    root: password(),
    old: password(),
  };

  beforeAll(async () => {
    postgres = await startPostgres();
    crdb = await startCockroachDouble({
      postgres,
      // The rotation function's least-privilege admin: CREATEROLE comes from
      // the PostgreSQL role, the rest is CockroachDB's GRANT SYSTEM.
      systemPrivileges: { rotator: ['CREATELOGIN', 'VIEWCLUSTERSETTING'] },
    });
    await postgres.createUser('app', verifier(secrets.app));
    await postgres.createUser('rotator', verifier(secrets.rotator), { createRole: true });
    await postgres.createUser('creator', verifier(secrets.creator), { createRole: true });
    await postgres.createUser('crdb_root', verifier(secrets.root));
    await postgres.createUser('old_cost', verifier(secrets.old, 4096));
    await postgres.withAdmin(async (c) => {
      await c.query('GRANT admin TO crdb_root');
      await c.query(`CREATE ROLE readers NOLOGIN PASSWORD ${c.escapeLiteral(verifier('x'))}`);
    });
  });

  afterAll(async () => {
    await crdb?.stop();
    await postgres?.stop();
  });

  afterEach(() => {
    for (const [name, definition] of Object.entries(SETTING_DEFINITIONS)) {
      crdb.settings.set(name, definition.defaultValue);
    }
  });

  /** Runs `fn` with a connection through the double, closed afterwards. */
  async function as<T>(user: keyof typeof secrets | string, fn: (c: pg.Client) => Promise<T>) {
    const secret = secrets[user as keyof typeof secrets];
    const client = await crdb.connect(user === 'root' ? 'crdb_root' : user, secret ?? '');
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  /** Sets `app`'s password back to `secrets.app` (as the PostgreSQL admin). */
  async function resetApp(): Promise<void> {
    await postgres.withAdmin((c) =>
      c.query(`ALTER ROLE app PASSWORD ${c.escapeLiteral(verifier(secrets.app))}`),
    );
  }

  describe('connections', () => {
    it('refuses a start-up without TLS as a secure node does (pkg/sql/pgwire/server.go, ErrSSLRequired, 08P01)', async () => {
      const client = new pg.Client({ ...crdb.clientConfig('app', secrets.app), ssl: false });
      await expect(client.connect()).rejects.toMatchObject({
        code: '08P01',
        message: 'node is running secure mode, SSL connection required',
      });
    });

    it("presents a certificate that verify-full accepts with the double's own CA only", async () => {
      const client = new pg.Client({
        ...crdb.clientConfig('app', secrets.app),
        ssl: { ca: postgres.caPem, servername: 'localhost', rejectUnauthorized: true },
      });
      await expect(client.connect()).rejects.toMatchObject({
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      });
    });

    it('offers SCRAM-SHA-256 only, no -PLUS, and accepts a client that would bind the channel (pkg/sql/pgwire/auth_methods.go, scramAuthenticator)', async () => {
      for (const enableChannelBinding of [false, true]) {
        const client = new pg.Client({
          ...crdb.clientConfig('app', secrets.app),
          enableChannelBinding,
        });
        const offered: string[][] = [];
        client.connection.on('authenticationSASL', (m: { mechanisms: string[] }) =>
          offered.push(m.mechanisms),
        );
        await client.connect();
        const { rows } = await client.query('SELECT current_user AS u, session_user AS s');
        await client.end();
        expect(offered).toEqual([['SCRAM-SHA-256']]);
        expect(rows).toEqual([{ u: 'app', s: 'app' }]);
      }
      expect(
        crdb.events.filter((e) => e.type === 'login' && e.user === 'app').at(-1),
      ).toMatchObject({ exchange: 'scram', database: 'defaultdb' });
    });

    it('answers a wrong password, an unknown user and a NOLOGIN role as CockroachDB does (pkg/sql/pgwire/auth.go)', async () => {
      await expect(crdb.connect('app', 'wrong')).rejects.toMatchObject({
        code: '28P01',
        message: 'password authentication failed for user app',
      });
      await expect(crdb.connect('nobody', 'x')).rejects.toMatchObject({
        code: '28P01',
        message: 'password authentication failed for user nobody',
      });
      await expect(crdb.connect('readers', 'x')).rejects.toMatchObject({
        code: '28000',
        message: 'readers does not have login privilege',
      });
    });

    it("reports CockroachDB's version in version() and crdb_version, and PostgreSQL 13 in server_version (pkg/build/info.go, pkg/sql/pgwire/conn.go)", async () => {
      const client = new pg.Client(crdb.clientConfig('app', secrets.app));
      const parameters = new Map<string, string>();
      client.connection.on(
        'parameterStatus',
        (m: { parameterName: string; parameterValue: string }) =>
          parameters.set(m.parameterName, m.parameterValue),
      );
      await client.connect();
      try {
        const { rows } = await client.query<{ version: string }>('SELECT version()');
        expect(rows[0]?.version).toBe(DEFAULT_VERSION);
        expect(rows[0]?.version).toMatch(/^CockroachDB CCL v\d+\.\d+\.\d+ \(.*, built .*, go.*\)$/);
        expect(parameters.get('crdb_version')).toBe(DEFAULT_VERSION);
        expect(parameters.get('server_version')).toBe('13.0.0');
        expect(parameters.get('session_authorization')).toBe('app');
      } finally {
        await client.end();
      }
    });

    it('models CockroachDB Cloud routing: --cluster=<id> or <id>.<database>, required when asked (pkg/ccl/sqlproxyccl/proxy_handler.go, 08004)', async () => {
      const cloud = await startCockroachDouble({ postgres, requireClusterOption: true });
      try {
        const id = cloud.clusterRoutingId;
        await expect(cloud.connect('app', secrets.app)).rejects.toMatchObject({
          code: '08004',
          message: 'codeParamsRoutingFailed: missing cluster identifier',
          hint: expect.stringContaining('--cluster=<cluster identifier>'),
        });
        await expect(
          cloud.connect('app', secrets.app, { options: '--cluster=lazy' }),
        ).rejects.toMatchObject({
          code: '08004',
          message: "codeParamsRoutingFailed: invalid cluster identifier 'lazy'",
        });
        for (const route of [{ options: `--cluster=${id}` }, { database: `${id}.defaultdb` }]) {
          const client = await cloud.connect('app', secrets.app, route);
          const { rows } = await client.query('SELECT current_database() AS db, current_user AS u');
          await client.end();
          expect(rows).toEqual([{ db: 'defaultdb', u: 'app' }]);
        }
        expect(cloud.events.filter((e) => e.type === 'login')).toHaveLength(2);
      } finally {
        await cloud.stop();
      }
      // Without the requirement the option is accepted too.
      const client = await crdb.connect('app', secrets.app, {
        options: `--cluster=${crdb.clusterRoutingId}`,
      });
      await client.end();
    });

    it('asks for the cleartext password when the stored SCRAM cost differs from the cluster cost, then re-hashes it (pkg/sql/pgwire/auth_methods.go, authAutoSelectPasswordProtocol)', async () => {
      const client = new pg.Client(crdb.clientConfig('old_cost', secrets.old));
      const asked: string[] = [];
      client.connection.on('authenticationCleartextPassword', () => asked.push('cleartext'));
      client.connection.on('authenticationSASL', () => asked.push('scram'));
      await client.connect();
      await client.end();
      expect(asked).toEqual(['cleartext']);
      expect(await crdb.storedPassword('old_cost')).toMatch(/^SCRAM-SHA-256\$10610:/);
      expect(crdb.events.find((e) => e.type === 'password-rehashed')).toMatchObject({
        user: 'old_cost',
        fromIterations: 4096,
        toIterations: COST,
      });
      // Requiring scram-sha-256 in the HBA configuration avoids the cleartext request.
      await postgres.withAdmin((c) =>
        c.query(`ALTER ROLE old_cost PASSWORD ${c.escapeLiteral(verifier(secrets.old, 4096))}`),
      );
      crdb.settings.set(SETTINGS.hba, 'host all all all scram-sha-256');
      const strict = new pg.Client(crdb.clientConfig('old_cost', secrets.old));
      const again: string[] = [];
      strict.connection.on('authenticationCleartextPassword', () => again.push('cleartext'));
      strict.connection.on('authenticationSASL', () => again.push('scram'));
      await strict.connect();
      await strict.end();
      expect(again).toEqual(['scram']);
    });
  });

  describe('sessions', () => {
    it('forwards simple and parameterised queries (extended protocol) and transactions as the user', async () => {
      await as('app', async (c) => {
        const plain = await c.query('SELECT current_user AS u, session_user AS s');
        expect(plain.rows).toEqual([{ u: 'app', s: 'app' }]);
        const bound = await c.query<{ sum: number; t: string }>(
          'SELECT $1::int + $2::int AS sum, $3::text AS t',
          [40, 2, "it's"],
        );
        expect(bound.rows).toEqual([{ sum: 42, t: "it's" }]);
        await c.query('BEGIN');
        await c.query('SET LOCAL statement_timeout = 5000');
        const inside = await c.query('SHOW statement_timeout');
        await c.query('COMMIT');
        expect(inside.rows).toEqual([{ statement_timeout: '5s' }]);
        await expect(c.query('SELECT * FROM no_such_table')).rejects.toMatchObject({
          code: '42P01',
        });
        const after = await c.query('SELECT 1 AS one');
        expect(after.rows).toEqual([{ one: 1 }]);
      });
    });

    it('refuses statements that would give the session back to the admin (double-specific, 0A000)', async () => {
      await as('app', async (c) => {
        for (const sql of [
          'RESET SESSION AUTHORIZATION',
          "SELECT set_config('session_authorization', 'postgres', false)",
          'DISCARD ALL',
        ]) {
          await expect(c.query(sql)).rejects.toMatchObject({ code: '0A000' });
        }
        const { rows } = await c.query('SELECT current_user AS u, session_user AS s');
        expect(rows).toEqual([{ u: 'app', s: 'app' }]);
      });
    });
  });

  describe('cluster settings', () => {
    const reads: [string, unknown][] = [
      [SETTINGS.storePreHashed, true],
      [SETTINGS.scramCost, '10610'],
      [SETTINGS.changeOwnPassword, false],
      [SETTINGS.rehashOnCostChange, true],
      [SETTINGS.passwordEncryption, 'scram-sha-256'],
    ];

    it("shows CockroachDB's defaults to a holder of VIEWCLUSTERSETTING, typed as CockroachDB types them (pkg/sql/show_cluster_setting.go, pkg/sql/set_cluster_setting.go)", async () => {
      await as('rotator', async (c) => {
        for (const [name, expected] of reads) {
          const { rows, fields } = await c.query(`SHOW CLUSTER SETTING ${name}`);
          expect(fields.map((f) => f.name)).toEqual([name]);
          expect(rows).toEqual([{ [name]: expected }]);
        }
      });
    });

    it('serves the same values from crdb_internal.cluster_settings with a bound parameter (pkg/sql/crdb_internal.go)', async () => {
      await as('rotator', async (c) => {
        for (const [name, expected] of reads) {
          const { rows } = await c.query<{ value: string }>(
            'SELECT value FROM crdb_internal.cluster_settings WHERE variable = $1',
            [name],
          );
          expect(rows).toEqual([{ value: String(expected) }]);
        }
      });
    });

    it('refuses both reads without VIEWCLUSTERSETTING, MODIFYCLUSTERSETTING or admin (42501)', async () => {
      await as('app', async (c) => {
        await expect(
          c.query(`SHOW CLUSTER SETTING ${SETTINGS.storePreHashed}`),
        ).rejects.toMatchObject({
          code: '42501',
          message: `only users with MODIFYCLUSTERSETTING, MODIFYSQLCLUSTERSETTING or VIEWCLUSTERSETTING privileges are allowed to show cluster setting '${SETTINGS.storePreHashed}'`,
        });
        await expect(
          c.query('SELECT value FROM crdb_internal.cluster_settings WHERE variable = $1', [
            SETTINGS.scramCost,
          ]),
        ).rejects.toMatchObject({
          code: '42501',
          message:
            'only users with either MODIFYCLUSTERSETTING or VIEWCLUSTERSETTING privileges are allowed to read crdb_internal.cluster_settings',
        });
      });
    });

    it('changes a setting with SET CLUSTER SETTING for an admin, not for a viewer (pkg/sql/set_cluster_setting.go)', async () => {
      await as('root', async (c) => {
        await c.query(`SET CLUSTER SETTING ${SETTINGS.scramCost} = 4096`);
        await c.query(`SET CLUSTER SETTING ${SETTINGS.storePreHashed} TO false`);
        const { rows } = await c.query(`SHOW CLUSTER SETTING ${SETTINGS.scramCost}`);
        expect(rows).toEqual([{ [SETTINGS.scramCost]: '4096' }]);
        await c.query('BEGIN');
        await expect(
          c.query(`SET CLUSTER SETTING ${SETTINGS.scramCost} = 5000`),
        ).rejects.toMatchObject({
          message: 'SET CLUSTER SETTING cannot be used inside a multi-statement transaction',
        });
        await c.query('ROLLBACK');
        await c.query(`RESET CLUSTER SETTING ${SETTINGS.storePreHashed}`);
      });
      expect(crdb.settings.get(SETTINGS.scramCost)).toBe(4096);
      expect(crdb.settings.get(SETTINGS.storePreHashed)).toBe(true);
      await as('rotator', async (c) => {
        await expect(
          c.query(`SET CLUSTER SETTING ${SETTINGS.changeOwnPassword} = true`),
        ).rejects.toMatchObject({
          code: '42501',
          message: `only users with the MODIFYCLUSTERSETTING privilege are allowed to set cluster setting '${SETTINGS.changeOwnPassword}'`,
        });
      });
      expect(crdb.settings.get(SETTINGS.changeOwnPassword)).toBe(false);
    });
  });

  describe('settings safety depends on', () => {
    it('shows the HBA setting as <redacted> to VIEWCLUSTERSETTING while server.redact_sensitive_settings.enabled is on, and to admins as set (pkg/settings/masked.go)', async () => {
      const rules = 'host all all all scram-sha-256';
      crdb.settings.set(SETTINGS.hba, rules);
      const show = (user: string) =>
        as(user, async (c) => (await c.query(`SHOW CLUSTER SETTING ${SETTINGS.hba}`)).rows[0]);
      expect(await show('rotator')).toEqual({ [SETTINGS.hba]: rules });
      crdb.settings.set(SETTINGS.redactSensitive, true);
      expect(await show('rotator')).toEqual({ [SETTINGS.hba]: '<redacted>' });
      expect(await show('root')).toEqual({ [SETTINGS.hba]: rules });
      // An empty value stays empty, so the default can be told from a customised value.
      crdb.settings.set(SETTINGS.hba, '');
      expect(await show('rotator')).toEqual({ [SETTINGS.hba]: '' });
      // Only sensitive settings are masked.
      expect(
        await as(
          'rotator',
          async (c) => (await c.query(`SHOW CLUSTER SETTING ${SETTINGS.scramCost}`)).rows[0],
        ),
      ).toEqual({ [SETTINGS.scramCost]: String(COST) });
    });

    it('refuses a SCRAM cost outside 4096..240000000000 (pkg/security/password.go, IntInRange; message from pkg/settings)', async () => {
      await as('root', async (c) => {
        for (const cost of [4095, 240_000_000_001]) {
          await expect(
            c.query(`SET CLUSTER SETTING ${SETTINGS.scramCost} = ${cost}`),
          ).rejects.toMatchObject({
            message: `expected value in range [4096, 240000000000], got: ${cost}`,
          });
        }
        await c.query(`SET CLUSTER SETTING ${SETTINGS.scramCost} = 240000000000`);
        await c.query(`SET CLUSTER SETTING ${SETTINGS.scramCost} = 4096`);
      });
      expect(crdb.settings.get(SETTINGS.scramCost)).toBe(4096);
    });

    it('measures a cleartext password against server.user_login.min_password_length, never a pre-hashed one (pkg/sql/create_role.go, checkPasswordAndGetHash)', async () => {
      crdb.settings.set(SETTINGS.minPasswordLength, 400);
      try {
        await as('root', async (c) => {
          await expect(
            c.query(`ALTER USER app WITH PASSWORD ${c.escapeLiteral('short cleartext')}`),
          ).rejects.toMatchObject({ message: 'password too short' });
          // A verifier is shorter than 400 bytes, and is stored all the same.
          await c.query(`ALTER USER app WITH PASSWORD ${c.escapeLiteral(verifier(secrets.app))}`);
        });
        const client = await crdb.connect('app', secrets.app);
        await client.end();
      } finally {
        await resetApp();
      }
    });
  });

  describe('crdb_internal.check_password_hash_format', () => {
    it('names the scheme of a good verifier, bound as BYTES or given as a string literal (pkg/sql/sem/builtins/builtins.go)', async () => {
      const good = verifier(password());
      await as('app', async (c) => {
        const bound = await c.query(
          'SELECT crdb_internal.check_password_hash_format($1::BYTES) AS f',
          [good],
        );
        const inline = await c.query(
          `SELECT crdb_internal.check_password_hash_format(${c.escapeLiteral(good)}) AS f`,
        );
        expect(bound.rows).toEqual([{ f: 'scram-sha-256' }]);
        expect(inline.rows).toEqual([{ f: 'scram-sha-256' }]);
      });
    });

    it("rejects bad hashes with CockroachDB's messages and 42601, as its Go check does (pkg/security/password/password.go)", async () => {
      const keys = verifier('k').split('$')[2];
      const bcrypt = 'vcmoIBvgeHjgScVHWRMWI.Z3v03WMixAw2bBS6qZihljSUuwi88Yq';
      const cases: [string, string][] = [
        [
          `SCRAM-SHA-256$4095:c2FsdA==$${keys}`,
          'scram-sha-256 iteration count not in allowed range (4096,240000000000)',
        ],
        [
          `SCRAM-SHA-256$240000000001:c2FsdA==$${keys}`,
          'scram-sha-256 iteration count not in allowed range (4096,240000000000)',
        ],
        [
          `SCRAM-SHA-256$99999999999999999999:c2FsdA==$${keys}`,
          'invalid scram-sha-256 iteration count: strconv.ParseInt: parsing "99999999999999999999": value out of range',
        ],
        ['SCRAM-SHA-256$4096:c2FsdA==$short:short', 'hash format not recognized'],
        ['correct horse battery staple', 'hash format not recognized'],
        [
          `CRDB-BCRYPT$3a$10$${bcrypt}`,
          "crypto/bcrypt: bcrypt algorithm version '3' requested is newer than current version '2'",
        ],
        [
          'CRDB-BCRYPT$2a$10$vcmoIBvgeHjgScVHWRMWI.Z3v0',
          'crypto/bcrypt: hashedSecret too short to be a bcrypted password',
        ],
        [
          `CRDB-BCRYPT$2a$01$${bcrypt}`,
          'crypto/bcrypt: cost 1 is outside allowed inclusive range 4..31',
        ],
      ];
      const accepted: [string, string][] = [
        [`CRDB-BCRYPT$2a$10$${bcrypt}`, 'crdb-bcrypt'],
        [`md5${'a'.repeat(32)}`, 'md5'],
        [`SCRAM-SHA-256$240000000000:c2FsdA==$${keys}`, 'scram-sha-256'],
      ];
      await as('app', async (c) => {
        for (const [input, message] of cases) {
          await expect(
            c.query('SELECT crdb_internal.check_password_hash_format($1::BYTES)', [input]),
            input,
          ).rejects.toMatchObject({
            code: '42601',
            message: `crdb_internal.check_password_hash_format(): ${message}`,
          });
          // The TypeScript check ALTER USER uses agrees with the SQL builtin.
          expect(checkPasswordHashFormat(input)).toMatchObject({
            code: '42601',
            message: `crdb_internal.check_password_hash_format(): ${message}`,
          });
        }
        for (const [input, scheme] of accepted) {
          const { rows } = await c.query(
            'SELECT crdb_internal.check_password_hash_format($1::BYTES) AS f',
            [input],
          );
          expect(rows).toEqual([{ f: scheme }]);
          expect(checkPasswordHashFormat(input)).toBe(scheme);
        }
      });
    });
  });

  describe('ALTER USER ... WITH PASSWORD', () => {
    afterEach(resetApp);

    const alter = (c: pg.Client, user: string, secret: string) =>
      c.query(`ALTER USER ${c.escapeIdentifier(user)} WITH PASSWORD ${c.escapeLiteral(secret)}`);

    it('refuses a user changing its own password while sql.auth.change_own_password.enabled is off, and allows it when on (pkg/sql/alter_role.go)', async () => {
      const next = password();
      await as('app', async (c) => {
        await expect(alter(c, 'app', verifier(next))).rejects.toMatchObject({
          code: '42501',
          message: 'user app does not have CREATEROLE privilege',
        });
      });
      crdb.settings.set(SETTINGS.changeOwnPassword, true);
      await as('app', (c) => alter(c, 'app', verifier(next)));
      const client = await crdb.connect('app', next);
      await client.end();
    });

    it('refuses a CREATEROLE user without CREATELOGIN (pkg/sql/alter_role.go, checkPasswordOptionConstraints)', async () => {
      await as('creator', async (c) => {
        await expect(alter(c, 'app', verifier(password()))).rejects.toMatchObject({
          code: '42501',
          message: 'user creator does not have CREATELOGIN privilege',
        });
      });
    });

    it('refuses a verifier whose iteration count is outside 4096..240000000000 with 42601 and keeps the old password (pkg/security/password/password.go)', async () => {
      const before = await crdb.storedPassword('app');
      await as('rotator', async (c) => {
        await expect(
          alter(c, 'app', verifier(password(), 4096).replace('$4096:', '$4095:')),
        ).rejects.toMatchObject({
          code: '42601',
          message: 'scram-sha-256 iteration count not in allowed range (4096,240000000000)',
        });
      });
      expect(await crdb.storedPassword('app')).toBe(before);
      expect(crdb.events.filter((e) => e.type === 'alter-password').at(-1)).toMatchObject({
        outcome: 'refused',
        code: '42601',
      });
    });

    it('takes a verifier as the cleartext password when store_client_pre_hashed_passwords is off (pkg/sql/create_role.go, checkPasswordAndGetHash)', async () => {
      crdb.settings.set(SETTINGS.storePreHashed, false);
      const next = password();
      const sent = verifier(next);
      await as('rotator', (c) => alter(c, 'app', sent));
      const stored = await crdb.storedPassword('app');
      expect(stored).not.toBe(sent);
      expect(stored).toMatch(/^SCRAM-SHA-256\$10610:/);
      await expect(crdb.connect('app', next)).rejects.toMatchObject({ code: '28P01' });
      // The verifier string itself is now the password.
      const client = await crdb.connect('app', sent);
      await client.end();
      expect(crdb.events.filter((e) => e.type === 'alter-password').at(-1)).toMatchObject({
        outcome: 'stored',
        storedAs: 'cleartext',
        password: sent,
      });
    });

    it('stores a good verifier unchanged; the new password logs in through the double and the old one no longer does (pkg/sql/alter_role.go)', async () => {
      const next = password();
      const sent = verifier(next);
      const result = await as('rotator', (c) => alter(c, 'app', sent));
      expect(result.command).toBe('CALL');
      expect(await crdb.storedPassword('app')).toBe(sent);
      const client = await crdb.connect('app', next);
      await client.end();
      await expect(crdb.connect('app', secrets.app)).rejects.toMatchObject({ code: '28P01' });
      expect(crdb.events.filter((e) => e.type === 'alter-password').at(-1)).toMatchObject({
        user: 'rotator',
        target: 'app',
        outcome: 'stored',
        storedAs: 'pre-hashed',
        stored: sent,
      });
    });

    it('lets an admin read the stored hash from system.users, and no one else (pkg/sql/sqlerrors/errors.go)', async () => {
      const sent = verifier(password());
      await as('root', async (c) => {
        await alter(c, 'app', sent);
        const { rows } = await c.query<{ hashedPassword: Buffer }>(
          'SELECT "hashedPassword" FROM system.users WHERE username = $1',
          ['app'],
        );
        expect(rows[0]?.hashedPassword.toString('utf8')).toBe(sent);
      });
      await as('rotator', async (c) => {
        await expect(
          c.query('SELECT "hashedPassword" FROM system.users WHERE username = $1', ['app']),
        ).rejects.toMatchObject({
          code: '42501',
          message: 'user rotator does not have SELECT privilege on relation users',
        });
      });
    });

    it('takes CREATELOGIN from an admin, as a role option or GRANT SYSTEM, after which a CREATEROLE user may set passwords (pkg/sql/roleoption/role_option.go)', async () => {
      await as('creator', async (c) => {
        await expect(c.query('ALTER ROLE creator WITH CREATELOGIN')).rejects.toMatchObject({
          code: '42501',
        });
      });
      for (const [grant, revoke] of [
        ['ALTER ROLE creator WITH CREATELOGIN', 'ALTER ROLE creator WITH NOCREATELOGIN'],
        ['GRANT SYSTEM CREATELOGIN TO creator', 'REVOKE SYSTEM CREATELOGIN FROM creator'],
      ] as const) {
        await as('root', (c) => c.query(grant));
        expect(crdb.privileges.of('creator').has('CREATELOGIN')).toBe(true);
        await as('creator', (c) => alter(c, 'app', verifier(password())));
        await as('root', (c) => c.query(revoke));
        expect(crdb.privileges.of('creator').has('CREATELOGIN')).toBe(false);
      }
    });

    it('lets only admins alter an admin, and no one edit the admin role (pkg/sql/alter_role.go)', async () => {
      await as('rotator', async (c) => {
        await expect(alter(c, 'crdb_root', verifier(password()))).rejects.toMatchObject({
          code: '42501',
          message: 'only users with the admin role are allowed to alter another admin',
        });
        await expect(alter(c, 'admin', verifier(password()))).rejects.toMatchObject({
          code: '42501',
          message: 'cannot edit admin role',
        });
        await expect(alter(c, 'ghost', verifier(password()))).rejects.toMatchObject({
          code: '42704',
          message: 'role/user "ghost" does not exist',
        });
      });
    });
  });
});
