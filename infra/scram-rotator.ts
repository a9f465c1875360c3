/**
 * The reusable construct: the rotation function, its least-privilege role,
 * the rotation schedules of the secrets it rotates, and the alarms that say
 * when a rotation went wrong.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  Annotations,
  ArnFormat,
  CfnOutput,
  Duration,
  Fn,
  Names,
  RemovalPolicy,
  Stack,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { CONFIG_DEFAULTS, configFromEnv, type RotationMode } from '../lambda/config.js';
import { RotatorConfigError } from './errors.js';
import { CA_BUNDLE_FILE, FUNCTION_BUNDLE_FILE, functionCode } from './function-code.js';
import { checkScheduleAndWindow } from './schedule.js';

/** Who changes the password: `auto`, `single-user` or `admin` (lambda/config.ts). */
export type { RotationMode } from '../lambda/config.js';

/** Where the CA bundle lands in the deployment package (`/var/task` is the package root). */
export { CA_BUNDLE_FILE } from './function-code.js';

const CA_BUNDLE_RUNTIME_PATH = `/var/task/${CA_BUNDLE_FILE}`;

/**
 * The service name the handler logs and publishes metrics under. lambda/index.ts
 * passes it to Powertools itself, which wins over POWERTOOLS_SERVICE_NAME,
 * so the variable is set to match and is not a prop.
 */
const SERVICE_NAME = 'scram-rotator';

/** The four Secrets Manager actions of a rotation, and nothing else (lambda/adapters/secrets-manager.ts). */
export const ROTATION_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
] as const;

/**
 * The CloudTrail service events Secrets Manager sends when a rotation does
 * not complete, as the Secrets Manager User Guide lists them ("AWS CloudTrail
 * entries for Secrets Manager", log entries for rotation,
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/cloudtrail_log_entries.html):
 * - `RotationFailed`: "Generated when rotation fails";
 * - `RotationAbandoned`: "Generated when Secrets Manager abandons a rotation
 *   attempt and removes the AWSPENDING label from an existing version of a
 *   secret" (a new version was put during the rotation);
 * - `TestRotationFailed`: "Generated when Secrets Manager tests rotation for
 *   a secret that is not scheduled for immediate rotation and rotation
 *   failed" (RotateImmediately false).
 * EventBridge receives them with detail-type "AWS Service Event via
 * CloudTrail", the secret's complete ARN in `additionalEventData.SecretId`
 * (test/infra/fixtures/rotation-events.ts has the documented shapes).
 */
export const ROTATION_FAILURE_EVENTS = [
  'RotationFailed',
  'RotationAbandoned',
  'TestRotationFailed',
] as const;

/**
 * Above this many secrets the invoke permission is one statement for the
 * whole account instead of one per secret: Lambda's resource policy holds
 * at most 20 KB, and a statement with a secret ARN takes about 450 bytes.
 */
export const MAX_SECRET_SCOPED_INVOKE_PERMISSIONS = 25;

/**
 * How the function reaches Secrets Manager from inside a VPC:
 * - `create`: this construct creates an interface endpoint for it;
 * - `existing`: the VPC already has an interface endpoint with private DNS;
 * - `none`: no endpoint (then `natGatewayRoute` must be declared).
 */
export type SecretsManagerEndpoint = 'create' | 'existing' | 'none';

/**
 * Password generation, as the function's environment variables of the same
 * meaning (AWS's rotation template names). Unset values keep the
 * function's own defaults.
 */
export interface PasswordPolicyOptions {
  /**
   * Number of characters, 8 to 4096. `PASSWORD_LENGTH`.
   * @default 32
   */
  readonly length?: number;
  /**
   * Characters never used; replaces the default set. `EXCLUDE_CHARACTERS`.
   * @default the function's set of characters that break URIs, shells and quoting: space : / @ " ' \
   */
  readonly excludeCharacters?: string;
  /**
   * Leave out digits. `EXCLUDE_NUMBERS`.
   * @default false
   */
  readonly excludeNumbers?: boolean;
  /**
   * Leave out punctuation. `EXCLUDE_PUNCTUATION`.
   * @default false
   */
  readonly excludePunctuation?: boolean;
  /**
   * Leave out upper-case letters. `EXCLUDE_UPPERCASE`.
   * @default false
   */
  readonly excludeUppercase?: boolean;
  /**
   * Leave out lower-case letters. `EXCLUDE_LOWERCASE`.
   * @default false
   */
  readonly excludeLowercase?: boolean;
  /**
   * At least one character of every included class. `REQUIRE_EACH_INCLUDED_TYPE`.
   * @default true
   */
  readonly requireEachIncludedType?: boolean;
}

/** Properties of {@link ScramRotator}. */
export interface ScramRotatorProps {
  /**
   * The secrets to rotate: database secrets in AWS's shape (`engine`,
   * `host`, `username`, `password`, ...). Each gets a rotation schedule and
   * the function may read and write only these. A secret imported by name
   * (`Secret.fromSecretNameV2`) is matched with the `-??????` suffix that
   * Secrets Manager appends to names in ARNs. A secret's `encryptionKey`
   * (set it with `Secret.fromSecretAttributes`) gets a KMS grant limited
   * to that secret.
   */
  readonly secrets: readonly secretsmanager.ISecret[];
  /**
   * Admin secrets named by the rotated secrets' `masterarn`: the function
   * may only read them (GetSecretValue), never change them.
   * @default - none: single-user rotation only
   */
  readonly adminSecrets?: readonly secretsmanager.ISecret[];
  /**
   * When to rotate: `rate(N hours|days)` or `cron(0 H Day-of-month Month
   * Day-of-week *)`, in UTC. Checked against Secrets Manager's limits at
   * synth time.
   * @default 'rate(30 days)'
   */
  readonly schedule?: string;
  /**
   * How long the rotation window stays open (`RotationRules.Duration`),
   * whole hours from 1 to 24, ending before the next window and the end of
   * the UTC day.
   * @default - Secrets Manager's default: one hour for schedules in hours,
   *   the rest of the UTC day for schedules in days
   */
  readonly rotationWindow?: Duration;
  /**
   * Rotate as soon as the schedule is created or changed
   * (`RotateImmediatelyOnUpdate`), rather than at the next window.
   * @default true
   */
  readonly rotateImmediatelyOnUpdate?: boolean;
  /**
   * Who changes the password: `single-user` (the user itself), `admin` (the
   * secret named by `masterarn`), `alternating` (the admin changes whichever
   * of the user and its clone AWSCURRENT does not name; give the admin
   * secrets in `adminSecrets`), or `auto` (`admin` when the secret has a
   * `masterarn`). `ROTATION_MODE`.
   * @default 'auto'
   */
  readonly rotationMode?: RotationMode;
  /**
   * Alternating mode: the clone of `<user>` is `<user><cloneSuffix>`
   * (lower-case letters, digits, `_`). `CLONE_SUFFIX`.
   * @default '_clone'
   */
  readonly cloneSuffix?: string;
  /**
   * Password generation. See {@link PasswordPolicyOptions}.
   * @default - the function's defaults: 32 characters of every class
   */
  readonly passwordPolicy?: PasswordPolicyOptions;
  /**
   * SCRAM-SHA-256 iteration count of new verifiers, 4096 or more; on
   * CockroachDB match `server.user_login.password_hashes.default_cost.scram_sha_256`.
   * `SCRAM_ITERATIONS`.
   * @default - the server's `scram_iterations` where it has one (PostgreSQL 16+), else 4096
   */
  readonly scramIterations?: number;
  /**
   * CockroachDB: allow a {@link scramIterations} other than the cluster's
   * SCRAM cost. Off because CockroachDB may then ask the next login for a
   * cleartext password to re-hash it; turn on only where HBA requires
   * scram-sha-256. `SCRAM_ITERATIONS_ALLOW_MISMATCH`.
   * @default false
   */
  readonly allowIterationMismatch?: boolean;
  /**
   * The highest SCRAM iteration count the function stores, computes or
   * accepts at a login, 4096 to 2147483647. A server count above it is
   * refused before anything changes, so a stored verifier always passes
   * its own test login. Raise the function {@link timeout} with it.
   * `SCRAM_MAX_ITERATIONS`.
   * @default 100000
   */
  readonly maxScramIterations?: number;
  /**
   * Let an admin secret name another host, port, database, options or CA
   * than the user secret (an admin that reaches the same server another
   * way). Off: the admin's credentials go only where the user secret points.
   * `ALLOW_ADMIN_TARGET_MISMATCH`.
   * @default false
   */
  readonly allowAdminTargetMismatch?: boolean;
  /**
   * Let the rotated role be privileged (SUPERUSER, CREATEROLE, BYPASSRLS,
   * REPLICATION, or a member of such a role; CockroachDB: `admin`). Never
   * the admin itself nor a member of it. `ALLOW_PRIVILEGED_TARGET`.
   * @default false
   */
  readonly allowPrivilegedTarget?: boolean;
  /**
   * A local PEM file (relative to the working directory) of the CA
   * certificates the database's certificate chains to. It is copied into
   * the deployment package and `CA_BUNDLE_PATH` points at it. A secret's
   * own `ca` key still wins.
   * @default - the secret's `ca` key, else Node's bundled public roots
   */
  readonly caBundlePath?: string;
  /**
   * Time allowed to connect, TLS and SCRAM included. `CONNECT_TIMEOUT_MS`.
   * @default Duration.seconds(5)
   */
  readonly connectTimeout?: Duration;
  /**
   * Time allowed per SQL statement. `STATEMENT_TIMEOUT_MS`.
   * @default Duration.seconds(5)
   */
  readonly statementTimeout?: Duration;
  /**
   * testSecret: login attempts with the new password before failing, 1 to 10.
   * `TEST_LOGIN_ATTEMPTS`.
   * @default 4
   */
  readonly testLoginAttempts?: number;
  /**
   * testSecret: pause between login attempts. `TEST_LOGIN_DELAY_MS`.
   * @default Duration.millis(500)
   */
  readonly testLoginDelay?: Duration;
  /**
   * How long a step that logs in retries transient database failures (a
   * server at capacity, restarting or recovering, a concurrent change, a
   * dropped connection), never past the function's remaining time; zero
   * turns the retries off. `TRANSIENT_RETRY_MS`.
   * @default Duration.seconds(30)
   */
  readonly transientRetry?: Duration;
  /**
   * CloudWatch namespace of the function's metrics (StepSucceeded,
   * StepFailed, StepDuration). `POWERTOOLS_METRICS_NAMESPACE`.
   * @default 'ScramRotator'
   */
  readonly metricsNamespace?: string;
  /**
   * Function memory. CPU grows with memory; PBKDF2 and TLS handshakes are
   * the CPU-bound parts.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Function timeout for one rotation step.
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * The function's reserved concurrency: at most this many steps run at
   * once, each holding one database connection at a time (two, briefly, in
   * alternating mode), so rotation takes about this many of the server's
   * connections at most, however many secrets are due together. `'none'` leaves the function on the account's
   * unreserved pool (an account whose concurrency quota is 10 cannot
   * reserve any). AWS advises no less than 10 for rotation functions.
   * @default {@link DEFAULT_RESERVED_CONCURRENCY}
   */
  readonly reservedConcurrency?: number | 'none';
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Ship the bundle's source map and set `NODE_OPTIONS=--enable-source-maps`,
   * so that stack traces in the logs name `lambda/` files and lines instead
   * of positions in the minified bundle. Costs about 1.2 MB more in the
   * deployment package and makes the cold start's module load about 40%
   * slower (Node maps every stack trace); errors' messages are the same
   * either way. Context key `sourceMaps`.
   * @default false
   */
  readonly sourceMaps?: boolean;
  /**
   * Topic for the alarms and the rotation failure events. A topic you bring
   * must let `cloudwatch.amazonaws.com` and `events.amazonaws.com` publish
   * (and use its KMS key); this construct adds those grants only to a topic
   * of the same stack (through the CDK's own target and alarm grants).
   * @default - a new topic encrypted with a new customer managed key, which
   *   only this construct's alarms and rule may use
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * An e-mail address to subscribe to the alarm topic. The address must
   * confirm the subscription.
   * @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * Run the function in this VPC. Leave it out for databases reachable
   * from the internet over TLS (CockroachDB Cloud, public endpoints).
   * @default - no VPC
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Subnets for the function (and a created endpoint). Only with `vpc`.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * How the function reaches Secrets Manager from the VPC. See
   * {@link SecretsManagerEndpoint}. Only with `vpc`.
   * @default 'create'
   */
  readonly secretsManagerEndpoint?: SecretsManagerEndpoint;
  /**
   * The subnets route to the internet through a NAT gateway, so Secrets
   * Manager's public endpoint is reachable. Only with `vpc`.
   * @default false
   */
  readonly natGatewayRoute?: boolean;
  /**
   * The database port the function's security group may reach. Only with `vpc`.
   * @default 5432
   */
  readonly databasePort?: number;
  /**
   * Where the database is, for the security group's egress rule. Only with `vpc`.
   * @default - any IPv4 address
   */
  readonly databasePeers?: readonly ec2.IPeer[];
}

/** The ARN to put in IAM policies and KMS conditions for a secret. */
function arnForPolicies(secret: secretsmanager.ISecret): string {
  // An ARN built from a name lacks the random suffix Secrets Manager adds;
  // IAM's `?` matches exactly one character, so the six of the suffix match
  // `prod/app-AbCdEf` and not `prod/app-reporting-AbCdEf`.
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}

/** `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`, when the ARN is literal. */
const SECRET_ARN = /^arn:([a-z-]+):secretsmanager:([a-z0-9-]+):(\d{12}):secret:(.+)$/;
/** `arn:<partition>:kms:<region>:<account>:key/<id>`, when the ARN is literal. */
const KMS_KEY_ARN = /^arn:([a-z-]+):kms:([a-z0-9-]+):(\d{12}):/;

function millis(duration: Duration | undefined): string | undefined {
  return duration === undefined ? undefined : String(duration.toMilliseconds());
}

/** The prop behind each variable the function's parser may refuse, for the error. */
const VARIABLE_PROPS: Readonly<Record<string, string>> = {
  ROTATION_MODE: 'rotationMode',
  SCRAM_ITERATIONS: 'scramIterations',
  SCRAM_ITERATIONS_ALLOW_MISMATCH: 'allowIterationMismatch',
  SCRAM_MAX_ITERATIONS: 'maxScramIterations',
  ALLOW_ADMIN_TARGET_MISMATCH: 'allowAdminTargetMismatch',
  ALLOW_PRIVILEGED_TARGET: 'allowPrivilegedTarget',
  PASSWORD_LENGTH: 'passwordPolicy.length',
  EXCLUDE_CHARACTERS: 'passwordPolicy.excludeCharacters',
  CA_BUNDLE_PATH: 'caBundlePath',
  CONNECT_TIMEOUT_MS: 'connectTimeout',
  STATEMENT_TIMEOUT_MS: 'statementTimeout',
  TEST_LOGIN_ATTEMPTS: 'testLoginAttempts',
  TEST_LOGIN_DELAY_MS: 'testLoginDelay',
  TRANSIENT_RETRY_MS: 'transientRetry',
};

/**
 * Rotates database secrets with client-side SCRAM-SHA-256 verifiers, so the
 * database never sees a cleartext password.
 *
 * Creates the rotation function (a prebuilt esbuild bundle, arm64), its
 * role (only the four rotation actions on the given secrets, read-only on
 * admin secrets, KMS only for customer managed keys), a rotation schedule
 * per secret, a log group with retention, alarms on function errors and on
 * undelivered failure events, and an EventBridge rule for failed and
 * abandoned rotations, all to an encrypted SNS topic.
 *
 * @example
 * ```ts
 * const secret = Secret.fromSecretNameV2(this, 'AppUser', 'prod/app_user');
 * new ScramRotator(this, 'Rotator', {
 *   secrets: [secret],
 *   schedule: 'cron(0 3 ? * SUN *)',
 *   rotationWindow: Duration.hours(2),
 *   alarmEmail: 'dba@example.com',
 * });
 * ```
 */
export class ScramRotator extends Construct {
  /** The rotation function. */
  readonly function: lambda.Function;
  /** The function's execution role. */
  readonly role: iam.Role;
  /**
   * The function's log group (its name is generated by CloudFormation;
   * `npm run rotate` finds it through the function's logging configuration).
   */
  readonly logGroup: logs.LogGroup;
  /** Where alarms and rotation failure events go. */
  readonly alarmTopic: sns.ITopic;
  /** Alarm on the function's Errors metric. */
  readonly errorsAlarm: cloudwatch.Alarm;
  /**
   * Alarm on the failure rule's FailedInvocations: a failure event that
   * matched but could not be published to the topic.
   */
  readonly undeliveredEventsAlarm: cloudwatch.Alarm;
  /** EventBridge rule for RotationFailed, RotationAbandoned and TestRotationFailed of the rotated secrets. */
  readonly rotationFailureRule: events.Rule;
  /** One rotation schedule per rotated secret, in the order of `secrets`. */
  readonly rotationSchedules: readonly secretsmanager.CfnRotationSchedule[];
  /**
   * The complete ARN of each rotated secret, in the order of `secrets`. For
   * a secret imported by name it is the rotation schedule's `Ref`, which
   * CloudFormation documents as the secret's complete ARN, resolved at deploy.
   */
  readonly secretArns: readonly string[];
  /** The function's security group, with a VPC. */
  readonly securityGroup?: ec2.SecurityGroup;
  /** The Secrets Manager interface endpoint, when this construct created it. */
  readonly secretsManagerEndpoint?: ec2.InterfaceVpcEndpoint;

  constructor(scope: Construct, id: string, props: ScramRotatorProps) {
    super(scope, id);
    if (props.secrets.length === 0) {
      throw new RotatorConfigError('secrets', 'give at least one secret to rotate');
    }
    this.checkEnvironment(props);
    const schedule = props.schedule ?? 'rate(30 days)';
    const duration = checkScheduleAndWindow(schedule, props.rotationWindow);
    const timeout = props.timeout ?? Duration.seconds(60);

    const environment = this.environment(props);
    this.warnIfTimeoutTooShort(props, timeout);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });

    // Our own role, not the one lambda.Function would make: that one carries
    // the AWSLambdaBasicExecutionRole managed policy, which may write to any
    // log group in the account.
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'scram-rotator: rotates the given database secrets',
    });
    this.logGroup.grantWrite(this.role);
    this.grantSecrets(props);

    const network = this.network(props);
    if (network?.endpoint) {
      // The endpoint is made without private DNS (see network()), so the
      // SDK is pointed at it by name; it reads this variable itself.
      environment.AWS_ENDPOINT_URL_SECRETS_MANAGER = `https://${Fn.select(
        1,
        Fn.split(':', Fn.select(0, network.endpoint.vpcEndpointDnsEntries)),
      )}`;
    }
    this.securityGroup = network?.securityGroup;
    this.secretsManagerEndpoint = network?.endpoint;

    const caBundleSource =
      props.caBundlePath === undefined ? undefined : this.caBundleSource(props.caBundlePath);
    this.function = new lambda.Function(this, 'Function', {
      description: 'scram-rotator: Secrets Manager rotation with client-side SCRAM-SHA-256',
      code: functionCode({ sourceMaps: props.sourceMaps ?? false, caBundleSource }),
      handler: `${FUNCTION_BUNDLE_FILE.replace(/\.mjs$/, '')}.handler`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout,
      ...reservedConcurrency(props),
      role: this.role,
      logGroup: this.logGroup,
      environment,
      ...(network
        ? {
            vpc: network.vpc,
            vpcSubnets: network.subnets,
            securityGroups: [network.securityGroup],
          }
        : {}),
    });
    if (network) this.grantNetworkInterfaces();

    const permissions = this.allowSecretsManagerToInvoke(props.secrets);
    this.rotationSchedules = props.secrets.map((secret, index) => {
      const rotation = new secretsmanager.CfnRotationSchedule(
        this,
        `Schedule${Names.nodeUniqueId(secret.node)}`,
        {
          secretId: secret.secretArn,
          rotationLambdaArn: this.function.functionArn,
          rotationRules: { scheduleExpression: schedule, duration },
          rotateImmediatelyOnUpdate: props.rotateImmediatelyOnUpdate ?? true,
        },
      );
      // Secrets Manager checks that it may invoke the function when the
      // schedule is created, and may rotate at once: the permission and
      // the role's policy must exist first.
      // (One permission per secret, or one shared by all: see below.)
      const permission = permissions[
        Math.min(index, permissions.length - 1)
      ] as lambda.CfnPermission;
      rotation.node.addDependency(permission, this.role);
      return rotation;
    });
    // AWS::SecretsManager::RotationSchedule's Ref "returns the ARN of the
    // secret that's being configured, such as arn:aws:secretsmanager:
    // us-west-2:123456789012:secret:my-path/my-secret-name-1a2b3c"
    // (CloudFormation reference, RotationSchedule return values).
    this.secretArns = props.secrets.map(
      (secret, index) => secret.secretFullArn ?? (this.rotationSchedules[index]?.ref as string),
    );

    const ownTopic = props.alarmTopic === undefined;
    const { topic, key } = ownTopic
      ? this.createTopic()
      : { topic: props.alarmTopic as sns.ITopic, key: undefined };
    this.alarmTopic = topic;
    if (props.alarmEmail !== undefined) {
      // SNS would only refuse it at deploy time, halfway through the stack.
      if (
        !Token.isUnresolved(props.alarmEmail) &&
        !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.alarmEmail)
      ) {
        throw new RotatorConfigError(
          'alarmEmail',
          `${props.alarmEmail} is not an e-mail address; give one address such as dba@example.com`,
        );
      }
      this.alarmTopic.addSubscription(new snsSubscriptions.EmailSubscription(props.alarmEmail));
    }

    // Explicit names: the topic's key policy must name the alarms and the
    // rule that may use it, and the key cannot reference them (they
    // reference the topic, which references the key: a cycle).
    const errorsAlarmName = Names.uniqueResourceName(this, { maxLength: 200, separator: '-' });
    const ruleName = Names.uniqueResourceName(this, { maxLength: 64, separator: '-' });
    this.errorsAlarm = new cloudwatch.Alarm(this, 'ErrorsAlarm', {
      alarmName: `${errorsAlarmName}-errors`,
      alarmDescription:
        'scram-rotator: a rotation step failed. Secrets Manager retries the rotation; see the function logs for the step and reason (npm run rotate prints it).',
      metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No invocations between rotations is the normal state, not an alarm.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.errorsAlarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));

    this.rotationFailureRule = new events.Rule(this, 'RotationFailureRule', {
      ruleName,
      description: 'scram-rotator: Secrets Manager rotations that failed or were abandoned',
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['AWS Service Event via CloudTrail'],
        detail: {
          eventSource: ['secretsmanager.amazonaws.com'],
          eventName: [...ROTATION_FAILURE_EVENTS],
          // Only this construct's secrets, by complete ARN: a prefix would
          // also match prod/app-reporting-XXXXXX for prod/app.
          additionalEventData: { SecretId: [...this.secretArns] },
        },
      },
      targets: [
        ownTopic
          ? // The topic policy below allows this rule alone; the CDK's
            // SnsTopic target would add an unconditional grant.
            { bind: () => ({ arn: this.alarmTopic.topicArn }) }
          : new eventsTargets.SnsTopic(this.alarmTopic),
      ],
    });

    this.undeliveredEventsAlarm = new cloudwatch.Alarm(this, 'UndeliveredEventsAlarm', {
      alarmName: `${errorsAlarmName}-undelivered-events`,
      alarmDescription:
        'scram-rotator: a rotation failure event matched but EventBridge could not publish it to the alarm topic. Check the topic policy and its KMS key policy for events.amazonaws.com.',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Events',
        metricName: 'FailedInvocations',
        dimensionsMap: { RuleName: this.rotationFailureRule.ruleName },
        period: Duration.minutes(5),
        statistic: 'Sum',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.undeliveredEventsAlarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));

    if (ownTopic) {
      this.allowAlarmPath(
        this.alarmTopic,
        key,
        [`${errorsAlarmName}-errors`, `${errorsAlarmName}-undelivered-events`],
        ruleName,
      );
    }
  }

  /**
   * Publishes the names operators need as stack outputs: the function ARN,
   * its log group, the alarm topic, and per rotated secret its ARN and the
   * `npm run rotate` / `npm run doctor` lines for it.
   *
   * @param options - output ids are prefixed with `prefix` (default none)
   * @returns the outputs, by id
   */
  addOutputs(options: { readonly prefix?: string } = {}): Record<string, CfnOutput> {
    const prefix = options.prefix ?? '';
    const stack = Stack.of(this);
    const scope = stack;
    const outputs: Record<string, CfnOutput> = {};
    const add = (id: string, value: string, description: string) => {
      outputs[id] = new CfnOutput(scope, `${prefix}${id}`, { value, description });
    };
    add('FunctionArn', this.function.functionArn, 'The rotation function (RotationLambdaARN).');
    add(
      'LogGroupName',
      this.logGroup.logGroupName,
      "The rotation function's log group (npm run rotate --log-group).",
    );
    add('AlarmTopicArn', this.alarmTopic.topicArn, 'Where alarms and rotation failures go.');
    // CloudFormation allows 200 outputs a stack; three per secret beyond
    // that would fail the deploy, so the commands go first.
    const perSecret = this.secretArns.length * 3 + 3 <= 200 ? 3 : 1;
    this.secretArns.forEach((arn, index) => {
      const n = index + 1;
      add(`Secret${n}Arn`, arn, `Rotated secret ${n}.`);
      if (perSecret === 3) {
        add(
          `Secret${n}Rotate`,
          Fn.join('', [
            `npm run rotate -- --region ${stack.region} --secret-id `,
            arn,
            ' --log-group ',
            this.logGroup.logGroupName,
          ]),
          `Rotate secret ${n} now and follow it (from a scram-rotator checkout).`,
        );
        add(
          `Secret${n}Doctor`,
          Fn.join('', [`npm run doctor -- --region ${stack.region} --secret-id `, arn]),
          `Preflight checks for secret ${n} (from a scram-rotator checkout).`,
        );
      }
    });
    if (perSecret === 1) {
      Annotations.of(this).addWarningV2(
        'scram-rotator:outputs',
        `${this.secretArns.length} secrets: the stack outputs list only their ARNs (CloudFormation allows 200 outputs). Run npm run rotate -- --region ${stack.region} --secret-id <ARN> for any of them.`,
      );
    }
    return outputs;
  }

  /**
   * Secrets Manager runs the function in the secret's region and account:
   * a secret (or its key) elsewhere would fail at deploy, or be granted in
   * the wrong region. Literal ARNs are checked against the stack's
   * environment where it has one.
   */
  private checkEnvironment(props: ScramRotatorProps): void {
    const lists = [
      ['secrets', props.secrets],
      ['adminSecrets', props.adminSecrets ?? []],
    ] as const;
    for (const [name, secrets] of lists) {
      secrets.forEach((secret, index) => {
        const setting = `${name}[${index}]`;
        const arn = secret.secretFullArn ?? secret.secretArn;
        const parts = Token.isUnresolved(arn) ? null : SECRET_ARN.exec(arn);
        if (parts) {
          const [, , region, account] = parts;
          this.checkRegionAndAccount(setting, arn, region as string, account as string, true);
        }
        const keyArn = secret.encryptionKey?.keyArn;
        const keyParts =
          keyArn === undefined || Token.isUnresolved(keyArn) ? null : KMS_KEY_ARN.exec(keyArn);
        if (keyArn !== undefined && keyParts) {
          // A key may belong to another account; never to another region.
          this.checkRegionAndAccount(
            `${setting}.encryptionKey`,
            keyArn,
            keyParts[2] as string,
            undefined,
            false,
          );
        }
      });
    }
  }

  private checkRegionAndAccount(
    setting: string,
    arn: string,
    region: string,
    account: string | undefined,
    isSecret: boolean,
  ): void {
    const stack = Stack.of(this);
    const what = isSecret ? 'secret' : 'KMS key';
    if (Token.isUnresolved(stack.region)) {
      Annotations.of(this).addWarningV2(
        'scram-rotator:environment-agnostic',
        `${setting} ${arn} is in ${region}, but the stack has no region: deploy it to ${region} (set the stack's env, or run cdk with AWS_REGION=${region}).`,
      );
    } else if (region !== stack.region) {
      throw new RotatorConfigError(
        setting,
        `the ${what} ${arn} is in region ${region} but the stack deploys to ${stack.region}; Secrets Manager only calls a rotation function of its own region. Deploy the stack to ${region} (its env.region), or name a ${what} of ${stack.region}.`,
      );
    }
    if (account !== undefined && !Token.isUnresolved(stack.account) && account !== stack.account) {
      throw new RotatorConfigError(
        setting,
        `the ${what} ${arn} belongs to account ${account} but the stack deploys to ${stack.account}; deploy the stack to account ${account} (its env.account), or name a ${what} of ${stack.account}.`,
      );
    }
  }

  /** The function's environment, checked with the function's own parser. */
  private environment(props: ScramRotatorProps): Record<string, string> {
    const policy = props.passwordPolicy ?? {};
    if (policy.excludeCharacters === '') {
      throw new RotatorConfigError(
        'passwordPolicy.excludeCharacters',
        'is empty; the function reads an empty EXCLUDE_CHARACTERS as unset and uses its default set. Leave it out for the default, or name the characters to exclude.',
      );
    }
    const flag = (value: boolean | undefined) => (value === undefined ? undefined : String(value));
    const values: Record<string, string | undefined> = {
      // Stack traces through the bundle's source map, in the logs; only
      // with the map shipped (sourceMaps), since the flag slows every load.
      NODE_OPTIONS: props.sourceMaps ? '--enable-source-maps' : undefined,
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace ?? 'ScramRotator',
      ROTATION_MODE: props.rotationMode,
      CLONE_SUFFIX: props.cloneSuffix,
      SCRAM_ITERATIONS:
        props.scramIterations === undefined ? undefined : String(props.scramIterations),
      SCRAM_ITERATIONS_ALLOW_MISMATCH: flag(props.allowIterationMismatch),
      SCRAM_MAX_ITERATIONS:
        props.maxScramIterations === undefined ? undefined : String(props.maxScramIterations),
      ALLOW_ADMIN_TARGET_MISMATCH: flag(props.allowAdminTargetMismatch),
      ALLOW_PRIVILEGED_TARGET: flag(props.allowPrivilegedTarget),
      PASSWORD_LENGTH: policy.length === undefined ? undefined : String(policy.length),
      EXCLUDE_CHARACTERS: policy.excludeCharacters,
      EXCLUDE_NUMBERS: flag(policy.excludeNumbers),
      EXCLUDE_PUNCTUATION: flag(policy.excludePunctuation),
      EXCLUDE_UPPERCASE: flag(policy.excludeUppercase),
      EXCLUDE_LOWERCASE: flag(policy.excludeLowercase),
      REQUIRE_EACH_INCLUDED_TYPE: flag(policy.requireEachIncludedType),
      CONNECT_TIMEOUT_MS: millis(props.connectTimeout),
      STATEMENT_TIMEOUT_MS: millis(props.statementTimeout),
      TEST_LOGIN_ATTEMPTS:
        props.testLoginAttempts === undefined ? undefined : String(props.testLoginAttempts),
      TEST_LOGIN_DELAY_MS: millis(props.testLoginDelay),
      TRANSIENT_RETRY_MS: millis(props.transientRetry),
      CA_BUNDLE_PATH: props.caBundlePath === undefined ? undefined : CA_BUNDLE_RUNTIME_PATH,
    };
    const environment: Record<string, string> = {};
    for (const [name, value] of Object.entries(values)) {
      if (value !== undefined) environment[name] = value;
    }
    if (!Object.values(environment).some((value) => Token.isUnresolved(value))) {
      // The function's own parser, on the values it will read at run time
      // (with the CA bundle still at its local path): a setting it would
      // refuse fails the synth here, not the first rotation.
      const localCa =
        props.caBundlePath === undefined ? undefined : this.caBundleSource(props.caBundlePath);
      try {
        configFromEnv({ ...environment, CA_BUNDLE_PATH: localCa });
      } catch (error) {
        const variable = (error as { variable?: unknown }).variable;
        const setting =
          typeof variable === 'string' ? (VARIABLE_PROPS[variable] ?? variable) : 'environment';
        throw new RotatorConfigError(setting, (error as Error).message, { cause: error });
      }
    }
    return environment;
  }

  private caBundleSource(path: string): string {
    const absolute = isAbsolute(path) ? path : resolve(process.cwd(), path);
    if (!existsSync(absolute)) {
      throw new RotatorConfigError(
        'caBundlePath',
        `${absolute} does not exist; give the path of a PEM file of CA certificates`,
      );
    }
    return absolute;
  }

  /**
   * The worst case of testSecret is every attempt timing out on connect and
   * statement, plus the pauses. The function shortens its timeouts to the
   * time left, so this is a warning: the last attempts would be cut short.
   */
  private warnIfTimeoutTooShort(props: ScramRotatorProps, timeout: Duration): void {
    // Unset values are the function's own defaults.
    const attempts = props.testLoginAttempts ?? CONFIG_DEFAULTS.TEST_LOGIN_ATTEMPTS;
    const perAttempt =
      (props.connectTimeout?.toMilliseconds() ?? CONFIG_DEFAULTS.CONNECT_TIMEOUT_MS) +
      (props.statementTimeout?.toMilliseconds() ?? CONFIG_DEFAULTS.STATEMENT_TIMEOUT_MS);
    const pauses =
      (attempts - 1) *
      (props.testLoginDelay?.toMilliseconds() ?? CONFIG_DEFAULTS.TEST_LOGIN_DELAY_MS);
    const worstCase = attempts * perAttempt + pauses;
    if (worstCase > timeout.toMilliseconds()) {
      Annotations.of(this).addWarningV2(
        'scram-rotator:timeout-budget',
        `testSecret may need ${worstCase} ms (${attempts} attempts of connect + statement timeouts, plus pauses) but the function times out after ${timeout.toMilliseconds()} ms; raise timeout or lower the login settings.`,
      );
    }
  }

  private grantSecrets(props: ScramRotatorProps): void {
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RotateSecrets',
        actions: [...ROTATION_ACTIONS],
        resources: props.secrets.map(arnForPolicies),
      }),
    );
    const admins = props.adminSecrets ?? [];
    if (admins.length > 0) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadAdminSecrets',
          actions: ['secretsmanager:GetSecretValue'],
          resources: admins.map(arnForPolicies),
        }),
      );
    }
    // Secrets under a customer managed key: Secrets Manager decrypts
    // (GetSecretValue) and encrypts (PutSecretValue: GenerateDataKey) with
    // the caller's permissions, limited here to calls through Secrets
    // Manager for these secrets. Admin secrets are only read: Decrypt.
    // Secrets under aws/secretsmanager need nothing.
    const byKey = new Map<kms.IKey, { rotated: string[]; all: string[] }>();
    const note = (secret: secretsmanager.ISecret, rotated: boolean) => {
      if (!secret.encryptionKey) return;
      const arns = byKey.get(secret.encryptionKey) ?? { rotated: [], all: [] };
      if (rotated) arns.rotated.push(arnForPolicies(secret));
      arns.all.push(arnForPolicies(secret));
      byKey.set(secret.encryptionKey, arns);
    };
    for (const secret of props.secrets) note(secret, true);
    for (const secret of admins) note(secret, false);
    let index = 0;
    for (const [key, arns] of byKey) {
      const statement = (sid: string, actions: string[], secretArns: string[]) =>
        new iam.PolicyStatement({
          sid,
          actions,
          resources: [key.keyArn],
          conditions: {
            StringEquals: {
              'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com`,
            },
            StringLike: { 'kms:EncryptionContext:SecretARN': secretArns },
          },
        });
      if (arns.rotated.length === arns.all.length) {
        this.role.addToPolicy(
          statement(`SecretsKey${index}`, ['kms:Decrypt', 'kms:GenerateDataKey'], arns.all),
        );
      } else {
        this.role.addToPolicy(statement(`SecretsKey${index}Decrypt`, ['kms:Decrypt'], arns.all));
        if (arns.rotated.length > 0) {
          this.role.addToPolicy(
            statement(`SecretsKey${index}Encrypt`, ['kms:GenerateDataKey'], arns.rotated),
          );
        }
      }
      index += 1;
    }
  }

  /**
   * Lambda's own permission to attach the function to the VPC, written out
   * instead of the AWSLambdaVPCAccessExecutionRole managed policy.
   */
  private grantNetworkInterfaces(): void {
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'VpcNetworkInterfaces',
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Lambda manages the function’s VPC network interfaces with the execution role; the ec2 Describe* actions support no resource-level permissions and the interface ids are not known before Lambda creates them (the same statement as AWSLambdaVPCAccessExecutionRole).',
    });
  }

  /**
   * Lets Secrets Manager of this account invoke the function, for these
   * secrets only: Secrets Manager passes the secret's ARN as aws:SourceArn
   * ("if you include the aws:SourceArn condition in your rotation function
   * policy, the rotation function can only be used to rotate the secret
   * specified by that ARN", Secrets Manager User Guide, automatic rotation).
   * One statement per secret (a permission takes one ARN; a name-imported
   * secret's ARN ends in `-??????`, which ArnLike matches); above
   * {@link MAX_SECRET_SCOPED_INVOKE_PERMISSIONS} secrets the resource policy
   * would outgrow Lambda's 20 KB, so one account-wide statement, with a warning.
   *
   * @returns the permission each secret's schedule must wait for, in order
   *   (one shared permission when account-wide)
   */
  private allowSecretsManagerToInvoke(
    secrets: readonly secretsmanager.ISecret[],
  ): lambda.CfnPermission[] {
    const principal = new iam.ServicePrincipal('secretsmanager.amazonaws.com');
    // aws:SourceAccount: only secrets of this account (confused deputy).
    const sourceAccount = Stack.of(this).account;
    const permission = (id: string, sourceArn: string | undefined) => {
      this.function.addPermission(id, {
        principal,
        action: 'lambda:InvokeFunction',
        sourceAccount,
        ...(sourceArn === undefined ? {} : { sourceArn }),
      });
      return this.function.permissionsNode.findChild(id) as lambda.CfnPermission;
    };
    if (secrets.length > MAX_SECRET_SCOPED_INVOKE_PERMISSIONS) {
      Annotations.of(this).addWarningV2(
        'scram-rotator:invoke-permission',
        `${secrets.length} secrets: Secrets Manager may invoke the function for any secret of this account (one statement per secret would outgrow Lambda's 20 KB resource policy above ${MAX_SECRET_SCOPED_INVOKE_PERMISSIONS}). Split the secrets over several ScramRotators to keep one statement per secret.`,
      );
      return [permission('InvokeBySecretsManager', undefined)];
    }
    return secrets.map((secret) =>
      permission(
        `InvokeBySecretsManager${Names.nodeUniqueId(secret.node)}`,
        arnForPolicies(secret),
      ),
    );
  }

  private createTopic(): { topic: sns.Topic; key: kms.Key } {
    // aws/sns (the AWS managed key) cannot be used: its key policy cannot
    // let EventBridge and CloudWatch encrypt messages for the topic.
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'scram-rotator: encrypts the alarm topic',
      enableKeyRotation: true,
      // Only alarms pass through it; nothing to keep after the stack goes.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'scram-rotator alarms',
      masterKey: key,
      enforceSSL: true,
    });
    return { topic, key };
  }

  /**
   * The only publishers of the construct's own topic: its alarms (through
   * CloudWatch) and its failure rule (through EventBridge), each named by
   * aws:SourceArn and this account by aws:SourceAccount, on the topic and
   * on the topic's key. CDK replaces the topic's default policy (which let
   * the account's services publish) with its own, so both need statements.
   */
  private allowAlarmPath(
    topic: sns.ITopic,
    key: kms.IKey | undefined,
    alarmNames: readonly string[],
    ruleName: string,
  ): void {
    const stack = Stack.of(this);
    const alarmArns = alarmNames.map((name) =>
      stack.formatArn({
        service: 'cloudwatch',
        resource: 'alarm',
        resourceName: name,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    );
    const ruleArn = stack.formatArn({
      service: 'events',
      resource: 'rule',
      resourceName: ruleName,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    const publishers = [
      { sid: 'CloudWatchAlarms', service: 'cloudwatch.amazonaws.com', sources: alarmArns },
      { sid: 'RotationFailureRule', service: 'events.amazonaws.com', sources: [ruleArn] },
    ];
    for (const { sid, service, sources } of publishers) {
      const conditions = {
        ArnLike: { 'aws:SourceArn': sources.length === 1 ? sources[0] : sources },
        StringEquals: { 'aws:SourceAccount': stack.account },
      };
      const principals = [new iam.ServicePrincipal(service)];
      topic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `${sid}Publish`,
          principals,
          actions: ['sns:Publish'],
          resources: [topic.topicArn],
          conditions,
        }),
      );
      // SNS encrypts each message with the topic's key on behalf of the
      // publisher, which therefore needs the data key actions too.
      key?.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `${sid}Encrypt`,
          principals,
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions,
        }),
      );
    }
  }

  private network(props: ScramRotatorProps):
    | {
        vpc: ec2.IVpc;
        subnets: ec2.SubnetSelection | undefined;
        securityGroup: ec2.SecurityGroup;
        endpoint: ec2.InterfaceVpcEndpoint | undefined;
      }
    | undefined {
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
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
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
      const endpointGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
        vpc,
        description: 'scram-rotator Secrets Manager endpoint: HTTPS from the function only',
        allowAllOutbound: false,
      });
      // Private DNS off: with it, every workload in the VPC would resolve
      // Secrets Manager to this endpoint, which admits only the function,
      // and the endpoint could not be created where one already exists.
      endpoint = new ec2.InterfaceVpcEndpoint(this, 'SecretsManagerEndpoint', {
        vpc,
        service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        subnets,
        privateDnsEnabled: false,
        open: false,
        securityGroups: [endpointGroup],
      });
      securityGroup.connections.allowTo(
        endpointGroup,
        ec2.Port.tcp(443),
        'Secrets Manager endpoint',
      );
    }
    if (mode === 'existing' || nat) {
      // An existing endpoint's addresses, or Secrets Manager's public ones
      // through NAT, are not known here.
      securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'Secrets Manager (HTTPS)');
    }
    return { vpc, subnets, securityGroup, endpoint };
  }
}

/**
 * The function's reserved concurrency unless set. Measured on the local
 * stack (README, Reliability): 200 secrets rotated at once against
 * max_connections=100 took 6.7 s with no limit (filling the server, 413
 * retries of 53300) and 4.6 s with 10 at a time, never holding more than
 * 10 connections; 25 or 50 saved no more than half a second. 10 is also
 * the least AWS advises for rotation functions.
 */
export const DEFAULT_RESERVED_CONCURRENCY = 10;

/** `reservedConcurrentExecutions` from the prop, checked. */
function reservedConcurrency(props: ScramRotatorProps): { reservedConcurrentExecutions?: number } {
  const value = props.reservedConcurrency ?? DEFAULT_RESERVED_CONCURRENCY;
  if (value === 'none') return {};
  if (!Number.isInteger(value) || value < 1 || value > 1000) {
    throw new RotatorConfigError(
      'reservedConcurrency',
      "give a whole number from 1 to 1000 (AWS advises 10 or more for rotation), or 'none'",
    );
  }
  return { reservedConcurrentExecutions: value };
}
