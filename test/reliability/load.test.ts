/**
 * Many secrets rotated at once against one PostgreSQL with a small
 * max_connections: every rotation completes (the steps wait out 53300 with
 * jittered backoff), and how long it takes. In the full run, the same load
 * again with the function's concurrency limited (as reserved concurrency
 * does), which is what the construct's default is chosen from.
 */
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SdkSecretStore } from '../../lambda/adapters/secrets-manager.js';
import type { RotationEvent } from '../../lambda/core/event.js';
import { handlerFor, LogLines, readStage } from '../fixtures/drive.js';
import { LeakWatch } from '../fixtures/leaks.js';
import { HARNESSES, type Harness, logsIn, type ReliabilityUser } from './harness.js';
import { PLAN } from './plan.js';
import { count, summarize } from './report.js';

const { rotations, maxConnections } = PLAN.concurrent;
const watch = new LeakWatch();
let harness: Harness;
let sampler: pg.Client;

beforeAll(async () => {
  watch.start();
  harness = await HARNESSES.postgres({ postgres: { maxConnections } });
  sampler = await harness.postgres.connect(
    harness.postgres.admin.user,
    harness.postgres.admin.password,
  );
});

afterAll(async () => {
  await sampler?.end();
  await harness?.stop();
  watch.stop();
});

/** Users created a few at a time (the admin's slots are few). */
async function createUsers(n: number): Promise<ReliabilityUser[]> {
  const users: ReliabilityUser[] = [];
  while (users.length < n) {
    const batch = Math.min(10, n - users.length);
    users.push(...(await Promise.all(Array.from({ length: batch }, () => harness.createUser()))));
  }
  return users;
}

/** Samples how many connections the function holds, until stopped; returns the peak. */
function samplePeak(): { stop: () => Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await sampler.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'scram-rotator'",
      );
      peak = Math.max(peak, Number(rows[0]?.n ?? 0));
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return peak;
    },
  };
}

/** At most `limit` invocations at once, the others waiting for a slot, as reserved concurrency. */
function limited(limit: number | undefined) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (limit !== undefined && active >= limit) {
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    active++;
    try {
      return await work();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

interface LoadOutcome {
  readonly completed: number;
  readonly failed: number;
  readonly seconds: number;
  readonly peak: number;
  readonly retries: number;
  readonly failures: string[];
}

/**
 * Rotates every user at once, each secret in its own environment (its own
 * handler, as Lambda gives each concurrent invocation its own), at most
 * `limit` invocations running at a time.
 */
async function rotateAll(users: readonly ReliabilityUser[], limit?: number): Promise<LoadOutcome> {
  const slot = limited(limit);
  const logs = new LogLines();
  const environments = new Map(
    users.map((user) => [
      user.secretArn,
      handlerFor({
        secrets: new SdkSecretStore(harness.client),
        env: { ROTATION_MODE: 'single-user' },
        logs,
      }),
    ]),
  );
  const arn = harness.endpoint.lambdaArn(`load-${limit ?? 'unlimited'}-${Date.now()}`);
  harness.endpoint.registerRotationFunction(arn, (event: RotationEvent, context: Context) =>
    slot(() => {
      const handler = environments.get(event.SecretId);
      if (handler === undefined) throw new Error('no environment for this secret');
      return handler(event, context);
    }),
  );
  const peak = samplePeak();
  const started = performance.now();
  await Promise.all(
    users.map((user) =>
      harness.client.send(
        new RotateSecretCommand({
          SecretId: user.secretArn,
          RotationLambdaARN: arn,
          RotationRules: { AutomaticallyAfterDays: 30 },
        }),
      ),
    ),
  );
  const outcomes = await Promise.all(
    users.map((user) => harness.endpoint.waitForRotation(user.secretArn, { timeoutMs: 300_000 })),
  );
  const seconds = (performance.now() - started) / 1000;
  const failures = outcomes.filter((o) => !o.ok).map((o) => `${o.failedStep}: ${o.errorMessage}`);
  for (const failure of failures) watch.text(failure);
  for (const line of logs.lines) watch.text(JSON.stringify(line));
  return {
    completed: outcomes.filter((o) => o.ok).length,
    failed: failures.length,
    seconds,
    peak: await peak.stop(),
    retries: logs.lines.filter((l) => String(l.message).includes('retrying after a transient'))
      .length,
    failures,
  };
}

describe(`${rotations} secrets rotated at once against max_connections=${maxConnections}`, () => {
  it('all complete, and AWSCURRENT logs in for every one', async ({ task }) => {
    const users = await createUsers(rotations);
    const outcome = await rotateAll(users);
    count(task.meta, 'concurrentRotations', outcome.completed);
    count(task.meta, 'concurrentFailures', outcome.failed);
    summarize(
      task.meta,
      `${rotations} at once vs max_connections=${maxConnections}`,
      `${outcome.completed}/${rotations} completed in ${outcome.seconds.toFixed(1)} s; ` +
        `peak ${outcome.peak} connections; ${outcome.retries} transient retries`,
    );
    expect(outcome.failures).toEqual([]);
    for (const user of users) {
      const current = await readStage(harness.client, user.secretArn, 'AWSCURRENT');
      watch.secret(current?.password);
      expect(await logsIn(current)).toBe(true);
    }
  });

  it.for(PLAN.concurrencyLimits)(
    'with the function limited to %i at once (reserved concurrency)',
    async (limit, { task }) => {
      const users = await createUsers(rotations);
      const outcome = await rotateAll(users, limit);
      summarize(
        task.meta,
        `${rotations} at once, reserved concurrency ${limit}`,
        `${outcome.completed}/${rotations} completed in ${outcome.seconds.toFixed(1)} s; ` +
          `peak ${outcome.peak} connections; ${outcome.retries} transient retries`,
      );
      expect(outcome.failures).toEqual([]);
      // One connection per running invocation at most: the limit bounds the load.
      expect(outcome.peak).toBeLessThanOrEqual(limit);
    },
  );

  it('printed no password or verifier in any log line or error message', ({ task }) => {
    const leaks = watch.leaks();
    count(task.meta, 'leaks', leaks.length);
    expect(leaks).toEqual([]);
  });
});
