import { type App, Validations } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../infra/app.js';
import { CDK_JSON_CONTEXT, ENV, SKIP_BUNDLING, secretArn } from './helpers.js';

const VPC = {
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: 'subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2',
  availabilityZones: 'eu-west-1a,eu-west-1b',
};

/** The deployments the README describes, as context. */
const VARIANTS: Record<string, Record<string, string>> = {
  'no context (the example secret)': {},
  'secrets with an admin secret, a customer managed key and an e-mail': {
    secretArn: `${secretArn('prod/a')},prod/b`,
    adminSecretArn: secretArn('prod/admin'),
    kmsKeyArn: `arn:aws:kms:${ENV.region}:${ENV.account}:key/abcd`,
    alarmEmail: 'dba@example.com',
  },
  'a VPC with a created endpoint': { secretArn: 'prod/a', ...VPC },
  'a VPC with an existing endpoint': {
    secretArn: 'prod/a',
    ...VPC,
    secretsManagerEndpoint: 'existing',
  },
  'a VPC with a NAT route': {
    secretArn: 'prod/a',
    ...VPC,
    secretsManagerEndpoint: 'none',
    natGatewayRoute: 'true',
  },
};

function appWith(context: Record<string, string>): App {
  return createApp({ context: { ...CDK_JSON_CONTEXT, ...SKIP_BUNDLING, ...context }, env: ENV })
    .app;
}

/** Every acknowledgement in the tree: rule id, reason and where. */
function acknowledgements(root: IConstruct): Array<{ id: string; reason: string; path: string }> {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          id,
          reason,
          path: construct.node.path,
        })),
      ),
  );
}

describe('cdk-nag AwsSolutions', () => {
  for (const [name, context] of Object.entries(VARIANTS)) {
    it(`finds nothing unacknowledged in ${name}`, () => {
      const app = appWith(context);
      // The app's own plugin fails this synth on any error-level finding...
      app.synth();
      // ...and this lists warnings too, by rule and resource, when it fails.
      const report = new AwsSolutionsChecks(app).validateScope(app);
      const findings = report.violations.flatMap((violation) =>
        violation.violatingResources.map(
          (resource) => `${violation.ruleName} at ${resource.constructPath}`,
        ),
      );
      expect(findings).toEqual([]);
    });
  }

  it('acknowledges only the VPC network interface wildcard, with a reason', () => {
    const app = appWith({ secretArn: 'prod/a', ...VPC });
    const nag = acknowledgements(app).filter((ack) => ack.id.includes('AwsSolutions'));
    expect(nag).toEqual([
      {
        id: expect.stringMatching(/AwsSolutions-IAM5\[Resource::\*\]$/),
        reason: expect.stringMatching(/network interfaces.*resource-level permissions/),
        path: 'ScramRotator/Rotator/ServiceRole',
      },
    ]);
  });

  it('gives every acknowledgement a reason of a full sentence', () => {
    const app = appWith({ secretArn: 'prod/a', ...VPC });
    for (const ack of acknowledgements(app)) {
      expect(ack.reason.length, `${ack.id} at ${ack.path}`).toBeGreaterThan(40);
    }
  });

  it('fails the synth of the app when a new finding appears', () => {
    const app = appWith({});
    const stack = app.node.findChild('ScramRotator');
    // A topic without encryption or a TLS-only policy: AwsSolutions-SNS2/SNS3.
    new sns.Topic(stack, 'Careless');
    expect(() => app.synth()).toThrow(/AwsSolutions-SNS3/);
  });
});
