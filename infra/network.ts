/**
 * The network of a function in a VPC: its security group, open outward
 * only to the database port and to Secrets Manager, and how it reaches
 * Secrets Manager (an endpoint of its own, an existing one, or NAT).
 *
 * @module
 */
import { Fn, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import { RotatorConfigError } from './errors.js';
import type { ScramRotatorProps } from './props.js';

/** The function's place in a VPC, from {@link createNetwork}. */
export interface RotatorNetwork {
  readonly vpc: ec2.IVpc;
  /** Unset: the VPC's private subnets. */
  readonly subnets: ec2.SubnetSelection | undefined;
  readonly securityGroup: ec2.SecurityGroup;
  /** The Secrets Manager endpoint, when this construct created it. */
  readonly endpoint: ec2.InterfaceVpcEndpoint | undefined;
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
      ['vpcSubnets', 'secretsManagerEndpoint', 'natGatewayRoute', 'databasePeers'] as const
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
  // talks to nothing else.
  const securityGroup = new ec2.SecurityGroup(scope, 'SecurityGroup', {
    vpc,
    description: 'scram-rotator function: database port and HTTPS to Secrets Manager only',
    allowAllOutbound: false,
  });
  const peers = props.databasePeers ?? [ec2.Peer.anyIpv4()];
  if (peers.length === 0) {
    throw new RotatorConfigError(
      'databasePeers',
      `is empty, so the function could not reach the database; leave it out for any address`,
    );
  }
  for (const peer of peers) {
    securityGroup.addEgressRule(peer, ec2.Port.tcp(port), 'Database');
  }
  let endpoint: ec2.InterfaceVpcEndpoint | undefined;
  if (mode === 'create') {
    const endpointGroup = new ec2.SecurityGroup(scope, 'EndpointSecurityGroup', {
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
      securityGroups: [endpointGroup],
    });
    securityGroup.connections.allowTo(endpointGroup, ec2.Port.tcp(443), 'Secrets Manager endpoint');
  }
  if (mode === 'existing' || nat) {
    // An existing endpoint's addresses, or Secrets Manager's public ones
    // through NAT, are not known here.
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'Secrets Manager (HTTPS)');
  }
  return { vpc, subnets, securityGroup, endpoint };
}
