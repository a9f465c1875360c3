/**
 * Many rotations in one process, as one warm Lambda environment serves
 * them: no growth in handles or sockets once it is warm (a connection,
 * timer or listener left behind per rotation would show up here long
 * before it exhausted a real environment).
 */
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { SdkSecretStore } from '../../lambda/adapters/secrets-manager.js';
import { handlerFor } from '../fixtures/drive.js';
import { LeakWatch, watchAround } from '../fixtures/leaks.js';
import { checkInvariants, HARNESSES, type Harness } from './harness.js';
import { PLAN } from './plan.js';
import { count, summarize } from './report.js';

const watch = new LeakWatch();
let harness: Harness;

watchAround(watch, async () => (harness = await HARNESSES.postgres({})));

/** Live handles and sockets by type, once pending callbacks have run. */
async function resources(): Promise<Record<string, number>> {
  await new Promise((resolve) => setTimeout(resolve, 200));
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

const total = (counts: Record<string, number>) =>
  Object.values(counts).reduce((sum, n) => sum + n, 0);

/** How many more of each type `after` has than `before`. */
function growth(before: Record<string, number>, after: Record<string, number>) {
  return Object.fromEntries(
    Object.entries(after)
      .map(([type, n]) => [type, n - (before[type] ?? 0)] as const)
      .filter(([, more]) => more > 0),
  );
}

describe(`${PLAN.endurance.rotations} rotations in one process`, () => {
  it('leave no handle or socket behind', async ({ task }) => {
    const { rotations, warmUp } = PLAN.endurance;
    const user = await harness.createUser();
    const handler = handlerFor({ secrets: new SdkSecretStore(harness.client) });
    const arn = harness.endpoint.lambdaArn('endurance');
    harness.endpoint.registerRotationFunction(arn, (event, context) => handler(event, context));
    const rotate = async () => {
      await harness.client.send(
        new RotateSecretCommand({
          SecretId: user.secretArn,
          RotationLambdaARN: arn,
          RotationRules: { AutomaticallyAfterDays: 30 },
        }),
      );
      const outcome = await harness.endpoint.waitForRotation(user.secretArn, { timeoutMs: 60_000 });
      watch.text(outcome.errorMessage ?? '');
      return outcome.ok;
    };

    let completed = 0;
    for (let i = 0; i < warmUp; i++) if (await rotate()) completed++;
    const before = await resources();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = warmUp; i < rotations; i++) if (await rotate()) completed++;
    const after = await resources();
    const heapAfter = process.memoryUsage().heapUsed;

    const more = growth(before, after);
    const grown = Object.values(more).reduce((sum, n) => sum + n, 0);
    count(task.meta, 'leaks', grown);
    summarize(
      task.meta,
      `${rotations} rotations in one process`,
      `${completed} completed; handles ${total(before)} -> ${total(after)}, ` +
        `sockets ${before.TCPSocketWrap ?? 0} -> ${after.TCPSocketWrap ?? 0} (after ${warmUp} to warm up); ` +
        `heap ${(heapBefore / 2 ** 20).toFixed(0)} -> ${(heapAfter / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(completed).toBe(rotations);
    expect(more).toEqual({});
    expect(await checkInvariants(harness, user, true, (v) => watch.secret(v))).toEqual([]);
  });

  it('printed no password or verifier in any log line or error message', ({ task }) => {
    const leaks = watch.leaks();
    count(task.meta, 'leaks', leaks.length);
    expect(leaks).toEqual([]);
  });
});
