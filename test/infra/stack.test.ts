import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_SECRET_TEMPLATE, ScramRotatorStack } from '../../infra/stack.js';
import { CDK_JSON_CONTEXT, ENV, roleStatements, SKIP_BUNDLING, secretArn } from './helpers.js';

function stackWith(props: ConstructorParameters<typeof ScramRotatorStack>[2] = {}) {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, ...SKIP_BUNDLING } });
  const stack = new ScramRotatorStack(app, 'Rotation', { env: ENV, ...props });
  return { stack, template: Template.fromStack(stack) };
}

describe('ScramRotatorStack without secrets', () => {
  it('creates a clearly named example secret with placeholder connection details', () => {
    const { template } = stackWith();
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'Rotation/example',
      Description: Match.stringLikeRegexp('replace host, port, dbname, username and password'),
      GenerateSecretString: {
        SecretStringTemplate: JSON.stringify(EXAMPLE_SECRET_TEMPLATE),
        GenerateStringKey: 'password',
        PasswordLength: 32,
      },
    });
  });

  it('attaches rotation to it without rotating at deploy, when no database exists yet', () => {
    const { template } = stackWith();
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { Ref: Match.stringLikeRegexp('ExampleSecret') },
      RotateImmediatelyOnUpdate: false,
    });
  });

  it('still rotates at deploy when asked to explicitly', () => {
    const { template } = stackWith({ rotator: { rotateImmediatelyOnUpdate: true } });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotateImmediatelyOnUpdate: true,
    });
  });

  it('warns at synth that a placeholder secret stands in for yours', () => {
    const { stack } = stackWith();
    Annotations.fromStack(stack).hasWarning(
      '/Rotation',
      Match.stringLikeRegexp('No secret given.*-c secretArn='),
    );
  });
});

describe('ScramRotatorStack with secrets', () => {
  it('imports complete ARNs as they are and names with the suffix wildcard', () => {
    const { template } = stackWith({ secrets: [secretArn('prod/a'), 'prod/b'] });
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    const statement = roleStatements(template).find((s) => s.Sid === 'RotateSecrets');
    expect(statement?.Resource).toEqual([
      secretArn('prod/a'),
      `arn:aws:secretsmanager:${ENV.region}:${ENV.account}:secret:prod/b-??????`,
    ]);
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: `arn:aws:secretsmanager:${ENV.region}:${ENV.account}:secret:prod/b`,
      RotateImmediatelyOnUpdate: true,
    });
  });

  it('keeps the schedules of secrets that only moved in the list', () => {
    const ids = (secrets: string[]) =>
      Object.keys(
        stackWith({ secrets }).template.findResources('AWS::SecretsManager::RotationSchedule'),
      ).sort();
    expect(ids(['prod/a', 'prod/b'])).toEqual(ids(['prod/b', 'prod/a']));
  });

  it('refuses an ARN without the six-character suffix, which IAM would never match', () => {
    expect(() =>
      stackWith({ secrets: [`arn:aws:secretsmanager:${ENV.region}:${ENV.account}:secret:prod/a`] }),
    ).toThrow(/not the complete ARN of a secret/);
  });

  it('refuses something that is neither an ARN nor a secret name', () => {
    expect(() => stackWith({ secrets: ['prod app user'] })).toThrow(/neither a secret ARN nor/);
  });

  it('grants the customer managed key for the rotated and the admin secrets', () => {
    const keyArn = `arn:aws:kms:${ENV.region}:${ENV.account}:key/abcd`;
    const { template } = stackWith({
      secrets: [secretArn('prod/a')],
      adminSecrets: [secretArn('prod/admin')],
      secretsKeyArn: keyArn,
    });
    const statements = roleStatements(template);
    expect(statements.find((s) => s.Sid === 'SecretsKey0Decrypt')).toMatchObject({
      Resource: keyArn,
      Action: 'kms:Decrypt',
      Condition: {
        StringLike: {
          'kms:EncryptionContext:SecretARN': [secretArn('prod/a'), secretArn('prod/admin')],
        },
      },
    });
    // The admin secret is only read: no data keys for it.
    expect(statements.find((s) => s.Sid === 'SecretsKey0Encrypt')).toMatchObject({
      Action: 'kms:GenerateDataKey',
      Condition: { StringLike: { 'kms:EncryptionContext:SecretARN': [secretArn('prod/a')] } },
    });
  });

  it('imports a VPC from ids without a lookup and runs the function in its subnets', () => {
    const { template } = stackWith({
      secrets: ['prod/a'],
      vpc: {
        vpcId: 'vpc-0123456789abcdef0',
        subnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
        availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: { SubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'] },
    });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcId: 'vpc-0123456789abcdef0',
      SubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
    });
  });

  it('refuses subnets without their availability zones', () => {
    expect(() =>
      stackWith({
        secrets: ['prod/a'],
        vpc: {
          vpcId: 'vpc-0123456789abcdef0',
          subnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
          availabilityZones: ['eu-west-1a'],
        },
      }),
    ).toThrow(/2 subnets but 1 availability zones/);
    expect(() =>
      stackWith({
        secrets: ['prod/a'],
        vpc: { vpcId: 'vpc-0123456789abcdef0', subnetIds: [], availabilityZones: [] },
      }),
    ).toThrow(/give the function's subnets/);
  });
});
