import { describe, expect, it } from 'vitest';
import { readHbaRules } from '../../../bin/workflow/cockroach.js';

/** How audit and doctor read CockroachDB's HBA setting: unknown is never read as safe. */

describe('readHbaRules', () => {
  it('counts every method that asks for a cleartext password, or none (pkg/sql/pgwire/auth_methods.go)', () => {
    const reading = readHbaRules(
      [
        'host all a all password',
        'host all b all cert-password',
        'hostssl all c all ldap ldapserver=ldap.example.com ldapport=636',
        'host all d all jwt_token',
        'host all e 10.0.0.0 255.0.0.0 trust',
        'host all f all scram-sha-256',
        'host all g all cert-scram-sha-256',
        'hostssl all h all cert',
        'host all i ::1/128 reject',
      ].join('\n'),
    );
    expect(reading).toEqual({
      kind: 'parsed',
      weak: [
        { line: 'host all a all password', method: 'password' },
        { line: 'host all b all cert-password', method: 'cert-password' },
        {
          line: 'hostssl all c all ldap ldapserver=ldap.example.com ldapport=636',
          method: 'ldap',
        },
        { line: 'host all d all jwt_token', method: 'jwt_token' },
        { line: 'host all e 10.0.0.0 255.0.0.0 trust', method: 'trust' },
      ],
    });
  });

  it("reads an empty setting as CockroachDB's default, whose rules take cleartext (pkg/sql/pgwire/hba_conf.go)", () => {
    expect(readHbaRules('')).toMatchObject({
      kind: 'parsed',
      weak: [{ method: 'cert-password' }, { method: 'password' }],
    });
  });

  it('leaves out only the mandatory root rule, which cannot be removed', () => {
    expect(readHbaRules('host all root all cert-password\nhost all all all scram-sha-256')).toEqual(
      { kind: 'parsed', weak: [] },
    );
  });

  it('reads the <redacted> mask, an unknown method or type and a rule without a method as unknown, not as safe', () => {
    for (const [config, reason] of [
      ['<redacted>', 'unknown connection type "<redacted>"'],
      ['host all all all radius', 'unknown method "radius"'],
      ['hostgssenc all all all scram-sha-256', 'unknown connection type "hostgssenc"'],
      ['host all all all', 'no authentication method'],
    ] as const) {
      expect(readHbaRules(config)).toMatchObject({ kind: 'unparsable', reason });
    }
  });
});
