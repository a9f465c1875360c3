/**
 * The rotation function: its environment (checked with the function's own
 * parser), its log group, its size and concurrency, and the function
 * itself on its code (function-code.ts).
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Annotations, type Duration, Token } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { CONFIG_DEFAULTS, configFromEnv } from '../lambda/config.js';
import { RotatorConfigError } from './errors.js';
import {
  CA_BUNDLE_FILE,
  FUNCTION_BUNDLE_FILE,
  functionCode,
  OLDEST_NODE_MAJOR,
} from './function-code.js';
import type { RotatorNetwork } from './network.js';
import type { ScramRotatorProps } from './props.js';

const CA_BUNDLE_RUNTIME_PATH = `/var/task/${CA_BUNDLE_FILE}`;

/**
 * The service name the handler logs and publishes metrics under.
 * lambda/index.ts gives it to its Logger and Metrics itself, which wins over
 * POWERTOOLS_SERVICE_NAME (the variable name lambda/telemetry.ts reads), so
 * the variable is set to match and is not a prop.
 */
const SERVICE_NAME = 'scram-rotator';

/**
 * The function's reserved concurrency unless set. Measured on the local
 * stack (README, Reliability): 200 secrets rotated at once against
 * max_connections=100 took 6.7 s with no limit (filling the server, 413
 * retries of 53300) and 4.6 s with 10 at a time, never holding more than
 * 10 connections; 25 or 50 saved no more than half a second. 10 is also
 * the least AWS advises for rotation functions.
 */
export const DEFAULT_RESERVED_CONCURRENCY = 10;

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

/** The function's environment, checked with the function's own parser. */
export function functionEnvironment(props: ScramRotatorProps): Record<string, string> {
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
      props.caBundlePath === undefined ? undefined : caBundleSource(props.caBundlePath);
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

function caBundleSource(path: string): string {
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
export function warnIfTimeoutTooShort(
  scope: Construct,
  props: ScramRotatorProps,
  timeout: Duration,
): void {
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
    Annotations.of(scope).addWarningV2(
      'scram-rotator:timeout-budget',
      `testSecret may need ${worstCase} ms (${attempts} attempts of connect + statement timeouts, plus pauses) but the function times out after ${timeout.toMilliseconds()} ms; raise timeout or lower the login settings.`,
    );
  }
}

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

/** `nodejs<major>.x`, the name of a Node.js runtime of a fixed major version. */
const NODE_RUNTIME = /^nodejs(\d+)\.x$/;

/**
 * The newest Node.js runtime the installed aws-cdk-lib lists
 * (`lambda.Runtime.ALL`): the runtime's default. aws-cdk-lib adds a runtime
 * once Lambda has released it, and cdk-nag's AwsSolutions-L1 requires a
 * function to run on the newest of its family in that same list, so this
 * default keeps a consumer's synth clean on every aws-cdk-lib of the peer
 * range. `Runtime.NODEJS_LATEST` and `determineLatestNodeRuntime()` would
 * not: they move later than the list (both are nodejs24.x on aws-cdk-lib
 * 2.278.0, whose list ends at nodejs26.x).
 */
export function latestNodeRuntime(): lambda.Runtime {
  let latest: { runtime: lambda.Runtime; major: number } | undefined;
  for (const runtime of lambda.Runtime.ALL) {
    const major = Number(NODE_RUNTIME.exec(runtime.name)?.[1]);
    if (runtime.family !== lambda.RuntimeFamily.NODEJS || runtime.isVariable || !major) continue;
    if (latest === undefined || major > latest.major) latest = { runtime, major };
  }
  if (latest === undefined) {
    throw new RotatorConfigError(
      'runtime',
      'the installed aws-cdk-lib lists no Node.js runtime; give one, e.g. lambda.Runtime.NODEJS_24_X',
    );
  }
  return latest.runtime;
}

/** The runtime prop, or {@link latestNodeRuntime}, checked against the bundle's floor. */
function checkedRuntime(runtime: lambda.Runtime | undefined): lambda.Runtime {
  if (runtime === undefined) return latestNodeRuntime();
  const major = Number(NODE_RUNTIME.exec(runtime.name)?.[1]);
  if (runtime.family !== lambda.RuntimeFamily.NODEJS || !(major >= OLDEST_NODE_MAJOR)) {
    throw new RotatorConfigError(
      'runtime',
      `${runtime.name} cannot run the function, which is built for Node.js ${OLDEST_NODE_MAJOR} and later; give a Node.js runtime of a fixed version from nodejs${OLDEST_NODE_MAJOR}.x on, or leave it out for the newest`,
    );
  }
  return runtime;
}

/** The function's log group, kept {@link ScramRotatorProps.logRetention} long. */
export function createLogGroup(scope: Construct, props: ScramRotatorProps): logs.LogGroup {
  return new logs.LogGroup(scope, 'LogGroup', {
    retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
  });
}

/** What {@link createFunction} puts together. */
export interface RotationFunctionParts {
  readonly props: ScramRotatorProps;
  readonly role: iam.IRole;
  readonly logGroup: logs.ILogGroup;
  /** From {@link functionEnvironment}, with the network's additions. */
  readonly environment: Record<string, string>;
  readonly network: RotatorNetwork | undefined;
  readonly timeout: Duration;
}

/** The rotation function, on the prebuilt (or synth-time) bundle. */
export function createFunction(scope: Construct, parts: RotationFunctionParts): lambda.Function {
  const { props, role, logGroup, environment, network, timeout } = parts;
  const caBundle =
    props.caBundlePath === undefined ? undefined : caBundleSource(props.caBundlePath);
  return new lambda.Function(scope, 'Function', {
    description: 'scram-rotator: Secrets Manager rotation with client-side SCRAM-SHA-256',
    code: functionCode({ sourceMaps: props.sourceMaps ?? false, caBundleSource: caBundle }),
    handler: `${FUNCTION_BUNDLE_FILE.replace(/\.mjs$/, '')}.handler`,
    runtime: checkedRuntime(props.runtime),
    architecture: lambda.Architecture.ARM_64,
    memorySize: props.memorySize ?? 256,
    timeout,
    ...reservedConcurrency(props),
    role,
    logGroup,
    environment,
    ...(network
      ? {
          vpc: network.vpc,
          vpcSubnets: network.subnets,
          securityGroups: [...network.securityGroups],
        }
      : {}),
  });
}
