/**
 * `npm run follower`'s failed queries: after every login, each client runs
 * an unqualified query on a table that only the user's per-role search_path
 * reaches, so a session that does not look like the user's is counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { follow } from '../../bin/follower/follow.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack();
});

afterAll(async () => {
  await stack?.stop();
});

describe('the follower counts failed queries', () => {
  it('none with alternating users: sessions as the clone see the original search_path', async () => {
    const { report, rotationResults } = await follow(stack, {
      strategy: 'alternating',
      rotations: 2,
      // Read before every login: the clients log in as the clone after the first rotation.
      cacheMs: 0,
      clients: 2,
    });
    expect(rotationResults.every((r) => r.ok)).toBe(true);
    expect(report.attempts - report.failedLogins).toBeGreaterThan(0);
    expect(report.failedQueries).toBe(0);
  });

  it('every query after a login when the table is not in the session search_path', async () => {
    const { report, rotationResults } = await follow(stack, {
      strategy: 'alternating',
      rotations: 1,
      cacheMs: 0,
      clients: 2,
      onUserReady: (username) =>
        stack.postgres.withAdmin(async (c) => {
          await c.query(`ALTER ROLE ${c.escapeIdentifier(username)} RESET search_path`);
        }),
    });
    expect(rotationResults.every((r) => r.ok)).toBe(true);
    const loggedIn = report.attempts - report.failedLogins;
    expect(loggedIn).toBeGreaterThan(0);
    expect(report.failedQueries).toBe(loggedIn);
  });
});
