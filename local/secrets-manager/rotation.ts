/**
 * The asynchronous half of RotateSecret: calling the registered rotation
 * function for each step, as Secrets Manager calls a Lambda function, and
 * keeping a record of every call for tests and progress displays.
 *
 * A rotation function runs in this process, on the same event loop as the
 * HTTP server, and typically calls the endpoint back over HTTP through the
 * SDK. That is safe because a rotation starts only after the RotateSecret
 * answer is written (`setImmediate`) and every step is awaited, never waited
 * on synchronously.
 *
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { describeThrown } from './errors.js';
import { type FunctionLogStore, TIMED_OUT } from './logs.js';
import type { RotationPlan, SecretStore } from './store.js';

/**
 * The rotation steps, in the order Secrets Manager calls them.
 *
 * Deliberately not imported from `lambda/`: this endpoint plays AWS, and sharing the function's
 * own event types would let a mistake in them go unnoticed on both sides.
 */
export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

/** One of {@link ROTATION_STEPS}. */
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** The event a rotation function receives for one step. */
export interface RotationEvent {
  readonly Step: RotationStep;
  /** Always the secret's full ARN, as Secrets Manager sends it. */
  readonly SecretId: string;
  /** The AWSPENDING version's id; the same for every step of one rotation. */
  readonly ClientRequestToken: string;
  /**
   * A token for PutSecretValue's RotationToken. This endpoint sends a fresh
   * one per rotation and records what PutSecretValue receives.
   */
  readonly RotationToken?: string;
}

/** A rotation function, called the way Lambda calls a handler. */
export type RotationFunction = (event: RotationEvent, context: Context) => Promise<unknown>;

/** How a registered function is configured, as Lambda's GetFunctionConfiguration reports it. */
export interface RegisteredFunction {
  readonly fn: RotationFunction;
  /** Where Lambda writes its log lines (LoggingConfig.LogGroup). */
  readonly logGroupName: string;
}

/** Options for {@link RotationRunner.register}. */
export interface RegisterOptions {
  /**
   * The function's log group. A function deployed with a log group of its
   * own (as the CDK construct does) logs there, not to `/aws/lambda/<name>`.
   * @default `/aws/lambda/<function name>`, Lambda's default
   */
  readonly logGroupName?: string;
}

/** The function name in a Lambda ARN (`arn:aws:lambda:<region>:<account>:function:<name>`). */
export function functionNameOf(lambdaArn: string): string {
  return lambdaArn.split(':')[6] ?? lambdaArn;
}

/** One call of a rotation function, once it has ended. */
export interface RotationInvocation {
  readonly secretArn: string;
  readonly step: RotationStep;
  readonly token: string;
  readonly outcome: 'succeeded' | 'failed';
  /** What the function threw, or why the call was cut short (timeout, stop). */
  readonly errorMessage?: string;
  readonly startedAt: Date;
  readonly durationMs: number;
}

/**
 * What {@link SecretsManagerEndpoint.onInvocation} listeners receive: a call
 * as it starts (`outcome` undefined), then the finished
 * {@link RotationInvocation}.
 */
export type RotationInvocationUpdate =
  | (Omit<RotationInvocation, 'outcome' | 'durationMs' | 'errorMessage'> & {
      readonly outcome: undefined;
      readonly durationMs?: undefined;
      readonly errorMessage?: undefined;
    })
  | RotationInvocation;

/** How one rotation (or RotateImmediately=false test) ended. */
export interface RotationOutcome {
  readonly secretArn: string;
  readonly token: string;
  /** True when every step returned and, for a rotation, AWSCURRENT reached the token's version. */
  readonly ok: boolean;
  /** The step that threw or timed out, if one did. */
  readonly failedStep?: RotationStep;
  readonly errorMessage?: string;
  /** `rotation`: the four steps; `test`: RotateImmediately=false, testSecret only. */
  readonly kind: 'rotation' | 'test';
}

/** Options for {@link RotationRunner}. */
export interface RotationRunnerOptions {
  readonly store: SecretStore;
  /** Where the runtime's log lines of each call go. */
  readonly logs: FunctionLogStore;
  /** Lambda's timeout for one call; a step still running then fails. */
  readonly lambdaTimeoutMs: number;
  /** See {@link SecretsManagerEndpointOptions.keepPendingLabelAfterRotation}. */
  readonly keepPendingLabelAfterRotation: boolean;
}

interface Flight {
  readonly promise: Promise<RotationOutcome>;
  /** Set by CancelRotateSecret or DeleteSecret: no further step is called. */
  cancelled: string | undefined;
  /** Settles every pending step at once when the endpoint stops. */
  readonly abort: () => void;
  readonly aborted: Promise<void>;
}

type CallResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly message: string; readonly errorType: string };

/** A date as Lambda writes it in log stream names. */
function logStreamDate(date: Date): string {
  return date.toISOString().slice(0, 10).replaceAll('-', '/');
}

/**
 * A Lambda-like context. `getRemainingTimeInMillis` counts down from the
 * configured timeout, so code that budgets its time sees a real deadline.
 */
function lambdaContext(lambdaArn: string, logGroupName: string, deadline: number): Context {
  const functionName = functionNameOf(lambdaArn);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: lambdaArn,
    memoryLimitInMB: '128',
    awsRequestId: randomUUID(),
    logGroupName,
    logStreamName: `${logStreamDate(new Date())}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Runs rotations for the endpoint and records their calls. */
export class RotationRunner {
  readonly #store: SecretStore;
  readonly #logs: FunctionLogStore;
  readonly #timeoutMs: number;
  readonly #keepPendingLabel: boolean;
  readonly #functions = new Map<string, RegisteredFunction>();
  readonly #invocations: RotationInvocation[] = [];
  readonly #listeners = new Set<(update: RotationInvocationUpdate) => void>();
  readonly #inFlight = new Map<string, Flight>();
  readonly #lastOutcome = new Map<string, RotationOutcome>();

  /** @param options - the store to finish rotations in, and Lambda-like limits */
  constructor(options: RotationRunnerOptions) {
    this.#store = options.store;
    this.#logs = options.logs;
    this.#timeoutMs = options.lambdaTimeoutMs;
    this.#keepPendingLabel = options.keepPendingLabelAfterRotation;
  }

  /** Every call so far, in call order. */
  get invocations(): readonly RotationInvocation[] {
    return this.#invocations;
  }

  /** Lambda's timeout for one call. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** Makes RotateSecret with `lambdaArn` call `fn`; replaces an earlier registration. */
  register(lambdaArn: string, fn: RotationFunction, options: RegisterOptions = {}): void {
    this.#functions.set(lambdaArn, {
      fn,
      logGroupName: options.logGroupName ?? `/aws/lambda/${functionNameOf(lambdaArn)}`,
    });
  }

  /**
   * The registered function a Lambda `FunctionName` names: its name, its ARN
   * (with or without a qualifier) or a partial ARN `<account>:function:<name>`.
   */
  find(functionName: string): { arn: string; fn: RegisteredFunction } | undefined {
    const name = functionName.startsWith('arn:')
      ? functionNameOf(functionName)
      : (/^\d{12}:function:([^:]+)/.exec(functionName)?.[1] ?? functionName);
    for (const [arn, fn] of this.#functions) {
      if (functionNameOf(arn) === name) return { arn, fn };
    }
    return undefined;
  }

  /** Whether a function is registered under the ARN. */
  canInvoke(lambdaArn: string): boolean {
    return this.#functions.has(lambdaArn);
  }

  /** Subscribes to call updates; returns the unsubscribe function. */
  onInvocation(listener: (update: RotationInvocationUpdate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether a rotation of the secret is running. */
  isRunning(secretArn: string): boolean {
    return this.#inFlight.has(secretArn);
  }

  /**
   * Starts a rotation. It is marked in flight at once, so a
   * {@link waitForRotation} right after RotateSecret answers finds it, and its
   * first step runs after the current I/O turn, once the answer is written.
   */
  start(plan: RotationPlan): void {
    let abort: () => void = () => undefined;
    const aborted = new Promise<void>((resolve) => {
      abort = resolve;
    });
    let settle: (outcome: RotationOutcome) => void = () => undefined;
    const flight: Flight = {
      promise: new Promise((resolve) => {
        settle = resolve;
      }),
      cancelled: undefined,
      abort,
      aborted,
    };
    this.#inFlight.set(plan.arn, flight);
    setImmediate(() => {
      this.#run(plan, flight)
        .catch(
          (thrown: unknown): RotationOutcome => ({
            secretArn: plan.arn,
            token: plan.token,
            ok: false,
            errorMessage: `the endpoint failed to run the rotation: ${describeThrown(thrown)}`,
            kind: plan.mode === 'test' ? 'test' : 'rotation',
          }),
        )
        .then((outcome) => {
          this.#lastOutcome.set(plan.arn, outcome);
          this.#inFlight.delete(plan.arn);
          settle(outcome);
        });
    });
  }

  /** Stops a running rotation before its next step (CancelRotateSecret, DeleteSecret). */
  cancel(secretArn: string, reason: string): void {
    const flight = this.#inFlight.get(secretArn);
    if (flight !== undefined) flight.cancelled = reason;
  }

  /**
   * The outcome of the rotation in flight, or else of the last one that ended.
   *
   * @throws Error when no rotation of the secret ever started, or on timeout
   */
  async waitForRotation(secretArn: string, timeoutMs: number): Promise<RotationOutcome> {
    const flight = this.#inFlight.get(secretArn);
    if (flight === undefined) {
      const last = this.#lastOutcome.get(secretArn);
      if (last !== undefined) return last;
      throw new Error(`No rotation has started for ${secretArn}.`);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`The rotation of ${secretArn} did not end within ${timeoutMs} ms.`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([flight.promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Cuts every running rotation short and waits for their records. */
  async stopAll(): Promise<void> {
    const flights = [...this.#inFlight.values()];
    for (const flight of flights) {
      flight.cancelled ??= 'the endpoint stopped';
      flight.abort();
    }
    await Promise.all(flights.map((flight) => flight.promise));
  }

  async #run(plan: RotationPlan, flight: Flight): Promise<RotationOutcome> {
    const kind = plan.mode === 'test' ? 'test' : 'rotation';
    const steps: readonly RotationStep[] = kind === 'test' ? ['testSecret'] : ROTATION_STEPS;
    const base = { secretArn: plan.arn, token: plan.token, kind } as const;
    const rotationToken = randomUUID();
    try {
      for (const step of steps) {
        if (flight.cancelled !== undefined) {
          return {
            ...base,
            ok: false,
            errorMessage: `rotation cancelled before ${step}: ${flight.cancelled}`,
          };
        }
        const event: RotationEvent = {
          Step: step,
          SecretId: plan.arn,
          ClientRequestToken: plan.token,
          RotationToken: rotationToken,
        };
        const result = await this.#invoke(plan, event, flight);
        if (!result.ok)
          return { ...base, ok: false, failedStep: step, errorMessage: result.message };
      }
      if (flight.cancelled !== undefined) {
        return { ...base, ok: false, errorMessage: `rotation cancelled: ${flight.cancelled}` };
      }
      if (kind === 'test') return { ...base, ok: true };
      const problem = this.#store.completeRotation(plan.arn, plan.token, this.#keepPendingLabel);
      return problem === undefined
        ? { ...base, ok: true }
        : { ...base, ok: false, failedStep: 'finishSecret', errorMessage: problem };
    } finally {
      if (kind === 'test') this.#store.endRotationTest(plan.arn, plan.token);
    }
  }

  /** One Lambda-like call: never throws; timeouts and stops become failures. */
  async #invoke(plan: RotationPlan, event: RotationEvent, flight: Flight): Promise<CallResult> {
    const startedAt = new Date();
    const started = performance.now();
    const identity = { secretArn: plan.arn, step: event.Step, token: plan.token, startedAt };
    this.#emit({ ...identity, outcome: undefined });

    const registered = this.#functions.get(plan.lambdaArn);
    const fn = registered?.fn;
    const context = lambdaContext(
      plan.lambdaArn,
      registered?.logGroupName ?? `/aws/lambda/${functionNameOf(plan.lambdaArn)}`,
      Date.now() + this.#timeoutMs,
    );
    let timer: NodeJS.Timeout | undefined;
    const calls: Promise<CallResult>[] = [
      // The extra `then` turns a synchronous throw into a rejection.
      Promise.resolve()
        .then(() => {
          if (fn === undefined)
            throw new Error(`No rotation function is registered for ${plan.lambdaArn}.`);
          return fn(event, context);
        })
        .then(
          (): CallResult => ({ ok: true }),
          (thrown: unknown): CallResult => ({
            ok: false,
            message: describeThrown(thrown),
            errorType: thrown instanceof Error ? thrown.name : typeof thrown,
          }),
        ),
      new Promise<CallResult>((resolve) => {
        // Lambda's own wording for a function that outlives its timeout.
        timer = setTimeout(
          () =>
            resolve({
              ok: false,
              message: `Task timed out after ${(this.#timeoutMs / 1000).toFixed(2)} seconds`,
              errorType: TIMED_OUT,
            }),
          this.#timeoutMs,
        );
      }),
      flight.aborted.then(
        (): CallResult => ({ ok: false, message: 'the endpoint stopped', errorType: 'Shutdown' }),
      ),
    ];
    const result = await Promise.race(calls);
    clearTimeout(timer);

    const invocation: RotationInvocation = {
      ...identity,
      outcome: result.ok ? 'succeeded' : 'failed',
      ...(result.ok ? {} : { errorMessage: result.message }),
      durationMs: Math.round(performance.now() - started),
    };
    this.#invocations.push(invocation);
    this.#logs.recordInvocation({
      logGroupName: context.logGroupName,
      logStreamName: context.logStreamName,
      requestId: context.awsRequestId,
      startedAt,
      durationMs: invocation.durationMs,
      failure: result.ok
        ? undefined
        : { errorType: result.errorType, errorMessage: result.message },
    });
    this.#emit(invocation);
    return result;
  }

  #emit(update: RotationInvocationUpdate): void {
    for (const listener of this.#listeners) {
      try {
        listener(update);
      } catch {
        // A listener's bug must not stop a rotation or the server.
      }
    }
  }
}
