/**
 * The command-line tools' own errors: what stopped a command before it
 * could do its work, each with a fixed message prefix and what to do.
 * Usage errors are {@link UsageError} (bin/workflow/common.ts).
 *
 * @module
 */

/** Stable message prefixes, which tests and scripts may match. */
export const CLI_ERRORS = {
  EndpointUnreachableError: 'Endpoint unreachable',
  MissingRegionError: 'No AWS region',
  MissingCredentialsError: 'No AWS credentials',
} as const;

/** Base of the errors in {@link CLI_ERRORS}. */
export abstract class CliError extends Error {
  constructor(name: keyof typeof CLI_ERRORS, detail: string, options?: { cause?: unknown }) {
    super(`${CLI_ERRORS[name]}: ${detail}`, options);
    this.name = name;
  }
}

/** The Secrets Manager (or Lambda, CloudWatch Logs) endpoint could not be reached. */
export class EndpointUnreachableError extends CliError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('EndpointUnreachableError', detail, options);
  }
}

/** No `--region`, AWS_REGION or profile region. */
export class MissingRegionError extends CliError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('MissingRegionError', detail, options);
  }
}

/** No credential source gave credentials. */
export class MissingCredentialsError extends CliError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('MissingCredentialsError', detail, options);
  }
}
