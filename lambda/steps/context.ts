import type { Logger } from '@aws-lambda-powertools/logger';
import type { DatabaseConnector, LoginLimits } from '../adapters/database.js';
import type { SecretStore } from '../adapters/secrets-manager.js';
import type { RotationConfig } from '../config.js';
import type { RotationEvent } from '../core/event.js';

/** The few logger methods the steps use (Powertools' Logger in production). */
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
}

/** Time kept back so a step can still report its own failure. */
const SAFETY_MARGIN_MS = 1_000;

/**
 * Connect and statement limits that fit inside the time the Lambda has left,
 * so a hung database fails the step with our error rather than a timeout of
 * the whole invocation.
 */
export function loginLimits(ctx: StepContext): LoginLimits {
  const left = Math.max(ctx.remainingTimeMs() - SAFETY_MARGIN_MS, 100);
  return {
    connectTimeoutMs: Math.min(ctx.config.connectTimeoutMs, left),
    statementTimeoutMs: Math.min(ctx.config.statementTimeoutMs, left),
    maxScramIterations: ctx.config.scramIterations ?? 0,
  };
}
