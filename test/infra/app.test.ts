import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CONTEXT_KEYS, createApp } from '../../infra/app.js';
import {
  CA_FIXTURE,
  CDK_JSON_CONTEXT,
  ENV,
  functionEnvironment,
  roleStatements,
  SKIP_BUNDLING,
  secretArn,
} from './helpers.js';

const run = promisify(execFile);

/** Synthesizes the app as `cdk synth -c key=value ...` would, without bundling. */
function synthWith(context: Record<string, unknown> = {}) {
  const { app, stack } = createApp({
    context: { ...CDK_JSON_CONTEXT, ...SKIP_BUNDLING, ...context },
    env: ENV,
  });
  return { app, stack, template: Template.fromStack(stack) };
}

describe('cdk.json', () => {
  it('runs the app with tsx', () => {
    const config = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
    expect(config.app).toBe('npx tsx infra/app.ts');
  });

  it('synthesizes with the real cdk CLI offline, with no AWS credentials and no context', async () => {
    const out = mkdtempSync(join(tmpdir(), 'scram-rotator-synth-'));
    try {
      // No credentials, no profile, no region: what a fresh clone has.
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')),
      );
      await run('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', out], {
        env: { ...env, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
        timeout: 120_000,
      });
      const template = JSON.parse(readFileSync(join(out, 'ScramRotator.template.json'), 'utf8'));
      expect(Object.keys(template.Resources).length).toBeGreaterThan(10);
      expect(JSON.stringify(template)).toContain('AWS::SecretsManager::RotationSchedule');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("documents every context key in app.ts's TSDoc", () => {
    const source = readFileSync(new URL('../../infra/app.ts', import.meta.url), 'utf8');
    const header = source.slice(0, source.indexOf('@module'));
    for (const key of Object.keys(CONTEXT_KEYS)) expect(header).toContain(`\`${key}\``);
  });
});

describe('the app with no context', () => {
  it('synthesizes the stack ScramRotator around an example secret', () => {
    const { stack, template } = synthWith();
    expect(stack.stackName).toBe('ScramRotator');
    template.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'ScramRotator/example' });
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
  });
});

describe('the app with context', () => {
  it('rotates the secrets of secretArn and reads the admin secrets of adminSecretArn', () => {
    const { template } = synthWith({
      secretArn: `${secretArn('prod/a')}, prod/b`,
      adminSecretArn: secretArn('prod/admin'),
    });
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 2);
    expect(roleStatements(template).find((s) => s.Sid === 'ReadAdminSecrets')?.Resource).toBe(
      secretArn('prod/admin'),
    );
  });

  it('accepts lists as JSON arrays from cdk.json', () => {
    const { template } = synthWith({ secretArn: ['prod/a', 'prod/b'] });
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 2);
  });

  it('takes the schedule, window and rotate-immediately settings', () => {
    const { template } = synthWith({
      secretArn: 'prod/a',
      schedule: 'cron(0 2 ? * SAT *)',
      rotationWindow: '4h',
      rotateImmediately: 'false',
    });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'cron(0 2 ? * SAT *)', Duration: '4h' },
      RotateImmediatelyOnUpdate: false,
    });
  });

  it('passes the function settings to its environment', () => {
    const { template } = synthWith({
      secretArn: 'prod/a',
      rotationMode: 'single-user',
      scramIterations: '10610',
      allowIterationMismatch: 'true',
      passwordLength: '48',
      excludeCharacters: ' %',
      excludePunctuation: 'true',
      requireEachIncludedType: 'false',
      caBundlePath: CA_FIXTURE,
      connectTimeoutMs: '2000',
      statementTimeoutMs: '3000',
      testLoginAttempts: '3',
      testLoginDelayMs: '100',
      metricsNamespace: 'Acme',
    });
    expect(functionEnvironment(template)).toMatchObject({
      ROTATION_MODE: 'single-user',
      SCRAM_ITERATIONS: '10610',
      SCRAM_ITERATIONS_ALLOW_MISMATCH: 'true',
      PASSWORD_LENGTH: '48',
      EXCLUDE_CHARACTERS: ' %',
      EXCLUDE_PUNCTUATION: 'true',
      REQUIRE_EACH_INCLUDED_TYPE: 'false',
      CA_BUNDLE_PATH: '/var/task/ca-bundle.pem',
      CONNECT_TIMEOUT_MS: '2000',
      STATEMENT_TIMEOUT_MS: '3000',
      TEST_LOGIN_ATTEMPTS: '3',
      TEST_LOGIN_DELAY_MS: '100',
      POWERTOOLS_METRICS_NAMESPACE: 'Acme',
    });
  });

  it('sizes the function and keeps its logs as told', () => {
    const { template } = synthWith({
      secretArn: 'prod/a',
      memorySize: '512',
      timeoutSeconds: '120',
      logRetentionDays: '90',
    });
    template.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 512, Timeout: 120 });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  it('subscribes alarmEmail and grants kmsKeyArn', () => {
    const keyArn = `arn:aws:kms:${ENV.region}:${ENV.account}:key/abcd`;
    const { template } = synthWith({
      secretArn: 'prod/a',
      alarmEmail: 'dba@example.com',
      kmsKeyArn: keyArn,
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Endpoint: 'dba@example.com' });
    expect(roleStatements(template).find((s) => s.Sid === 'SecretsKey0')?.Resource).toBe(keyArn);
  });

  it('runs in the VPC of vpcId, subnetIds and availabilityZones, with the endpoint mode and port given', () => {
    const { template } = synthWith({
      secretArn: 'prod/a',
      vpcId: 'vpc-0123456789abcdef0',
      subnetIds: 'subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2',
      availabilityZones: 'eu-west-1a,eu-west-1b',
      secretsManagerEndpoint: 'existing',
      databasePort: '26257',
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: { SubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'] },
    });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: Match.arrayWith([Match.objectLike({ FromPort: 26257 })]),
    });
  });

  it('refuses a VPC with no route to Secrets Manager', () => {
    expect(() =>
      synthWith({
        secretArn: 'prod/a',
        vpcId: 'vpc-0123456789abcdef0',
        subnetIds: 'subnet-0aaaaaaaaaaaaaaa1',
        availabilityZones: 'eu-west-1a',
        secretsManagerEndpoint: 'none',
      }),
    ).toThrow(/no route to Secrets Manager/);
  });

  it('refuses values it cannot use, naming the context key', () => {
    expect(() => synthWith({ rotateImmediately: 'yes' })).toThrow(
      /context rotateImmediately="yes": expected true or false/,
    );
    expect(() => synthWith({ passwordLength: '32.5' })).toThrow(/context passwordLength/);
    expect(() => synthWith({ rotationMode: 'root' })).toThrow(
      /context rotationMode="root": expected one of auto, single-user, admin/,
    );
    expect(() => synthWith({ logRetentionDays: '31' })).toThrow(/context logRetentionDays/);
    expect(() => synthWith({ subnetIds: 'subnet-0aaaaaaaaaaaaaaa1' })).toThrow(/context vpcId/);
    expect(() => synthWith({ rotationWindow: '3 hours' })).toThrow(/e\.g\. 3h/);
    expect(() =>
      synthWith({ vpcId: 'vpc-0123456789abcdef0', secretsManagerEndpoint: 'maybe' }),
    ).toThrow(/context secretsManagerEndpoint/);
  });

  it('refuses VPC settings without vpcId rather than deploying outside the VPC', () => {
    expect(() => synthWith({ natGatewayRoute: 'true' })).toThrow(
      /context vpcId.*natGatewayRoute only applies in a VPC/,
    );
    expect(() => synthWith({ databasePort: '26257' })).toThrow(/databasePort only applies/);
  });

  it('warns about context keys it does not read, such as a misspelt secretArn', () => {
    const { stack } = synthWith({ secretArns: 'prod/a' });
    Annotations.fromStack(stack).hasWarning(
      '/ScramRotator',
      Match.stringLikeRegexp('Context key secretArns is not one this app reads'),
    );
  });

  it('names the stack after stackName', () => {
    expect(synthWith({ stackName: 'DbRotation' }).stack.stackName).toBe('DbRotation');
  });
});
