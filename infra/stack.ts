/**
 * The deployable stack: imports the secrets named by the app's context (or
 * creates an example one) and puts a {@link ScramRotator} on them.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { Annotations, ArnFormat, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { DEFAULT_EXCLUDE_CHARACTERS } from '../lambda/core/password.js';
import { RotatorConfigError } from './errors.js';
import { ScramRotator, type ScramRotatorProps } from './scram-rotator.js';

/** A VPC given by ids, without a lookup (synth stays offline). */
export interface ImportedVpcOptions {
  /** The VPC id, `vpc-...`. */
  readonly vpcId: string;
  /** Private subnets for the function and the endpoint, one per availability zone. */
  readonly subnetIds: readonly string[];
  /** The subnets' availability zones, in the same order. */
  readonly availabilityZones: readonly string[];
}

/** Properties of {@link ScramRotatorStack}. */
export interface ScramRotatorStackProps extends StackProps {
  /**
   * Secrets to rotate, each a complete ARN (as `describe-secret` prints it,
   * ending in `-` and six characters) or a name.
   * @default - an example secret, `<stack name>/example`, with placeholder connection details
   */
  readonly secrets?: readonly string[];
  /**
   * Admin secrets the function may read (the rotated secrets' `masterarn`),
   * as complete ARNs or names.
   * @default - none
   */
  readonly adminSecrets?: readonly string[];
  /**
   * ARN of the customer managed KMS key that encrypts the secrets above.
   * @default - the secrets use aws/secretsmanager
   */
  readonly secretsKeyArn?: string;
  /**
   * The VPC to run the function in.
   * @default - no VPC
   */
  readonly vpc?: ImportedVpcOptions;
  /**
   * Everything else about the rotator; see {@link ScramRotatorProps}.
   * @default - the construct's defaults
   */
  readonly rotator?: Omit<ScramRotatorProps, 'secrets' | 'adminSecrets' | 'vpc'>;
}

/** The placeholder value of the example secret, in AWS's database secret shape. */
export const EXAMPLE_SECRET_TEMPLATE = {
  engine: 'postgres',
  // .invalid never resolves (RFC 2606): a rotation fails at once, visibly.
  host: 'db.example.invalid',
  port: 5432,
  dbname: 'postgres',
  username: 'app_user',
} as const;

const SECRET_ARN = /^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)$/;
// Secrets Manager ends every secret's ARN with a hyphen and six random characters.
const COMPLETE_SECRET_ARN_SUFFIX = /-[A-Za-z0-9]{6}$/;

/**
 * Deploys the rotation function for the given secrets.
 *
 * Without secrets it creates an example secret so that `cdk synth` and
 * `cdk deploy` work out of the box and show every resource scoped to a real
 * ARN. It is not rotated at deploy time (no database is behind it); its
 * first scheduled rotation fails, and alerts, unless its value has been
 * replaced with a real database user by then.
 */
export class ScramRotatorStack extends Stack {
  /** The rotator. */
  readonly rotator: ScramRotator;
  /** The example secret, when no secret was given. */
  readonly exampleSecret?: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: ScramRotatorStackProps = {}) {
    const { secrets: refs, adminSecrets, secretsKeyArn, vpc, rotator, ...stackProps } = props;
    super(scope, id, {
      description: 'scram-rotator: Secrets Manager rotation with client-side SCRAM-SHA-256',
      ...stackProps,
    });
    const key =
      secretsKeyArn === undefined
        ? undefined
        : kms.Key.fromKeyArn(this, 'SecretsKey', secretsKeyArn);
    const given = (refs ?? []).map((ref, index) =>
      this.importSecret('Secret', `secrets[${index}]`, ref, key),
    );
    const admins = (adminSecrets ?? []).map((ref, index) =>
      this.importSecret('Admin', `adminSecrets[${index}]`, ref, key),
    );

    let secrets = given;
    let rotateImmediately = rotator?.rotateImmediatelyOnUpdate;
    if (given.length === 0) {
      this.exampleSecret = new secretsmanager.Secret(this, 'ExampleSecret', {
        secretName: `${this.stackName}/example`,
        description:
          'scram-rotator example: replace host, port, dbname, username and password with a real database user before rotating',
        generateSecretString: {
          secretStringTemplate: JSON.stringify(EXAMPLE_SECRET_TEMPLATE),
          generateStringKey: 'password',
          passwordLength: 32,
          excludeCharacters: DEFAULT_EXCLUDE_CHARACTERS,
        },
      });
      secrets = [this.exampleSecret];
      // Rotating at deploy would fail against the placeholder host.
      rotateImmediately ??= false;
      Annotations.of(this).addWarningV2(
        'scram-rotator:example-secret',
        `No secret given: created ${this.stackName}/example with placeholder connection details. Pass -c secretArn=<ARN or name> to rotate your own secret.`,
      );
    }

    this.rotator = new ScramRotator(this, 'Rotator', {
      ...rotator,
      ...(rotateImmediately === undefined ? {} : { rotateImmediatelyOnUpdate: rotateImmediately }),
      secrets,
      ...(admins.length > 0 ? { adminSecrets: admins } : {}),
      ...(vpc ? this.importVpc(vpc) : {}),
    });
    // Function, log group, topic, and per secret its ARN and the rotate and
    // doctor command lines: what `cdk deploy` prints at its end.
    this.rotator.addOutputs();
  }

  /**
   * A secret from a complete ARN or a name. The construct id comes from the
   * reference itself, so reordering the list replaces nothing.
   */
  private importSecret(
    prefix: string,
    setting: string,
    ref: string,
    encryptionKey: kms.IKey | undefined,
  ): secretsmanager.ISecret {
    const id = `${prefix}${createHash('sha256').update(ref).digest('hex').slice(0, 8)}`;
    const arn = SECRET_ARN.exec(ref);
    if (ref.startsWith('arn:')) {
      if (!arn || !COMPLETE_SECRET_ARN_SUFFIX.test(arn[1] as string)) {
        throw new RotatorConfigError(
          setting,
          `${ref} is not the complete ARN of a secret (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6 characters>). Copy the ARN that aws secretsmanager describe-secret prints, or give the secret's name.`,
        );
      }
      return secretsmanager.Secret.fromSecretAttributes(this, id, {
        secretCompleteArn: ref,
        ...(encryptionKey ? { encryptionKey } : {}),
      });
    }
    if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(ref)) {
      throw new RotatorConfigError(
        setting,
        `${ref} is neither a secret ARN nor a valid secret name (letters, digits and /_+=.@-)`,
      );
    }
    return secretsmanager.Secret.fromSecretAttributes(this, id, {
      secretPartialArn: this.formatArn({
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: ref,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
      ...(encryptionKey ? { encryptionKey } : {}),
    });
  }

  private importVpc(options: ImportedVpcOptions): Pick<ScramRotatorProps, 'vpc'> {
    if (options.subnetIds.length === 0) {
      throw new RotatorConfigError(
        'vpc.subnetIds',
        `vpc ${options.vpcId}: give the function's subnets (subnetIds)`,
      );
    }
    if (options.subnetIds.length !== options.availabilityZones.length) {
      throw new RotatorConfigError(
        'vpc.availabilityZones',
        `vpc ${options.vpcId}: ${options.subnetIds.length} subnets but ${options.availabilityZones.length} availability zones; give each subnet's zone, in the same order`,
      );
    }
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: options.vpcId,
      availabilityZones: [...options.availabilityZones],
      privateSubnetIds: [...options.subnetIds],
    });
    Validations.of(vpc).acknowledge({
      id: '@aws-cdk/aws-ec2:noSubnetRouteTableId',
      reason:
        'Only the subnet ids are needed: the function and the Secrets Manager endpoint are placed in them, and nothing here reads or changes their route tables.',
    });
    return { vpc };
  }
}
