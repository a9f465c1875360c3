import { describe, expect, it } from 'vitest';
import { mayApply, readPgHbaRule } from '../../../bin/workflow/postgres-hba.js';

const row = (auth_method: string | null, error: string | null = null) => ({
  line_number: 7,
  type: 'hostssl',
  database: ['all'],
  user_name: ['all'],
  auth_method,
  error,
});

describe('readPgHbaRule', () => {
  it('reads the methods that take a cleartext password as cleartext, ldap, radius, pam and bsd included', () => {
    for (const method of ['password', 'ldap', 'radius', 'pam', 'bsd']) {
      expect(readPgHbaRule(row(method))).toEqual({ kind: 'known', method: 'cleartext' });
    }
    expect(readPgHbaRule(row('scram-sha-256'))).toEqual({ kind: 'known', method: 'scram' });
    expect(readPgHbaRule(row('trust'))).toEqual({ kind: 'known', method: 'none' });
  });

  it('reads a line with an error, or a method it does not know, as unknown', () => {
    expect(readPgHbaRule(row(null, 'invalid authentication method "ldapp"'))).toMatchObject({
      kind: 'unknown',
      why: 'line 7 has an error, so the server kept its previous rules',
    });
    expect(readPgHbaRule(row('oauth'))).toMatchObject({ kind: 'unknown' });
    expect(readPgHbaRule(row('toString'))).toMatchObject({ kind: 'unknown' });
  });
});

describe('mayApply', () => {
  it('takes a group, a regular expression, an unexpanded file or a same* keyword to match', () => {
    for (const entry of ['+legacy', '/^app', '@users', 'samerole', 'sameuser']) {
      expect(mayApply([entry], 'app')).toBe(true);
    }
    expect(mayApply(['all'], 'app')).toBe(true);
    expect(mayApply(null, 'app')).toBe(true);
    expect(mayApply(['other', 'replication'], 'app')).toBe(false);
  });
});
