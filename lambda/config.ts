import { readFileSync } from 'node:fs';
import { type PasswordPolicy, passwordPolicyFromEnv, readBoolean } from './core/password.js';
import { SCRAM_ITERATIONS } from './core/scram.js';
import { ConfigurationError } from './errors.js';

/**
 * How the password is changed:
 * - `single-user`: the user logs in with its own current password and
 *   changes it;
 * - `admin`: the admin secret named by the secret's `masterarn` logs in and
 *   changes the user's password (its own secret is read, never changed);
 * - `alternating`: the admin secret named by `masterarn` changes the
 *   password of whichever of the user and its clone AWSCURRENT does not
 *   name, and the secret alternates between the two;
 * - `auto`: `admin` when the secret has `masterarn`, else `single-user`.
 */
export const ROTATION_MODES = ['auto', 'single-user', 'admin', 'alternating'] as const;

/** One of {@link ROTATION_MODES}. */
export type RotationMode = (typeof ROTATION_MODES)[number];

/** The function's configuration, read once from the environment. */
export interface RotationConfig {
  /** Password generation policy (AWS template variable names). */
  readonly passwordPolicy: PasswordPolicy;
  /**
   * SCRAM iteration count; `undefined` means: use the server's own setting
   * where it can be read (PostgreSQL 16+ `scram_iterations`), else 4096.
   */
  readonly scramIterations: number | undefined;
  /**
   * CockroachDB: accept a `scramIterations` other than the cluster's
   * `server.user_login.password_hashes.default_cost.scram_sha_256`. Off by
   * default because CockroachDB may then ask the next login for a cleartext
   * password to re-hash it.
   */
  readonly allowIterationMismatch: boolean;
  /**
   * The highest SCRAM iteration count the function computes, stores or
   * accepts at a login (`SCRAM_MAX_ITERATIONS`). A server count above it is
   * refused before anything changes: its verifier would lock the
   * application out if the test login refused it, or PBKDF2 could outlast
   * the function.
   */
  readonly maxScramIterations: number;
  /** See {@link ROTATION_MODES}. */
  readonly mode: RotationMode;
  /**
   * Alternating mode: the clone of `<user>` is `<user><cloneSuffix>`
   * (`CLONE_SUFFIX`, lower-case letters, digits and `_`, so that
   * CockroachDB keeps the name as written).
   */
  readonly cloneSuffix: string;
  /**
   * Let the admin secret name another host, port, database, options or CA
   * than AWSCURRENT (`ALLOW_ADMIN_TARGET_MISMATCH`). Off: the admin's
   * credentials are used only on the server AWSCURRENT names.
   */
  readonly allowAdminTargetMismatch: boolean;
  /**
   * Let the rotated role be privileged: SUPERUSER, CREATEROLE, BYPASSRLS,
   * REPLICATION, or a member of such a role (CockroachDB: `admin`)
   * (`ALLOW_PRIVILEGED_TARGET`). Off: such a role is refused.
   */
  readonly allowPrivilegedTarget: boolean;
  /**
   * PEM bundle from `CA_BUNDLE_PATH`, used when the secret has no `ca` key.
   * It narrows trust to itself: neither the runtime bundle nor Node's roots
   * are added to it.
   */
  readonly caBundle: string | undefined;
  /**
   * Where the Lambda runtime keeps Amazon's CA certificates, the RDS ones
   * included (`RUNTIME_CA_BUNDLE_PATH`, default `/var/runtime/ca-cert.pem`).
   */
  readonly runtimeCaBundlePath: string;
  /**
   * That file's PEM, read once when the configuration is read (a cold
   * start), or `undefined` where the file does not exist (off Lambda).
   * Trusted in addition to Node's bundled roots when neither the secret's
   * `ca` nor `CA_BUNDLE_PATH` says which CAs to trust.
   */
  readonly runtimeCaBundle: string | undefined;
  /** Per-connection time allowed to connect and authenticate. */
  readonly connectTimeoutMs: number;
  /** Per-statement time allowed. */
  readonly statementTimeoutMs: number;
  /** testSecret: how many login attempts before failing. */
  readonly testLoginAttempts: number;
  /** testSecret: pause between attempts. */
  readonly testLoginDelayMs: number;
  /**
   * How long a step that logs in keeps retrying transient database failures
   * (a server at capacity, restarting or recovering, a concurrent update, a
   * dropped connection), with jittered backoff; never past the Lambda's
   * remaining time. 0 turns the retries off.
   */
  readonly transientRetryMs: number;
}

/** Environment variables this function reads, with their defaults, for docs and checks. */
export const CONFIG_DEFAULTS = {
  ROTATION_MODE: 'auto',
  CLONE_SUFFIX: '_clone',
  SCRAM_ITERATIONS: undefined,
  SCRAM_ITERATIONS_ALLOW_MISMATCH: false,
  /**
   * node-postgres' own client limit, 24x PostgreSQL's default and 9x
   * CockroachDB's: one PBKDF2 at this count takes about 20 ms on a full core
   * and about 150 ms on a 256 MB Lambda (a seventh of a vCPU), and a
   * rotation runs three or four of them.
   */
  SCRAM_MAX_ITERATIONS: 100_000,
  ALLOW_ADMIN_TARGET_MISMATCH: false,
  ALLOW_PRIVILEGED_TARGET: false,
  CA_BUNDLE_PATH: undefined,
  /**
   * The Node.js 20+ Lambda runtimes hold Amazon's CA certificates (RDS and
   * Aurora included) here and no longer load them by default (AWS's Lambda
   * Node.js guide).
   */
  RUNTIME_CA_BUNDLE_PATH: '/var/runtime/ca-cert.pem',
  CONNECT_TIMEOUT_MS: 5_000,
  STATEMENT_TIMEOUT_MS: 5_000,
  TEST_LOGIN_ATTEMPTS: 4,
  TEST_LOGIN_DELAY_MS: 500,
  /**
   * Long enough for a PostgreSQL restart or crash recovery (seconds) and a
   * burst of rotations at max_connections; half the construct's default
   * 60 s timeout, leaving the other half to the step itself.
   */
  TRANSIENT_RETRY_MS: 30_000,
} as const;

function integer(
  env: Readonly<Record<string, string | undefined>>,
  name: keyof typeof CONFIG_DEFAULTS,
  fallback: number,
  range: { min: number; max: number },
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  // Digits only: Number() would also take '0x1000', '1e4', '+4096' or '4096.0'.
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new ConfigurationError(name, `an integer from ${range.min} to ${range.max}`);
  }
  return value;
}

/**
 * Reads a PEM file of CA certificates. A file that exists but cannot be read
 * or holds no certificate is an error either way: trusting fewer CAs than
 * the operator meant would fail every login with a TLS error that hides why.
 *
 * @param presence - `where-present`: a missing file (ENOENT) gives `undefined`
 */
function readPemFile(
  name: 'CA_BUNDLE_PATH' | 'RUNTIME_CA_BUNDLE_PATH',
  path: string,
  presence: 'required' | 'where-present',
): string | undefined {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    if (presence === 'where-present' && (error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw new ConfigurationError(name, 'the path of a readable PEM file', { cause: error });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigurationError(name, 'a PEM file with at least one certificate');
  }
  return pem;
}

/**
 * Reads and checks the configuration. Throws {@link ConfigurationError}
 * naming the variable and what it accepts.
 *
 * @example
 * ```ts
 * const config = configFromEnv(process.env);
 * ```
 */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): RotationConfig {
  const mode = (env.ROTATION_MODE?.trim() || CONFIG_DEFAULTS.ROTATION_MODE) as RotationMode;
  if (!ROTATION_MODES.includes(mode)) {
    throw new ConfigurationError('ROTATION_MODE', `one of ${ROTATION_MODES.join(', ')}`);
  }
  const cloneSuffix = env.CLONE_SUFFIX?.trim() || CONFIG_DEFAULTS.CLONE_SUFFIX;
  if (!/^[a-z0-9_]{1,32}$/.test(cloneSuffix)) {
    throw new ConfigurationError(
      'CLONE_SUFFIX',
      '1 to 32 lower-case letters, digits or underscores (CockroachDB folds other names)',
    );
  }
  const iterationsRaw = env.SCRAM_ITERATIONS?.trim();
  const scramIterations =
    iterationsRaw === undefined || iterationsRaw === ''
      ? undefined
      : // PostgreSQL holds the count in a C int and Node's PBKDF2 takes a 32-bit
        // count, so the core's bounds apply here too, and fail at configuration
        // time rather than mid-rotation.
        integer(env, 'SCRAM_ITERATIONS', 4096, {
          min: SCRAM_ITERATIONS.min,
          max: SCRAM_ITERATIONS.max,
        });
  const maxScramIterations = integer(
    env,
    'SCRAM_MAX_ITERATIONS',
    CONFIG_DEFAULTS.SCRAM_MAX_ITERATIONS,
    { min: SCRAM_ITERATIONS.min, max: SCRAM_ITERATIONS.max },
  );
  if (scramIterations !== undefined && scramIterations > maxScramIterations) {
    throw new ConfigurationError(
      'SCRAM_ITERATIONS',
      `at most SCRAM_MAX_ITERATIONS (${maxScramIterations}); lower it, or raise SCRAM_MAX_ITERATIONS`,
    );
  }
  const caPath = env.CA_BUNDLE_PATH?.trim();
  const caBundle = caPath ? readPemFile('CA_BUNDLE_PATH', caPath, 'required') : undefined;
  const runtimeCaBundlePath =
    env.RUNTIME_CA_BUNDLE_PATH?.trim() || CONFIG_DEFAULTS.RUNTIME_CA_BUNDLE_PATH;
  // Off Lambda the default file does not exist, and that is no error; a
  // path set by hand must exist.
  const runtimeCaBundle = readPemFile(
    'RUNTIME_CA_BUNDLE_PATH',
    runtimeCaBundlePath,
    env.RUNTIME_CA_BUNDLE_PATH?.trim() ? 'required' : 'where-present',
  );
  return {
    passwordPolicy: passwordPolicyFromEnv(env),
    scramIterations,
    allowIterationMismatch: readBoolean(
      env,
      'SCRAM_ITERATIONS_ALLOW_MISMATCH',
      CONFIG_DEFAULTS.SCRAM_ITERATIONS_ALLOW_MISMATCH,
    ),
    maxScramIterations,
    mode,
    cloneSuffix,
    allowAdminTargetMismatch: readBoolean(
      env,
      'ALLOW_ADMIN_TARGET_MISMATCH',
      CONFIG_DEFAULTS.ALLOW_ADMIN_TARGET_MISMATCH,
    ),
    allowPrivilegedTarget: readBoolean(
      env,
      'ALLOW_PRIVILEGED_TARGET',
      CONFIG_DEFAULTS.ALLOW_PRIVILEGED_TARGET,
    ),
    caBundle,
    runtimeCaBundlePath,
    runtimeCaBundle,
    connectTimeoutMs: integer(env, 'CONNECT_TIMEOUT_MS', CONFIG_DEFAULTS.CONNECT_TIMEOUT_MS, {
      min: 100,
      max: 60_000,
    }),
    statementTimeoutMs: integer(env, 'STATEMENT_TIMEOUT_MS', CONFIG_DEFAULTS.STATEMENT_TIMEOUT_MS, {
      min: 100,
      max: 60_000,
    }),
    testLoginAttempts: integer(env, 'TEST_LOGIN_ATTEMPTS', CONFIG_DEFAULTS.TEST_LOGIN_ATTEMPTS, {
      min: 1,
      max: 10,
    }),
    testLoginDelayMs: integer(env, 'TEST_LOGIN_DELAY_MS', CONFIG_DEFAULTS.TEST_LOGIN_DELAY_MS, {
      min: 0,
      max: 5_000,
    }),
    transientRetryMs: integer(env, 'TRANSIENT_RETRY_MS', CONFIG_DEFAULTS.TRANSIENT_RETRY_MS, {
      min: 0,
      max: 900_000,
    }),
  };
}
