/**
 * Errors the local Secrets Manager endpoint answers with, named and worded as
 * AWS names and words them so that code under test meets the same failures it
 * would meet in AWS.
 *
 * Sources for the wording: AWS-validated recordings of real responses kept by
 * LocalStack (`tests/aws/services/secretsmanager/*.snapshot.json`), the
 * Secrets Manager API reference, and errors quoted from AWS in public issues.
 * Where no AWS wording could be found the message is ours and says so in the
 * comment next to it.
 *
 * @module
 */

/** Error names Secrets Manager models in its API (botocore `service-2.json`). */
export type ModeledErrorType =
  | 'DecryptionFailure'
  | 'EncryptionFailure'
  | 'InternalServiceError'
  | 'InvalidNextTokenException'
  | 'InvalidParameterException'
  | 'InvalidRequestException'
  | 'LimitExceededException'
  | 'MalformedPolicyDocumentException'
  | 'PreconditionNotMetException'
  | 'ResourceExistsException'
  | 'ResourceNotFoundException';

/**
 * Error names the AWS JSON protocol front end answers with before a request
 * reaches the service (unknown target, undecodable body, failed constraints),
 * plus `AccessDeniedException`, which AWS answers when it cannot invoke the
 * rotation function.
 */
export type ProtocolErrorType =
  | 'AccessDeniedException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'ValidationException';

/**
 * An error answered to the client as HTTP `status` with the JSON 1.1 error
 * body `{"__type": type, "message": message}`.
 */
export class AwsServiceError extends Error {
  /** The `__type` of the error body and the `x-amzn-ErrorType` header. */
  readonly type: string;
  /** HTTP status of the answer. */
  readonly status: number;
  /**
   * True for errors the service models with a `Message` member. AWS answers
   * those with `Message` in the body (boto3 shows it at the top level of the
   * error response); front-end errors carry only `message`.
   */
  readonly modeled: boolean;

  /**
   * @param type - the error name, e.g. `ResourceNotFoundException`
   * @param message - the human-readable text; never a secret value
   * @param options - HTTP status (default 400) and whether the service models it
   */
  constructor(
    type: ModeledErrorType | ProtocolErrorType | (string & {}),
    message: string,
    options: { readonly status?: number; readonly modeled?: boolean } = {},
  ) {
    super(message);
    this.name = type;
    this.type = type;
    this.status = options.status ?? 400;
    this.modeled = options.modeled ?? true;
  }
}

/** A modeled service error with status 400. */
function serviceError(type: ModeledErrorType, message: string): AwsServiceError {
  return new AwsServiceError(type, message);
}

/** A front-end error with status 400 and no `Message` member. */
export function protocolError(type: ProtocolErrorType, message: string): AwsServiceError {
  return new AwsServiceError(type, message, { modeled: false });
}

/** `ResourceNotFoundException` for an unknown SecretId (AWS wording, recorded). */
export function secretNotFound(): AwsServiceError {
  return serviceError(
    'ResourceNotFoundException',
    "Secrets Manager can't find the specified secret.",
  );
}

/**
 * `ResourceNotFoundException` for a version that is missing or has no value
 * yet, found by staging label or by VersionId (AWS wording, recorded for
 * `AWSCURRENT`, `AWSPENDING`, `AWSPREVIOUS` and VersionId).
 */
export function secretValueNotFound(
  by: 'staging label' | 'VersionId',
  id: string,
): AwsServiceError {
  return serviceError(
    'ResourceNotFoundException',
    `Secrets Manager can't find the specified secret value for ${by}: ${id}`,
  );
}

/** `InvalidRequestException` for a secret scheduled for deletion (AWS wording). */
export function markedForDeletion(): AwsServiceError {
  return serviceError(
    'InvalidRequestException',
    "You can't perform this operation on the secret because it was marked for deletion.",
  );
}

/** `InvalidRequestException` when CreateSecret reuses a name awaiting deletion (recorded). */
export function nameScheduledForDeletion(): AwsServiceError {
  return serviceError(
    'InvalidRequestException',
    "You can't create this secret because a secret with this name is already scheduled for deletion.",
  );
}

/** `ResourceExistsException` when CreateSecret reuses a live name (recorded). */
export function secretExists(name: string): AwsServiceError {
  return serviceError(
    'ResourceExistsException',
    `The operation failed because the secret ${name} already exists.`,
  );
}

/**
 * `ResourceExistsException` when a ClientRequestToken names a version that
 * holds a different value. The wording is the one moto and other emulators
 * reproduce from AWS; no AWS recording of it was found.
 */
export function versionExists(token: string, arn: string): AwsServiceError {
  return serviceError(
    'ResourceExistsException',
    `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${arn}.`,
  );
}

/** `InvalidRequestException` when VersionId and VersionStage disagree (recorded). */
export function stageNotOnVersion(): AwsServiceError {
  return serviceError(
    'InvalidRequestException',
    'You provided a VersionStage that is not associated to the provided VersionId.',
  );
}

/**
 * The error AWS answers to a request without ClientRequestToken, which only
 * raw HTTP callers can send (SDKs and the CLI fill it in). Recorded: RotateSecret
 * answers `InvalidParameterException`, the others `InvalidRequestException`.
 */
export function missingClientRequestToken(
  type: 'InvalidParameterException' | 'InvalidRequestException',
): AwsServiceError {
  return serviceError(
    type,
    'You must provide a ClientRequestToken value. We recommend a UUID-type value.',
  );
}

/** `InvalidParameterException` with the given text. */
export function invalidParameter(message: string): AwsServiceError {
  return serviceError('InvalidParameterException', message);
}

/** `InvalidRequestException` with the given text. */
export function invalidRequest(message: string): AwsServiceError {
  return serviceError('InvalidRequestException', message);
}

/** `InvalidRequestException` when RotateSecret finds no function to call (AWS wording). */
export function noRotationFunction(): AwsServiceError {
  return serviceError(
    'InvalidRequestException',
    'No Lambda rotation function ARN is associated with this secret.',
  );
}

/**
 * `InvalidRequestException` when AWSPENDING sits on a version other than
 * AWSCURRENT's (AWS wording, as quoted in the project's design notes).
 */
export function previousRotationIncomplete(): AwsServiceError {
  return serviceError(
    'InvalidRequestException',
    "A previous rotation isn't complete. That rotation will be reattempted.",
  );
}

/**
 * `AccessDeniedException` (HTTP 400) when the rotation function cannot be
 * invoked; AWS answers this for an ARN with no such function (recorded).
 */
export function cannotInvokeFunction(): AwsServiceError {
  return new AwsServiceError(
    'AccessDeniedException',
    'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.',
    { modeled: false },
  );
}

/**
 * `ValidationException` for a secret name outside `[A-Za-z0-9/_+=.@-]`, for
 * CreateSecret's Name and for any SecretId that is not an ARN (recorded).
 */
export function invalidName(): AwsServiceError {
  return protocolError(
    'ValidationException',
    'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
  );
}

/** Turns anything thrown into a message fit for a record (never a stack). */
export function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message || thrown.name;
  if (typeof thrown === 'string') return thrown;
  // Only the type: an arbitrary thrown object could hold a secret value.
  return `non-Error value thrown (${thrown === null ? 'null' : typeof thrown})`;
}
