import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';

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

/**
 * The Secrets Manager operations a rotation needs, and nothing else (the
 * function's IAM policy grants exactly these).
 */
export interface SecretStore {
  describe(secretId: string): Promise<SecretDescription>;
  /**
   * The secret string of one version, or `undefined` when that version has
   * no value yet (AWSPENDING before createSecret stored one).
   */
  getSecretString(secretId: string, version: VersionSelector): Promise<string | undefined>;
  /** PutSecretValue with the token as version id, staged AWSPENDING. */
  putPending(input: {
    secretId: string;
    token: string;
    secretString: string;
    rotationToken?: string | undefined;
  }): Promise<void>;
  /** Moves AWSCURRENT to `token`, from the version that holds it now. */
  promoteToCurrent(input: {
    secretId: string;
    token: string;
    fromVersionId: string | undefined;
  }): Promise<void>;
  /**
   * Removes AWSPENDING from `token`'s version (UpdateSecretVersionStage),
   * after its password failed the test: a retry of the same token then stops
   * at the stage guard, and the next rotation generates a new password,
   * since a version's value cannot change under the same token.
   */
  withdrawPending(input: { secretId: string; token: string }): Promise<void>;
}

/**
 * {@link SecretStore} over the AWS SDK v3 client. It adds no retries of its
 * own: the SDK retries throttling, and Secrets Manager retries the rotation.
 */
export class SdkSecretStore implements SecretStore {
  readonly #client: SecretsManagerClient;

  constructor(client: SecretsManagerClient) {
    this.#client = client;
  }

  async describe(secretId: string): Promise<SecretDescription> {
    const out = await this.#client.send(new DescribeSecretCommand({ SecretId: secretId }));
    return {
      arn: out.ARN ?? secretId,
      name: out.Name ?? secretId,
      rotationEnabled: out.RotationEnabled === true,
      versionIdsToStages: out.VersionIdsToStages ?? {},
    };
  }

  async getSecretString(secretId: string, version: VersionSelector): Promise<string | undefined> {
    try {
      const out = await this.#client.send(
        new GetSecretValueCommand({
          SecretId: secretId,
          ...('versionId' in version ? { VersionId: version.versionId } : {}),
          ...(version.stage ? { VersionStage: version.stage } : {}),
        }),
      );
      return out.SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  async putPending(input: {
    secretId: string;
    token: string;
    secretString: string;
    rotationToken?: string | undefined;
  }): Promise<void> {
    await this.#client.send(
      new PutSecretValueCommand({
        SecretId: input.secretId,
        ClientRequestToken: input.token,
        SecretString: input.secretString,
        VersionStages: ['AWSPENDING'],
        ...(input.rotationToken ? { RotationToken: input.rotationToken } : {}),
      }),
    );
  }

  async promoteToCurrent(input: {
    secretId: string;
    token: string;
    fromVersionId: string | undefined;
  }): Promise<void> {
    await this.#client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: input.secretId,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: input.token,
        ...(input.fromVersionId ? { RemoveFromVersionId: input.fromVersionId } : {}),
      }),
    );
  }

  async withdrawPending(input: { secretId: string; token: string }): Promise<void> {
    await this.#client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: input.secretId,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: input.token,
      }),
    );
  }
}
