import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { type DatabaseConnector, PgConnector } from './adapters/database.js';
import { trackConnector, trackSecretStore } from './adapters/in-flight.js';
import { SdkSecretStore, type SecretStore } from './adapters/secrets-manager.js';
import { configFromEnv, type RotationConfig } from './config.js';
import type { RotationEvent } from './core/event.js';
import { rotationEvent } from './middleware/rotation-event.js';
import { invocationTelemetry, stepTelemetry } from './middleware/step-telemetry.js';
import { rotate } from './rotate.js';
import { withDeadline } from './rotation/deadline.js';
import { ProvenVersions } from './rotation/proofs.js';
import { Logger, Metrics } from './telemetry.js';

/** What {@link createHandler} can be given; production uses the defaults. */
export interface HandlerDependencies {
  /**
   * Secrets Manager access.
   * @default SdkSecretStore over a SecretsManagerClient from the environment
   */
  readonly secrets?: SecretStore;
  /**
   * Database logins.
   * @default PgConnector
   */
  readonly database?: DatabaseConnector;
  /**
   * Environment to read the configuration from.
   * @default process.env
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Logger.
   * @default a {@link Logger} (telemetry.ts), service `scram-rotator`
   */
  readonly logger?: Logger;
  /**
   * Metrics.
   * @default {@link Metrics} (telemetry.ts), namespace `ScramRotator` unless POWERTOOLS_METRICS_NAMESPACE is set
   */
  readonly metrics?: Metrics;
}

/**
 * Builds the rotation handler: event validation, logging context and
 * metrics as middy middlewares around {@link rotate}.
 *
 * @example
 * ```ts
 * // The deployed function:
 * export const handler = createHandler();
 * // The local stack, with the SDK pointed at its endpoint:
 * const handler = createHandler({ secrets: new SdkSecretStore(localClient) });
 * ```
 */
export function createHandler(deps: HandlerDependencies = {}) {
  const env = deps.env ?? process.env;
  const logger = deps.logger ?? new Logger({ serviceName: 'scram-rotator', env });
  const metrics =
    deps.metrics ??
    new Metrics({
      serviceName: 'scram-rotator',
      namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? 'ScramRotator',
      env,
    });
  let secrets = deps.secrets;
  const database = deps.database ?? new PgConnector();
  // Read lazily so that a bad setting fails the invocation with a
  // ConfigurationError in the logs, instead of a crash at import time.
  let config: RotationConfig | undefined;
  // One environment's memory of what testSecret proved, for finishSecret.
  const proofs = new ProvenVersions();

  const run = async (event: RotationEvent, context: Context): Promise<void> => {
    config ??= configFromEnv(env);
    secrets ??= new SdkSecretStore(new SecretsManagerClient({}));
    const settings = config;
    const store = secrets;
    const remainingTimeMs = () => context.getRemainingTimeInMillis();
    // Every call the step makes carries the deadline's signal and is named
    // while in flight, so the deadline cancels it and the error names it.
    await withDeadline(event.Step, remainingTimeMs, (flight) =>
      rotate({
        event,
        secrets: trackSecretStore(store, flight),
        database: trackConnector(database, flight),
        config: settings,
        logger,
        remainingTimeMs,
        proofs,
        flight,
      }),
    );
  };

  // Middy's early timeout is off: withDeadline stops the step itself, and
  // returns only once everything the step started has stopped.
  return middy<RotationEvent, void>(run, { timeoutEarlyInMillis: 0 })
    .use(invocationTelemetry(logger, metrics) as middy.MiddlewareObj<RotationEvent>)
    .use(rotationEvent() as middy.MiddlewareObj<RotationEvent>)
    .use(stepTelemetry(logger, metrics));
}

/** The Lambda entry point. */
export const handler = createHandler();
