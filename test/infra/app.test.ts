import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CONTEXT_KEYS, createApp, refusalLine, suggestContextKey } from '../../infra/app.js';
import { ContextError, RotatorConfigError } from '../../infra/errors.js';
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
      maxScramIterations: '240000',
      allowAdminTargetMismatch: 'true',
      allowPrivilegedTarget: 'false',
      passwordLength: '48',
      excludeCharacters: ' %',
      excludePunctuation: 'true',
      requireEachIncludedType: 'false',
      caBundlePath: CA_FIXTURE,
      connectTimeoutMs: '2000',
      statementTimeoutMs: '3000',
      testLoginAttempts: '3',
      testLoginDelayMs: '100',
      transientRetryMs: '0',
      metricsNamespace: 'Acme',
    });
    expect(functionEnvironment(template)).toMatchObject({
      ROTATION_MODE: 'single-user',
      SCRAM_ITERATIONS: '10610',
      SCRAM_ITERATIONS_ALLOW_MISMATCH: 'true',
      SCRAM_MAX_ITERATIONS: '240000',
      ALLOW_ADMIN_TARGET_MISMATCH: 'true',
      ALLOW_PRIVILEGED_TARGET: 'false',
      PASSWORD_LENGTH: '48',
      EXCLUDE_CHARACTERS: ' %',
      EXCLUDE_PUNCTUATION: 'true',
      REQUIRE_EACH_INCLUDED_TYPE: 'false',
      CA_BUNDLE_PATH: '/var/task/ca-bundle.pem',
      CONNECT_TIMEOUT_MS: '2000',
      STATEMENT_TIMEOUT_MS: '3000',
      TEST_LOGIN_ATTEMPTS: '3',
      TEST_LOGIN_DELAY_MS: '100',
      TRANSIENT_RETRY_MS: '0',
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

  it('takes reservedConcurrency as a number or none', () => {
    synthWith({ secretArn: 'prod/a', reservedConcurrency: '20' }).template.hasResourceProperties(
      'AWS::Lambda::Function',
      { ReservedConcurrentExecutions: 20 },
    );
    const functions = synthWith({
      secretArn: 'prod/a',
      reservedConcurrency: 'none',
    }).template.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(functions) as { Properties: Record<string, unknown> }[]) {
      expect(fn.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
    }
    expect(() => synthWith({ secretArn: 'prod/a', reservedConcurrency: 'some' })).toThrow(
      /context reservedConcurrency="some": expected a whole number/,
    );
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

  it('takes alternating mode and its clone suffix', () => {
    const { template } = synthWith({
      secretArn: 'prod/a',
      adminSecretArn: 'prod/admin',
      rotationMode: 'alternating',
      cloneSuffix: '_b',
    });
    expect(functionEnvironment(template)).toMatchObject({
      ROTATION_MODE: 'alternating',
      CLONE_SUFFIX: '_b',
    });
    expect(() => synthWith({ rotationMode: 'alternating', cloneSuffix: '-B' })).toThrow(
      /CLONE_SUFFIX must be 1 to 32 lower-case letters/,
    );
  });

  it('refuses values it cannot use, naming the context key', () => {
    expect(() => synthWith({ rotateImmediately: 'yes' })).toThrow(
      /context rotateImmediately="yes": expected true or false/,
    );
    expect(() => synthWith({ passwordLength: '32.5' })).toThrow(/context passwordLength/);
    expect(() => synthWith({ rotationMode: 'root' })).toThrow(
      /context rotationMode="root": expected one of auto, single-user, admin, alternating/,
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

  it('refuses a misspelt key instead of falling back to the example secret', () => {
    expect(() => synthWith({ secretArm: secretArn('prod/a') })).toThrow(ContextError);
    expect(() => synthWith({ secretArm: secretArn('prod/a') })).toThrow(
      /context secretArm \(did you mean secretArn\?\): not a key this app reads, so nothing was synthesized/,
    );
  });

  it('names every unknown key, suggesting only near ones', () => {
    expect(() =>
      synthWith({ secretArn: 'prod/a', shedule: 'rate(7 days)', colour: 'blue' }),
    ).toThrow(/context colour, shedule \(did you mean schedule\?\): not keys/);
    expect(suggestContextKey('rotationWindw')).toBe('rotationWindow');
    expect(suggestContextKey('region')).toBeUndefined();
  });

  it("leaves the CDK's own keys alone", () => {
    expect(() =>
      synthWith({ 'aws:cdk:enable-path-metadata': true, 'acknowledged-issue-numbers': [1] }),
    ).not.toThrow();
  });

  it('passes sourceMaps to the construct', () => {
    const { template } = synthWith({ secretArn: 'prod/a', sourceMaps: 'true' });
    expect(functionEnvironment(template).NODE_OPTIONS).toBe('--enable-source-maps');
  });

  it('outputs the function, log group, topic, and per secret its ARN, rotate and doctor lines', () => {
    const { template } = synthWith({ secretArn: `${secretArn('prod/a')},prod/b` });
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'AlarmTopicArn',
        'FunctionArn',
        'LogGroupName',
        'Secret1Arn',
        'Secret1Doctor',
        'Secret1Rotate',
        'Secret2Arn',
        'Secret2Doctor',
        'Secret2Rotate',
      ].sort(),
    );
    expect(outputs.Secret1Arn?.Value).toBe(secretArn('prod/a'));
    // The name-imported secret's complete ARN, known at deploy.
    expect(outputs.Secret2Arn?.Value).toEqual({ Ref: expect.stringMatching(/Schedule/) });
  });

  it('names the stack after stackName', () => {
    expect(synthWith({ stackName: 'DbRotation' }).stack.stackName).toBe('DbRotation');
  });
});

describe('region and account', () => {
  const arn = (region: string, account: string, name: string) =>
    `arn:aws:secretsmanager:${region}:${account}:secret:${name}-AbC123`;

  function synthFromCli(context: Record<string, unknown>, cliRegion: string | undefined) {
    const saved = { ...process.env };
    try {
      // What the CDK CLI passes: its region even when none is configured.
      if (cliRegion === undefined) delete process.env.CDK_DEFAULT_REGION;
      else process.env.CDK_DEFAULT_REGION = cliRegion;
      delete process.env.CDK_DEFAULT_ACCOUNT;
      const { stack } = createApp({
        context: { ...CDK_JSON_CONTEXT, ...SKIP_BUNDLING, ...context },
      });
      return stack;
    } finally {
      process.env = saved;
    }
  }

  it("deploys to the secret ARN's region and account, not the CLI's default region", () => {
    const stack = synthFromCli(
      {
        secretArn: arn('eu-west-1', '111122223333', 'prod/app'),
        adminSecretArn: 'prod/rotation-admin',
      },
      'us-east-1',
    );
    expect(stack.region).toBe('eu-west-1');
    expect(stack.account).toBe('111122223333');
    // The admin secret given by name is granted in that region too.
    const statement = roleStatements(Template.fromStack(stack)).find(
      (s) => s.Sid === 'ReadAdminSecrets',
    );
    expect(statement?.Resource).toBe(
      'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/rotation-admin-??????',
    );
  });

  it('refuses secrets of two regions, naming both keys', () => {
    expect(() =>
      synthFromCli(
        {
          secretArn: arn('eu-west-1', '111122223333', 'prod/app'),
          adminSecretArn: arn('us-east-1', '111122223333', 'prod/admin'),
        },
        undefined,
      ),
    ).toThrow(/context adminSecretArn: .* is in region us-east-1 but secretArn .* is in eu-west-1/);
  });

  it('refuses a secret of another region than the configured one, naming the key', () => {
    const error = (() => {
      try {
        synthWith({ secretArn: arn('us-east-1', ENV.account, 'prod/app') });
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(RotatorConfigError);
    expect(refusalLine(error)).toMatch(
      /^scram-rotator: Invalid rotator setting secrets\[0\]: the secret .* is in region us-east-1 but the stack deploys to eu-west-1.* \(context key secretArn\)$/,
    );
  });

  it('says which region a stack of secret names goes to, and how to choose another', () => {
    const stack = synthFromCli({ secretArn: 'prod/app' }, 'us-east-1');
    expect(stack.region).toBe('us-east-1');
    Annotations.fromStack(stack).hasWarning(
      '/ScramRotator',
      Match.stringLikeRegexp('given by name, so the stack deploys to us-east-1.*AWS_REGION='),
    );
  });
});

describe('refusals through the real cdk CLI', () => {
  /** Runs `cdk synth` as a user would, without credentials, and returns how it ended. */
  async function cdkSynth(args: string[], env: Record<string, string> = {}) {
    const out = mkdtempSync(join(tmpdir(), 'scram-rotator-refusal-'));
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !name.startsWith('AWS_') && !name.startsWith('CDK_'),
      ),
    );
    try {
      const { stdout, stderr } = await run(
        'npx',
        ['cdk', 'synth', '--quiet', '--no-notices', '--output', out, ...args],
        {
          env: {
            ...clean,
            AWS_CONFIG_FILE: '/dev/null',
            AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
            ...env,
          },
          timeout: 120_000,
        },
      );
      const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
        artifacts: Record<string, { environment?: string }>;
      };
      return { code: 0, stdout, stderr, manifest };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return {
        code: e.code ?? -1,
        stdout: e.stdout ?? '',
        stderr: e.stderr ?? '',
        manifest: undefined,
      };
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }

  /** The app's own lines on stderr, without the CLI's. */
  const appLines = (stderr: string) =>
    stderr.split('\n').filter((line) => line.startsWith('scram-rotator:'));

  it('refuses a misspelt key in one line, with no stack trace, and exits non-zero', async () => {
    const result = await cdkSynth(['-c', `secretArm=${secretArn('prod/a')}`]);
    expect(result.code).not.toBe(0);
    expect(appLines(result.stderr)).toEqual([
      expect.stringMatching(
        /^scram-rotator: context secretArm \(did you mean secretArn\?\): not a key this app reads/,
      ),
    ]);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('refuses secrets of two regions in one line naming the keys and the fix', async () => {
    const result = await cdkSynth([
      '-c',
      'secretArn=arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/app-AbC123',
      '-c',
      'adminSecretArn=arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/admin-AbC123',
    ]);
    expect(result.code).not.toBe(0);
    expect(appLines(result.stderr)).toEqual([
      expect.stringMatching(
        /adminSecretArn: .* us-east-1 but secretArn .* eu-west-1; one stack deploys to one account and region/,
      ),
    ]);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it("puts the stack in the secret's region when the CLI's region is another", async () => {
    const result = await cdkSynth(
      ['-c', 'secretArn=arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/app-AbC123'],
      { AWS_REGION: 'us-east-1' },
    );
    expect(result.code).toBe(0);
    expect(result.manifest?.artifacts.ScramRotator?.environment).toBe(
      'aws://111122223333/eu-west-1',
    );
  });

  it('refuses a construct setting in one line naming its context key', async () => {
    const result = await cdkSynth(['-c', 'secretArn=prod/app', '-c', 'alarmEmail=dba at example']);
    expect(result.code).not.toBe(0);
    expect(appLines(result.stderr)).toEqual([
      'scram-rotator: Invalid rotator setting alarmEmail: dba at example is not an e-mail address; give one address such as dba@example.com (context key alarmEmail)',
    ]);
  });
});
