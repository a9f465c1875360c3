/**
 * The construct's properties: what a user sets, with the defaults each
 * concern's file applies.
 *
 * @module
 */
import type { Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { RotationMode } from '../lambda/config.js';

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
   * own `ca` key still wins. Either narrows trust to itself.
   * @default - the secret's `ca` key, else Node's bundled public roots plus
   *   the Lambda runtime's Amazon CA bundle (`/var/runtime/ca-cert.pem`,
   *   which holds the RDS certificate authorities)
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
   * The function's Lambda runtime: Node.js 20 or later (the bundle is built
   * for Node.js 20, so it runs on each of them). Pin it to keep the runtime
   * from moving when aws-cdk-lib adds one.
   * @default - the newest Node.js runtime the installed aws-cdk-lib lists
   *   (`lambda.Runtime.ALL`), which is the one cdk-nag's AwsSolutions-L1
   *   expects: nodejs24.x on aws-cdk-lib 2.276, nodejs26.x on 2.278
   */
  readonly runtime?: lambda.Runtime;
  /**
   * Put a resource policy on each rotated secret and admin secret that
   * denies `secretsmanager:DeleteSecret` to the account's principals, as
   * AWS's `HostedRotation` and `SecretRotation` do. Only secrets defined in
   * the CDK app get it; an imported secret's resource policy belongs to
   * where it is defined (an info annotation names them).
   * @default true
   */
  readonly denySecretDeletion?: boolean;
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
   * The function's security groups, instead of one made here. The
   * construct adds its egress rules to them (the database port to
   * `databasePeers`, HTTPS to Secrets Manager); a group that allows all
   * outbound traffic needs none. Only with `vpc`.
   * @default - a new group that allows out only the database port and
   *   HTTPS to Secrets Manager
   */
  readonly securityGroups?: readonly ec2.ISecurityGroup[];
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
   * Where the database is, for the security group's egress rule. Only with
   * `vpc`. `db.connections.allowDefaultPortFrom(rotator)` adds a rule to the
   * database's own security group besides.
   * @default - any IPv4 address
   */
  readonly databasePeers?: readonly ec2.IPeer[];
}
