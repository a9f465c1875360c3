import { describe, expect, it } from 'vitest';
import {
  type Caller,
  checkPasswordHashValidity,
  checkSystemUsersPrivilege,
  conversionAfterCleartextLogin,
  decideAlterPassword,
  decideCreateRole,
  hbaMethodFor,
  loginExchange,
  normalizeName,
  type PasswordSettings,
  routeCluster,
  type SystemPrivilege,
  scramIterationsToBcryptCost,
  storedMethod,
} from '../../../local/cockroach/behaviours.js';
import { significant, splitStatements, tokenize } from '../../../local/cockroach/sql.js';

/** The pure parts of the CockroachDB double; the integration tests drive them over the wire. */

const settings: PasswordSettings = {
  storePreHashed: true,
  changeOwnPassword: false,
  passwordEncryption: 'scram-sha-256',
  scramCost: 10610,
};
const caller = (user: string, ...privileges: SystemPrivilege[]): Caller => ({
  user,
  admin: false,
  privileges: new Set(privileges),
});
const scram = `SCRAM-SHA-256$10610:c2FsdHNhbHQ=$${'A'.repeat(43)}=:${'B'.repeat(43)}=`;

describe('CockroachDB behaviours (pure)', () => {
  it('recognises hashes in the order CheckPasswordHashValidity tries them (pkg/security/password/password.go)', () => {
    expect(checkPasswordHashValidity(scram)).toMatchObject({
      preHashed: true,
      scheme: 'scram-sha-256',
      supported: true,
    });
    expect(checkPasswordHashValidity(`md5${'0'.repeat(32)}`)).toMatchObject({
      scheme: 'md5',
      supported: false,
    });
    expect(checkPasswordHashValidity('hunter2')).toEqual({ preHashed: false });
    // A bcrypt hash needs the CRDB-BCRYPT prefix when given to ALTER USER.
    expect(checkPasswordHashValidity(`$2a$10$${'a'.repeat(53)}`)).toEqual({ preHashed: false });
  });

  it('checks ALTER USER privileges before the role exists, as alterRoleNode.startExec does (pkg/sql/alter_role.go)', () => {
    const ghost = { name: 'ghost', exists: false, admin: false };
    expect(
      decideAlterPassword({
        caller: caller('u'),
        target: ghost,
        ifExists: false,
        password: scram,
        settings,
      }),
    ).toMatchObject({
      outcome: 'refuse',
      error: { code: '42501', message: 'user u does not have CREATEROLE privilege' },
    });
    expect(
      decideAlterPassword({
        caller: caller('r', 'CREATEROLE', 'CREATELOGIN'),
        target: ghost,
        ifExists: true,
        password: scram,
        settings,
      }),
    ).toEqual({ outcome: 'ignore' });
  });

  it('lets a user set its own password, not clear it, when change_own_password is on (pkg/sql/alter_role.go)', () => {
    const self = { name: 'u', exists: true, admin: false };
    const on = { ...settings, changeOwnPassword: true };
    expect(
      decideAlterPassword({
        caller: caller('u'),
        target: self,
        ifExists: false,
        password: scram,
        settings: on,
      }),
    ).toMatchObject({
      outcome: 'store-pre-hashed',
      hash: scram,
    });
    expect(
      decideAlterPassword({
        caller: caller('u'),
        target: self,
        ifExists: false,
        password: null,
        settings: on,
      }),
    ).toMatchObject({
      outcome: 'refuse',
      error: { message: 'user u does not have CREATEROLE privilege' },
    });
  });

  it('routes CockroachDB Cloud connections by --cluster or <id>.<database> (pkg/ccl/sqlproxyccl/proxy_handler.go)', () => {
    const base = { routingId: 'happy-koala-3', required: true };
    expect(
      routeCluster({ ...base, options: '--cluster=happy-koala-3 -c statement_timeout=5s' }),
    ).toEqual({
      clusterId: 'happy-koala-3',
      options: '-c statement_timeout=5s',
    });
    expect(routeCluster({ ...base, database: 'happy-koala-3.defaultdb' })).toEqual({
      clusterId: 'happy-koala-3',
      database: 'defaultdb',
    });
    expect(
      routeCluster({ ...base, database: 'a-1.defaultdb', options: '--cluster=b-2' }).error?.message,
    ).toBe('codeParamsRoutingFailed: multiple different cluster identifiers provided');
    expect(routeCluster({ ...base, database: 'defaultdb' }).error).toMatchObject({
      code: '08004',
      severity: 'FATAL',
      message: 'codeParamsRoutingFailed: missing cluster identifier',
    });
  });

  it('picks the login exchange from HBA and the stored cost (pkg/sql/pgwire/hba_conf.go, pkg/sql/pgwire/auth_methods.go)', () => {
    const s = {
      autoScramPromotion: true,
      rehashOnCostChange: true,
      passwordEncryption: 'scram-sha-256',
      scramCost: 10610,
    };
    const method = hbaMethodFor('', 'app');
    expect(method).toBe('cert-password');
    if (typeof method !== 'string') throw new Error('expected a method');
    expect(
      loginExchange({ method, stored: { method: 'scram', iterations: 10610 }, settings: s }),
    ).toBe('scram');
    expect(
      loginExchange({ method, stored: { method: 'scram', iterations: 4096 }, settings: s }),
    ).toBe('cleartext');
    expect(
      loginExchange({
        method,
        stored: { method: 'scram', iterations: 4096 },
        settings: { ...s, rehashOnCostChange: false },
      }),
    ).toBe('scram');
    expect(hbaMethodFor('host all app all scram-sha-256\nhost all all all password', 'app')).toBe(
      'scram-sha-256',
    );
    expect(hbaMethodFor('host all other all scram-sha-256', 'app')).toMatchObject({
      code: '28000',
    });
    // The mandatory root rule comes first whatever the setting says.
    expect(hbaMethodFor('host all all all reject', 'root')).toBe('cert-password');
  });

  it('tokenizes SQL without mistaking strings, quoted names or comments for code', () => {
    const sql = `SELECT 'system.users; x', "system.users" /* system.users */ FROM t -- system.users\n; SELECT $$a;b$$, $1`;
    expect(splitStatements(sql)).toHaveLength(2);
    const words = significant(tokenize(sql))
      .filter((t) => t.kind === 'word')
      .map((t) => t.value);
    expect(words).toEqual(['select', 'from', 't', 'select']);
  });
});

describe('CockroachDB user and hash behaviours (pure)', () => {
  it('folds names as lexbase.NormalizeName does (pkg/sql/lexbase/normalize.go)', () => {
    expect(normalizeName('App_User')).toBe('app_user');
    expect(normalizeName('\u0130\u0131')).toBe('ii');
    // Go maps one code point at a time: no final sigma.
    expect(normalizeName('\u039F\u0394\u039F\u03A3')).toBe('\u03BF\u03B4\u03BF\u03C3');
    expect(normalizeName('Cafe\u0301')).toBe('caf\u00e9');
  });

  it('reads stored hashes as LoadPasswordHash does (pkg/security/password/password.go)', () => {
    expect(storedMethod(null)).toEqual({ method: 'missing' });
    expect(storedMethod(`$2a$10$${'a'.repeat(53)}`)).toEqual({ method: 'bcrypt', cost: 10 });
    expect(storedMethod(`CRDB-BCRYPT$2a$12$${'a'.repeat(53)}`)).toEqual({
      method: 'bcrypt',
      cost: 12,
    });
    expect(storedMethod(scram)).toEqual({ method: 'scram', iterations: 10610 });
    expect(storedMethod(scram.replace('c2FsdHNhbHQ=', 'abcde'))).toEqual({ method: 'invalid' });
    expect(storedMethod('hunter2')).toEqual({ method: 'invalid' });
  });

  it('converts hashes after a cleartext login as MaybeConvertPasswordHash does', () => {
    const on = {
      upgradeBcrypt: true,
      downgradeScram: true,
      rehashOnCostChange: true,
      passwordEncryption: 'scram-sha-256',
      scramCost: 10610,
    };
    expect(conversionAfterCleartextLogin({ method: 'bcrypt', cost: 10 }, on)).toEqual({
      to: 'scram',
      iterations: 10610,
      why: 'upgrade',
    });
    expect(
      conversionAfterCleartextLogin(
        { method: 'bcrypt', cost: 10 },
        { ...on, upgradeBcrypt: false },
      ),
    ).toBeUndefined();
    expect(conversionAfterCleartextLogin({ method: 'scram', iterations: 4096 }, on)).toMatchObject({
      to: 'scram',
      iterations: 10610,
      why: 'rehash',
    });
    expect(
      conversionAfterCleartextLogin(
        { method: 'scram', iterations: 10610 },
        { ...on, passwordEncryption: 'crdb-bcrypt' },
      ),
    ).toEqual({ to: 'bcrypt', cost: 10, why: 'downgrade' });
    // 4096 is the count of costs 4 to 7: the inverse picks the last of them.
    expect(scramIterationsToBcryptCost(4096)).toBe(7);
    expect(scramIterationsToBcryptCost(24302)).toBe(11);
  });

  it('asks for cleartext under cert-password for bcrypt, and for a downgrade (pkg/sql/pgwire/auth_methods.go)', () => {
    const s = {
      autoScramPromotion: true,
      rehashOnCostChange: true,
      passwordEncryption: 'scram-sha-256',
      scramCost: 10610,
    };
    const method = 'cert-password' as const;
    expect(loginExchange({ method, stored: { method: 'bcrypt', cost: 10 }, settings: s })).toBe(
      'cleartext',
    );
    expect(loginExchange({ method, stored: { method: 'invalid' }, settings: s })).toBe('scram');
    const scram10610 = { method: 'scram', iterations: 10610 } as const;
    expect(
      loginExchange({
        method,
        stored: scram10610,
        settings: { ...s, passwordEncryption: 'crdb-bcrypt' },
      }),
    ).toBe('cleartext');
    expect(
      loginExchange({
        method,
        stored: scram10610,
        settings: { ...s, passwordEncryption: 'crdb-bcrypt', downgradeScram: false },
      }),
    ).toBe('scram');
  });

  it('decides CREATE USER as CreateRoleNode does (pkg/sql/create_role.go)', () => {
    const base = {
      name: 'New_User',
      exists: () => false,
      isRole: false,
      ifNotExists: false,
      login: undefined,
      password: scram,
      settings,
    };
    expect(decideCreateRole({ ...base, caller: caller('c') })).toMatchObject({
      error: { code: '42501', message: 'user c does not have CREATEROLE privilege' },
    });
    expect(decideCreateRole({ ...base, caller: caller('c', 'CREATEROLE') })).toMatchObject({
      error: { code: '42501', message: 'user c does not have CREATELOGIN privilege' },
    });
    const admin = caller('c', 'CREATEROLE', 'CREATELOGIN');
    expect(decideCreateRole({ ...base, caller: admin })).toMatchObject({
      outcome: 'create',
      name: 'new_user',
      login: true,
      password: { outcome: 'store-pre-hashed', hash: scram },
    });
    expect(
      decideCreateRole({
        ...base,
        caller: caller('c', 'CREATEROLE'),
        isRole: true,
        password: undefined,
      }),
    ).toMatchObject({ outcome: 'create', login: false, password: undefined });
    expect(decideCreateRole({ ...base, caller: admin, exists: () => true })).toMatchObject({
      error: { code: '42710' },
    });
    expect(decideCreateRole({ ...base, caller: admin, name: 'pg_x' })).toMatchObject({
      error: { code: '42939' },
    });
    expect(decideCreateRole({ ...base, caller: admin, name: 'bad name' })).toMatchObject({
      error: { code: '42602' },
    });
  });

  it('lets VIEWSYSTEMTABLE read system.users only from v23.1.11 (pkg/sql/authorization.go)', () => {
    const viewer = caller('v', 'VIEWSYSTEMTABLE');
    expect(checkSystemUsersPrivilege(viewer, 'CockroachDB CCL v23.1.10 (x)')).toMatchObject({
      code: '42501',
    });
    expect(checkSystemUsersPrivilege(viewer, 'CockroachDB CCL v23.1.11 (x)')).toBeUndefined();
    expect(checkSystemUsersPrivilege(caller('v'), 'CockroachDB CCL v25.2.2 (x)')).toMatchObject({
      code: '42501',
    });
  });
});
