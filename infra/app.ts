/**
 * The CDK app: `npx cdk synth|deploy -c key=value ...`. Every setting is a
 * context value, so the app needs no code changes and no AWS lookups; with
 * none at all it synthesizes offline (an example secret stands in for
 * yours, see {@link ScramRotatorStack}).
 *
 * Context keys (`-c key=value`, or `"context"` in cdk.json):
 *
 * - `secretArn`: secrets to rotate, comma-separated, each a complete ARN or
 *   a name. Default: an example secret `<stackName>/example`.
 * - `adminSecretArn`: admin secrets (the `masterarn` of the rotated
 *   secrets) the function may read, comma-separated ARNs or names. Default: none.
 * - `kmsKeyArn`: customer managed key of those secrets. Default: aws/secretsmanager.
 * - `stackName`: the stack's name. Default `ScramRotator`.
 * - `schedule`: `rate(...)` or `cron(...)`, UTC. Default `rate(30 days)`.
 * - `rotationWindow`: window length, e.g. `3h`. Default: Secrets Manager's.
 * - `rotateImmediately`: rotate when the schedule is created or changed.
 *   Default `true` (`false` for the example secret).
 * - `rotationMode`: `auto`, `single-user`, `admin` or `alternating`. Default `auto`.
 * - `cloneSuffix`: alternating mode's clone is `<user><cloneSuffix>`. Default `_clone`.
 * - `scramIterations`: SCRAM iteration count. Default: the server's, else 4096.
 * - `allowIterationMismatch`: CockroachDB: allow a `scramIterations` other
 *   than the cluster's SCRAM cost. Default `false`.
 * - `maxScramIterations`: the highest iteration count stored or accepted.
 *   Default 100000.
 * - `allowAdminTargetMismatch`, `allowPrivilegedTarget`: see the construct's
 *   props of the same names. Default `false`.
 * - `passwordLength`, `excludeCharacters`, `excludeNumbers`,
 *   `excludePunctuation`, `excludeUppercase`, `excludeLowercase`,
 *   `requireEachIncludedType`: password policy. Default: 32 characters of
 *   every class, without space : / @ " ' \.
 * - `caBundlePath`: local PEM file bundled into the function. Default: none.
 * - `connectTimeoutMs`, `statementTimeoutMs`, `testLoginAttempts`,
 *   `testLoginDelayMs`: login limits. Defaults 5000, 5000, 4, 500.
 * - `transientRetryMs`: how long transient database failures are retried. Default 30000.
 * - `metricsNamespace`: CloudWatch namespace. Default `ScramRotator`.
 * - `memorySize` (MB), `timeoutSeconds`: function size. Defaults 256, 60.
 * - `reservedConcurrency`: the function's reserved concurrency, a whole number or `none`. Default 10.
 * - `logRetentionDays`: log retention, one of CloudWatch's values. Default 30.
 * - `sourceMaps`: ship the source map and `--enable-source-maps`. Default `false`.
 * - `alarmEmail`: e-mail subscribed to the alarm topic. Default: none.
 * - `vpcId`, `subnetIds`, `availabilityZones`: run in a VPC (subnets and
 *   their zones comma-separated, same order). Default: no VPC.
 * - `secretsManagerEndpoint`: `create`, `existing` or `none`. Default `create`.
 * - `natGatewayRoute`: the subnets reach the internet through NAT. Default `false`.
 * - `databasePort`: port the security group allows out. Default 5432.
 *
 * `subnetIds`, `availabilityZones`, `secretsManagerEndpoint`,
 * `natGatewayRoute` and `databasePort` need `vpcId`. A VPC with
 * `secretsManagerEndpoint=none` and no `natGatewayRoute` is refused: the
 * function could not reach Secrets Manager. An unknown camelCase key (a
 * typo such as `secretArm`) is refused, naming the key it resembles.
 *
 * The stack's account and region are those of the complete secret ARNs
 * (`secretArn`, `adminSecretArn`, `kmsKeyArn`), which must agree; with
 * names only, those the CDK CLI passes (CDK_DEFAULT_ACCOUNT and
 * CDK_DEFAULT_REGION: AWS_REGION, the profile's region, else us-east-1),
 * and the synth warns which region that is.
 *
 * Run as the app, a refusal prints one line (`scram-rotator: ...`) naming
 * the context key and the fix, and exits 1; SCRAM_ROTATOR_DEBUG=1 adds the
 * stack trace.
 *
 * @module
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, App, Duration, type Environment, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Node } from 'constructs';
import { ROTATION_MODES, type RotationMode } from '../lambda/config.js';
import { ContextError, RotatorConfigError } from './errors.js';
import { parseWindow, ScheduleError } from './schedule.js';
import type { SecretsManagerEndpoint } from './scram-rotator.js';
import { ScramRotatorStack, type ScramRotatorStackProps } from './stack.js';

/** The context keys the app reads, with what each means (for errors and docs). */
export const CONTEXT_KEYS = {
  secretArn: 'secrets to rotate: complete ARNs or names, comma-separated',
  adminSecretArn: 'admin secrets the function may read: complete ARNs or names, comma-separated',
  kmsKeyArn: 'customer managed KMS key of the secrets',
  stackName: 'stack name',
  schedule: 'rate(...) or cron(...) schedule, UTC',
  rotationWindow: 'rotation window length, e.g. 3h',
  rotateImmediately: 'rotate when the schedule is created or changed (true/false)',
  rotationMode: 'auto, single-user, admin or alternating',
  cloneSuffix: "alternating mode: the clone's name is <user><cloneSuffix>",
  scramIterations: 'SCRAM-SHA-256 iteration count',
  allowIterationMismatch:
    "CockroachDB: allow scramIterations other than the cluster's cost (true/false)",
  maxScramIterations: 'highest SCRAM-SHA-256 iteration count stored or accepted',
  allowAdminTargetMismatch:
    'let the admin secret name another host, port, database, options or CA (true/false)',
  allowPrivilegedTarget: 'let the rotated role be privileged (true/false)',
  passwordLength: 'password length',
  excludeCharacters: 'characters never used in passwords',
  excludeNumbers: 'no digits (true/false)',
  excludePunctuation: 'no punctuation (true/false)',
  excludeUppercase: 'no upper-case letters (true/false)',
  excludeLowercase: 'no lower-case letters (true/false)',
  requireEachIncludedType: 'one character of each included class (true/false)',
  caBundlePath: 'local PEM file of CA certificates',
  connectTimeoutMs: 'connect timeout, milliseconds',
  statementTimeoutMs: 'statement timeout, milliseconds',
  testLoginAttempts: 'testSecret login attempts',
  testLoginDelayMs: 'pause between testSecret attempts, milliseconds',
  transientRetryMs: 'how long transient database failures are retried, milliseconds (0: off)',
  metricsNamespace: 'CloudWatch metrics namespace',
  memorySize: 'function memory, MB',
  timeoutSeconds: 'function timeout, seconds',
  reservedConcurrency: "the function's reserved concurrency: a whole number, or none",
  logRetentionDays: 'log retention, days',
  sourceMaps: 'ship the source map and --enable-source-maps (true/false)',
  alarmEmail: 'e-mail address subscribed to alarms',
  vpcId: 'VPC id',
  subnetIds: 'subnet ids, comma-separated',
  availabilityZones: "the subnets' availability zones, comma-separated",
  secretsManagerEndpoint: 'create, existing or none',
  natGatewayRoute: 'the subnets route to a NAT gateway (true/false)',
  databasePort: 'database port',
} as const;

/** One of {@link CONTEXT_KEYS}. */
export type ContextKey = keyof typeof CONTEXT_KEYS;

const ENDPOINT_MODES: readonly SecretsManagerEndpoint[] = ['create', 'existing', 'none'];

const VPC_ONLY_KEYS = [
  'subnetIds',
  'availabilityZones',
  'secretsManagerEndpoint',
  'natGatewayRoute',
  'databasePort',
] as const satisfies readonly ContextKey[];

/**
 * Context keys that look like ours (plain camelCase) but are not: most
 * likely typos, which would otherwise fall back to a default unnoticed.
 * Feature flags and the CLI's own keys have `:`, `/`, `@` or `-` in them.
 */
export function unknownContextKeys(node: Node): string[] {
  return Object.keys(node.getAllContext())
    .filter((key) => /^[a-z][A-Za-z0-9]*$/.test(key) && !(key in CONTEXT_KEYS))
    .sort();
}

/** Reads typed context values; `-c` gives strings, cdk.json may give JSON values. */
class ContextReader {
  readonly #node: Node;

  constructor(node: Node) {
    this.#node = node;
  }

  string(key: ContextKey): string | undefined {
    const value: unknown = this.#node.tryGetContext(key);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw this.error(key, value, 'a single value');
    }
    const text = String(value);
    return key === 'excludeCharacters' ? text : text.trim() || undefined;
  }

  list(key: ContextKey): string[] | undefined {
    const value: unknown = this.#node.tryGetContext(key);
    if (Array.isArray(value)) return value.map(String).filter((item) => item.trim() !== '');
    const text = this.string(key);
    if (text === undefined) return undefined;
    return text
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }

  boolean(key: ContextKey): boolean | undefined {
    const text = this.string(key)?.toLowerCase();
    if (text === undefined) return undefined;
    if (text === 'true') return true;
    if (text === 'false') return false;
    throw this.error(key, text, 'true or false');
  }

  integer(key: ContextKey): number | undefined {
    const text = this.string(key);
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text)) throw this.error(key, text, 'a whole number');
    return Number(text);
  }

  oneOf<T extends string>(key: ContextKey, allowed: readonly T[]): T | undefined {
    const text = this.string(key);
    if (text === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(text)) {
      throw this.error(key, text, `one of ${allowed.join(', ')}`);
    }
    return text as T;
  }

  error(key: ContextKey, value: unknown, expected: string): ContextError {
    return new ContextError(
      key,
      `context ${key}=${JSON.stringify(value)}: expected ${expected} (${CONTEXT_KEYS[key]})`,
    );
  }
}

/** Drops undefined values, so the construct's defaults apply to what was not given. */
function defined<T extends object>(values: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

/**
 * Turns the app's context into the stack's properties.
 *
 * @throws an error naming the context key, for a value it cannot use
 */
export function stackPropsFromContext(node: Node): ScramRotatorStackProps & { stackName: string } {
  const context = new ContextReader(node);
  const retention = context.integer('logRetentionDays');
  if (retention !== undefined && !Object.values(logs.RetentionDays).includes(retention)) {
    throw context.error('logRetentionDays', retention, 'one of CloudWatch Logs retention values');
  }
  const window = context.string('rotationWindow');
  const vpcId = context.string('vpcId');
  const subnetIds = context.list('subnetIds');
  const availabilityZones = context.list('availabilityZones');
  if (!vpcId) {
    // Silently ignoring them would deploy outside the VPC the user meant.
    for (const key of VPC_ONLY_KEYS) {
      if (context.string(key) !== undefined || context.list(key) !== undefined) {
        throw context.error('vpcId', undefined, `a VPC id, since ${key} only applies in a VPC`);
      }
    }
  }
  const millis = (key: ContextKey) => {
    const value = context.integer(key);
    return value === undefined ? undefined : Duration.millis(value);
  };
  const timeoutSeconds = context.integer('timeoutSeconds');
  const passwordPolicy = defined({
    length: context.integer('passwordLength'),
    excludeCharacters: context.string('excludeCharacters'),
    excludeNumbers: context.boolean('excludeNumbers'),
    excludePunctuation: context.boolean('excludePunctuation'),
    excludeUppercase: context.boolean('excludeUppercase'),
    excludeLowercase: context.boolean('excludeLowercase'),
    requireEachIncludedType: context.boolean('requireEachIncludedType'),
  });
  const rotator = defined({
    schedule: context.string('schedule'),
    rotationWindow: window === undefined ? undefined : parseWindow(window),
    rotateImmediatelyOnUpdate: context.boolean('rotateImmediately'),
    rotationMode: context.oneOf<RotationMode>('rotationMode', ROTATION_MODES),
    cloneSuffix: context.string('cloneSuffix'),
    scramIterations: context.integer('scramIterations'),
    allowIterationMismatch: context.boolean('allowIterationMismatch'),
    maxScramIterations: context.integer('maxScramIterations'),
    allowAdminTargetMismatch: context.boolean('allowAdminTargetMismatch'),
    allowPrivilegedTarget: context.boolean('allowPrivilegedTarget'),
    passwordPolicy: Object.keys(passwordPolicy).length > 0 ? passwordPolicy : undefined,
    caBundlePath: context.string('caBundlePath'),
    connectTimeout: millis('connectTimeoutMs'),
    statementTimeout: millis('statementTimeoutMs'),
    testLoginAttempts: context.integer('testLoginAttempts'),
    testLoginDelay: millis('testLoginDelayMs'),
    transientRetry: millis('transientRetryMs'),
    metricsNamespace: context.string('metricsNamespace'),
    memorySize: context.integer('memorySize'),
    timeout: timeoutSeconds === undefined ? undefined : Duration.seconds(timeoutSeconds),
    reservedConcurrency:
      context.string('reservedConcurrency') === 'none'
        ? ('none' as const)
        : context.integer('reservedConcurrency'),
    logRetention: retention as logs.RetentionDays | undefined,
    sourceMaps: context.boolean('sourceMaps'),
    alarmEmail: context.string('alarmEmail'),
    secretsManagerEndpoint: context.oneOf<SecretsManagerEndpoint>(
      'secretsManagerEndpoint',
      ENDPOINT_MODES,
    ),
    natGatewayRoute: context.boolean('natGatewayRoute'),
    databasePort: context.integer('databasePort'),
  });
  return {
    stackName: context.string('stackName') ?? 'ScramRotator',
    ...defined({
      secrets: context.list('secretArn'),
      adminSecrets: context.list('adminSecretArn'),
      secretsKeyArn: context.string('kmsKeyArn'),
      vpc: vpcId
        ? { vpcId, subnetIds: subnetIds ?? [], availabilityZones: availabilityZones ?? [] }
        : undefined,
    }),
    rotator,
  };
}

/** Options of {@link createApp}. */
export interface CreateAppOptions {
  /**
   * Context values, as `-c` would give them.
   * @default - what the CDK CLI passes in the environment
   */
  readonly context?: Record<string, unknown>;
  /**
   * Where to write the cloud assembly.
   * @default - what the CDK CLI passes, else a temporary directory
   */
  readonly outdir?: string;
  /**
   * Account and region of the stack, as configured: a secret ARN of
   * another account or region is then refused.
   * @default - those of the complete secret ARNs, else CDK_DEFAULT_ACCOUNT
   *   and CDK_DEFAULT_REGION (what the CDK CLI resolved), else
   *   environment-agnostic
   */
  readonly env?: Environment;
}

/** Levenshtein distance, for "did you mean" on a misspelt key. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(
        above + 1,
        (row[j - 1] as number) + 1,
        diagonal + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

/** The known key closest to `key`, if it is close enough to be a typo. */
export function suggestContextKey(key: string): ContextKey | undefined {
  let best: { key: ContextKey; distance: number } | undefined;
  for (const known of Object.keys(CONTEXT_KEYS) as ContextKey[]) {
    const d = distance(key, known);
    if (best === undefined || d < best.distance) best = { key: known, distance: d };
  }
  return best !== undefined && best.distance <= Math.max(2, Math.floor(key.length / 4))
    ? best.key
    : undefined;
}

/**
 * Refuses unknown keys: falling back to a default (the example secret, for
 * a misspelt secretArn) would deploy something the user did not ask for.
 *
 * @throws ContextError naming each unknown key and what it may have meant
 */
function refuseUnknownContextKeys(node: Node): void {
  const unknown = unknownContextKeys(node);
  if (unknown.length === 0) return;
  const described = unknown.map((key) => {
    const near = suggestContextKey(key);
    return near === undefined ? key : `${key} (did you mean ${near}?)`;
  });
  throw new ContextError(
    unknown[0] as string,
    `context ${described.join(', ')}: not ${unknown.length === 1 ? 'a key' : 'keys'} this app reads, so nothing was synthesized. Fix the spelling; the keys are ${Object.keys(CONTEXT_KEYS).join(', ')}.`,
  );
}

/** `arn:<partition>:<service>:<region>:<account>:...` of a literal ARN. */
const ARN_ENVIRONMENT = /^arn:[a-z-]+:(secretsmanager|kms):([a-z0-9-]+):(\d{12}):/;

/**
 * The account and region the complete ARNs among the context's secrets and
 * key name, if any; they must all agree, since one stack lives in one.
 *
 * @throws ContextError when two of them disagree
 */
export function environmentOfArns(node: Node): { account?: string; region?: string } {
  const context = new ContextReader(node);
  let found: { key: ContextKey; arn: string; account: string; region: string } | undefined;
  for (const key of ['secretArn', 'adminSecretArn', 'kmsKeyArn'] as const) {
    for (const arn of context.list(key) ?? []) {
      const parts = ARN_ENVIRONMENT.exec(arn);
      if (!parts) continue;
      const [, , region, account] = parts as unknown as [string, string, string, string];
      if (found === undefined) {
        found = { key, arn, account, region };
        continue;
      }
      const what = found.region !== region ? 'region' : found.account !== account ? 'account' : '';
      if (what !== '') {
        throw new ContextError(
          key,
          `context ${key}: ${arn} is in ${what} ${what === 'region' ? region : account} but ${found.key} ${found.arn} is in ${what === 'region' ? found.region : found.account}; one stack deploys to one account and region. Give secrets (and their key) of one account and region, and deploy one stack per region (-c stackName=... to tell them apart).`,
        );
      }
    }
  }
  return found === undefined ? {} : { account: found.account, region: found.region };
}

/**
 * Builds the app: the stack from context, and cdk-nag's AwsSolutions checks,
 * so that any unacknowledged finding fails the synth.
 *
 * @throws ContextError or RotatorConfigError for a setting it refuses
 */
export function createApp(options: CreateAppOptions = {}): { app: App; stack: ScramRotatorStack } {
  const app = new App({
    ...(options.context ? { context: options.context } : {}),
    ...(options.outdir ? { outdir: options.outdir } : {}),
  });
  refuseUnknownContextKeys(app.node);
  // cdk-nag 3 is a policy validation plugin (the Aspects form of cdk-nag 2
  // no longer exists); acknowledgements go through Validations.of().
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const { stackName, ...props } = stackPropsFromContext(app.node);
  const fromArns = environmentOfArns(app.node);
  // A complete ARN says where the secret is, which is where the stack must
  // go; the CLI's default region is only a guess (us-east-1 when nothing is
  // configured). An env given explicitly is kept, and checked instead.
  const env = options.env ?? {
    account: fromArns.account ?? process.env.CDK_DEFAULT_ACCOUNT,
    region: fromArns.region ?? process.env.CDK_DEFAULT_REGION,
  };
  const stack = new ScramRotatorStack(app, stackName, { ...props, env });
  if (options.env === undefined && fromArns.region === undefined && props.secrets !== undefined) {
    Annotations.of(stack).addWarningV2(
      'scram-rotator:region-from-cli',
      `The secrets are given by name, so the stack deploys to ${env.region ?? "the CDK CLI's region"} (AWS_REGION, else the profile's region, else us-east-1). If they live elsewhere, run with AWS_REGION=<their region>, or give their complete ARNs.`,
    );
  }
  return { app, stack };
}

/** The context key behind a construct or stack setting, for the one-line refusal. */
const SETTING_KEYS: ReadonlyArray<readonly [RegExp, ContextKey]> = [
  [/^secrets\[\d+\]\.encryptionKey$|^adminSecrets\[\d+\]\.encryptionKey$/, 'kmsKeyArn'],
  [/^secrets(\[\d+\])?$/, 'secretArn'],
  [/^adminSecrets(\[\d+\])?$/, 'adminSecretArn'],
  [/^passwordPolicy\.length$/, 'passwordLength'],
  [/^passwordPolicy\.excludeCharacters$/, 'excludeCharacters'],
  [/^connectTimeout$/, 'connectTimeoutMs'],
  [/^statementTimeout$/, 'statementTimeoutMs'],
  [/^testLoginDelay$/, 'testLoginDelayMs'],
  [/^transientRetry$/, 'transientRetryMs'],
  [/^timeout$/, 'timeoutSeconds'],
  [/^vpc\.subnetIds$/, 'subnetIds'],
  [/^vpc\.availabilityZones$/, 'availabilityZones'],
];

/**
 * The one line a refusal prints: the message (which names the setting and
 * the fix) and, for a construct setting, the context key that sets it.
 */
export function refusalLine(error: unknown): string {
  if (error instanceof ContextError) return `scram-rotator: ${error.message}`;
  if (error instanceof RotatorConfigError) {
    const key =
      SETTING_KEYS.find(([pattern]) => pattern.test(error.setting))?.[1] ??
      (error.setting in CONTEXT_KEYS ? error.setting : undefined);
    return `scram-rotator: ${error.message}${key === undefined ? '' : ` (context key ${key})`}`;
  }
  if (error instanceof ScheduleError) {
    return `scram-rotator: ${error.message} (context keys schedule, rotationWindow)`;
  }
  const e = error instanceof Error ? error : new Error(String(error));
  return `scram-rotator: ${e.name}: ${e.message.split('\n')[0]} (SCRAM_ROTATOR_DEBUG=1 prints the stack trace)`;
}

// Synthesize only when run as the app (cdk.json), not when a test imports it.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    createApp().app.synth();
  } catch (error) {
    if (process.env.SCRAM_ROTATOR_DEBUG === '1') throw error;
    // One line the CDK CLI shows as it is, instead of Node's stack trace.
    process.stderr.write(`${refusalLine(error)}\n`);
    process.exitCode = 1;
  }
}
