/**
 * N secrets rotated at once by one function against one database: total
 * time, each rotation's time, failures (reported, not hidden) and the most
 * connections the server held at once.
 *
 * @module
 */
import type pg from 'pg';
import type { ApplicationUser, LocalStack } from '../local/stack.js';
import { ServerLogReader } from './counts.js';
import type { FunctionModule } from './function.js';
import { type Stats, stats } from './stats.js';

/** One N's results. */
export interface ConcurrencyResult {
  readonly n: number;
  /** Runs of this N (each with fresh secrets). */
  readonly runs: number;
  /** Wall time until the last of the N rotations ended (median over runs). */
  readonly totalMs: number;
  readonly total: Stats;
  /** Each rotation's wall time, over every rotation of every run. */
  readonly perRotation: Stats;
  /** Rotations that failed, over all runs, and of how many. */
  readonly failures: number;
  readonly rotations: number;
  /** Failures by step and error (message prefix), e.g. `setSecret: Database unreachable`. */
  readonly failureReasons: Readonly<Record<string, number>>;
  /** FATAL lines the server logged, by kind (e.g. too many clients). */
  readonly serverFatal: Readonly<Record<string, number>>;
  /** The most client connections the server held at once (over all runs). */
  readonly peakConnections: number;
}

/** Samples the server's client connections until stopped; keeps the peak. */
async function sampleConnections(admin: pg.Client, stop: { done: boolean }): Promise<number> {
  let peak = 0;
  while (!stop.done) {
    const { rows } = await admin.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    peak = Math.max(peak, rows[0]?.n ?? 0);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return peak;
}

/** Creates `count` users and secrets, a few at a time. */
async function createUsers(
  stack: LocalStack,
  count: number,
  prefix: string,
): Promise<ApplicationUser[]> {
  const users: ApplicationUser[] = [];
  for (let i = 0; i < count; i += 20) {
    const batch = Array.from({ length: Math.min(20, count - i) }, (_, j) =>
      stack.createApplicationUser({ username: `${prefix}_${i + j}` }),
    );
    users.push(...(await Promise.all(batch)));
  }
  return users;
}

/** "Database unreachable: ... (53300)" → "Database unreachable". */
function reasonOf(step: string | undefined, message: string | undefined): string {
  const prefix = (message ?? 'unknown').split(':')[0] ?? 'unknown';
  return `${step ?? 'rotation'}: ${prefix.slice(0, 80)}`;
}

/**
 * For each N, `runs` times (Ns interleaved), rotates N fresh secrets at
 * once through one single-user function.
 */
export async function benchConcurrency(
  stack: LocalStack,
  fn: FunctionModule,
  ns: readonly number[],
  runs: number,
  onProgress: (line: string) => void,
): Promise<{ maxConnections: number; results: ConcurrencyResult[] }> {
  const arn = stack.secretsManager.lambdaArn('scram-rotator-bench-concurrency');
  const handler = fn.createHandler({ env: { ...process.env, ROTATION_MODE: 'single-user' } });
  stack.secretsManager.registerRotationFunction(arn, (event, context) => handler(event, context));
  const admin = await stack.postgres.connect(
    stack.postgres.admin.user,
    stack.postgres.admin.password,
  );
  const serverLog = new ServerLogReader(stack.postgres);
  try {
    const maxConnections = Number(
      (await admin.query<{ max_connections: string }>('SHOW max_connections')).rows[0]
        ?.max_connections,
    );
    type Run = {
      totalMs: number;
      times: number[];
      reasons: string[];
      fatal: Record<string, number>;
      peak: number;
    };
    const byN = new Map<number, Run[]>(ns.map((n) => [n, []]));
    for (let run = 0; run < runs; run++) {
      for (let i = 0; i < ns.length; i++) {
        const n = ns[(run + i) % ns.length] as number;
        const users = await createUsers(stack, n, `bench_c${n}_r${run}`);
        await serverLog.mark();
        const stop = { done: false };
        const sampler = sampleConnections(admin, stop);
        const started = performance.now();
        const outcomes = await Promise.all(
          users.map(async (user) => {
            const t = performance.now();
            const outcome = await stack.rotate(user.secretArn, arn, { timeoutMs: 300_000 });
            return { ms: performance.now() - t, outcome };
          }),
        );
        const totalMs = performance.now() - started;
        stop.done = true;
        const peak = await sampler;
        const log = await serverLog.take();
        const failed = outcomes.filter((o) => !o.outcome.ok);
        byN.get(n)?.push({
          totalMs,
          times: outcomes.map((o) => o.ms),
          reasons: failed.map((o) => reasonOf(o.outcome.failedStep, o.outcome.errorMessage)),
          fatal: { ...log.fatal },
          peak,
        });
        onProgress(
          `  N=${n}: ${Math.round(totalMs)} ms, ${failed.length} failed, peak ${peak} connections`,
        );
      }
    }
    const results = ns.map((n): ConcurrencyResult => {
      const list = byN.get(n) ?? [];
      const total = stats(list.map((r) => r.totalMs));
      const failureReasons: Record<string, number> = {};
      const serverFatal: Record<string, number> = {};
      for (const r of list) {
        for (const reason of r.reasons) failureReasons[reason] = (failureReasons[reason] ?? 0) + 1;
        for (const [kind, count] of Object.entries(r.fatal)) {
          serverFatal[kind] = (serverFatal[kind] ?? 0) + count;
        }
      }
      return {
        n,
        runs: list.length,
        totalMs: total.median,
        total,
        perRotation: stats(list.flatMap((r) => r.times)),
        failures: list.reduce((sum, r) => sum + r.reasons.length, 0),
        rotations: n * list.length,
        failureReasons,
        serverFatal,
        peakConnections: Math.max(0, ...list.map((r) => r.peak)),
      };
    });
    return { maxConnections, results };
  } finally {
    await admin.end();
  }
}
