import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { describe, expect, it } from 'vitest';
import { RotatorConfigError } from '../../infra/errors.js';
import { ScramRotator } from '../../infra/scram-rotator.js';
import { synthRotator, testStack } from './helpers.js';

/** A VPC and an RDS PostgreSQL instance in it, as most users have them. */
function database(stack: Stack): { vpc: ec2.Vpc; db: rds.DatabaseInstance } {
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
  const db = new rds.DatabaseInstance(stack, 'Db', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
  });
  return { vpc, db };
}

/** An RDS instance that lets a rotator in: `db.connections.allowDefaultPortFrom(rotator)`. */
function connectedDatabase() {
  const stack = testStack();
  const { vpc, db } = database(stack);
  const rotator = new ScramRotator(stack, 'Rotator', {
    secrets: [defined(db.secret, 'the database secret')],
    vpc,
  });
  db.connections.allowDefaultPortFrom(rotator);
  return { stack, db, rotator, template: Template.fromStack(stack) };
}

/** A value the test has just made, or a failure that says which. */
function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`expected ${what}`);
  return value;
}

/** The logical id of a construct's CloudFormation resource. */
function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as never);
}

function dependsOnOfSchedules(template: Template): string[][] {
  return Object.values(template.findResources('AWS::SecretsManager::RotationSchedule')).map(
    (schedule) => (schedule as { DependsOn?: string[] }).DependsOn ?? [],
  );
}

describe('connections (ec2.IConnectable)', () => {
  it("lets db.connections.allowDefaultPortFrom(rotator) open the database's port to the function, with a matching egress rule", () => {
    const { stack, db, rotator, template } = connectedDatabase();
    const functionGroup = {
      'Fn::GetAtt': [
        logicalId(stack, defined(rotator.securityGroup, 'the function group')),
        'GroupId',
      ],
    };
    const dbGroup = {
      'Fn::GetAtt': [
        logicalId(stack, defined(db.connections.securityGroups[0], 'the database group')),
        'GroupId',
      ],
    };
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: dbGroup,
      SourceSecurityGroupId: functionGroup,
      FromPort: { 'Fn::GetAtt': [logicalId(stack, db), 'Endpoint.Port'] },
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: functionGroup,
      DestinationSecurityGroupId: dbGroup,
    });
    expect(rotator.connections.securityGroups).toEqual([rotator.securityGroup]);
  });

  it('refuses connections outside a VPC with a typed error that says why', () => {
    const { rotator } = synthRotator();
    expect(() => rotator.connections).toThrow(RotatorConfigError);
    expect(() => rotator.connections).toThrow(
      /^Invalid rotator setting vpc: Test\/Rotator runs outside a VPC/,
    );
  });

  it("runs the function in the user's own security groups, with the construct's egress rules added and no group of its own", () => {
    const stack = testStack();
    const { vpc } = database(stack);
    const mine = new ec2.SecurityGroup(stack, 'Mine', { vpc, allowAllOutbound: false });
    const rotator = new ScramRotator(stack, 'Rotator', {
      secrets: [rds.DatabaseSecret.fromSecretNameV2(stack, 'App', 'prod/app')],
      vpc,
      securityGroups: [mine],
    });
    const template = Template.fromStack(stack);
    expect(rotator.securityGroup).toBeUndefined();
    expect(rotator.connections.securityGroups).toEqual([mine]);
    const mineId = logicalId(stack, mine);
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: { SecurityGroupIds: [{ 'Fn::GetAtt': [mineId, 'GroupId'] }] },
    });
    const groups = Object.keys(template.findResources('AWS::EC2::SecurityGroup'));
    expect(groups.filter((id) => id.startsWith('RotatorSecurityGroup'))).toEqual([]);
    const [mineResource] = Object.values(
      template.findResources('AWS::EC2::SecurityGroup', {
        Properties: { GroupDescription: 'Test/Mine' },
      }),
    ) as Array<{ Properties: { SecurityGroupEgress: Array<Record<string, unknown>> } }>;
    expect(mineResource?.Properties.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 5432, ToPort: 5432 }),
    ]);
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [mineId, 'GroupId'] },
      FromPort: 443,
    });
  });

  it('refuses securityGroups without a VPC, and an empty list', () => {
    const stack = testStack();
    const { vpc } = database(stack);
    const group = new ec2.SecurityGroup(stack, 'G', { vpc });
    expect(() => synthRotator({ securityGroups: [group] })).toThrow(
      /securityGroups.*only apply with vpc/,
    );
    expect(() => synthRotator({ securityGroups: [] }, (s) => ({ vpc: database(s).vpc }))).toThrow(
      /^Invalid rotator setting securityGroups: is empty/,
    );
  });
});

describe('the first rotation', () => {
  it('waits for the network rules it needs, those added after the construct included', () => {
    const { stack, db, rotator, template } = connectedDatabase();
    const [dependsOn] = dependsOnOfSchedules(template);
    const ids = (type: string) => Object.keys(template.findResources(type));
    // The database's ingress from the function, added after the construct.
    const [ingressFromFunction] = Object.entries(
      template.findResources('AWS::EC2::SecurityGroupIngress'),
    ).filter(
      ([, r]) =>
        JSON.stringify(r).includes('RotatorSecurityGroup') &&
        !JSON.stringify(r).includes('"FromPort":443'),
    );
    expect(ingressFromFunction).toBeDefined();
    expect(dependsOn).toEqual(
      expect.arrayContaining([
        ingressFromFunction?.[0],
        ...ids('AWS::EC2::SecurityGroupEgress'),
        ...ids('AWS::EC2::VPCEndpoint'),
        logicalId(stack, defined(rotator.securityGroup, 'the function group')),
      ]),
    );
    // The database's own ingress rules from elsewhere are not waited for.
    expect(dependsOn).not.toContain(logicalId(stack, db));
  });

  it('waits for no network resource outside a VPC', () => {
    const { template } = synthRotator();
    const [dependsOn] = dependsOnOfSchedules(template);
    expect(dependsOn?.filter((id) => /Security|Endpoint/.test(id))).toEqual([]);
  });
});
