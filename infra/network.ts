/**
 * The network of a function in a VPC: its security group, open outward
 * only to the database port and to Secrets Manager, and how it reaches
 * Secrets Manager (an endpoint of its own, an existing one, or NAT).
 *
 * @module
 */
import { type CfnResource, Fn, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { type Construct, Dependable, type IConstruct, type IDependable } from 'constructs';
import { RotatorConfigError } from './errors.js';
import type { ScramRotatorProps } from './props.js';

/** The function's place in a VPC, from {@link createNetwork}. */
export interface RotatorNetwork {
  readonly vpc: ec2.IVpc;
  /** Unset: the VPC's private subnets. */
  readonly subnets: ec2.SubnetSelection | undefined;
  /** The function's security groups: the user's, or the one created here. */
  readonly securityGroups: readonly ec2.ISecurityGroup[];
  /** The security group this construct created, when the user gave none. */
  readonly securityGroup: ec2.SecurityGroup | undefined;
  /** The Secrets Manager endpoint, when this construct created it. */
  readonly endpoint: ec2.InterfaceVpcEndpoint | undefined;
  /** The endpoint's security group, when this construct created the endpoint. */
  readonly endpointSecurityGroup: ec2.SecurityGroup | undefined;
}

/**
 * The endpoint is made without private DNS (see {@link createNetwork}), so
 * the SDK is pointed at it by name: the value of
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER`, which the SDK reads itself.
 */
export function endpointUrl(endpoint: ec2.InterfaceVpcEndpoint): string {
  return `https://${Fn.select(1, Fn.split(':', Fn.select(0, endpoint.vpcEndpointDnsEntries)))}`;
}

/**
 * The function's security group and Secrets Manager route, or `undefined`
 * without a VPC.
 *
 * @throws {@link RotatorConfigError} for VPC settings without a VPC, a VPC
 *   with no route to Secrets Manager, or a bad port or peer list
 */
export function createNetwork(
  scope: Construct,
  props: ScramRotatorProps,
): RotatorNetwork | undefined {
  const vpc = props.vpc;
  if (!vpc) {
    const vpcOnly = (
      [
        'vpcSubnets',
        'securityGroups',
        'secretsManagerEndpoint',
        'natGatewayRoute',
        'databasePeers',
      ] as const
    ).filter((name) => props[name] !== undefined);
    if (vpcOnly.length > 0) {
      throw new RotatorConfigError(
        vpcOnly.join(', '),
        'only apply with vpc; give the vpc, or leave them out',
      );
    }
    return undefined;
  }
  const mode = props.secretsManagerEndpoint ?? 'create';
  const nat = props.natGatewayRoute ?? false;
  // Unset, both the function and the endpoint take the VPC's private subnets.
  const subnets = props.vpcSubnets;
  const selected = vpc.selectSubnets(subnets).subnets;
  if (mode === 'none' && !nat) {
    throw new RotatorConfigError(
      'secretsManagerEndpoint',
      `no route to Secrets Manager. The function runs in the VPC's subnets and calls Secrets Manager at every rotation step; without an interface endpoint or a NAT gateway every call would time out. Set secretsManagerEndpoint to 'create' (the default) or 'existing' (the VPC has one with private DNS), or set natGatewayRoute: true if the subnets route to a NAT gateway.`,
    );
  }
  if (nat && mode !== 'create') {
    const isolated = new Set(vpc.isolatedSubnets.map((subnet) => subnet.subnetId));
    const cut = selected.filter((subnet) => isolated.has(subnet.subnetId));
    if (cut.length > 0) {
      throw new RotatorConfigError(
        'natGatewayRoute',
        `is set but subnets ${cut.map((s) => s.subnetId).join(', ')} are isolated (no route to a NAT gateway), so Secrets Manager would be unreachable from them. Choose private subnets with a NAT route, or set secretsManagerEndpoint to 'create'.`,
      );
    }
  }
  const port = props.databasePort ?? 5432;
  if (!Token.isUnresolved(port) && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new RotatorConfigError('databasePort', `${port} is not a TCP port (1-65535)`);
  }
  // Outbound only to the database and to Secrets Manager: the function
  // talks to nothing else. Groups the user brings get the same rules (a
  // group that allows all outbound traffic already has them).
  if (props.securityGroups !== undefined && props.securityGroups.length === 0) {
    throw new RotatorConfigError(
      'securityGroups',
      'is empty; give the function at least one security group, or leave it out for one made here',
    );
  }
  const securityGroup =
    props.securityGroups === undefined
      ? new ec2.SecurityGroup(scope, 'SecurityGroup', {
          vpc,
          description: 'scram-rotator function: database port and HTTPS to Secrets Manager only',
          allowAllOutbound: false,
        })
      : undefined;
  const securityGroups = securityGroup ? [securityGroup] : [...(props.securityGroups ?? [])];
  const egress = (peer: ec2.IPeer, port: ec2.Port, description: string) => {
    for (const group of securityGroups) group.addEgressRule(peer, port, description);
  };
  const peers = props.databasePeers ?? [ec2.Peer.anyIpv4()];
  if (peers.length === 0) {
    throw new RotatorConfigError(
      'databasePeers',
      `is empty, so the function could not reach the database; leave it out for any address`,
    );
  }
  for (const peer of peers) egress(peer, ec2.Port.tcp(port), 'Database');
  let endpoint: ec2.InterfaceVpcEndpoint | undefined;
  let endpointSecurityGroup: ec2.SecurityGroup | undefined;
  if (mode === 'create') {
    endpointSecurityGroup = new ec2.SecurityGroup(scope, 'EndpointSecurityGroup', {
      vpc,
      description: 'scram-rotator Secrets Manager endpoint: HTTPS from the function only',
      allowAllOutbound: false,
    });
    // Private DNS off: with it, every workload in the VPC would resolve
    // Secrets Manager to this endpoint, which admits only the function,
    // and the endpoint could not be created where one already exists.
    endpoint = new ec2.InterfaceVpcEndpoint(scope, 'SecretsManagerEndpoint', {
      vpc,
      service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      subnets,
      privateDnsEnabled: false,
      open: false,
      securityGroups: [endpointSecurityGroup],
    });
    new ec2.Connections({ securityGroups }).allowTo(
      endpointSecurityGroup,
      ec2.Port.tcp(443),
      'Secrets Manager endpoint',
    );
  }
  if (mode === 'existing' || nat) {
    // An existing endpoint's addresses, or Secrets Manager's public ones
    // through NAT, are not known here.
    egress(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'Secrets Manager (HTTPS)');
  }
  return { vpc, subnets, securityGroups, securityGroup, endpoint, endpointSecurityGroup };
}

/**
 * What a first rotation needs of the network, for the rotation schedules
 * to wait for (with `rotateImmediatelyOnUpdate`, Secrets Manager invokes the
 * function as soon as a schedule is created): the function's security
 * groups and their rules, the endpoint, and every rule of the stack that
 * names one of the function's groups, including those added after the
 * construct, such as `db.connections.allowDefaultPortFrom(rotator)`'s
 * ingress on the database's group. Read when the app is synthesized, so
 * rules added later count. Only resources of the rotator's own stack: a
 * dependency on another stack's could make the two stacks depend on each
 * other.
 */
export function networkReadiness(scope: Construct, network: RotatorNetwork): IDependable {
  const stack = Stack.of(scope);
  const key = (value: unknown) => JSON.stringify(stack.resolve(value));
  const dependable: IDependable = {};
  Dependable.implement(dependable, {
    get dependencyRoots() {
      const ours = new Set(network.securityGroups.map((group) => key(group.securityGroupId)));
      const rules = stack.node
        .findAll()
        .filter(
          (node): node is CfnResource =>
            Stack.of(node) === stack &&
            ((node instanceof ec2.CfnSecurityGroupIngress &&
              ours.has(key(node.sourceSecurityGroupId))) ||
              (node instanceof ec2.CfnSecurityGroupEgress && ours.has(key(node.groupId)))),
        );
      const candidates: Array<IConstruct | undefined> = [
        ...network.securityGroups,
        network.endpointSecurityGroup,
        network.endpoint,
      ];
      const own = candidates.filter(
        (node): node is IConstruct => node !== undefined && Stack.of(node) === stack,
      );
      return [...own, ...rules];
    },
  });
  return dependable;
}
