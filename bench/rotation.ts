/**
 * `npm run bench`: speed and memory of the parts that cost time, measured
 * here rather than asserted in tests.
 *
 * - SCRAM verifier computation at the iteration counts that matter
 *   (PostgreSQL's default 4096, CockroachDB's default 10610, 100000);
 * - local PostgreSQL start and stop;
 * - full rotations through RotateSecret on the local stack, per step;
 * - the process's peak resident memory.
 *
 * Options: `--rotations <n>` (default 10), `--json` (one JSON line at the end).
 */
import { parseArgs } from 'node:util';
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { createScramVerifierAsync } from '../lambda/core/scram.js';
import { Logger } from '../lambda/telemetry.js';
import { startPostgres } from '../local/postgres.js';
import { startLocalStack } from '../local/stack.js';

const { values } = parseArgs({
  options: {
    rotations: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const rotations = Math.max(1, Number(values.rotations) || 10);
const say = (line: string) => process.stdout.write(`${line}\n`);

/** Median and 95th percentile of a sample, in milliseconds with one decimal. */
function summary(samples: number[]): { median: number; p95: number; n: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const round = (x: number) => Math.round(x * 10) / 10;
  return { median: round(at(0.5)), p95: round(at(0.95)), n: sorted.length };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

process.env.POWERTOOLS_METRICS_DISABLED = 'true';
const results: Record<string, unknown> = { node: process.version };

// 1. SCRAM verifiers.
const scram: Record<string, ReturnType<typeof summary>> = {};
for (const iterations of [4096, 10_610, 100_000]) {
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    samples.push(await timed(() => createScramVerifierAsync('bench-password-ü', { iterations })));
  }
  scram[String(iterations)] = summary(samples);
  say(`verifier at ${iterations} iterations: median ${scram[String(iterations)]?.median} ms`);
}
results.scramMs = scram;

// 2. PostgreSQL start and stop.
const starts: number[] = [];
const stops: number[] = [];
for (let i = 0; i < 3; i++) {
  let db: Awaited<ReturnType<typeof startPostgres>> | undefined;
  starts.push(
    await timed(async () => {
      db = await startPostgres();
    }),
  );
  stops.push(await timed(async () => db?.stop()));
}
results.postgresStartMs = summary(starts);
results.postgresStopMs = summary(stops);
say(
  `local PostgreSQL: start median ${summary(starts).median} ms, stop median ${summary(stops).median} ms`,
);

// 3. Rotations through RotateSecret.
const stack = await startLocalStack();
try {
  const lambdaArn = stack.registerRotationFunction({
    logger: new Logger({ serviceName: 'scram-rotator', logLevel: 'SILENT' }),
  });
  const user = await stack.createApplicationUser();
  const total: number[] = [];
  for (let i = 0; i < rotations; i++) {
    total.push(
      await timed(async () => {
        await stack.client.send(
          new RotateSecretCommand({
            SecretId: user.secretArn,
            RotationLambdaARN: lambdaArn,
            RotationRules: { AutomaticallyAfterDays: 30 },
          }),
        );
        const outcome = await stack.secretsManager.waitForRotation(user.secretArn, {
          timeoutMs: 30_000,
        });
        if (!outcome.ok) throw new Error(`rotation failed: ${outcome.errorMessage}`);
      }),
    );
  }
  const perStep: Record<string, ReturnType<typeof summary>> = {};
  for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
    perStep[step] = summary(
      stack.secretsManager.invocations.filter((i) => i.step === step).map((i) => i.durationMs),
    );
  }
  results.rotationMs = summary(total);
  results.stepMs = perStep;
  say(
    `rotation through RotateSecret (${rotations}x): median ${summary(total).median} ms, p95 ${summary(total).p95} ms`,
  );
  for (const [step, s] of Object.entries(perStep))
    say(`  ${step.padEnd(13)} median ${s.median} ms`);
} finally {
  await stack.stop();
}

// 4. Memory.
const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
results.peakRssMiB = peakRssMiB;
say(`peak resident memory of this process: ${peakRssMiB} MiB`);
if (values.json) say(JSON.stringify(results));
