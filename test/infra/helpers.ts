import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ScramRotator, type ScramRotatorProps } from '../../infra/scram-rotator.js';

/** The feature flags of cdk.json, so tests synthesize what `cdk synth` does. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

/**
 * Context that skips asset bundling (the CDK's own switch, used by
 * `cdk deploy --exclusively`): templates are the same, and esbuild runs
 * once in bundle.test.ts instead of in every test.
 */
export const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] } as const;

/** A fixed account and region, so ARNs in assertions are literal. */
export const ENV = { account: '123456789012', region: 'eu-west-1' } as const;

/** The CA bundle fixture (a real self-signed certificate). */
export const CA_FIXTURE = fileURLToPath(new URL('./fixtures/ca.pem', import.meta.url));

/** A stack with the cdk.json flags and no bundling. */
export function testStack(): Stack {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, ...SKIP_BUNDLING } });
  return new Stack(app, 'Test', { env: ENV });
}

/** A complete secret ARN in the test account. */
export function secretArn(name: string): string {
  return `arn:aws:secretsmanager:${ENV.region}:${ENV.account}:secret:${name}-AbC123`;
}

/** Builds a rotator over one imported secret (unless `secrets` is given) and returns its template. */
export function synthRotator(
  props: Partial<ScramRotatorProps> = {},
  build?: (stack: Stack) => Partial<ScramRotatorProps>,
): { template: Template; rotator: ScramRotator; stack: Stack } {
  const stack = testStack();
  const extra = build?.(stack) ?? {};
  const secrets = extra.secrets ??
    props.secrets ?? [
      secretsmanager.Secret.fromSecretCompleteArn(stack, 'AppUser', secretArn('prod/app_user')),
    ];
  const rotator = new ScramRotator(stack, 'Rotator', { ...props, ...extra, secrets });
  return { template: Template.fromStack(stack), rotator, stack };
}

/** The statements of the function role's policy. */
export function roleStatements(template: Template): Array<Record<string, unknown>> {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies).flatMap(
    (policy) =>
      (policy as { Properties: { PolicyDocument: { Statement: Array<Record<string, unknown>> } } })
        .Properties.PolicyDocument.Statement,
  );
}

/**
 * The rotation function's environment variables. (A test VPC adds a custom
 * resource function of its own, hence the choice by logical id.)
 */
export function functionEnvironment(template: Template): Record<string, unknown> {
  const functions = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) =>
    /^RotatorFunction[0-9A-F]{8}$/.test(id),
  );
  if (functions.length !== 1) throw new Error(`expected one function, found ${functions.length}`);
  const [, resource] = functions[0] as [string, unknown];
  return (resource as { Properties: { Environment: { Variables: Record<string, unknown> } } })
    .Properties.Environment.Variables;
}
