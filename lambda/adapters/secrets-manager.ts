import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { CallOptions } from './call.js';

/** The parts of DescribeSecret that the rotation guard reads. */
export interface SecretDescription {
  readonly arn: string;
  readonly name: string;
  readonly rotationEnabled: boolean;
  readonly versionIdsToStages: Readonly<Record<string, readonly string[]>>;
}

/** Which version of a secret to read. */
export type VersionSelector =
  | { readonly versionId: string; readonly stage?: 'AWSPENDING' | 'AWSCURRENT' | 'AWSPREVIOUS' }
  | { readonly stage: 'AWSPENDING' | 'AWSCURRENT' | 'AWSPREVIOUS' };

/** PutSecretValue's input as createSecret sends it. */
export interface PutPendingInput {
  readonly secretId: string;
  readonly token: string;
  readonly secretString: string;
  readonly rotationToken?: string | undefined;
}

/** UpdateSecretVersionStage's input as finishSecret sends it. */
export interface PromoteInput {
  readonly secretId: string;
  readonly token: string;
  readonly fromVersionId: string | undefined;
}

/** The version whose AWSPENDING label testSecret's roll-back removes. */
export interface WithdrawInput {
  readonly secretId: string;
  readonly token: string;
}

/**
 * The Secrets Manager operations a rotation needs, and nothing else (the
 * function's IAM policy grants exactly these). Every call takes
 * {@link CallOptions}: its signal aborts the request.
 */
export interface SecretStore {
  describe(secretId: string, options?: CallOptions): Promise<SecretDescription>;
  /**
   * The secret string of one version, or `undefined` when that version has
   * no value yet (AWSPENDING before createSecret stored one).
   */
  getSecretString(
    secretId: string,
    version: VersionSelector,
    options?: CallOptions,
  ): Promise<string | undefined>;
  /** PutSecretValue with the token as version id, staged AWSPENDING. */
  putPending(input: PutPendingInput, options?: CallOptions): Promise<void>;
  /** Moves AWSCURRENT to `token`, from the version that holds it now. */
  promoteToCurrent(input: PromoteInput, options?: CallOptions): Promise<void>;
  /**
   * Removes AWSPENDING from `token`'s version (UpdateSecretVersionStage),
   * after its password failed the test: a retry of the same token then stops
   * at the stage guard, and the next rotation generates a new password,
   * since a version's value cannot change under the same token.
   */
  withdrawPending(input: WithdrawInput, options?: CallOptions): Promise<void>;
}

/**
 * {@link SecretStore} over the AWS SDK v3 client. It adds no retries of its
 * own: the SDK retries throttling, and Secrets Manager retries the rotation.
 * An aborted call rejects with the signal's reason, and the SDK neither
 * finishes nor retries its request afterwards.
 */
export class SdkSecretStore implements SecretStore {
  readonly #client: SecretsManagerClient;

  constructor(client: SecretsManagerClient) {
    this.#client = client;
  }

  async describe(secretId: string, options: CallOptions = {}): Promise<SecretDescription> {
    const out = await guarded(options, (http) =>
      this.#client.send(new DescribeSecretCommand({ SecretId: secretId }), http),
    );
    return {
      arn: out.ARN ?? secretId,
      name: out.Name ?? secretId,
      rotationEnabled: out.RotationEnabled === true,
      versionIdsToStages: out.VersionIdsToStages ?? {},
    };
  }

  async getSecretString(
    secretId: string,
    version: VersionSelector,
    options: CallOptions = {},
  ): Promise<string | undefined> {
    try {
      const out = await guarded(options, (http) =>
        this.#client.send(
          new GetSecretValueCommand({
            SecretId: secretId,
            ...('versionId' in version ? { VersionId: version.versionId } : {}),
            ...(version.stage ? { VersionStage: version.stage } : {}),
          }),
          http,
        ),
      );
      return out.SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  async putPending(input: PutPendingInput, options: CallOptions = {}): Promise<void> {
    await guarded(options, (http) =>
      this.#client.send(
        new PutSecretValueCommand({
          SecretId: input.secretId,
          ClientRequestToken: input.token,
          SecretString: input.secretString,
          VersionStages: ['AWSPENDING'],
          ...(input.rotationToken ? { RotationToken: input.rotationToken } : {}),
        }),
        http,
      ),
    );
  }

  async promoteToCurrent(input: PromoteInput, options: CallOptions = {}): Promise<void> {
    await guarded(options, (http) =>
      this.#client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: input.secretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: input.token,
          ...(input.fromVersionId ? { RemoveFromVersionId: input.fromVersionId } : {}),
        }),
        http,
      ),
    );
  }

  async withdrawPending(input: WithdrawInput, options: CallOptions = {}): Promise<void> {
    await guarded(options, (http) =>
      this.#client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: input.secretId,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: input.token,
        }),
        http,
      ),
    );
  }
}

/**
 * Runs an SDK call under the call's signal: not started once it has fired,
 * and rejected with its reason (not the SDK's AbortError) when it fires.
 */
async function guarded<T>(
  { signal }: CallOptions,
  send: (http: { abortSignal?: AbortSignal }) => Promise<T>,
): Promise<T> {
  signal?.throwIfAborted();
  try {
    return await send(signal ? { abortSignal: signal } : {});
  } catch (error) {
    signal?.throwIfAborted();
    throw error;
  }
}
