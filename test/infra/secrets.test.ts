import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { RotatorConfigError, SecretAlreadyRotatedError } from '../../infra/errors.js';
import { ScramRotator } from '../../infra/scram-rotator.js';
import { ENV, secretArn, testStack } from './helpers.js';

/** The statement AWS's HostedRotation and SecretRotation put on a rotated secret. */
const DENY_DELETE = {
  Effect: 'Deny',
  Action: 'secretsmanager:DeleteSecret',
  Principal: { AWS: `arn:aws:iam::${ENV.account}:root` },
  Resource: '*',
};

function ownedSecrets() {
  const stack = testStack();
  const user = new secretsmanager.Secret(stack, 'User');
  const admin = new secretsmanager.Secret(stack, 'Admin');
  return { stack, user, admin };
}

describe('the DeleteSecret deny', () => {
  it('goes on each rotated and admin secret of the app, as AWS puts it', () => {
    const { stack, user, admin } = ownedSecrets();
    new ScramRotator(stack, 'Rotator', { secrets: [user], adminSecrets: [admin] });
    const template = Template.fromStack(stack);
    const policies = template.findResources('AWS::SecretsManager::ResourcePolicy');
    const bySecret = Object.values(policies).map((p) => {
      const { SecretId, ResourcePolicy } = (
        p as { Properties: { SecretId: { Ref: string }; ResourcePolicy: { Statement: unknown[] } } }
      ).Properties;
      return [SecretId.Ref, ResourcePolicy.Statement] as const;
    });
    expect(bySecret.map(([id]) => id).sort()).toEqual(
      [
        stack.getLogicalId(user.node.defaultChild as never),
        stack.getLogicalId(admin.node.defaultChild as never),
      ].sort(),
    );
    for (const [, statements] of bySecret) {
      expect(statements).toEqual([DENY_DELETE]);
    }
  });

  it('is left off with denySecretDeletion: false', () => {
    const { stack, user } = ownedSecrets();
    new ScramRotator(stack, 'Rotator', { secrets: [user], denySecretDeletion: false });
    Template.fromStack(stack).resourceCountIs('AWS::SecretsManager::ResourcePolicy', 0);
  });

  it('leaves an imported secret’s resource policy alone, and says so', () => {
    const stack = testStack();
    new ScramRotator(stack, 'Rotator', {
      secrets: [secretsmanager.Secret.fromSecretCompleteArn(stack, 'S', secretArn('prod/app'))],
    });
    Template.fromStack(stack).resourceCountIs('AWS::SecretsManager::ResourcePolicy', 0);
    Annotations.fromStack(stack).hasInfo(
      '/Test/Rotator',
      Match.stringLikeRegexp(`No DeleteSecret deny on ${secretArn('prod/app')}: imported`),
    );
  });
});

describe('one secret, two rotators', () => {
  it('is refused with a typed error that names the secret and both rotators', () => {
    const stack = testStack();
    const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'S', secretArn('prod/app'));
    new ScramRotator(stack, 'First', { secrets: [secret] });
    // The same secret imported again, by name this time.
    const again = secretsmanager.Secret.fromSecretNameV2(stack, 'Again', 'prod/app');
    const error = (() => {
      try {
        new ScramRotator(stack, 'Second', { secrets: [again] });
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(SecretAlreadyRotatedError);
    expect(error).toBeInstanceOf(RotatorConfigError);
    expect((error as SecretAlreadyRotatedError).rotatedBy).toBe('Test/First secrets[0]');
    expect((error as Error).message).toMatch(
      /^Invalid rotator setting secrets\[0\]: the secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod\/app is already rotated by Test\/First secrets\[0\]; Secrets Manager keeps one rotation per secret/,
    );
  });

  it('is refused for a secret the app defines, and for a secret listed twice in one rotator', () => {
    const stack = testStack();
    const secret = new secretsmanager.Secret(stack, 'Owned');
    expect(() => new ScramRotator(stack, 'Twice', { secrets: [secret, secret] })).toThrow(
      /^Invalid rotator setting secrets\[1\]: the secret Test\/Owned is already rotated by Test\/Twice secrets\[0\]/,
    );
    new ScramRotator(stack, 'Once', { secrets: [secret] });
    expect(() => new ScramRotator(stack, 'Again', { secrets: [secret] })).toThrow(
      /already rotated by Test\/Once secrets\[0\]/,
    );
  });
});

describe('two rotators in one stack', () => {
  it('synthesize side by side, each with its own function, schedules and alarms', () => {
    const stack = testStack();
    for (const name of ['a', 'b']) {
      new ScramRotator(stack, `Rotator-${name}`, {
        secrets: [secretsmanager.Secret.fromSecretNameV2(stack, `S${name}`, `prod/${name}`)],
      }).addOutputs({ prefix: name.toUpperCase() });
    }
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 2);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    expect(Object.keys(template.findOutputs('*'))).toEqual(
      expect.arrayContaining(['AFunctionArn', 'BFunctionArn', 'ASecret1Arn', 'BSecret1Arn']),
    );
  });

  it('refuse outputs of the same prefix with a typed error that names both, not a construct-id clash', () => {
    const stack = testStack();
    const [a, b] = ['a', 'b'].map(
      (name) =>
        new ScramRotator(stack, `Rotator-${name}`, {
          secrets: [secretsmanager.Secret.fromSecretNameV2(stack, `S${name}`, `prod/${name}`)],
        }),
    );
    a?.addOutputs();
    expect(() => b?.addOutputs()).toThrow(RotatorConfigError);
    expect(() => b?.addOutputs()).toThrow(
      /^Invalid rotator setting addOutputs: Test\/Rotator-b and Test\/Rotator-a both add the outputs FunctionArn, .*give one of them a prefix, e.g. addOutputs\(\{ prefix: 'Rotator-b' \}\)/,
    );
  });
});
