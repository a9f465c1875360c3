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

// Every run here counts time with the stepped clock: time moves only once
// each client has made its login for the moment, and stands still while a
// rotation runs, so what the model predicts from the schedule (interval,
// cache, login pace) is exactly what it reports, however loaded the machine.
describe.concurrent('the follower', () => {
  it('loses no login to 20 alternating rotations when clients cache for a second (npm run follower -- --strategy alternating --rotations 20 --cache-ms 1000)', {
    timeout: 180_000,
  }, async () => {
    const { report, rotationResults, otherErrors } = await follow(stack, {
      strategy: 'alternating',
      rotations: 20,
      cacheMs: 1_000,
      loginEveryMs: 250,
      clock: 'stepped',
    });
    expect(rotationResults.filter((r) => !r.ok)).toEqual([]);
    expect(otherErrors).toEqual({});
    // A login every 250 ms from 0 to 20 × 2 s + 1 s + 4 logins: 169 per client.
    expect(report).toEqual({
      strategy: 'alternating',
      rotations: 20,
      cacheMs: 1_000,
      intervalMs: 2_000,
      attempts: 4 * 169,
      failedLogins: 0,
      // Every session after a login sees the user's search_path.
      failedQueries: 0,
      longestFailureMs: 0,
    });
  });

  it('counts the logins single-user rotation costs clients that cache the secret for a second', {
    timeout: 120_000,
  }, async () => {
    const { report, rotationResults, otherErrors } = await follow(stack, {
      strategy: 'single-user',
      rotations: 2,
      cacheMs: 1_000,
      loginEveryMs: 250,
      clock: 'stepped',
    });
    expect(rotationResults.every((r) => r.ok)).toBe(true);
    expect(otherErrors).toEqual({});
    // Rotations at 2 s and 4 s; the four clients read the secret again at
    // 1 s intervals, 250 ms apart (last reads before each rotation at 2000,
    // 1750, 1500 and 1250 ms). Each then fails every 250 ms from the rotation
    // until its next read: 3 + 2 + 1 + 0 logins, twice. The longest stretch:
    // from the first refusal at 2250 ms to the read at 3000 ms.
    expect(report).toEqual({
      strategy: 'single-user',
      rotations: 2,
      cacheMs: 1_000,
      intervalMs: 2_000,
      attempts: 4 * 25,
      failedLogins: 2 * (3 + 2 + 1 + 0),
      // Every session after a login sees the user's search_path.
      failedQueries: 0,
      longestFailureMs: 750,
    });
  });

  it('shows failures with alternating users too when rotations come faster than the cache refreshes', {
    timeout: 120_000,
  }, async () => {
    const { report, rotationResults, otherErrors } = await follow(stack, {
      strategy: 'alternating',
      rotations: 4,
      cacheMs: 1_000,
      intervalMs: 300,
      loginEveryMs: 50,
      clock: 'stepped',
    });
    expect(rotationResults.every((r) => r.ok)).toBe(true);
    expect(otherErrors).toEqual({});
    // Rotations at 300, 600, 900 and 1200 ms; a password is replaced by the
    // rotation after the next, so a client fails (every 50 ms) once its copy
    // is two rotations old: from 650 ms until it reads at 1000, 750 (and
    // again from 1250 until 1750) and 1250 ms; from 950 until it reads at
    // 1500 ms. The longest stretch: from 650 ms to the read at 1250 ms.
    expect(report).toEqual({
      strategy: 'alternating',
      rotations: 4,
      cacheMs: 1_000,
      intervalMs: 300,
      attempts: 4 * 49,
      failedLogins: 7 + (2 + 10) + 11 + 12,
      // Every session after a login sees the user's search_path.
      failedQueries: 0,
      longestFailureMs: 600,
    });
  });

  // Two CLI processes start (tsx compiles on the way): minutes, not seconds,
  // on a machine whose cores are busy.
  it('runs as a CLI that ends with the JSON report, and refuses a bad strategy', {
    timeout: 300_000,
  }, async () => {
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
      { timeout: 240_000 },
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
    expect(bad?.stderr).toContain('--strategy takes one of single-user, admin, alternating');
  });
});
