/**
 * Rotations through RotateSecret, per rotation mode, on the local stack:
 * wall time, each step's time, and what each rotation cost, counted at the
 * Secrets Manager endpoint and in PostgreSQL's log.
 *
 * The modes are the function's own (`STRATEGIES`, what ROTATION_MODE names
 * besides `auto`); each needs a setup below, which the type system enforces.
 *
 * @module
 */
import { STRATEGIES, type StrategyName } from '../lambda/strategies/strategy.js';
import type { ApplicationUser, LocalStack } from '../local/stack.js';
import { type OperationCounts, RequestCounter, ServerLogReader, total } from './counts.js';
import { FUNCTION_ACCESS_KEY, type FunctionModule } from './function.js';
import { type Stats, stats, timed } from './stats.js';
import { type Phases, WireTrace } from './wire.js';

/** The modes the bench rotates in, in the function's own order. */
export const MODES: readonly StrategyName[] = STRATEGIES;

/**
 * A user whose secret names an admin secret (`masterarn`): an admin role
 * with CREATEROLE and ADMIN OPTION on the user, as PostgreSQL 16+ asks.
 */
async function adminManagedUser(stack: LocalStack, prefix: string): Promise<ApplicationUser> {
  const admin = await stack.createApplicationUser({
    username: `${prefix}_admin`,
    createRole: true,
  });
  return stack.createApplicationUser({
    username: `${prefix}_user`,
    managedBy: admin.username,
    extraKeys: { masterarn: admin.secretArn },
  });
}

/** How to make a secret that rotates in a mode. */
interface ModeSetup {
  /** Creates the user (and whatever else the mode needs) and its secret. */
  readonly user: (stack: LocalStack) => Promise<ApplicationUser>;
  /** What the mode reads beyond the single-user baseline, for the report. */
  readonly extra: string;
}

const MODE_SETUPS: Record<StrategyName, ModeSetup> = {
  'single-user': {
    user: (stack) => stack.createApplicationUser({ username: 'bench_single_user' }),
    extra: '',
  },
  admin: {
    user: (stack) => adminManagedUser(stack, 'bench_admin'),
    extra: "GetSecretValue of the admin secret (masterarn); its login replaces the user's",
  },
  alternating: {
    user: (stack) => adminManagedUser(stack, 'bench_alternating'),
    extra:
      "GetSecretValue of the admin secret (masterarn); its login replaces the user's; the secret alternates between the user and its clone, created by the first rotation",
  },
};

/** The rotation steps, for per-step times. */
const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

/** One mode's results. */
export interface ModeResult {
  readonly mode: StrategyName;
  readonly rotations: number;
  /** Successful logins of the function per rotation (the most any rotation made). */
  readonly dbLogins: number;
  /** Connections that never logged in, per rotation (the most any rotation made). */
  readonly failedLogins: number;
  /** Secrets Manager requests per rotation (the most any rotation made). */
  readonly smCalls: number;
  /** The same, by operation, for the rotation that made the most. */
  readonly smCallsByOperation: OperationCounts;
  /** Statements the function ran per rotation (the most any rotation made). */
  readonly statements: number;
  /** Whether every rotation made the same calls and logins. */
  readonly consistent: boolean;
  /** Median wall time from RotateSecret to the end of finishSecret. */
  readonly rotationMs: number;
  readonly rotation: Stats;
  readonly stepMs: Readonly<Record<(typeof STEPS)[number], Stats>>;
  /** Median per rotation of each phase on the wire. */
  readonly phases: Phases;
  /** Median per rotation of the time inside the function's four invocations. */
  readonly inFunctionMs: number;
  /** What the mode reads beyond single-user. */
  readonly extra: string;
}

/** What one rotation cost. */
interface RotationSample {
  readonly ms: number;
  readonly sm: OperationCounts;
  readonly logins: number;
  readonly failedLogins: number;
  readonly statements: number;
  readonly phases: Phases;
  readonly inFunctionMs: number;
}

/** Per-key median of phase samples. */
function medianPhases(samples: readonly Phases[]): Phases {
  const keys = Object.keys(samples[0] ?? {}) as (keyof Phases)[];
  return Object.fromEntries(
    keys.map((key) => [key, stats(samples.map((s) => s[key])).median]),
  ) as unknown as Phases;
}

/**
 * Rotates one secret per mode `rounds` times, modes interleaved (the order
 * turns each round), counting at the endpoint and in the server log.
 */
export async function benchModes(
  stack: LocalStack,
  fn: FunctionModule,
  rounds: number,
  onProgress: (line: string) => void,
): Promise<ModeResult[]> {
  const counter = new RequestCounter(stack.secretsManager, FUNCTION_ACCESS_KEY);
  const serverLog = new ServerLogReader(stack.postgres);
  const trace = new WireTrace(stack.postgres.port, FUNCTION_ACCESS_KEY);
  const setups = await Promise.all(
    MODES.map(async (mode) => {
      const user = await MODE_SETUPS[mode].user(stack);
      const arn = stack.secretsManager.lambdaArn(`scram-rotator-bench-${mode}`);
      // One function per mode, configured for it, as a deployment would be.
      const handler = fn.createHandler({ env: { ...process.env, ROTATION_MODE: mode } });
      stack.secretsManager.registerRotationFunction(arn, (event, context) =>
        handler(event, context),
      );
      return { mode, user, arn };
    }),
  );
  const samples = new Map<StrategyName, RotationSample[]>(MODES.map((mode) => [mode, []]));
  trace.install();
  try {
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < setups.length; i++) {
        const { mode, user, arn } = setups[(round + i) % setups.length] as (typeof setups)[number];
        await serverLog.mark();
        counter.take();
        trace.take();
        let token = '';
        const ms = await timed(async () => {
          const outcome = await stack.rotate(user.secretArn, arn, { timeoutMs: 60_000 });
          if (!outcome.ok) {
            throw new Error(
              `${mode} rotation failed at ${outcome.failedStep}: ${outcome.errorMessage}`,
            );
          }
          token = outcome.token;
        });
        const phases = trace.take();
        const sm = counter.take();
        const log = await serverLog.take();
        samples.get(mode)?.push({
          ms,
          sm,
          logins: log.logins,
          failedLogins: log.failedLogins,
          statements: log.statements,
          phases,
          inFunctionMs: stack.secretsManager.invocations
            .filter((i) => i.token === token)
            .reduce((sum, i) => sum + i.durationMs, 0),
        });
      }
      onProgress(`  round ${round + 1}/${rounds}`);
    }
  } finally {
    trace.uninstall();
    counter.stop();
  }
  return setups.map(({ mode, user }) => {
    const runs = samples.get(mode) ?? [];
    const worst = runs.reduce((a, b) => (total(b.sm) > total(a.sm) ? b : a));
    const signature = (s: RotationSample) =>
      JSON.stringify([total(s.sm), s.logins, s.failedLogins, s.statements]);
    const invocations = stack.secretsManager.invocations.filter(
      (i) => i.secretArn === user.secretArn,
    );
    const rotation = stats(runs.map((r) => r.ms));
    return {
      mode,
      rotations: runs.length,
      dbLogins: Math.max(...runs.map((r) => r.logins)),
      failedLogins: Math.max(...runs.map((r) => r.failedLogins)),
      smCalls: Math.max(...runs.map((r) => total(r.sm))),
      smCallsByOperation: worst.sm,
      statements: Math.max(...runs.map((r) => r.statements)),
      consistent: new Set(runs.map(signature)).size === 1,
      rotationMs: rotation.median,
      rotation,
      stepMs: Object.fromEntries(
        STEPS.map((step) => [
          step,
          stats(invocations.filter((i) => i.step === step).map((i) => i.durationMs)),
        ]),
      ) as Record<(typeof STEPS)[number], Stats>,
      phases: medianPhases(runs.map((r) => r.phases)),
      inFunctionMs: stats(runs.map((r) => r.inFunctionMs)).median,
      extra: MODE_SETUPS[mode].extra,
    };
  });
}
