import { describe, expect, it } from 'vitest';
import { countServerLog, total } from '../../bench/counts.js';

/** Log lines as PostgreSQL writes them with the local stack's log_line_prefix. */
const at = (pid: number, who: string, level: string, message: string) =>
  `2026-11-29 20:40:33.566 UTC [${pid}] ${who} ${level}:  ${message}`;

describe('counting the server log', () => {
  it("counts the function's logins and statements, and connections that never logged in", () => {
    const log = [
      // The function's session (application_name scram-rotator), with a statement over two lines.
      at(1, '[unknown]@[unknown]', 'LOG', 'connection received: host=127.0.0.1 port=1'),
      at(1, 'app@postgres', 'LOG', 'connection authenticated: identity="app" method=scram-sha-256'),
      at(
        1,
        'app@postgres',
        'LOG',
        'connection authorized: user=app database=postgres application_name=scram-rotator SSL enabled (protocol=TLSv1.3)',
      ),
      at(1, 'app@postgres', 'LOG', 'statement: SELECT session_user, current_user'),
      at(1, 'app@postgres', 'LOG', 'execute <unnamed>: '),
      '\tSELECT r.rolname FROM pg_catalog.pg_roles r',
      at(1, 'app@postgres', 'DETAIL', "Parameters: $1 = 'app'"),
      // The bench's own admin session: logged in, not the function's.
      at(2, '[unknown]@[unknown]', 'LOG', 'connection received: host=127.0.0.1 port=2'),
      at(
        2,
        'postgres@postgres',
        'LOG',
        'connection authorized: user=postgres database=postgres SSL enabled',
      ),
      at(2, 'postgres@postgres', 'LOG', "statement: SELECT 'log-barrier'"),
      // A login that failed.
      at(3, '[unknown]@[unknown]', 'LOG', 'connection received: host=127.0.0.1 port=3'),
      at(3, 'app@postgres', 'FATAL', 'password authentication failed for user "app"'),
      at(4, '[unknown]@[unknown]', 'LOG', 'connection received: host=127.0.0.1 port=4'),
      at(4, 'app@postgres', 'FATAL', 'sorry, too many clients already'),
    ].join('\n');
    expect(countServerLog(log)).toEqual({
      logins: 1,
      failedLogins: 2,
      statements: 2,
      fatal: {
        'password authentication failed for user "…"': 1,
        'sorry, too many clients already': 1,
      },
    });
  });

  it('finds nothing in an empty stretch', () => {
    expect(countServerLog('')).toEqual({ logins: 0, failedLogins: 0, statements: 0, fatal: {} });
  });

  it('adds up requests by operation', () => {
    expect(total({ DescribeSecret: 4, GetSecretValue: 5, PutSecretValue: 1 })).toBe(10);
    expect(total({})).toBe(0);
  });
});
