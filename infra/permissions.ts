/**
 * Who may do what: the function's role (the four rotation actions on the
 * rotated secrets, read-only on admin secrets, KMS only for customer
 * managed keys, network interfaces in a VPC) and who may invoke it
 * (Secrets Manager of this account, for these secrets).
 *
 * @module
 */
import { Annotations, Names, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { ScramRotatorProps } from './props.js';
import { arnForPolicies } from './secrets.js';

/** The four Secrets Manager actions of a rotation, and nothing else (lambda/adapters/secrets-manager.ts). */
export const ROTATION_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
] as const;

/**
 * Above this many secrets the invoke permission is one statement for the
 * whole account instead of one per secret: Lambda's resource policy holds
 * at most 20 KB, and a statement with a secret ARN takes about 450 bytes.
 */
export const MAX_SECRET_SCOPED_INVOKE_PERMISSIONS = 25;

/**
 * The function's execution role. Our own, not the one lambda.Function would
 * make: that one carries the AWSLambdaBasicExecutionRole managed policy,
 * which may write to any log group in the account.
 */
export function createRole(scope: Construct): iam.Role {
  return new iam.Role(scope, 'ServiceRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'scram-rotator: rotates the given database secrets',
  });
}

/**
 * The rotation actions on the rotated secrets, GetSecretValue on the admin
 * secrets, and the KMS actions Secrets Manager needs for secrets under a
 * customer managed key.
 */
export function grantSecrets(role: iam.Role, props: ScramRotatorProps): void {
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'RotateSecrets',
      actions: [...ROTATION_ACTIONS],
      resources: props.secrets.map(arnForPolicies),
    }),
  );
  const admins = props.adminSecrets ?? [];
  if (admins.length > 0) {
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadAdminSecrets',
        actions: ['secretsmanager:GetSecretValue'],
        resources: admins.map(arnForPolicies),
      }),
    );
  }
  // Secrets under a customer managed key: Secrets Manager decrypts
  // (GetSecretValue) and encrypts (PutSecretValue: GenerateDataKey) with
  // the caller's permissions, limited here to calls through Secrets
  // Manager for these secrets. Admin secrets are only read: Decrypt.
  // Secrets under aws/secretsmanager need nothing.
  const byKey = new Map<kms.IKey, { rotated: string[]; all: string[] }>();
  const note = (secret: secretsmanager.ISecret, rotated: boolean) => {
    if (!secret.encryptionKey) return;
    const arns = byKey.get(secret.encryptionKey) ?? { rotated: [], all: [] };
    if (rotated) arns.rotated.push(arnForPolicies(secret));
    arns.all.push(arnForPolicies(secret));
    byKey.set(secret.encryptionKey, arns);
  };
  for (const secret of props.secrets) note(secret, true);
  for (const secret of admins) note(secret, false);
  let index = 0;
  for (const [key, arns] of byKey) {
    const statement = (sid: string, actions: string[], secretArns: string[]) =>
      new iam.PolicyStatement({
        sid,
        actions,
        resources: [key.keyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': `secretsmanager.${Stack.of(role).region}.amazonaws.com`,
          },
          StringLike: { 'kms:EncryptionContext:SecretARN': secretArns },
        },
      });
    if (arns.rotated.length === arns.all.length) {
      role.addToPolicy(
        statement(`SecretsKey${index}`, ['kms:Decrypt', 'kms:GenerateDataKey'], arns.all),
      );
    } else {
      role.addToPolicy(statement(`SecretsKey${index}Decrypt`, ['kms:Decrypt'], arns.all));
      if (arns.rotated.length > 0) {
        role.addToPolicy(
          statement(`SecretsKey${index}Encrypt`, ['kms:GenerateDataKey'], arns.rotated),
        );
      }
    }
    index += 1;
  }
}

/**
 * Lambda's own permission to attach the function to the VPC, written out
 * instead of the AWSLambdaVPCAccessExecutionRole managed policy.
 */
export function grantNetworkInterfaces(role: iam.Role): void {
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'VpcNetworkInterfaces',
      actions: [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ],
      resources: ['*'],
    }),
  );
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'Lambda manages the function’s VPC network interfaces with the execution role; the ec2 Describe* actions support no resource-level permissions and the interface ids are not known before Lambda creates them (the same statement as AWSLambdaVPCAccessExecutionRole).',
  });
}

/**
 * Lets Secrets Manager of this account invoke the function, for these
 * secrets only: Secrets Manager passes the secret's ARN as aws:SourceArn
 * ("if you include the aws:SourceArn condition in your rotation function
 * policy, the rotation function can only be used to rotate the secret
 * specified by that ARN", Secrets Manager User Guide, automatic rotation).
 * One statement per secret (a permission takes one ARN; a name-imported
 * secret's ARN ends in `-??????`, which ArnLike matches); above
 * {@link MAX_SECRET_SCOPED_INVOKE_PERMISSIONS} secrets the resource policy
 * would outgrow Lambda's 20 KB, so one account-wide statement, with a warning.
 *
 * @returns the permission each secret's schedule must wait for, in order
 *   (one shared permission when account-wide)
 */
export function allowSecretsManagerToInvoke(
  scope: Construct,
  fn: lambda.Function,
  secrets: readonly secretsmanager.ISecret[],
): lambda.CfnPermission[] {
  const principal = new iam.ServicePrincipal('secretsmanager.amazonaws.com');
  // aws:SourceAccount: only secrets of this account (confused deputy).
  const sourceAccount = Stack.of(scope).account;
  const permission = (id: string, sourceArn: string | undefined) => {
    fn.addPermission(id, {
      principal,
      action: 'lambda:InvokeFunction',
      sourceAccount,
      ...(sourceArn === undefined ? {} : { sourceArn }),
    });
    return fn.permissionsNode.findChild(id) as lambda.CfnPermission;
  };
  if (secrets.length > MAX_SECRET_SCOPED_INVOKE_PERMISSIONS) {
    Annotations.of(scope).addWarningV2(
      'scram-rotator:invoke-permission',
      `${secrets.length} secrets: Secrets Manager may invoke the function for any secret of this account (one statement per secret would outgrow Lambda's 20 KB resource policy above ${MAX_SECRET_SCOPED_INVOKE_PERMISSIONS}). Split the secrets over several ScramRotators to keep one statement per secret.`,
    );
    return [permission('InvokeBySecretsManager', undefined)];
  }
  return secrets.map((secret) =>
    permission(`InvokeBySecretsManager${Names.nodeUniqueId(secret.node)}`, arnForPolicies(secret)),
  );
}
