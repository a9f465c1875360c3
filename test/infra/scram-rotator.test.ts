import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { RotatorConfigError } from '../../infra/errors.js';
import {
  DEFAULT_RESERVED_CONCURRENCY,
  latestNodeRuntime,
  MAX_SECRET_SCOPED_INVOKE_PERMISSIONS,
  ROTATION_ACTIONS,
  ScramRotator,
} from '../../infra/scram-rotator.js';
import {
  DOCUMENTED_ROTATION_EVENTS,
  matchesPattern,
  rotationEvent,
  rotationFailed,
} from './fixtures/rotation-events.js';
import {
  CA_FIXTURE,
  ENV,
  functionEnvironment,
  roleStatements,
  SKIP_BUNDLING,
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
  it('runs the handler of lambda/index.ts on arm64, on the newest Node.js runtime aws-cdk-lib lists', () => {
    const { template } = synthRotator();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: latestNodeRuntime().name,
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

  it('reserves 10 concurrent executions by default, so rotation holds at most 10 database connections', () => {
    const { template } = synthRotator();
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: DEFAULT_RESERVED_CONCURRENCY,
    });
    expect(DEFAULT_RESERVED_CONCURRENCY).toBe(10);
  });

  it('takes reservedConcurrency from props, and none leaves the function unreserved', () => {
    synthRotator({ reservedConcurrency: 25 }).template.hasResourceProperties(
      'AWS::Lambda::Function',
      { ReservedConcurrentExecutions: 25 },
    );
    const unreserved = synthRotator({ reservedConcurrency: 'none' }).template.findResources(
      'AWS::Lambda::Function',
    );
    const [fn] = Object.values(unreserved) as { Properties: Record<string, unknown> }[];
    expect(fn?.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
  });

  it.each([0, -1, 2.5, 1001])('refuses reservedConcurrency %s', (value) => {
    expect(() => synthRotator({ reservedConcurrency: value })).toThrow(RotatorConfigError);
    expect(() => synthRotator({ reservedConcurrency: value })).toThrow(
      /^Invalid rotator setting reservedConcurrency: give a whole number from 1 to 1000/,
    );
  });

  it('sets only the metrics namespace and service name when given nothing else: no source maps', () => {
    const { template } = synthRotator();
    expect(functionEnvironment(template)).toEqual({
      POWERTOOLS_SERVICE_NAME: 'scram-rotator',
      POWERTOOLS_METRICS_NAMESPACE: 'ScramRotator',
    });
  });

  it('turns source maps on in the runtime with sourceMaps', () => {
    const { template } = synthRotator({ sourceMaps: true });
    expect(functionEnvironment(template).NODE_OPTIONS).toBe('--enable-source-maps');
  });

  it('passes every configuration prop to the variable lambda/config.ts reads', () => {
    const { template } = synthRotator({
      rotationMode: 'admin',
      cloneSuffix: '_b',
      scramIterations: 10_610,
      allowIterationMismatch: true,
      maxScramIterations: 200_000,
      allowAdminTargetMismatch: true,
      allowPrivilegedTarget: true,
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
      transientRetry: Duration.seconds(12),
      metricsNamespace: 'Acme/Rotation',
      caBundlePath: CA_FIXTURE,
    });
    expect(functionEnvironment(template)).toMatchObject({
      ROTATION_MODE: 'admin',
      CLONE_SUFFIX: '_b',
      SCRAM_ITERATIONS: '10610',
      SCRAM_ITERATIONS_ALLOW_MISMATCH: 'true',
      SCRAM_MAX_ITERATIONS: '200000',
      ALLOW_ADMIN_TARGET_MISMATCH: 'true',
      ALLOW_PRIVILEGED_TARGET: 'true',
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
      TRANSIENT_RETRY_MS: '12000',
      POWERTOOLS_METRICS_NAMESPACE: 'Acme/Rotation',
      CA_BUNDLE_PATH: '/var/task/ca-bundle.pem',
    });
  });

  it("refuses settings the function's own parser would refuse, naming the variable", () => {
    expect(() => synthRotator({ scramIterations: 1000 })).toThrow(/SCRAM_ITERATIONS/);
    expect(() => synthRotator({ passwordPolicy: { length: 4 } })).toThrow(/PASSWORD_LENGTH/);
    // A policy below the function's minimum strength fails the synth too.
    expect(() => synthRotator({ passwordPolicy: { length: 12 } })).toThrow(/at least 96 bits/);
    expect(() => synthRotator({ scramIterations: 200_000 })).toThrow(
      /scramIterations: .*SCRAM_ITERATIONS must be at most SCRAM_MAX_ITERATIONS \(100000\)/,
    );
    expect(() => synthRotator({ maxScramIterations: 1000 })).toThrow(/maxScramIterations/);
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

  it('refuses with a typed error that names the setting', () => {
    const error = (() => {
      try {
        synthRotator({ alarmEmail: 'dba at example' });
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(RotatorConfigError);
    expect((error as RotatorConfigError).setting).toBe('alarmEmail');
    expect((error as Error).message).toMatch(/^Invalid rotator setting alarmEmail: /);
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
    const condition = (arns: string[]) => ({
      StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' },
      StringLike: { 'kms:EncryptionContext:SecretARN': arns },
    });
    const kmsStatements = roleStatements(template).filter((s) =>
      JSON.stringify(s.Action).includes('kms:'),
    );
    // Both read; only the rotated secret is written (PutSecretValue: GenerateDataKey).
    expect(kmsStatements).toEqual([
      {
        Sid: 'SecretsKey0Decrypt',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: KEY_ARN,
        Condition: condition([secretArn('prod/app_user'), secretArn('prod/admin')]),
      },
      {
        Sid: 'SecretsKey0Encrypt',
        Effect: 'Allow',
        Action: 'kms:GenerateDataKey',
        Resource: KEY_ARN,
        Condition: condition([secretArn('prod/app_user')]),
      },
    ]);
  });

  it('grants an admin secret under its own key Decrypt only, never GenerateDataKey', () => {
    const { template } = synthRotator({}, (stack) => ({
      adminSecrets: [
        secretsmanager.Secret.fromSecretAttributes(stack, 'Admin', {
          secretCompleteArn: secretArn('prod/admin'),
          encryptionKey: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN),
        }),
      ],
    }));
    const kmsStatements = roleStatements(template).filter((s) =>
      JSON.stringify(s.Action).includes('kms:'),
    );
    expect(kmsStatements.map((s) => s.Action)).toEqual(['kms:Decrypt']);
    expect(JSON.stringify(roleStatements(template))).not.toContain('GenerateDataKey');
  });
});

describe('the invoke permission', () => {
  it('lets only Secrets Manager of this account invoke the function, for the rotated secret only', () => {
    const { template } = synthRotator();
    template.resourceCountIs('AWS::Lambda::Permission', 1);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: ENV.account,
      SourceArn: secretArn('prod/app_user'),
      FunctionName: { 'Fn::GetAtt': [Match.stringLikeRegexp('RotatorFunction'), 'Arn'] },
    });
  });

  it('has one permission per secret, a name-imported one matched by its six-character suffix', () => {
    const { template } = synthRotator({}, (stack) => ({
      secrets: [
        secretsmanager.Secret.fromSecretCompleteArn(stack, 'Full', secretArn('prod/a')),
        secretsmanager.Secret.fromSecretNameV2(stack, 'Named', 'prod/b'),
      ],
    }));
    const sources = Object.values(template.findResources('AWS::Lambda::Permission')).map(
      (p) => (p as { Properties: { SourceArn: unknown } }).Properties.SourceArn,
    );
    expect(sources).toHaveLength(2);
    expect(sources[0]).toBe(secretArn('prod/a'));
    expect(JSON.stringify(sources[1])).toContain(':secret:prod/b-??????');
    // Each schedule waits for its own secret's permission.
    const schedules = Object.values(
      template.findResources('AWS::SecretsManager::RotationSchedule'),
    ) as Array<{ DependsOn: string[] }>;
    const permissionIds = Object.keys(template.findResources('AWS::Lambda::Permission'));
    expect(schedules.map((s) => s.DependsOn.filter((d) => permissionIds.includes(d)))).toEqual([
      [permissionIds[0]],
      [permissionIds[1]],
    ]);
  });

  it(`falls back to one account-wide permission above ${MAX_SECRET_SCOPED_INVOKE_PERMISSIONS} secrets, and says so`, () => {
    const { template, stack } = synthRotator({}, (s) => ({
      secrets: Array.from({ length: MAX_SECRET_SCOPED_INVOKE_PERMISSIONS + 1 }, (_, i) =>
        secretsmanager.Secret.fromSecretCompleteArn(s, `S${i}`, secretArn(`prod/s${i}`)),
      ),
    }));
    template.resourceCountIs('AWS::Lambda::Permission', 1);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      SourceAccount: ENV.account,
      SourceArn: Match.absent(),
    });
    Annotations.fromStack(stack).hasWarning(
      '/Test/Rotator',
      Match.stringLikeRegexp('any secret of this account.*Split the secrets'),
    );
  });
});

describe('region and account', () => {
  const elsewhere = (region: string, account: string) =>
    `arn:aws:secretsmanager:${region}:${account}:secret:prod/app-AbC123`;

  it('refuses a secret of another region, naming it and the fix', () => {
    expect(() =>
      synthRotator({}, (stack) => ({
        secrets: [
          secretsmanager.Secret.fromSecretCompleteArn(
            stack,
            'S',
            elsewhere('us-east-1', ENV.account),
          ),
        ],
      })),
    ).toThrow(
      /secrets\[0\]: the secret .* is in region us-east-1 but the stack deploys to eu-west-1.*Deploy the stack to us-east-1/,
    );
  });

  it('refuses an admin secret of another account', () => {
    expect(() =>
      synthRotator({}, (stack) => ({
        adminSecrets: [
          secretsmanager.Secret.fromSecretCompleteArn(
            stack,
            'A',
            elsewhere(ENV.region, '999999999999'),
          ),
        ],
      })),
    ).toThrow(/adminSecrets\[0\]: the secret .* belongs to account 999999999999/);
  });

  it("refuses a secret's key of another region", () => {
    expect(() =>
      synthRotator({}, (stack) => ({
        secrets: [
          secretsmanager.Secret.fromSecretAttributes(stack, 'S', {
            secretCompleteArn: secretArn('prod/app_user'),
            encryptionKey: kms.Key.fromKeyArn(
              stack,
              'K',
              `arn:aws:kms:us-west-2:${ENV.account}:key/11111111-2222-3333-4444-555555555555`,
            ),
          }),
        ],
      })),
    ).toThrow(/secrets\[0\]\.encryptionKey: the KMS key .* is in region us-west-2/);
  });

  it('warns when an environment-agnostic stack rotates a secret of a fixed region', () => {
    const app = new App({ context: { ...SKIP_BUNDLING } });
    const stack = new Stack(app, 'Agnostic');
    new ScramRotator(stack, 'Rotator', {
      secrets: [
        secretsmanager.Secret.fromSecretCompleteArn(
          stack,
          'S',
          elsewhere('eu-west-1', ENV.account),
        ),
      ],
    });
    Annotations.fromStack(stack).hasWarning(
      '/Agnostic/Rotator',
      Match.stringLikeRegexp(
        'is in eu-west-1, but the stack has no region: deploy it to eu-west-1',
      ),
    );
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
        ]),
      },
    });
  });

  /** Every Allow statement of the topic policy and the key policy that names a service. */
  function serviceGrants(template: ReturnType<typeof synthRotator>['template']) {
    const statementsOf = (type: string, property: string) =>
      Object.values(template.findResources(type)).flatMap(
        (r) =>
          (r as { Properties: Record<string, { Statement: Array<Record<string, unknown>> }> })
            .Properties[property]?.Statement ?? [],
      );
    return [
      ...statementsOf('AWS::SNS::TopicPolicy', 'PolicyDocument'),
      ...statementsOf('AWS::KMS::Key', 'KeyPolicy'),
    ].filter(
      (s) => s.Effect === 'Allow' && (s.Principal as { Service?: unknown } | undefined)?.Service,
    );
  }

  it('let only its own alarms and rule publish, each named by aws:SourceArn, from this account', () => {
    const { template } = synthRotator();
    const grants = serviceGrants(template);
    // Publish on the topic and encrypt with its key, for each service.
    expect(grants.map((g) => [(g.Principal as { Service: string }).Service, g.Action])).toEqual([
      ['cloudwatch.amazonaws.com', 'sns:Publish'],
      ['events.amazonaws.com', 'sns:Publish'],
      ['cloudwatch.amazonaws.com', ['kms:Decrypt', 'kms:GenerateDataKey*']],
      ['events.amazonaws.com', ['kms:Decrypt', 'kms:GenerateDataKey*']],
    ]);
    for (const grant of grants) {
      expect(grant.Condition).toMatchObject({ StringEquals: { 'aws:SourceAccount': ENV.account } });
      const sources = JSON.stringify((grant.Condition as { ArnLike: unknown }).ArnLike);
      if ((grant.Principal as { Service: string }).Service === 'events.amazonaws.com') {
        expect(sources).toMatch(/:events:eu-west-1:123456789012:rule\/Test-Rotator-[^"*]+"/);
      } else {
        expect(sources).toMatch(/:alarm:Test-Rotator-[^"*]+-errors"/);
        expect(sources).toMatch(/:alarm:Test-Rotator-[^"*]+-undelivered-events"/);
      }
    }
  });

  it('name the rule and alarms that the conditions name', () => {
    const { template } = synthRotator();
    const [rule] = Object.values(template.findResources('AWS::Events::Rule')) as Array<{
      Properties: { Name: string };
    }>;
    const alarmNames = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => (a as { Properties: { AlarmName: string } }).Properties.AlarmName,
    );
    const grants = JSON.stringify(serviceGrants(template));
    expect(grants).toContain(`rule/${rule?.Properties.Name}"`);
    for (const name of alarmNames) expect(grants).toContain(`:alarm:${name}"`);
    expect(rule?.Properties.Name.length).toBeLessThanOrEqual(64);
  });

  it('alarm when a failure event could not be delivered to the topic', () => {
    const { template } = synthRotator();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Events',
      MetricName: 'FailedInvocations',
      Dimensions: [
        { Name: 'RuleName', Value: { Ref: Match.stringLikeRegexp('RotationFailureRule') } },
      ],
      Threshold: 1,
      AlarmActions: [{ Ref: Match.stringLikeRegexp('RotatorAlarmTopic') }],
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
  /** The rule's pattern, with each schedule's Ref replaced by the ARN CloudFormation returns. */
  function deployedPattern(
    template: ReturnType<typeof synthRotator>['template'],
    refs: Record<string, string>,
  ) {
    const [rule] = Object.values(template.findResources('AWS::Events::Rule')) as Array<{
      Properties: { EventPattern: unknown };
    }>;
    return JSON.parse(
      JSON.stringify(rule?.Properties.EventPattern).replace(
        /\{"Ref":"([^"]+)"\}/g,
        (_, id: string) => JSON.stringify(refs[id] ?? `unresolved ${id}`),
      ),
    ) as unknown;
  }

  function twoSecrets() {
    const result = synthRotator({}, (stack) => ({
      secrets: [
        secretsmanager.Secret.fromSecretCompleteArn(stack, 'Full', secretArn('prod/app_user')),
        secretsmanager.Secret.fromSecretNameV2(stack, 'Named', 'prod/app'),
      ],
    }));
    const [scheduleId] = Object.keys(
      result.template.findResources('AWS::SecretsManager::RotationSchedule'),
    ).filter((id) => id.includes('Named'));
    // The secret prod/app, as Secrets Manager names it: six more characters.
    const deployed = secretArn('prod/app').replace('AbC123', 'Xy9Zq1');
    return {
      ...result,
      pattern: deployedPattern(result.template, { [scheduleId ?? '']: deployed }),
      deployed,
    };
  }

  it('lists the failure events the Secrets Manager User Guide documents, and no other', () => {
    const { template } = synthRotator();
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        source: ['aws.secretsmanager'],
        'detail-type': ['AWS Service Event via CloudTrail'],
        detail: Match.objectLike({
          eventSource: ['secretsmanager.amazonaws.com'],
          eventName: ['RotationFailed', 'RotationAbandoned', 'TestRotationFailed'],
        }),
      }),
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('RotatorAlarmTopic') } })],
    });
    for (const name of ['RotationFailed', 'RotationAbandoned', 'TestRotationFailed']) {
      expect(DOCUMENTED_ROTATION_EVENTS).toContain(name);
    }
  });

  it('matches each secret by its complete ARN, a name-imported one through its schedule', () => {
    const { template } = twoSecrets();
    const [rule] = Object.values(template.findResources('AWS::Events::Rule')) as Array<{
      Properties: { EventPattern: { detail: { additionalEventData: { SecretId: unknown[] } } } };
    }>;
    expect(rule?.Properties.EventPattern.detail.additionalEventData.SecretId).toEqual([
      secretArn('prod/app_user'),
      { Ref: expect.stringMatching(/^RotatorScheduleTestNamed/) },
    ]);
  });

  it("fires for the documented failure events of this construct's secrets", () => {
    const { pattern, deployed } = twoSecrets();
    expect(matchesPattern(pattern, rotationFailed(secretArn('prod/app_user')))).toBe(true);
    expect(matchesPattern(pattern, rotationFailed(deployed))).toBe(true);
    expect(matchesPattern(pattern, rotationEvent('RotationAbandoned', deployed))).toBe(true);
    expect(matchesPattern(pattern, rotationEvent('TestRotationFailed', deployed))).toBe(true);
  });

  it('stays silent for successes and for other secrets, even ones whose name starts the same', () => {
    const { pattern, deployed } = twoSecrets();
    expect(matchesPattern(pattern, rotationEvent('RotationSucceeded', deployed))).toBe(false);
    expect(matchesPattern(pattern, rotationEvent('RotationStarted', deployed))).toBe(false);
    const reporting = secretArn('prod/app-reporting').replace('AbC123', 'Qw3Er5');
    expect(matchesPattern(pattern, rotationFailed(reporting))).toBe(false);
  });
});

describe('outputs and ARNs', () => {
  it("gives each secret its complete ARN: as given, or its schedule's Ref", () => {
    const { rotator, stack } = synthRotator({}, (s) => ({
      secrets: [
        secretsmanager.Secret.fromSecretCompleteArn(s, 'Full', secretArn('prod/a')),
        secretsmanager.Secret.fromSecretNameV2(s, 'Named', 'prod/b'),
      ],
    }));
    expect(rotator.secretArns[0]).toBe(secretArn('prod/a'));
    expect(stack.resolve(rotator.secretArns[1])).toEqual({
      Ref: expect.stringMatching(/RotatorScheduleTestNamed/),
    });
  });

  it('adds the outputs operators need, with rotate and doctor lines per secret', () => {
    const stack = testStack();
    const rotator = new ScramRotator(stack, 'Rotator', {
      secrets: [
        secretsmanager.Secret.fromSecretCompleteArn(stack, 'S', secretArn('prod/app_user')),
      ],
    });
    rotator.addOutputs();
    const outputs = Template.fromStack(stack).findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'AlarmTopicArn',
        'FunctionArn',
        'LogGroupName',
        'Secret1Arn',
        'Secret1Doctor',
        'Secret1Rotate',
      ].sort(),
    );
    expect(outputs.Secret1Arn?.Value).toBe(secretArn('prod/app_user'));
    expect(outputs.Secret1Rotate?.Value).toEqual({
      'Fn::Join': [
        '',
        [
          `npm run rotate -- --region eu-west-1 --secret-id ${secretArn('prod/app_user')} --log-group `,
          { Ref: expect.stringMatching(/^RotatorLogGroup/) },
        ],
      ],
    });
    expect(outputs.Secret1Doctor?.Value).toBe(
      `npm run doctor -- --region eu-west-1 --secret-id ${secretArn('prod/app_user')}`,
    );
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
      /databasePeers: is empty/,
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
