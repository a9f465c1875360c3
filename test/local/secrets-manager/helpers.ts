/**
 * Shared pieces of the local Secrets Manager conformance suites: unique names,
 * a way to catch an SDK error as data, and a reference rotation function that
 * does what the AWS sample rotation functions do, through the real SDK.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  SecretsManagerServiceException,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type {
  RotationEvent,
  RotationFunction,
  RotationStep,
} from '../../../local/secrets-manager/index.js';

/** A secret name no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** What a failed SDK call carried. */
export interface CaughtError {
  readonly name: string;
  readonly message: string;
  readonly status: number | undefined;
}

/**
 * Awaits a call that must fail with a service error and returns the error as
 * data. Fails the test when the call succeeds or fails some other way.
 */
export async function caught(call: Promise<unknown>): Promise<CaughtError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof SecretsManagerServiceException) {
      return { name: error.name, message: error.message, status: error.$metadata.httpStatusCode };
    }
    throw error;
  }
  throw new Error('Expected the call to fail, but it succeeded.');
}

/** Creates a secret with a string value and returns its ARN and first version id. */
export async function createSecret(
  client: SecretsManagerClient,
  name: string,
  value = '{"password":"initial"}',
): Promise<{ arn: string; versionId: string }> {
  const out = await client.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  return { arn: out.ARN ?? '', versionId: out.VersionId ?? '' };
}

/** The secret's VersionIdsToStages, as DescribeSecret answers it. */
export async function stagesOf(
  client: SecretsManagerClient,
  secretId: string,
): Promise<Record<string, string[]>> {
  const out = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  return out.VersionIdsToStages ?? {};
}

/** One call a {@link ReferenceRotation} saw. */
export interface SeenCall {
  readonly event: RotationEvent;
  readonly functionName: string;
  readonly invokedFunctionArn: string;
  readonly awsRequestId: string;
  readonly remainingMs: number;
}

/** Behaviour switches for {@link referenceRotation}. */
export interface ReferenceRotationOptions {
  /** Throw at this step instead of doing it. */
  failAt?: RotationStep | undefined;
  /** Await this before returning from this step. */
  holdAt?: { readonly step: RotationStep; readonly until: Promise<void> } | undefined;
  /** Called at the start of each step, before anything else. */
  probe?: ((event: RotationEvent) => Promise<void>) | undefined;
}

/** A rotation function plus what it saw; its options can change between rotations. */
export interface ReferenceRotation {
  readonly fn: RotationFunction;
  readonly calls: SeenCall[];
  readonly options: ReferenceRotationOptions;
}

/** Whether the token's AWSPENDING version already holds a value (a retried createSecret). */
async function hasPendingValue(
  client: SecretsManagerClient,
  event: RotationEvent,
): Promise<boolean> {
  try {
    await client.send(
      new GetSecretValueCommand({
        SecretId: event.SecretId,
        VersionId: event.ClientRequestToken,
        VersionStage: 'AWSPENDING',
      }),
    );
    return true;
  } catch (error) {
    if (
      error instanceof SecretsManagerServiceException &&
      error.name === 'ResourceNotFoundException'
    ) {
      return false;
    }
    throw error;
  }
}

/**
 * A rotation function that behaves like the AWS samples: createSecret stores
 * a new value under AWSPENDING with the event's token (and RotationToken)
 * unless a retried rotation already stored one,
 * finishSecret moves AWSCURRENT to the token's version; setSecret and
 * testSecret have nothing to do without a database.
 */
export function referenceRotation(
  client: SecretsManagerClient,
  options: ReferenceRotationOptions = {},
): ReferenceRotation {
  const calls: SeenCall[] = [];
  const fn: RotationFunction = async (event, context) => {
    calls.push({
      event,
      functionName: context.functionName,
      invokedFunctionArn: context.invokedFunctionArn,
      awsRequestId: context.awsRequestId,
      remainingMs: context.getRemainingTimeInMillis(),
    });
    await options.probe?.(event);
    if (options.failAt === event.Step) throw new Error(`${event.Step} failed on purpose`);
    if (event.Step === 'createSecret' && !(await hasPendingValue(client, event))) {
      await client.send(
        new PutSecretValueCommand({
          SecretId: event.SecretId,
          ClientRequestToken: event.ClientRequestToken,
          SecretString: JSON.stringify({ password: randomUUID() }),
          VersionStages: ['AWSPENDING'],
          ...(event.RotationToken ? { RotationToken: event.RotationToken } : {}),
        }),
      );
    }
    if (event.Step === 'finishSecret') {
      const stages = await stagesOf(client, event.SecretId);
      const current = Object.keys(stages).find((id) => stages[id]?.includes('AWSCURRENT'));
      if (current !== event.ClientRequestToken) {
        await client.send(
          new UpdateSecretVersionStageCommand({
            SecretId: event.SecretId,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: event.ClientRequestToken,
            ...(current ? { RemoveFromVersionId: current } : {}),
          }),
        );
      }
    }
    if (options.holdAt?.step === event.Step) await options.holdAt.until;
  };
  return { fn, calls, options };
}

/** A promise with its resolve function, to hold a rotation step open. */
export function gate(): { readonly promise: Promise<void>; readonly open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
