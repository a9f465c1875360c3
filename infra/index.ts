/**
 * scram-rotator as a library: the {@link ScramRotator} construct for your
 * own CDK app, and the ready-made {@link ScramRotatorStack}.
 *
 * @example
 * ```ts
 * import { ScramRotator } from 'scram-rotator';
 *
 * new ScramRotator(this, 'DbRotation', {
 *   secrets: [Secret.fromSecretNameV2(this, 'App', 'prod/app')],
 *   schedule: 'cron(0 3 ? * SUN *)',
 * });
 * ```
 *
 * @module
 */
export { ContextError, RotatorConfigError, SecretAlreadyRotatedError } from './errors.js';
export { SCHEDULE_LIMITS, ScheduleError } from './schedule.js';
export {
  CA_BUNDLE_FILE,
  DEFAULT_RESERVED_CONCURRENCY,
  latestNodeRuntime,
  MAX_SECRET_SCOPED_INVOKE_PERMISSIONS,
  type PasswordPolicyOptions,
  ROTATION_ACTIONS,
  ROTATION_FAILURE_EVENTS,
  type RotationMode,
  ScramRotator,
  type ScramRotatorProps,
  type SecretsManagerEndpoint,
} from './scram-rotator.js';
export {
  EXAMPLE_SECRET_TEMPLATE,
  type ImportedVpcOptions,
  ScramRotatorStack,
  type ScramRotatorStackProps,
} from './stack.js';
