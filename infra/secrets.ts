/**
 * The rotated and admin secrets: the ARNs policies name them by, and the
 * check that they live where the stack deploys.
 *
 * @module
 */
import { Annotations, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct, IConstruct } from 'constructs';
import { RotatorConfigError, SecretAlreadyRotatedError } from './errors.js';
import type { ScramRotatorProps } from './props.js';

/** The ARN to put in IAM policies and KMS conditions for a secret. */
export function arnForPolicies(secret: secretsmanager.ISecret): string {
  // An ARN built from a name lacks the random suffix Secrets Manager adds;
  // IAM's `?` matches exactly one character, so the six of the suffix match
  // `prod/app-AbCdEf` and not `prod/app-reporting-AbCdEf`.
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}

/** `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`, when the ARN is literal. */
const SECRET_ARN = /^arn:([a-z-]+):secretsmanager:([a-z0-9-]+):(\d{12}):secret:(.+)$/;
/** `arn:<partition>:kms:<region>:<account>:key/<id>`, when the ARN is literal. */
const KMS_KEY_ARN = /^arn:([a-z-]+):kms:([a-z0-9-]+):(\d{12}):/;

/**
 * Secrets Manager runs the function in the secret's region and account:
 * a secret (or its key) elsewhere would fail at deploy, or be granted in
 * the wrong region. Literal ARNs are checked against the stack's
 * environment where it has one.
 *
 * @param scope - the rotator, which warnings are attached to
 * @throws {@link RotatorConfigError} for a secret or key of another region or account
 */
export function checkSecretPlacement(scope: Construct, props: ScramRotatorProps): void {
  const lists = [
    ['secrets', props.secrets],
    ['adminSecrets', props.adminSecrets ?? []],
  ] as const;
  for (const [name, secrets] of lists) {
    secrets.forEach((secret, index) => {
      const setting = `${name}[${index}]`;
      const arn = secret.secretFullArn ?? secret.secretArn;
      const parts = Token.isUnresolved(arn) ? null : SECRET_ARN.exec(arn);
      if (parts) {
        const [, , region, account] = parts;
        checkRegionAndAccount(scope, setting, arn, region as string, account as string, true);
      }
      const keyArn = secret.encryptionKey?.keyArn;
      const keyParts =
        keyArn === undefined || Token.isUnresolved(keyArn) ? null : KMS_KEY_ARN.exec(keyArn);
      if (keyArn !== undefined && keyParts) {
        // A key may belong to another account; never to another region.
        checkRegionAndAccount(
          scope,
          `${setting}.encryptionKey`,
          keyArn,
          keyParts[2] as string,
          undefined,
          false,
        );
      }
    });
  }
}

function checkRegionAndAccount(
  scope: Construct,
  setting: string,
  arn: string,
  region: string,
  account: string | undefined,
  isSecret: boolean,
): void {
  const stack = Stack.of(scope);
  const what = isSecret ? 'secret' : 'KMS key';
  if (Token.isUnresolved(stack.region)) {
    Annotations.of(scope).addWarningV2(
      'scram-rotator:environment-agnostic',
      `${setting} ${arn} is in ${region}, but the stack has no region: deploy it to ${region} (set the stack's env, or run cdk with AWS_REGION=${region}).`,
    );
  } else if (region !== stack.region) {
    throw new RotatorConfigError(
      setting,
      `the ${what} ${arn} is in region ${region} but the stack deploys to ${stack.region}; Secrets Manager only calls a rotation function of its own region. Deploy the stack to ${region} (its env.region), or name a ${what} of ${stack.region}.`,
    );
  }
  if (account !== undefined && !Token.isUnresolved(stack.account) && account !== stack.account) {
    throw new RotatorConfigError(
      setting,
      `the ${what} ${arn} belongs to account ${account} but the stack deploys to ${stack.account}; deploy the stack to account ${account} (its env.account), or name a ${what} of ${stack.account}.`,
    );
  }
}

/**
 * One name per secret, whichever way it was imported: a complete ARN loses
 * its six-character suffix (so it meets the same secret imported by name),
 * a token is named by its stack and value.
 */
function secretIdentity(secret: secretsmanager.ISecret): { key: string; shown: string } {
  const arn = secret.secretFullArn ?? secret.secretArn;
  if (Token.isUnresolved(arn)) {
    const stack = Stack.of(secret);
    return {
      key: `${stack.node.path} ${JSON.stringify(stack.resolve(arn))}`,
      shown: secret.node.path,
    };
  }
  const key = secret.secretFullArn === undefined ? arn : arn.replace(/-[A-Za-z0-9]{6}$/, '');
  return { key, shown: arn };
}

/** Per app, each rotated secret and the rotator (path and setting) that rotates it. */
const ROTATED = new WeakMap<IConstruct, Map<string, string>>();

/**
 * Records the rotator's secrets for the app, refusing a secret that a
 * rotator of the app already rotates (or that `secrets` lists twice).
 *
 * @throws {@link SecretAlreadyRotatedError} naming the secret and both places
 */
export function claimSecrets(rotator: Construct, secrets: readonly secretsmanager.ISecret[]): void {
  const claimed = ROTATED.get(rotator.node.root) ?? new Map<string, string>();
  const mine = new Map<string, string>();
  secrets.forEach((secret, index) => {
    const { key, shown } = secretIdentity(secret);
    const setting = `secrets[${index}]`;
    const first = claimed.get(key) ?? mine.get(key);
    if (first !== undefined) throw new SecretAlreadyRotatedError(setting, shown, first);
    mine.set(key, `${rotator.node.path} ${setting}`);
  });
  for (const [key, owner] of mine) claimed.set(key, owner);
  ROTATED.set(rotator.node.root, claimed);
}

/**
 * Denies `secretsmanager:DeleteSecret` to the account's principals on each
 * secret's resource policy: the statement AWS's `HostedRotation` and
 * `SecretRotation` add (`ISecret.denyAccountRootDelete`). A secret imported
 * into the app has no resource policy the app may write (a new one would
 * replace the one it has), so it gets none, and an info annotation says so.
 */
export function denySecretDeletion(
  scope: Construct,
  secrets: readonly secretsmanager.ISecret[],
): void {
  const imported: string[] = [];
  for (const secret of secrets) {
    const { statementAdded } = secret.addToResourcePolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        actions: ['secretsmanager:DeleteSecret'],
        resources: ['*'],
        principals: [new iam.AccountRootPrincipal()],
      }),
    );
    if (!statementAdded) imported.push(secretIdentity(secret).shown);
  }
  if (imported.length > 0) {
    Annotations.of(scope).addInfo(
      `No DeleteSecret deny on ${imported.join(', ')}: imported, so its resource policy belongs to where it is defined (add the statement there, as ISecret.denyAccountRootDelete() does).`,
    );
  }
}
