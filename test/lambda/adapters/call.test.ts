import { describe, expect, it } from 'vitest';
import { statementName } from '../../../lambda/adapters/call.js';

const VERIFIER =
  'SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=';

describe('statementName', () => {
  it.each([
    [`ALTER USER "app" WITH PASSWORD '${VERIFIER}'`, 'ALTER USER'],
    [`CREATE ROLE "app_clone" WITH LOGIN PASSWORD '${VERIFIER}'`, 'CREATE ROLE'],
    [
      'SHOW CLUSTER SETTING sql.auth.change_own_password.enabled',
      'SHOW CLUSTER SETTING sql.auth.change_own_password.enabled',
    ],
    ['SELECT current_setting($1, true) AS value', 'SELECT current_setting'],
    [
      '\n  SELECT r.rolname::text AS rolname, r.rolsuper, r.rolcreaterole, r.rolbypassrls',
      'SELECT r.rolname::text AS rolname, r.rolsuper, r.rolcreaterole',
    ],
    ["'only a literal'", 'statement'],
  ])('names %j as %j, never a literal', (text, name) => {
    expect(statementName(text)).toBe(name);
    expect(statementName(text)).not.toContain('SCRAM');
  });
});
