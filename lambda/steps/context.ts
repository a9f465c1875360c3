import type { DatabaseConnector, LoginLimits } from '../adapters/database.js';
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
