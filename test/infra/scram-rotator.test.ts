import { Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { ROTATION_ACTIONS, ScramRotator } from '../../infra/scram-rotator.js';
import {
  CA_FIXTURE,
  ENV,
  functionEnvironment,
  roleStatements,
  secretArn,
  synthRotator,
  testStack,
} from './helpers.js';

const KEY_ARN = `arn:aws:kms:${ENV.region}:${ENV.account}:key/11111111-2222-3333-4444-555555555555`;

/** A VPC built in the test stack, with private, isolated and public subnets. */
function vpcIn(stack: Stack): ec2.Vpc {
  return new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });
}

describe('the rotation function', () => {
  it('runs the handler of lambda/index.ts on Node.js 24 on arm64', () => {
    const { template } = synthRotator();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 256,
      Timeout: 60,
    });
  });

  it('takes memory and timeout from props', () => {
    const { template } = synthRotator({ memorySize: 512, timeout: Duration.seconds(90) });
    template.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 512, Timeout: 90 });
  });

  it('sets only the metrics namespace, service name and source maps when given nothing else', () => {
    const { template } = synthRotator();
    expect(functionEnvironment(template)).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'scram-rotator',
      POWERTOOLS_METRICS_NAMESPACE: 'ScramRotator',
    });
  });

  it('passes every configuration prop to the variable lambda/config.ts reads', () => {
    const { template } = synthRotator({
      rotationMode: 'admin',
      scramIterations: 10_610,
      allowIterationMismatch: true,
      passwordPolicy: {
        length: 40,
        excludeCharacters: '%`',
        excludeNumbers: false,
        excludePunctuation: true,
        excludeUppercase: false,
        excludeLowercase: false,
        requireEachIncludedType: false,
      },
      connectTimeout: Duration.seconds(3),
      statementTimeout: Duration.seconds(4),
      testLoginAttempts: 6,
      testLoginDelay: Duration.millis(250),
      metricsNamespace: 'Acme/Rotation',
      caBundlePath: CA_FIXTURE,
    });
    expect(functionEnvironment(template)).toMatchObject({
      ROTATION_MODE: 'admin',
      SCRAM_ITERATIONS: '10610',
      SCRAM_ITERATIONS_ALLOW_MISMATCH: 'true',
      PASSWORD_LENGTH: '40',
      EXCLUDE_CHARACTERS: '%`',
      EXCLUDE_NUMBERS: 'false',
      EXCLUDE_PUNCTUATION: 'true',
      EXCLUDE_UPPERCASE: 'false',
      EXCLUDE_LOWERCASE: 'false',
      REQUIRE_EACH_INCLUDED_TYPE: 'false',
      CONNECT_TIMEOUT_MS: '3000',
      STATEMENT_TIMEOUT_MS: '4000',
      TEST_LOGIN_ATTEMPTS: '6',
      TEST_LOGIN_DELAY_MS: '250',
      POWERTOOLS_METRICS_NAMESPACE: 'Acme/Rotation',
      CA_BUNDLE_PATH: '/var/task/ca-bundle.pem',
    });
  });

  it("refuses settings the function's own parser would refuse, naming the variable", () => {
    expect(() => synthRotator({ scramIterations: 1000 })).toThrow(/SCRAM_ITERATIONS/);
    expect(() => synthRotator({ passwordPolicy: { length: 4 } })).toThrow(/PASSWORD_LENGTH/);
    expect(() => synthRotator({ testLoginAttempts: 11 })).toThrow(/TEST_LOGIN_ATTEMPTS/);
    expect(() =>
      synthRotator({
        passwordPolicy: {
          excludeNumbers: true,
          excludePunctuation: true,
          excludeUppercase: true,
          excludeLowercase: true,
        },
      }),
    ).toThrow(/at least one character class/);
  });

  it('refuses an empty excludeCharacters, which the function would read as unset', () => {
    expect(() => synthRotator({ passwordPolicy: { excludeCharacters: '' } })).toThrow(
      /empty EXCLUDE_CHARACTERS as unset/,
    );
  });

  it('refuses a CA bundle path a shell would expand in the copy command', () => {
    expect(() => synthRotator({ caBundlePath: '/tmp/$HOME/ca.pem' })).toThrow(
      /a shell would interpret/,
    );
  });

  it('refuses a CA bundle that is missing or holds no certificate', () => {
    expect(() => synthRotator({ caBundlePath: '/nonexistent/ca.pem' })).toThrow(/does not exist/);
    expect(() =>
      synthRotator({ caBundlePath: CA_FIXTURE.replace('ca.pem', 'not-a-ca.pem') }),
    ).toThrow(/CA_BUNDLE_PATH/);
  });

  it('warns when the login settings can outlast the function timeout', () => {
    const { stack } = synthRotator({
      timeout: Duration.seconds(20),
      testLoginAttempts: 4,
    });
    Annotations.fromStack(stack).hasWarning(
      '/Test/Rotator',
      Match.stringLikeRegexp('testSecret may need 41500 ms'),
    );
  });

  it('refuses to be built without a secret', () => {
    expect(() => new ScramRotator(testStack(), 'Rotator', { secrets: [] })).toThrow(
      /at least one secret/,
    );
  });
});

describe('logs', () => {
  it('go to a log group kept for a month by default', () => {
    const { template } = synthRotator();
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('RotatorLogGroup') } },
    });
  });

  it('are kept as long as logRetention says', () => {
    const { template } = synthRotator({ logRetention: logs.RetentionDays.ONE_YEAR });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });
});

describe('IAM', () => {
  it('grants exactly the four rotation actions, on the rotated secret only', () => {
    const { template } = synthRotator();
    const statements = roleStatements(template);
    const secretStatements = statements.filter((s) =>
      JSON.stringify(s).includes('secretsmanager:'),
    );
    expect(secretStatements).toEqual([
      {
        Sid: 'RotateSecrets',
        Effect: 'Allow',
        Action: [...ROTATION_ACTIONS],
        Resource: secretArn('prod/app_user'),
      },
    ]);
  });

  it('never grants GetRandomPassword, because the function generates passwords itself', () => {
    const { template } = synthRotator();
    expect(JSON.stringify(roleStatements(template))).not.toContain('GetRandomPassword');
  });

  it('grants the role nothing but its log group and the secrets', () => {
    const { template } = synthRotator();
    const statements = roleStatements(template);
    expect(statements.map((s) => s.Action)).toEqual([
      ['logs:CreateLogStream', 'logs:PutLogEvents'],
      [...ROTATION_ACTIONS],
    ]);
    template.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: Match.absent(),
    });
  });

  it('matches a secret imported by name with the six-character suffix wildcard', () => {
    const { template } = synthRotator({}, (stack) => ({
      secrets: [secretsmanager.Secret.fromSecretNameV2(stack, 'ByName', 'prod/app_user')],
    }));
    const statement = roleStatements(template).find((s) => s.Sid === 'RotateSecrets');
    expect(JSON.stringify(statement?.Resource)).toContain(':secret:prod/app_user-??????');
  });

  it('lets the function only read admin secrets', () => {
    const { template } = synthRotator({}, (stack) => ({
      adminSecrets: [
        secretsmanager.Secret.fromSecretCompleteArn(stack, 'Admin', secretArn('prod/admin')),
      ],
    }));
    expect(roleStatements(template).find((s) => s.Sid === 'ReadAdminSecrets')).toEqual({
      Sid: 'ReadAdminSecrets',
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: secretArn('prod/admin'),
    });
  });

  it('grants no KMS action when the secrets use the AWS managed key', () => {
    const { template } = synthRotator();
    expect(JSON.stringify(roleStatements(template))).not.toContain('kms:');
  });

  it('grants decrypt and data keys of a customer managed key, through Secrets Manager, for those secrets only', () => {
    const { template } = synthRotator({}, (stack) => {
      const key = kms.Key.fromKeyArn(stack, 'Key', KEY_ARN);
      return {
        secrets: [
          secretsmanager.Secret.fromSecretAttributes(stack, 'AppUser', {
            secretCompleteArn: secretArn('prod/app_user'),
            encryptionKey: key,
          }),
        ],
        adminSecrets: [
          secretsmanager.Secret.fromSecretAttributes(stack, 'Admin', {
            secretCompleteArn: secretArn('prod/admin'),
            encryptionKey: key,
          }),
        ],
      };
    });
    expect(roleStatements(template).find((s) => s.Sid === 'SecretsKey0')).toEqual({
      Sid: 'SecretsKey0',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: KEY_ARN,
      Condition: {
        StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' },
        StringLike: {
          'kms:EncryptionContext:SecretARN': [secretArn('prod/app_user'), secretArn('prod/admin')],
        },
      },
    });
  });
});

describe('the invoke permission', () => {
  it('lets only Secrets Manager of this account invoke the function', () => {
    const { template } = synthRotator();
    template.resourceCountIs('AWS::Lambda::Permission', 1);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: ENV.account,
      FunctionName: { 'Fn::GetAtt': [Match.stringLikeRegexp('RotatorFunction'), 'Arn'] },
    });
  });
});

describe('the rotation schedule', () => {
  it('rotates every 30 days, immediately on update, by default', () => {
    const { template } = synthRotator();
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: secretArn('prod/app_user'),
      RotationLambdaARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('RotatorFunction'), 'Arn'] },
      RotationRules: { ScheduleExpression: 'rate(30 days)', Duration: Match.absent() },
      RotateImmediatelyOnUpdate: true,
      HostedRotationLambda: Match.absent(),
    });
  });

  it('takes a cron expression, a window and rotate-immediately from props', () => {
    const { template } = synthRotator({
      schedule: 'cron(0 3 ? * SUN *)',
      rotationWindow: Duration.hours(3),
      rotateImmediatelyOnUpdate: false,
    });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'cron(0 3 ? * SUN *)', Duration: '3h' },
      RotateImmediatelyOnUpdate: false,
    });
  });

  it('refuses a schedule Secrets Manager would refuse, before anything is deployed', () => {
    expect(() => synthRotator({ schedule: 'rate(2 hours)' })).toThrow(/at most every four hours/);
    expect(() =>
      synthRotator({ schedule: 'cron(0 23 ? * SUN *)', rotationWindow: Duration.hours(2) }),
    ).toThrow(/next UTC day/);
  });

  it('is created after the invoke permission and the role policy exist', () => {
    const { template } = synthRotator();
    const [schedule] = Object.values(
      template.findResources('AWS::SecretsManager::RotationSchedule'),
    ) as Array<{ DependsOn: string[] }>;
    expect(schedule?.DependsOn).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^RotatorFunctionInvokeBySecretsManager/),
        expect.stringMatching(/^RotatorServiceRoleDefaultPolicy/),
      ]),
    );
  });

  it('attaches one schedule per secret', () => {
    const { template } = synthRotator({}, (stack) => ({
      secrets: ['a', 'b', 'c'].map((name) =>
        secretsmanager.Secret.fromSecretCompleteArn(stack, name, secretArn(`prod/${name}`)),
      ),
    }));
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 3);
    const statement = roleStatements(template).find((s) => s.Sid === 'RotateSecrets');
    expect(statement?.Resource).toEqual([
      secretArn('prod/a'),
      secretArn('prod/b'),
      secretArn('prod/c'),
    ]);
  });
});

describe('alarms', () => {
  it('alarm on any function error within five minutes, to the alarm topic', () => {
    const { template } = synthRotator();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [
        { Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('RotatorFunction') } },
      ],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('RotatorAlarmTopic') }],
    });
  });

  it('go to a topic encrypted with a rotating customer key, publishable over TLS only', () => {
    const { template } = synthRotator();
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('RotatorAlarmTopicKey'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: Match.objectLike({
              ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } },
            }),
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sns:Publish',
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
          Match.objectLike({
            Principal: { Service: 'events.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
  });

  it('refuse an alarm e-mail that is not an address', () => {
    expect(() => synthRotator({ alarmEmail: 'dba at example' })).toThrow(/not an e-mail address/);
  });

  it('subscribe an e-mail address when given one', () => {
    const { template } = synthRotator({ alarmEmail: 'dba@example.com' });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'dba@example.com',
    });
  });

  it('use the topic given instead of creating one', () => {
    const { template } = synthRotator({}, (stack) => ({
      alarmTopic: sns.Topic.fromTopicArn(
        stack,
        'Ops',
        `arn:aws:sns:${ENV.region}:${ENV.account}:ops`,
      ),
    }));
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.resourceCountIs('AWS::KMS::Key', 0);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: [`arn:aws:sns:${ENV.region}:${ENV.account}:ops`],
    });
  });
});

describe('the rotation failure rule', () => {
  it("sends this construct's failed and abandoned rotations to the alarm topic", () => {
    const { template } = synthRotator({}, (stack) => ({
      secrets: [
        secretsmanager.Secret.fromSecretCompleteArn(stack, 'Full', secretArn('prod/app_user')),
        secretsmanager.Secret.fromSecretNameV2(stack, 'Named', 'prod/reporting'),
      ],
    }));
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.secretsmanager'],
        'detail-type': ['AWS Service Event via CloudTrail'],
        detail: {
          eventSource: ['secretsmanager.amazonaws.com'],
          eventName: ['RotationFailed', 'RotationAbandoned', 'TestRotationFailed'],
          additionalEventData: {
            SecretId: [
              secretArn('prod/app_user'),
              // Imported by name: the real ARN has six more characters.
              {
                prefix: `arn:aws:secretsmanager:${ENV.region}:${ENV.account}:secret:prod/reporting-`,
              },
            ],
          },
        },
      },
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('RotatorAlarmTopic') } })],
    });
  });
});

describe('networking', () => {
  it('puts the function in no VPC by default', () => {
    const { template } = synthRotator();
    template.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: Match.absent() });
    template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });

  it('refuses VPC settings without a VPC', () => {
    expect(() => synthRotator({ natGatewayRoute: true })).toThrow(/only apply with vpc/);
  });

  it('runs in the private subnets with a security group open only to the database and the endpoint', () => {
    const { template, rotator } = synthRotator({}, (stack) => ({ vpc: vpcIn(stack) }));
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: {
        SubnetIds: [
          { Ref: Match.stringLikeRegexp('VpcprivateSubnet1') },
          { Ref: Match.stringLikeRegexp('VpcprivateSubnet2') },
        ],
        SecurityGroupIds: [
          { 'Fn::GetAtt': [Match.stringLikeRegexp('RotatorSecurityGroup'), 'GroupId'] },
        ],
      },
    });
    const groupId = Stack.of(rotator).resolve(rotator.securityGroup?.securityGroupId) as {
      'Fn::GetAtt': [string, string];
    };
    const [functionGroup] = groupId['Fn::GetAtt'];
    template.hasResource('AWS::EC2::SecurityGroup', {
      Properties: {
        GroupDescription: Match.stringLikeRegexp('database port and HTTPS to Secrets Manager'),
        SecurityGroupEgress: [
          {
            CidrIp: '0.0.0.0/0',
            IpProtocol: 'tcp',
            FromPort: 5432,
            ToPort: 5432,
            Description: 'Database',
          },
        ],
        SecurityGroupIngress: Match.absent(),
      },
    });
    // HTTPS leaves only toward the endpoint's security group.
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [functionGroup, 'GroupId'] },
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      DestinationSecurityGroupId: {
        'Fn::GetAtt': [Match.stringLikeRegexp('RotatorEndpointSecurityGroup'), 'GroupId'],
      },
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: { 'Fn::GetAtt': [functionGroup, 'GroupId'] },
    });
    const egress = template.findResources('AWS::EC2::SecurityGroupEgress');
    expect(Object.keys(egress)).toHaveLength(1);
  });

  it('creates a Secrets Manager endpoint without private DNS and points the SDK at it', () => {
    const { template } = synthRotator({}, (stack) => ({ vpc: vpcIn(stack) }));
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      ServiceName: 'com.amazonaws.eu-west-1.secretsmanager',
      PrivateDnsEnabled: false,
      SubnetIds: [
        { Ref: Match.stringLikeRegexp('VpcprivateSubnet1') },
        { Ref: Match.stringLikeRegexp('VpcprivateSubnet2') },
      ],
    });
    const environment = functionEnvironment(template);
    expect(JSON.stringify(environment.AWS_ENDPOINT_URL_SECRETS_MANAGER)).toMatch(
      /https:\/\/.*DnsEntries/,
    );
  });

  it('uses an existing endpoint when told so: no endpoint, HTTPS out to any address', () => {
    const { template } = synthRotator({ secretsManagerEndpoint: 'existing' }, (stack) => ({
      vpc: vpcIn(stack),
    }));
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    expect(functionEnvironment(template).AWS_ENDPOINT_URL_SECRETS_MANAGER).toBeUndefined();
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: Match.arrayWith([
        Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443 }),
      ]),
    });
  });

  it('goes through NAT without an endpoint when the subnets route to one', () => {
    const { template } = synthRotator(
      { secretsManagerEndpoint: 'none', natGatewayRoute: true, databasePort: 26257 },
      (stack) => ({ vpc: vpcIn(stack) }),
    );
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: [
        Match.objectLike({ FromPort: 26257, ToPort: 26257 }),
        Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443 }),
      ],
    });
  });

  it('limits database egress to the peers given', () => {
    const { template } = synthRotator(
      { databasePeers: [ec2.Peer.ipv4('10.0.0.0/16')] },
      (stack) => ({ vpc: vpcIn(stack) }),
    );
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '10.0.0.0/16', FromPort: 5432 })],
    });
  });

  it('refuses an empty list of database peers, which would cut the database off', () => {
    expect(() => synthRotator({ databasePeers: [] }, (stack) => ({ vpc: vpcIn(stack) }))).toThrow(
      /databasePeers is empty/,
    );
  });

  it('refuses a VPC with no endpoint and no NAT route, saying why', () => {
    expect(() =>
      synthRotator({ secretsManagerEndpoint: 'none' }, (stack) => ({ vpc: vpcIn(stack) })),
    ).toThrow(/no route to Secrets Manager.*every call would time out/);
  });

  it('refuses a NAT route declared for isolated subnets', () => {
    expect(() =>
      synthRotator({ secretsManagerEndpoint: 'none', natGatewayRoute: true }, (stack) => ({
        vpc: vpcIn(stack),
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      })),
    ).toThrow(/isolated \(no route to a NAT gateway\)/);
  });

  it('lets Lambda manage its network interfaces, with the wildcard acknowledged for cdk-nag', () => {
    const { template } = synthRotator({}, (stack) => ({ vpc: vpcIn(stack) }));
    const statement = roleStatements(template).find((s) => s.Sid === 'VpcNetworkInterfaces');
    expect(statement).toMatchObject({
      Resource: '*',
      Action: expect.arrayContaining(['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface']),
    });
  });
});
