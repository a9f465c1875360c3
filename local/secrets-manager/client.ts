/**
 * An SDK client wired to a local endpoint.
 *
 * @module
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** Options for {@link createSecretsManagerClient}. */
export interface LocalClientOptions {
  /**
   * Attempts per call, as the SDK counts them. Pass 1 to see an injected fault
   * instead of the SDK retrying past it.
   * @default the SDK's default (3, with backoff), as a deployed function has
   */
  readonly maxAttempts?: number;
}

/**
 * A real `SecretsManagerClient` for a local endpoint: its URL and region, and
 * static placeholder credentials (the endpoint does not check signatures, and
 * no credential chain should be consulted on a developer machine).
 *
 * @param endpoint - anything with the endpoint's `url` and `region`
 * @example
 * ```ts
 * const client = createSecretsManagerClient(endpoint, { maxAttempts: 1 });
 * ```
 */
export function createSecretsManagerClient(
  endpoint: { readonly url: string; readonly region: string },
  options: LocalClientOptions = {},
): SecretsManagerClient {
  return new SecretsManagerClient({
    endpoint: endpoint.url,
    region: endpoint.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
  });
}
