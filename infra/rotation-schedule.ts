/**
 * One rotation schedule per rotated secret, each created after everything
 * Secrets Manager checks when it is created (and may rotate at once), and
 * the complete ARN of each secret, which the schedule's `Ref` gives for a
 * secret imported by name.
 *
 * @module
 */

import { Names } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct, IDependable } from 'constructs';

/** What {@link createRotationSchedules} needs. */
export interface RotationScheduleOptions {
  readonly secrets: readonly secretsmanager.ISecret[];
  readonly fn: lambda.IFunction;
  /** `RotationRules.ScheduleExpression`, checked (schedule.ts). */
  readonly schedule: string;
  /** `RotationRules.Duration`, checked, or `undefined` for Secrets Manager's default. */
  readonly duration: string | undefined;
  readonly rotateImmediatelyOnUpdate: boolean;
  /** The invoke permission each secret's schedule waits for, in order (or one shared by all). */
  readonly permissions: readonly lambda.CfnPermission[];
  /** What every schedule waits for besides its permission (the role and its policy). */
  readonly dependencies: readonly IDependable[];
}

/** The schedules, in the order of `secrets`. */
export function createRotationSchedules(
  scope: Construct,
  options: RotationScheduleOptions,
): secretsmanager.CfnRotationSchedule[] {
  const { permissions } = options;
  return options.secrets.map((secret, index) => {
    const rotation = new secretsmanager.CfnRotationSchedule(
      scope,
      `Schedule${Names.nodeUniqueId(secret.node)}`,
      {
        secretId: secret.secretArn,
        rotationLambdaArn: options.fn.functionArn,
        rotationRules: { scheduleExpression: options.schedule, duration: options.duration },
        rotateImmediatelyOnUpdate: options.rotateImmediatelyOnUpdate,
      },
    );
    // Secrets Manager checks that it may invoke the function when the
    // schedule is created, and may rotate at once: the permission and
    // the role's policy must exist first.
    // (One permission per secret, or one shared by all: see permissions.ts.)
    const permission = permissions[Math.min(index, permissions.length - 1)] as lambda.CfnPermission;
    rotation.node.addDependency(permission, ...options.dependencies);
    return rotation;
  });
}

/**
 * The complete ARN of each rotated secret, in order: as given, or the
 * schedule's `Ref`. AWS::SecretsManager::RotationSchedule's Ref "returns
 * the ARN of the secret that's being configured, such as
 * arn:aws:secretsmanager:us-west-2:123456789012:secret:my-path/my-secret-name-1a2b3c"
 * (CloudFormation reference, RotationSchedule return values).
 */
export function completeSecretArns(
  secrets: readonly secretsmanager.ISecret[],
  schedules: readonly secretsmanager.CfnRotationSchedule[],
): string[] {
  return secrets.map((secret, index) => secret.secretFullArn ?? (schedules[index]?.ref as string));
}
