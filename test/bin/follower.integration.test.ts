/**
 * `npm run follower`: the client impact of each strategy, measured on the
 * local stack. The model runs in process for the measurements (one stack;
 * the short runs side by side); the CLI itself is run once for its usage and
 * its `--json` line.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { follow } from '../../bin/follower/follow.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

const run = promisify(execFile);
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack();
});

afterAll(async () => {
  await stack?.stop();
});

// Alone, so that the other runs' load does not stretch a rotation past the
// margin the model leaves it (interval minus cache).
describe('the follower, alone', () => {
  it('loses no login to 20 alternating rotations when clients cache for a second (npm run follower -- --strategy alternating --rotations 20 --cache-ms 1000)', {
    timeout: 180_000,
  }, async () => {
    const { report, rotationResults } = await follow(stack, {
      strategy: 'alternating',
      rotations: 20,
      cacheMs: 1_000,
    });
    expect(rotationResults.filter((r) => !r.ok)).toEqual([]);
    expect(report.attempts).toBeGreaterThan(1_000);
    expect(report).toMatchObject({ failedLogins: 0, longestFailureMs: 0, intervalMs: 2_000 });
  });
});

describe.concurrent('the follower', () => {
  it('counts the logins single-user rotation costs clients that cache the secret for a second', async () => {
    const { report, rotationResults } = await follow(stack, {
      strategy: 'single-user',
      rotations: 2,
      cacheMs: 1_000,
    });
    expect(rotationResults.every((r) => r.ok)).toBe(true);
    expect(report).toMatchObject({
      strategy: 'single-user',
      rotations: 2,
      cacheMs: 1_000,
      intervalMs: 2_000,
    });
    // Counted, whatever their number: a client fails from the change until
    // its cache refreshes, so some of each client's logins are refused.
    expect(report.failedLogins).toBeGreaterThan(0);
    expect(report.failedLogins).toBeLessThan(report.attempts);
    expect(report.longestFailureMs).toBeGreaterThan(0);
  });

  it('shows failures with alternating users too when rotations come faster than the cache refreshes', async () => {
    const { report, rotationResults } = await follow(stack, {
      strategy: 'alternating',
      rotations: 4,
      cacheMs: 1_000,
      intervalMs: 300,
    });
    expect(rotationResults.every((r) => r.ok)).toBe(true);
    expect(report.intervalMs).toBe(300);
    expect(report.failedLogins).toBeGreaterThan(0);
  });

  it('runs as a CLI that ends with the JSON report, and refuses a bad strategy', async () => {
    const { stdout } = await run(
      'npx',
      [
        'tsx',
        'bin/follower.ts',
        '--strategy',
        'admin',
        '--rotations',
        '1',
        '--cache-ms',
        '0',
        '--json',
      ],
      { timeout: 60_000 },
    );
    const last = stdout.trim().split('\n').at(-1) ?? '';
    const report = JSON.parse(last) as Record<string, unknown>;
    expect(Object.keys(report)).toEqual([
      'strategy',
      'rotations',
      'cacheMs',
      'intervalMs',
      'attempts',
      'failedLogins',
      'longestFailureMs',
      'failedQueries',
    ]);
    expect(report).toMatchObject({ strategy: 'admin', rotations: 1, cacheMs: 0, intervalMs: 0 });
    expect(report.attempts).toEqual(expect.any(Number));
    expect(stdout).toContain('rotation   1  ok');

    const bad = await run('npx', [
      'tsx',
      'bin/follower.ts',
      '--strategy',
      'root',
      '--rotations',
      '1',
      '--cache-ms',
      '0',
    ]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(bad?.code).toBe(64);
    expect(bad?.stderr).toContain('--strategy must be one of single-user, admin, alternating');
  });
});
