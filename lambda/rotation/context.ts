import type { DatabaseConnector, LoginLimits } from '../adapters/database.js';
import { abortableSleep, type InFlight } from '../adapters/in-flight.js';
import type { SecretStore } from '../adapters/secrets-manager.js';
import type { RotationConfig } from '../config.js';
import type { RotationEvent } from '../core/event.js';
import type { Logger } from '../telemetry.js';
import type { ProvenVersions } from './proofs.js';

/** The few logger methods the steps use (telemetry.ts's Logger in production). */
export type StepLogger = Pick<Logger, 'info' | 'warn' | 'debug'>;

/**
 * Everything a step needs, handed in by the handler: steps never construct
 * clients, so tests give them the real adapters pointed at the local stack.
 */
export interface StepContext {
  readonly event: RotationEvent;
  readonly secrets: SecretStore;
  readonly database: DatabaseConnector;
  readonly config: RotationConfig;
  readonly logger: StepLogger;
  /** Milliseconds left before the Lambda is stopped. */
  readonly remainingTimeMs: () => number;
  /** Pending versions testSecret proved in this environment (read by finishSecret). */
  readonly proofs: ProvenVersions;
  /**
   * The invocation's calls in flight and its deadline signal (the handler
   * sets it; `secrets` and `database` are then tracked views). Pauses
   * between retries end early when it fires.
   */
  readonly flight?: InFlight;
}

/** Time kept back so a step can still report its own failure. */
export const SAFETY_MARGIN_MS = 1_000;

/** Milliseconds the step may still use, after the safety margin. */
export function timeLeftMs(ctx: StepContext): number {
  return ctx.remainingTimeMs() - SAFETY_MARGIN_MS;
}

/**
 * Connect and statement limits that fit inside the time the Lambda has left,
 * so a hung database fails the step with our error rather than a timeout of
 * the whole invocation.
 */
export function loginLimits(ctx: StepContext): LoginLimits {
  const left = Math.max(timeLeftMs(ctx), 100);
  return {
    connectTimeoutMs: Math.min(ctx.config.connectTimeoutMs, left),
    statementTimeoutMs: Math.min(ctx.config.statementTimeoutMs, left),
    // The same bound as for the verifiers setSecret stores: whatever it
    // stores, the test login accepts.
    maxScramIterations: ctx.config.maxScramIterations,
  };
}

/**
 * Waits `ms` between attempts; named while it waits, and cut short (with
 * the deadline's error) when the invocation's deadline comes.
 */
export function pause(ctx: StepContext, ms: number, name: string): Promise<void> {
  return ctx.flight ? ctx.flight.sleep(ms, name) : abortableSleep(ms);
}

/**
 * Runs work that is not an adapter call (PBKDF2 on the thread pool) under a
 * name, so the deadline error can say it was running; refused once the
 * deadline has come.
 */
export function track<T>(ctx: StepContext, name: string, work: () => Promise<T>): Promise<T> {
  return ctx.flight ? ctx.flight.run(name, work) : work();
}
