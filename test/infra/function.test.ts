import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { RotatorConfigError } from '../../infra/errors.js';
import { FUNCTION_BUILD_OPTIONS, OLDEST_NODE_MAJOR } from '../../infra/function-code.js';
import { latestNodeRuntime, ScramRotator } from '../../infra/scram-rotator.js';
import { CDK_JSON_CONTEXT, ENV, SKIP_BUNDLING, secretArn, synthRotator } from './helpers.js';

/** The function's Runtime in the template. */
function runtimeOf(template: ReturnType<typeof synthRotator>['template']): unknown {
  const [fn] = Object.values(template.findResources('AWS::Lambda::Function')) as Array<{
    Properties: { Runtime: unknown };
  }>;
  return fn?.Properties.Runtime;
}

/** cdk-nag's AwsSolutions-L1 findings (runtime not the newest) on a stack with one rotator. */
function l1Findings(runtime?: lambda.Runtime): string[] {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, ...SKIP_BUNDLING } });
  const stack = new Stack(app, 'Nag', { env: ENV });
  new ScramRotator(stack, 'Rotator', {
    secrets: [secretsmanager.Secret.fromSecretCompleteArn(stack, 'S', secretArn('prod/app'))],
    ...(runtime ? { runtime } : {}),
  });
  return new AwsSolutionsChecks(app)
    .validateScope(app)
    .violations.filter((v) => v.ruleName.endsWith('AwsSolutions-L1'))
    .flatMap((v) => v.violatingResources.map((r) => String(r.constructPath)));
}

describe('the runtime', () => {
  it('defaults to the newest Node.js runtime of the installed aws-cdk-lib, which cdk-nag L1 accepts', () => {
    const newest = Math.max(
      ...lambda.Runtime.ALL.filter((r) => /^nodejs\d+\.x$/.test(r.name)).map((r) =>
        Number(r.name.replace(/\D/g, '')),
      ),
    );
    expect(runtimeOf(synthRotator().template)).toBe(`nodejs${newest}.x`);
    expect(latestNodeRuntime().name).toBe(`nodejs${newest}.x`);
    expect(l1Findings()).toEqual([]);
  });

  it('follows a runtime aws-cdk-lib adds (as 2.278.0 adds nodejs26.x), where a fixed one fails cdk-nag L1', () => {
    // What a newer aws-cdk-lib holds: Runtime's constructor lists itself in Runtime.ALL.
    const next = new lambda.Runtime('nodejs98.x', lambda.RuntimeFamily.NODEJS);
    try {
      expect(runtimeOf(synthRotator().template)).toBe('nodejs98.x');
      expect(l1Findings()).toEqual([]);
      expect(l1Findings(lambda.Runtime.NODEJS_24_X)).toEqual(['Nag/Rotator/Function/Resource']);
    } finally {
      lambda.Runtime.ALL.splice(lambda.Runtime.ALL.indexOf(next), 1);
    }
    expect(latestNodeRuntime().name).not.toBe('nodejs98.x');
  });

  it('takes a pinned Node.js runtime from props', () => {
    const { template } = synthRotator({ runtime: lambda.Runtime.NODEJS_22_X });
    expect(runtimeOf(template)).toBe('nodejs22.x');
  });

  it.each([
    ['nodejs18.x', lambda.Runtime.NODEJS_18_X],
    ['python3.13', lambda.Runtime.PYTHON_3_13],
  ])('refuses %s, which cannot run the bundle', (_, runtime) => {
    expect(() => synthRotator({ runtime })).toThrow(RotatorConfigError);
    expect(() => synthRotator({ runtime })).toThrow(
      new RegExp(
        `^Invalid rotator setting runtime: ${runtime.name} cannot run the function, which is built for Node.js ${OLDEST_NODE_MAJOR} and later`,
      ),
    );
  });

  it('is at least the Node.js the bundle is built for, so the default and every accepted runtime run it', () => {
    expect(FUNCTION_BUILD_OPTIONS.target).toBe(`node${OLDEST_NODE_MAJOR}`);
    expect(OLDEST_NODE_MAJOR).toBe(20);
    expect(Number(latestNodeRuntime().name.replace(/\D/g, ''))).toBeGreaterThanOrEqual(
      OLDEST_NODE_MAJOR,
    );
  });
});
