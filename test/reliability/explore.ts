/**
 * Finds every external call a rotation makes in one mode on one engine,
 * and fails the rotation at each one (an error, a lost reply, a transient
 * failure, a hang until the deadline), then retries as Secrets Manager
 * does: the remaining steps with the same token (in a new environment, so
 * without testSecret's proof), then a fresh RotateSecret.
 *
 * The call points are not listed by hand: a run with no fault records the
 * calls of every phase, and every run with a fault records the calls its
 * recovery makes (reading AWSPREVIOUS, the pending login that finds the
 * password already set, the login finishSecret makes without a proof...).
 * Each point found is injected with every fault that fits it, reached
 * through the faults that revealed it. A point found and not covered fails
 * the suite, so a call added to a step is covered by the next run, or
 * reported.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import {
  RotateSecretCommand,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { PgConnector } from '../../lambda/adapters/database.js';
import { SdkSecretStore } from '../../lambda/adapters/secrets-manager.js';
import type { RotationStep } from '../../lambda/core/event.js';
import {
  DeadlineReachedError,
  isRotationError,
  isTransientError,
  RotationError,
  type RotationErrorCode,
} from '../../lambda/errors.js';
import type { StrategyName } from '../../lambda/strategies/strategy.js';
import {
  completeRotation,
  handlerFor,
  lambdaContext,
  runStep,
  STEPS,
  type StepRun,
  stagePending,
} from '../fixtures/drive.js';
import { modeEnv } from '../fixtures/modes.js';
import { checkInvariants, type Harness, type ReliabilityUser } from './harness.js';
import {
  type CallPoint,
  FAULTS_BY_CALL,
  type FaultKind,
  type Injection,
  pointKey,
  Recorder,
} from './recorder.js';

/** How an exploration runs. */
export interface ExploreOptions {
  readonly harness: Harness;
  readonly mode: StrategyName;
  /** Remaining time given to an invocation in which a hang is armed. */
  readonly hangRemainingMs: number;
  /** The faults to inject (all of them unless the quick mode leaves some out). */
  readonly faults: readonly FaultKind[];
  /** Called with each password, verifier and error seen, to watch for leaks. */
  readonly remember: (value: unknown) => void;
  /** Called with each message seen (a rotation's failure), to check it holds no secret. */
  readonly seen: (text: string) => void;
  /**
   * Faults stacked at most: 1 injects on the paths a rotation takes without
   * faults (and its retries and fresh rotation); 2 also on the paths one
   * fault reveals (reading AWSPREVIOUS, the login that finds the password
   * already set, ...).
   */
  readonly maxDepth: number;
  /** Scenarios run at once. */
  readonly concurrency: number;
}

/** What an exploration found. */
export interface ExploreResult {
  /** Every call point seen, by key. */
  readonly found: ReadonlyMap<string, CallPoint>;
  /** Per point, the faults injected at it whose scenario held every invariant. */
  readonly covered: ReadonlyMap<string, ReadonlySet<FaultKind>>;
  /** Points found whose applicable faults were not all covered, with what is missing. */
  readonly uncovered: readonly string[];
  /** Points seen only behind `maxDepth` faults, which this exploration could not inject. */
  readonly beyond: readonly string[];
  /** What went wrong, per scenario. */
  readonly failures: readonly string[];
  readonly scenarios: number;
  /** Logins the server authorized against logins the recorder saw reach it (postgres only). */
  readonly logins: { readonly recorded: number };
}

/** The errors of a testSecret that withdrew the pending version (lambda/steps/roll-back.ts). */
const ROLLED_BACK = [
  'ROTATION_ROLLED_BACK',
  'PENDING_TEST_FAILED',
] as const satisfies readonly RotationErrorCode[];

/** The remaining time of an invocation without a hang. */
const NORMAL_REMAINING_MS = 30_000;
/** Extra time before the deadline when a hang follows a fault the step retries. */
const RETRY_ALLOWANCE_MS = 1_500;

/** A fault the step rides out itself (a transient failure, a lost database reply). */
function ridden(fault: Injection): boolean {
  return fault.fault === 'transient' || (fault.fault === 'lost-reply' && fault.kind !== 'secrets');
}

function describeInjection(injection: Injection): string {
  return `${injection.fault} at ${injection.phase} ${pointKey(injection)}`;
}

/** Explores one mode on one engine. */
export async function explore(options: ExploreOptions): Promise<ExploreResult> {
  const { maxDepth } = options;
  const beyond = new Map<string, CallPoint>();
  const found = new Map<string, CallPoint>();
  const covered = new Map<string, Set<FaultKind>>();
  const failures: string[] = [];
  const queue: Injection[][] = [[]];
  let scenarios = 0;
  let recorded = 0;
  const learn = (injections: Injection[], recorder: Recorder, problems: string[]) => {
    recorded += recorder.realLogins;
    const label = injections.map(describeInjection).join(', then ') || 'no fault';
    failures.push(...problems.map((problem) => `${options.mode}: ${label}: ${problem}`));
    const target = injections.at(-1);
    if (target !== undefined) {
      const fired = recorder.fired.some(
        (f) =>
          f.phase === target.phase && f.fault === target.fault && pointKey(f) === pointKey(target),
      );
      if (fired && problems.length === 0) {
        const faults = covered.get(pointKey(target)) ?? new Set<FaultKind>();
        faults.add(target.fault);
        covered.set(pointKey(target), faults);
      }
    }
    recorder.calls.forEach((call, index) => {
      const key = pointKey(call);
      if (found.has(key)) return;
      const point = { step: call.step, call: call.call, site: call.site, kind: call.kind };
      if (injections.length >= maxDepth) {
        beyond.set(key, point);
        return;
      }
      found.set(key, point);
      beyond.delete(key);
      // Reach it again through the faults that fired before it.
      const prefix: Injection[] = recorder.fired
        .filter((f) => f.at < index)
        .map(({ at: _, ...injection }) => injection);
      for (const fault of FAULTS_BY_CALL[call.kind]) {
        if (!options.faults.includes(fault)) continue;
        queue.push([...prefix, { ...call, fault }]);
      }
    });
  };
  // Scenarios are independent (each rotates its own user), so several run
  // at once; the points they reveal join the queue as they end.
  await new Promise<void>((done) => {
    let active = 0;
    const pump = () => {
      while (active < options.concurrency && queue.length > 0) {
        const injections = queue.shift() ?? [];
        active++;
        scenarios++;
        runScenario(options, injections)
          .then(
            ({ recorder, problems }) => learn(injections, recorder, problems),
            (error: unknown) => {
              options.remember(error);
              failures.push(`${options.mode}: the scenario broke: ${String(error)}`);
            },
          )
          .finally(() => {
            active--;
            if (active === 0 && queue.length === 0) done();
            else pump();
          });
      }
    };
    pump();
  });
  if (process.env.RELIABILITY_POINTS === '1') {
    process.stderr.write(`${[...found.keys()].join('\n')}\n`);
  }
  const uncovered = [...found]
    .map(([key, point]) => {
      const wanted = FAULTS_BY_CALL[point.kind].filter((f) => options.faults.includes(f));
      const missing = wanted.filter((f) => !covered.get(key)?.has(f));
      return missing.length === 0 ? undefined : `${options.mode}: ${key} (${missing.join(', ')})`;
    })
    .filter((entry): entry is string => entry !== undefined);
  return {
    found,
    covered,
    uncovered,
    beyond: [...beyond.keys()].map((key) => `${options.mode}: ${key}`),
    failures,
    scenarios,
    logins: { recorded },
  };
}

/** Runs one rotation with `injections` armed, its retries and a fresh rotation, checking as it goes. */
async function runScenario(
  options: ExploreOptions,
  injections: readonly Injection[],
): Promise<{ recorder: Recorder; problems: string[] }> {
  const { harness, mode } = options;
  const recorder = new Recorder();
  const problems: string[] = [];
  const user = await harness.createUser();
  recorder.secretArn = user.secretArn;
  recorder.username = user.username;
  const token = await stagePending(harness.client, harness.endpoint, user.secretArn);
  recorder.arm(injections);
  const env = modeEnv(mode);
  const newEnvironment = () =>
    handlerFor({
      secrets: recorder.secrets(new SdkSecretStore(harness.client)),
      database: recorder.database(new PgConnector()),
      env,
    });

  const invoke = async (
    handler: ReturnType<typeof newEnvironment>,
    phase: string,
    step: RotationStep,
  ): Promise<StepRun> => {
    recorder.begin(phase, step);
    const firedBefore = recorder.fired.length;
    const armed = recorder.armedIn(phase, step);
    const hang = armed.some((i) => i.fault === 'hang');
    // A hang behind a fault the step retries needs time for the retry first.
    const remaining = hang
      ? options.hangRemainingMs + (armed.some(ridden) ? RETRY_ALLOWANCE_MS : 0)
      : NORMAL_REMAINING_MS;
    const run = await runStep(handler, step, user.secretArn, token, remaining);
    options.remember(run.error);
    problems.push(
      ...afterInvocation(recorder, run, remaining, recorder.fired.slice(firedBefore)).map(
        (problem) => `${phase} ${step}: ${problem}`,
      ),
    );
    return run;
  };

  const check = async (when: string, complete: boolean) => {
    const violations = await checkInvariants(harness, user, complete, options.remember);
    problems.push(...violations.map((violation) => `${when}: ${violation}`));
  };

  // The rotation as Secrets Manager starts it.
  let failure = await runSteps(invoke, newEnvironment(), 'first', 0);
  await check('after the first attempt', false);
  // Secrets Manager's retries: the remaining steps, same token, another
  // environment; until a failed testSecret withdraws the pending version
  // (roll-back), after which the token stops at the stage guard and only a
  // new rotation goes on.
  let rolledBack = false;
  for (let attempt = 1; failure !== undefined; attempt++) {
    rolledBack ||= ROLLED_BACK.some((code) => isRotationError(failure?.error, code));
    // Without AWSPENDING the version is no longer pending, or (without any
    // label, deprecated) no longer listed at all.
    const stopped =
      isRotationError(failure.error, 'TOKEN_NOT_PENDING') ||
      isRotationError(failure.error, 'TOKEN_NOT_FOUND');
    if (rolledBack && stopped) break;
    if (attempt > 3) {
      problems.push(`the rotation did not complete in 3 retries; last: ${describeRun(failure)}`);
      return { recorder, problems };
    }
    failure = await runSteps(invoke, newEnvironment(), `retry-${attempt}`, failure.index);
    await check(`after retry ${attempt}`, false);
  }
  if (!rolledBack) await completeRotation(harness.client, user.secretArn, token);
  // Completed, or rolled back to AWSCURRENT: either way AWSCURRENT logs in.
  await check(rolledBack ? 'once rolled back' : 'once the rotation completed', true);

  // A fresh RotateSecret through the endpoint, as the next scheduled rotation.
  await freshRotation(options, recorder, user, newEnvironment(), problems);
  await check('after a fresh rotation', true);
  if (recorder.unsignalled.length > 0) {
    problems.push(`calls made without an abort signal: ${recorder.unsignalled.join('; ')}`);
  }
  return { recorder, problems };
}

/** The step that failed, and how. */
interface Failure {
  readonly index: number;
  readonly error: unknown;
}

/** A step run's failure for a message (messages hold no secret, by design). */
function describeRun(failure: Failure): string {
  const error = failure.error as Error | undefined;
  return `${STEPS[failure.index]}: ${error?.name}: ${error?.message}`;
}

/** Runs steps from index `from`; returns the step that failed, if one did. */
async function runSteps(
  invoke: (h: ReturnType<typeof handlerFor>, phase: string, step: RotationStep) => Promise<StepRun>,
  handler: ReturnType<typeof handlerFor>,
  phase: string,
  from: number,
): Promise<Failure | undefined> {
  for (let index = from; index < STEPS.length; index++) {
    const step = STEPS[index] as RotationStep;
    const run = await invoke(handler, phase, step);
    if (run.error !== undefined) return { index, error: run.error };
  }
  return undefined;
}

/** What must hold once an invocation has returned, given the faults that fired in it. */
function afterInvocation(
  recorder: Recorder,
  run: StepRun,
  remaining: number,
  fired: readonly Injection[],
): string[] {
  const problems: string[] = [];
  if (recorder.running !== 0) {
    problems.push(`${recorder.running} call(s) still running after the handler returned`);
  }
  if (recorder.openSessions !== 0) {
    problems.push(`${recorder.openSessions} database session(s) left open`);
  }
  const error = run.error;
  if (
    error !== undefined &&
    !(error instanceof RotationError) &&
    !(error instanceof SecretsManagerServiceException)
  ) {
    problems.push(`failed with an untyped error: ${String((error as Error)?.name)}`);
  }
  // With another fault in the same invocation, failing is that fault's doing.
  const onlyRidden = fired.every(ridden);
  for (const fault of fired) {
    const at = `${fault.fault} at ${pointKey(fault)}`;
    if (fault.fault === 'hang') {
      if (!(error instanceof DeadlineReachedError)) {
        problems.push(
          `${at}: expected DeadlineReachedError, got ${String((error as Error)?.name)}`,
        );
      } else {
        if (error.step !== run.step) problems.push(`${at}: the deadline error names ${error.step}`);
        if (error.inFlight.length === 0)
          problems.push(`${at}: the deadline error names nothing in flight`);
        if (!error.settled) problems.push(`${at}: the step did not stop within the margin`);
      }
      if (run.elapsedMs >= remaining) problems.push(`${at}: returned after the Lambda deadline`);
    }
    // Ridden out: the step may still fail for another reason (the state an
    // earlier fault left), but not with the fault itself.
    if (
      ridden(fault) &&
      onlyRidden &&
      (isTransientError(error) || error instanceof DeadlineReachedError)
    ) {
      problems.push(`${at}: the step did not ride it out (${String((error as Error)?.name)})`);
    }
  }
  return problems;
}

/** RotateSecret through the endpoint, reattempted as Secrets Manager does until it completes. */
async function freshRotation(
  options: ExploreOptions,
  recorder: Recorder,
  user: ReliabilityUser,
  handler: ReturnType<typeof handlerFor>,
  problems: string[],
): Promise<void> {
  const { harness } = options;
  const arn = harness.endpoint.lambdaArn(`reliability-${randomBytes(3).toString('hex')}`);
  harness.endpoint.registerRotationFunction(arn, (event, context) => {
    const step = event.Step as RotationStep;
    recorder.begin('fresh', step);
    const hang = recorder.armedFor('fresh', step, 'hang');
    return handler(event, hang ? lambdaContext(options.hangRemainingMs) : context);
  });
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await harness.client.send(
        new RotateSecretCommand({
          SecretId: user.secretArn,
          RotationLambdaARN: arn,
          RotationRules: { AutomaticallyAfterDays: 30 },
        }),
      );
    } catch (error) {
      // "A previous rotation isn't complete. That rotation will be reattempted."
      if ((error as Error).name !== 'InvalidRequestException') throw error;
    }
    const outcome = await harness.endpoint.waitForRotation(user.secretArn, { timeoutMs: 60_000 });
    options.seen(outcome.errorMessage ?? '');
    if (outcome.ok) return;
    if (recorder.running !== 0 || recorder.openSessions !== 0) {
      problems.push(`fresh rotation: calls or sessions left after ${outcome.failedStep}`);
    }
  }
  problems.push('a fresh rotation did not complete in 3 attempts');
}
