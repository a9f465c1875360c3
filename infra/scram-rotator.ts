/**
 * The reusable construct: the rotation function, its least-privilege role,
 * the rotation schedules of the secrets it rotates, and the alarms that say
 * when a rotation went wrong.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Annotations,
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
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { CONFIG_DEFAULTS, configFromEnv, type RotationMode } from '../lambda/config.js';
import { checkScheduleAndWindow } from './schedule.js';

/** Who changes the password: `auto`, `single-user` or `admin` (lambda/config.ts). */
export type { RotationMode } from '../lambda/config.js';

/** Where the function's source is, wherever the app runs from. */
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const LAMBDA_ENTRY = resolve(PROJECT_ROOT, 'lambda/index.ts');
const LOCK_FILE = resolve(PROJECT_ROOT, 'package-lock.json');

/** Where the CA bundle lands in the deployment package (`/var/task` is the package root). */
export const CA_BUNDLE_FILE = 'ca-bundle.pem';
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
 * not complete. EventBridge receives them with detail-type "AWS Service
 * Event via CloudTrail"; `RotationAbandoned` means a new version was put
 * while a rotation was pending, and its AWSPENDING label was dropped.
 * `TestRotationFailed` is another failure event name Secrets Manager uses;
 * matching a name that never arrives costs nothing.
 */
export const ROTATION_FAILURE_EVENTS = [
  'RotationFailed',
  'RotationAbandoned',
  'TestRotationFailed',
] as const;

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
   * secret named by `masterarn`), or `auto` (`admin` when the secret has a
   * `masterarn`). `ROTATION_MODE`.
   * @default 'auto'
   */
  readonly rotationMode?: RotationMode;
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
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Topic for the error alarm and the rotation failure events. A topic you
   * bring must let `cloudwatch.amazonaws.com` and `events.amazonaws.com`
   * publish (and use its KMS key).
   * @default - a new topic encrypted with a new customer managed key
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
  // IAM needs the wildcard to match the real ARN.
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}

/** An EventBridge matcher for `additionalEventData.SecretId` of a secret. */
function secretIdMatcher(secret: secretsmanager.ISecret): unknown {
  return secret.secretFullArn ?? { prefix: `${secret.secretArn}-` };
}

function millis(duration: Duration | undefined): string | undefined {
  return duration === undefined ? undefined : String(duration.toMilliseconds());
}

/**
 * Rotates database secrets with client-side SCRAM-SHA-256 verifiers, so the
 * database never sees a cleartext password.
 *
 * Creates the rotation function (bundled locally with esbuild, arm64),
 * its role (only the four rotation actions on the given secrets, read-only
 * on admin secrets, KMS only for customer managed keys), a rotation
 * schedule per secret, a log group with retention, an alarm on function
 * errors and an EventBridge rule for failed and abandoned rotations, both
 * to an encrypted SNS topic.
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
  readonly function: nodejs.NodejsFunction;
  /** The function's execution role. */
  readonly role: iam.Role;
  /** The function's log group. */
  readonly logGroup: logs.LogGroup;
  /** Where alarms and rotation failure events go. */
  readonly alarmTopic: sns.ITopic;
  /** Alarm on the function's Errors metric. */
  readonly errorsAlarm: cloudwatch.Alarm;
  /** EventBridge rule for RotationFailed and RotationAbandoned of the rotated secrets. */
  readonly rotationFailureRule: events.Rule;
  /** One rotation schedule per rotated secret. */
  readonly rotationSchedules: readonly secretsmanager.CfnRotationSchedule[];
  /** The function's security group, with a VPC. */
  readonly securityGroup?: ec2.SecurityGroup;
  /** The Secrets Manager interface endpoint, when this construct created it. */
  readonly secretsManagerEndpoint?: ec2.InterfaceVpcEndpoint;

  constructor(scope: Construct, id: string, props: ScramRotatorProps) {
    super(scope, id);
    if (props.secrets.length === 0) {
      throw new Error(`${this.node.path}: give at least one secret to rotate`);
    }
    const stack = Stack.of(this);
    const schedule = props.schedule ?? 'rate(30 days)';
    const duration = checkScheduleAndWindow(schedule, props.rotationWindow);
    const timeout = props.timeout ?? Duration.seconds(60);

    const environment = this.environment(props);
    this.warnIfTimeoutTooShort(props, timeout);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });

    // Our own role, not the one NodejsFunction would make: that one carries
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

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      description: 'scram-rotator: Secrets Manager rotation with client-side SCRAM-SHA-256',
      entry: LAMBDA_ENTRY,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: LOCK_FILE,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout,
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
      bundling: this.bundling(props),
    });
    if (network) this.grantNetworkInterfaces();

    const permission = this.allowSecretsManagerToInvoke();
    this.rotationSchedules = props.secrets.map((secret) => {
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
      rotation.node.addDependency(permission, this.role);
      return rotation;
    });

    this.alarmTopic = props.alarmTopic ?? this.createTopic();
    if (props.alarmEmail !== undefined) {
      // SNS would only refuse it at deploy time, halfway through the stack.
      if (
        !Token.isUnresolved(props.alarmEmail) &&
        !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.alarmEmail)
      ) {
        throw new Error(
          `${this.node.path}: alarmEmail ${props.alarmEmail} is not an e-mail address`,
        );
      }
      this.alarmTopic.addSubscription(new snsSubscriptions.EmailSubscription(props.alarmEmail));
    }

    this.errorsAlarm = new cloudwatch.Alarm(this, 'ErrorsAlarm', {
      alarmDescription:
        'scram-rotator: a rotation step failed. Secrets Manager retries the rotation; see the function logs for the step and reason.',
      metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No invocations between rotations is the normal state, not an alarm.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.errorsAlarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));
    if (!props.alarmTopic) {
      // CDK replaces the topic's default policy (which let the account's
      // services publish) with its own, so CloudWatch needs a statement.
      this.alarmTopic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CloudWatchAlarmsPublish',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [this.alarmTopic.topicArn],
          conditions: {
            ArnLike: { 'aws:SourceArn': this.errorsAlarm.alarmArn },
            StringEquals: { 'aws:SourceAccount': stack.account },
          },
        }),
      );
    }

    this.rotationFailureRule = new events.Rule(this, 'RotationFailureRule', {
      description: 'scram-rotator: Secrets Manager rotations that failed or were abandoned',
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['AWS Service Event via CloudTrail'],
        detail: {
          eventSource: ['secretsmanager.amazonaws.com'],
          eventName: [...ROTATION_FAILURE_EVENTS],
          // Only this construct's secrets: other rotations in the account
          // have their own owners.
          additionalEventData: { SecretId: props.secrets.map(secretIdMatcher) },
        },
      },
      targets: [new eventsTargets.SnsTopic(this.alarmTopic)],
    });
  }

  /** The function's environment, checked with the function's own parser. */
  private environment(props: ScramRotatorProps): Record<string, string> {
    const policy = props.passwordPolicy ?? {};
    if (policy.excludeCharacters === '') {
      throw new Error(
        `${this.node.path}: passwordPolicy.excludeCharacters is empty; the function reads an empty EXCLUDE_CHARACTERS as unset and uses its default set. Leave it out for the default, or name the characters to exclude.`,
      );
    }
    const flag = (value: boolean | undefined) => (value === undefined ? undefined : String(value));
    const values: Record<string, string | undefined> = {
      // Stack traces through the bundle's source map, in the logs.
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace ?? 'ScramRotator',
      ROTATION_MODE: props.rotationMode,
      SCRAM_ITERATIONS:
        props.scramIterations === undefined ? undefined : String(props.scramIterations),
      SCRAM_ITERATIONS_ALLOW_MISMATCH: flag(props.allowIterationMismatch),
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
        throw new Error(`${this.node.path}: ${(error as Error).message}`, { cause: error });
      }
    }
    return environment;
  }

  private caBundleSource(path: string): string {
    const absolute = isAbsolute(path) ? path : resolve(process.cwd(), path);
    // The path goes into a shell command (the afterBundling hook) in double quotes.
    if (/["$`\n%]/.test(absolute)) {
      throw new Error(
        `${this.node.path}: caBundlePath ${absolute} has a character a shell would interpret (" $ \` %); move or rename the file`,
      );
    }
    if (!existsSync(absolute)) {
      throw new Error(`${this.node.path}: caBundlePath ${absolute} does not exist`);
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

  private bundling(props: ScramRotatorProps): nodejs.BundlingOptions {
    const caSource =
      props.caBundlePath === undefined ? undefined : this.caBundleSource(props.caBundlePath);
    return {
      // No Docker on our machines or many CI runners: esbuild from node_modules.
      forceDockerBundling: false,
      format: nodejs.OutputFormat.ESM,
      target: 'node24',
      // Prefer packages' ES module builds, which esbuild can tree-shake.
      mainFields: ['module', 'main'],
      minify: true,
      sourceMap: true,
      sourcesContent: false,
      // The SDK goes in the bundle: the version tested here is the version
      // that runs, whatever the runtime ships. pg-native is an optional
      // native binding pg loads only when asked to; we never ask.
      bundleAwsSDK: true,
      externalModules: ['pg-native'],
      // CommonJS dependencies (pg) call require() for Node built-ins, which
      // an ES module has no binding for.
      banner:
        "import { createRequire as __scramCreateRequire } from 'node:module'; const require = __scramCreateRequire(import.meta.url);",
      ...(caSource === undefined
        ? {}
        : {
            commandHooks: {
              beforeBundling: () => [],
              beforeInstall: () => [],
              // Node copies the file, not cp/copy, so the hook runs the
              // same on every OS; paths go in as arguments, quoted.
              afterBundling: (_inputDir: string, outputDir: string) => [
                `node -e "require('node:fs').copyFileSync(process.argv[1], process.argv[2])" ${JSON.stringify(caSource)} ${JSON.stringify(resolve(outputDir, CA_BUNDLE_FILE))}`,
              ],
            },
          }),
    };
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
    // the caller's permissions. Limited to calls through Secrets Manager
    // for these secrets. Secrets under aws/secretsmanager need nothing.
    const byKey = new Map<kms.IKey, string[]>();
    for (const secret of [...props.secrets, ...admins]) {
      if (!secret.encryptionKey) continue;
      const arns = byKey.get(secret.encryptionKey) ?? [];
      arns.push(arnForPolicies(secret));
      byKey.set(secret.encryptionKey, arns);
    }
    let index = 0;
    for (const [key, arns] of byKey) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: `SecretsKey${index++}`,
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [key.keyArn],
          conditions: {
            StringEquals: {
              'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com`,
            },
            StringLike: { 'kms:EncryptionContext:SecretARN': arns },
          },
        }),
      );
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

  private allowSecretsManagerToInvoke(): lambda.CfnPermission {
    this.function.addPermission('InvokeBySecretsManager', {
      principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      // aws:SourceAccount: Secrets Manager may invoke the function only for
      // secrets of this account (confused deputy).
      sourceAccount: Stack.of(this).account,
    });
    return this.function.permissionsNode.findChild(
      'InvokeBySecretsManager',
    ) as lambda.CfnPermission;
  }

  private createTopic(): sns.Topic {
    // aws/sns (the AWS managed key) cannot be used: its key policy cannot
    // let EventBridge and CloudWatch encrypt messages for the topic.
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'scram-rotator: encrypts the alarm topic',
      enableKeyRotation: true,
      // Only alarms pass through it; nothing to keep after the stack goes.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // EventBridge gets its key grant from the SnsTopic target; CloudWatch
    // alarm actions have no such helper.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsEncrypt',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    return new sns.Topic(this, 'AlarmTopic', {
      displayName: 'scram-rotator alarms',
      masterKey: key,
      enforceSSL: true,
    });
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
        throw new Error(`${this.node.path}: ${vpcOnly.join(', ')} only apply with vpc`);
      }
      return undefined;
    }
    const mode = props.secretsManagerEndpoint ?? 'create';
    const nat = props.natGatewayRoute ?? false;
    // Unset, both the function and the endpoint take the VPC's private subnets.
    const subnets = props.vpcSubnets;
    const selected = vpc.selectSubnets(subnets).subnets;
    if (mode === 'none' && !nat) {
      throw new Error(
        `${this.node.path}: no route to Secrets Manager. The function runs in the VPC's subnets and calls Secrets Manager at every rotation step; without an interface endpoint or a NAT gateway every call would time out. Set secretsManagerEndpoint to 'create' (the default) or 'existing' (the VPC has one with private DNS), or set natGatewayRoute: true if the subnets route to a NAT gateway.`,
      );
    }
    if (nat && mode !== 'create') {
      const isolated = new Set(vpc.isolatedSubnets.map((subnet) => subnet.subnetId));
      const cut = selected.filter((subnet) => isolated.has(subnet.subnetId));
      if (cut.length > 0) {
        throw new Error(
          `${this.node.path}: natGatewayRoute is set but subnets ${cut.map((s) => s.subnetId).join(', ')} are isolated (no route to a NAT gateway), so Secrets Manager would be unreachable from them. Choose private subnets with a NAT route, or set secretsManagerEndpoint to 'create'.`,
        );
      }
    }
    const port = props.databasePort ?? 5432;
    if (!Token.isUnresolved(port) && (!Number.isInteger(port) || port < 1 || port > 65535)) {
      throw new Error(`${this.node.path}: databasePort ${port} is not a TCP port`);
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
      throw new Error(
        `${this.node.path}: databasePeers is empty, so the function could not reach the database; leave it out for any address`,
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
