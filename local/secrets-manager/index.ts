/**
 * A local Secrets Manager endpoint for tests and the demo: the JSON 1.1
 * protocol on 127.0.0.1, secrets with versions and staging labels, and
 * RotateSecret calling in-process rotation functions as Lambda would.
 *
 * @module
 */
export { createSecretsManagerClient, type LocalClientOptions } from './client.js';
export { AwsServiceError } from './errors.js';
export { DEFAULT_PASSWORD_LENGTH, PASSWORD_PUNCTUATION } from './password.js';
export {
  functionNameOf,
  type RegisterOptions,
  ROTATION_STEPS,
  type RotationEvent,
  type RotationFunction,
  type RotationInvocation,
  type RotationInvocationUpdate,
  type RotationOutcome,
  type RotationStep,
} from './rotation.js';
export {
  type EndpointRequest,
  type FaultSpec,
  type InjectedError,
  SecretsManagerEndpoint,
  type SecretsManagerEndpointOptions,
  type WaitForRotationOptions,
} from './server.js';
export {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  type SecretSnapshot,
  type VersionSnapshot,
} from './store.js';
export { OPERATIONS, type Operation } from './validation.js';
