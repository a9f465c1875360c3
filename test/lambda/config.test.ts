import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, configFromEnv, ROTATION_MODES } from '../../lambda/config.js';
import { DEFAULT_PASSWORD_POLICY, passwordPolicyFromEnv } from '../../lambda/core/password.js';
import { ConfigurationError } from '../../lambda/errors.js';

type Env = Record<string, string | undefined>;

const PEM = [
  '-----BEGIN CERTIFICATE-----',
  'MIIBszCCAVmgAwIBAgIUQm9ndXMgY2VydGlmaWNhdGUgZm9yIHRlc3RzMAoGCCqG',
  '-----END CERTIFICATE-----',
  '',
].join('\n');

const dir = mkdtempSync(join(tmpdir(), 'scram-rotator-config-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `content` to a fresh file in the test's temporary directory. */
function tempFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** The ConfigurationError configFromEnv throws for `env`; fails the test if it throws none. */
function configurationErrorOf(env: Env): ConfigurationError {
  try {
    configFromEnv(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  return expect.fail('expected a ConfigurationError');
}

/** Every message in an error's cause chain, to check that none holds a value. */
function messagesOf(error: unknown): string {
  const messages: string[] = [];
  for (let current = error, depth = 0; current && depth < 10; depth++) {
    const err = current as { message?: unknown; stack?: unknown; cause?: unknown };
    messages.push(String(err.message ?? current), String(err.stack ?? ''));
    current = err.cause;
  }
  return messages.join('\n');
}

describe('configFromEnv', () => {
  it('uses the documented default for every field when nothing is set', () => {
    expect(configFromEnv({})).toEqual({
      passwordPolicy: DEFAULT_PASSWORD_POLICY,
      scramIterations: undefined,
      allowIterationMismatch: false,
      maxScramIterations: 100_000,
      mode: 'auto',
      cloneSuffix: '_clone',
      allowAdminTargetMismatch: false,
      allowPrivilegedTarget: false,
      caBundle: undefined,
      runtimeCaBundlePath: '/var/runtime/ca-cert.pem',
      // Read where it exists: on a Lambda, not here.
      runtimeCaBundle: existsSync('/var/runtime/ca-cert.pem') ? expect.any(String) : undefined,
      connectTimeoutMs: 5_000,
      statementTimeoutMs: 5_000,
      testLoginAttempts: 4,
      testLoginDelayMs: 500,
      transientRetryMs: 30_000,
    });
  });

  it('agrees with CONFIG_DEFAULTS', () => {
    const config = configFromEnv({});
    expect({
      ROTATION_MODE: config.mode,
      CLONE_SUFFIX: config.cloneSuffix,
      SCRAM_ITERATIONS: config.scramIterations,
      SCRAM_ITERATIONS_ALLOW_MISMATCH: config.allowIterationMismatch,
      SCRAM_MAX_ITERATIONS: config.maxScramIterations,
      ALLOW_ADMIN_TARGET_MISMATCH: config.allowAdminTargetMismatch,
      ALLOW_PRIVILEGED_TARGET: config.allowPrivilegedTarget,
      CA_BUNDLE_PATH: config.caBundle,
      RUNTIME_CA_BUNDLE_PATH: config.runtimeCaBundlePath,
      CONNECT_TIMEOUT_MS: config.connectTimeoutMs,
      STATEMENT_TIMEOUT_MS: config.statementTimeoutMs,
      TEST_LOGIN_ATTEMPTS: config.testLoginAttempts,
      TEST_LOGIN_DELAY_MS: config.testLoginDelayMs,
      TRANSIENT_RETRY_MS: config.transientRetryMs,
    }).toEqual(CONFIG_DEFAULTS);
  });

  it('treats empty and blank variables as unset', () => {
    const blank = Object.fromEntries(Object.keys(CONFIG_DEFAULTS).map((name) => [name, '  ']));
    expect(configFromEnv(blank)).toEqual(configFromEnv({}));
    const empty = Object.fromEntries(Object.keys(CONFIG_DEFAULTS).map((name) => [name, '']));
    expect(configFromEnv(empty)).toEqual(configFromEnv({}));
  });

  it('ignores variables it does not read', () => {
    expect(configFromEnv({ AWS_REGION: 'eu-west-1', SOMETHING_ELSE: 'x' })).toEqual(
      configFromEnv({}),
    );
  });
});

describe('SCRAM_ITERATIONS_ALLOW_MISMATCH', () => {
  it('is off unless set to true', () => {
    expect(configFromEnv({}).allowIterationMismatch).toBe(false);
    expect(configFromEnv({ SCRAM_ITERATIONS_ALLOW_MISMATCH: 'TRUE' }).allowIterationMismatch).toBe(
      true,
    );
    expect(configFromEnv({ SCRAM_ITERATIONS_ALLOW_MISMATCH: 'false' }).allowIterationMismatch).toBe(
      false,
    );
  });

  it('refuses anything but true or false', () => {
    expect(() => configFromEnv({ SCRAM_ITERATIONS_ALLOW_MISMATCH: 'yes' })).toThrow(
      'Invalid configuration: SCRAM_ITERATIONS_ALLOW_MISMATCH must be true or false',
    );
  });
});

describe('ROTATION_MODE', () => {
  it.each(ROTATION_MODES)('accepts %s', (mode) => {
    expect(configFromEnv({ ROTATION_MODE: mode }).mode).toBe(mode);
  });

  it('trims surrounding spaces', () => {
    expect(configFromEnv({ ROTATION_MODE: ' admin\n' }).mode).toBe('admin');
  });

  it.each(['bogus', 'Admin', 'single_user', 'single user'])(
    'refuses %j, naming the variable and the modes it accepts',
    (value) => {
      const error = configurationErrorOf({ ROTATION_MODE: value });
      expect(error.variable).toBe('ROTATION_MODE');
      expect(error.message).toBe(
        'Invalid configuration: ROTATION_MODE must be one of auto, single-user, admin, alternating',
      );
    },
  );
});

describe('CLONE_SUFFIX', () => {
  it('is _clone unless set', () => {
    expect(configFromEnv({}).cloneSuffix).toBe('_clone');
    expect(configFromEnv({ CLONE_SUFFIX: '_b' }).cloneSuffix).toBe('_b');
  });

  it.each(['_Clone', '-clone', '_clone!', 'x'.repeat(33), '_clöne'])(
    'refuses %j, a suffix CockroachDB would fold or PostgreSQL would need quoted',
    (value) => {
      const error = configurationErrorOf({ CLONE_SUFFIX: value });
      expect(error.variable).toBe('CLONE_SUFFIX');
      expect(error.message).toMatch(
        /^Invalid configuration: CLONE_SUFFIX must be 1 to 32 lower-case/,
      );
    },
  );
});

describe('SCRAM_ITERATIONS', () => {
  it('leaves the count to the server when unset', () => {
    expect(configFromEnv({}).scramIterations).toBeUndefined();
  });

  it.each([
    ['4096', 4096],
    ['10610', 10610],
    [' 600000 ', 600_000],
    ['2147483647', 2_147_483_647],
  ])('accepts %j when SCRAM_MAX_ITERATIONS allows it', (value, expected) => {
    expect(
      configFromEnv({ SCRAM_ITERATIONS: value, SCRAM_MAX_ITERATIONS: '2147483647' })
        .scramIterations,
    ).toBe(expected);
  });

  it('refuses a count above SCRAM_MAX_ITERATIONS, naming both', () => {
    const error = configurationErrorOf({ SCRAM_ITERATIONS: '100001' });
    expect(error.variable).toBe('SCRAM_ITERATIONS');
    expect(error.message).toBe(
      'Invalid configuration: SCRAM_ITERATIONS must be at most SCRAM_MAX_ITERATIONS (100000); lower it, or raise SCRAM_MAX_ITERATIONS',
    );
    expect(
      configFromEnv({ SCRAM_ITERATIONS: '100000', SCRAM_MAX_ITERATIONS: '' }).scramIterations,
    ).toBe(100_000);
  });

  it.each([
    ['below 4096', '4095'],
    ['zero', '0'],
    ['negative', '-4096'],
    ['above 2147483647', '2147483648'],
    ['far above the maximum', '99999999999999999999'],
    ['a fraction', '4096.5'],
    ['not a number', 'many'],
    ['a number with a unit', '4096 iterations'],
    ['hexadecimal', '0x1000'],
    ['in exponent notation', '1e4'],
    ['with a plus sign', '+4096'],
    ['with a decimal point', '4096.0'],
    ['Infinity', 'Infinity'],
  ])('refuses a count %s', (_, value) => {
    const error = configurationErrorOf({ SCRAM_ITERATIONS: value });
    expect(error.variable).toBe('SCRAM_ITERATIONS');
    expect(error.message).toBe(
      'Invalid configuration: SCRAM_ITERATIONS must be an integer from 4096 to 2147483647',
    );
  });
});

describe('SCRAM_MAX_ITERATIONS', () => {
  it("is 100000 by default, node-postgres' own client limit", () => {
    expect(configFromEnv({}).maxScramIterations).toBe(100_000);
  });

  it.each([
    ['4096', 4096],
    [' 240000 ', 240_000],
    ['2147483647', 2_147_483_647],
  ])('accepts %j', (value, expected) => {
    expect(configFromEnv({ SCRAM_MAX_ITERATIONS: value }).maxScramIterations).toBe(expected);
  });

  it.each(['4095', '2147483648', '1e5', 'lots'])('refuses %j, naming the range', (value) => {
    const error = configurationErrorOf({ SCRAM_MAX_ITERATIONS: value });
    expect(error.message).toBe(
      'Invalid configuration: SCRAM_MAX_ITERATIONS must be an integer from 4096 to 2147483647',
    );
  });
});

describe.each([
  ['ALLOW_ADMIN_TARGET_MISMATCH', 'allowAdminTargetMismatch'],
  ['ALLOW_PRIVILEGED_TARGET', 'allowPrivilegedTarget'],
] as const)('%s', (name, field) => {
  it('is off unless set to true', () => {
    expect(configFromEnv({})[field]).toBe(false);
    expect(configFromEnv({ [name]: 'false' })[field]).toBe(false);
    expect(configFromEnv({ [name]: 'TRUE' })[field]).toBe(true);
  });

  it('refuses anything but true or false', () => {
    expect(configurationErrorOf({ [name]: 'yes' }).message).toBe(
      `Invalid configuration: ${name} must be true or false`,
    );
  });
});

describe('the timeouts and testSecret retries', () => {
  const variables = [
    { name: 'CONNECT_TIMEOUT_MS', field: 'connectTimeoutMs', min: 100, max: 60_000 },
    { name: 'STATEMENT_TIMEOUT_MS', field: 'statementTimeoutMs', min: 100, max: 60_000 },
    { name: 'TEST_LOGIN_ATTEMPTS', field: 'testLoginAttempts', min: 1, max: 10 },
    { name: 'TEST_LOGIN_DELAY_MS', field: 'testLoginDelayMs', min: 0, max: 5_000 },
    { name: 'TRANSIENT_RETRY_MS', field: 'transientRetryMs', min: 0, max: 900_000 },
  ] as const;

  describe.each(variables)('$name', ({ name, field, min, max }) => {
    it(`accepts ${min} and ${max}, the ends of its range`, () => {
      expect(configFromEnv({ [name]: String(min) })[field]).toBe(min);
      expect(configFromEnv({ [name]: String(max) })[field]).toBe(max);
    });

    it('trims surrounding spaces', () => {
      expect(configFromEnv({ [name]: ` ${max} ` })[field]).toBe(max);
    });

    it.each([
      ['just below its range', String(min - 1)],
      ['just above its range', String(max + 1)],
      ['a fraction', `${min}.5`],
      ['not a number', 'soon'],
      ['hexadecimal', `0x${max.toString(16)}`],
      ['in exponent notation', '1e1'],
    ])('refuses a value %s, naming the variable and its range', (_, value) => {
      const error = configurationErrorOf({ [name]: value });
      expect(error.variable).toBe(name);
      expect(error.message).toBe(
        `Invalid configuration: ${name} must be an integer from ${min} to ${max}`,
      );
    });
  });
});

describe('RUNTIME_CA_BUNDLE_PATH', () => {
  it('reads the bundle of the file it names, keeping the path for doctor', () => {
    const path = tempFile('runtime.pem', PEM);
    const config = configFromEnv({ RUNTIME_CA_BUNDLE_PATH: path });
    expect(config.runtimeCaBundle).toBe(PEM);
    expect(config.runtimeCaBundlePath).toBe(path);
    expect(config.caBundle).toBeUndefined();
  });

  it('reads the file when the configuration is read, not at each login', () => {
    const path = tempFile('read-once.pem', PEM);
    const config = configFromEnv({ RUNTIME_CA_BUNDLE_PATH: path });
    rmSync(path);
    expect(config.runtimeCaBundle).toBe(PEM);
  });

  it('refuses a path set by hand that does not exist, naming the variable', () => {
    const error = configurationErrorOf({ RUNTIME_CA_BUNDLE_PATH: join(dir, 'absent.pem') });
    expect(error.variable).toBe('RUNTIME_CA_BUNDLE_PATH');
    expect(error.cause).toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a file with no certificate, and a directory', () => {
    const empty = tempFile('runtime-empty.pem', 'not a certificate\n');
    expect(configurationErrorOf({ RUNTIME_CA_BUNDLE_PATH: empty }).message).toBe(
      'Invalid configuration: RUNTIME_CA_BUNDLE_PATH must be a PEM file with at least one certificate',
    );
    expect(configurationErrorOf({ RUNTIME_CA_BUNDLE_PATH: dir }).variable).toBe(
      'RUNTIME_CA_BUNDLE_PATH',
    );
  });

  it('reads both bundles when CA_BUNDLE_PATH is set too (the trust store then is CA_BUNDLE_PATH alone)', () => {
    const runtime = tempFile('runtime-both.pem', PEM);
    const bundle = tempFile('bundle-both.pem', PEM + PEM);
    const config = configFromEnv({ RUNTIME_CA_BUNDLE_PATH: runtime, CA_BUNDLE_PATH: bundle });
    expect(config).toMatchObject({ caBundle: PEM + PEM, runtimeCaBundle: PEM });
  });
});

describe('CA_BUNDLE_PATH', () => {
  it('reads the PEM bundle from the file it names', () => {
    const path = tempFile('bundle.pem', PEM + PEM);
    expect(configFromEnv({ CA_BUNDLE_PATH: path }).caBundle).toBe(PEM + PEM);
  });

  it('trims spaces around the path', () => {
    const path = tempFile('spaced.pem', PEM);
    expect(configFromEnv({ CA_BUNDLE_PATH: `  ${path}\n` }).caBundle).toBe(PEM);
  });

  it('refuses a file that does not exist, naming the variable, with the read error as cause', () => {
    const path = join(dir, 'missing.pem');
    const error = configurationErrorOf({ CA_BUNDLE_PATH: path });
    expect(error.variable).toBe('CA_BUNDLE_PATH');
    expect(error.message).toBe(
      'Invalid configuration: CA_BUNDLE_PATH must be the path of a readable PEM file',
    );
    expect(error.cause).toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a directory', () => {
    const error = configurationErrorOf({ CA_BUNDLE_PATH: dir });
    expect(error.message).toBe(
      'Invalid configuration: CA_BUNDLE_PATH must be the path of a readable PEM file',
    );
  });

  it('refuses a file without a certificate, without quoting what the file holds', () => {
    const content = 'password=hunter2-not-a-certificate\n';
    const path = tempFile('not-a-cert.pem', content);
    const error = configurationErrorOf({ CA_BUNDLE_PATH: path });
    expect(error.variable).toBe('CA_BUNDLE_PATH');
    expect(error.message).toBe(
      'Invalid configuration: CA_BUNDLE_PATH must be a PEM file with at least one certificate',
    );
    expect(messagesOf(error)).not.toContain('hunter2');
  });

  it('refuses an empty file', () => {
    const error = configurationErrorOf({ CA_BUNDLE_PATH: tempFile('empty.pem', '') });
    expect(error.message).toMatch(/^Invalid configuration: CA_BUNDLE_PATH must be a PEM file/);
  });
});

describe('the password policy variables', () => {
  it('pass through to the password policy', () => {
    const env = {
      PASSWORD_LENGTH: '40',
      EXCLUDE_CHARACTERS: 'abc',
      EXCLUDE_NUMBERS: 'true',
      EXCLUDE_PUNCTUATION: 'true',
      EXCLUDE_UPPERCASE: 'false',
      EXCLUDE_LOWERCASE: 'false',
      REQUIRE_EACH_INCLUDED_TYPE: 'false',
    };
    const config = configFromEnv(env);
    expect(config.passwordPolicy).toEqual({
      length: 40,
      excludeCharacters: 'abc',
      excludeNumbers: true,
      excludePunctuation: true,
      excludeUppercase: false,
      excludeLowercase: false,
      requireEachIncludedType: false,
    });
    expect(config.passwordPolicy).toEqual(passwordPolicyFromEnv(env));
  });

  it('do not change the other fields', () => {
    const { passwordPolicy: _, ...rest } = configFromEnv({ PASSWORD_LENGTH: '64' });
    const { passwordPolicy: __, ...defaults } = configFromEnv({});
    expect(rest).toEqual(defaults);
  });

  it.each([
    ['PASSWORD_LENGTH', { PASSWORD_LENGTH: '7' }, 'PASSWORD_LENGTH must be an integer from 8'],
    [
      'PASSWORD_LENGTH, EXCLUDE_CHARACTERS, EXCLUDE_NUMBERS, EXCLUDE_PUNCTUATION, EXCLUDE_UPPERCASE, EXCLUDE_LOWERCASE',
      { PASSWORD_LENGTH: '12' },
      'PASSWORD_LENGTH, EXCLUDE_CHARACTERS, EXCLUDE_NUMBERS, EXCLUDE_PUNCTUATION, EXCLUDE_UPPERCASE, EXCLUDE_LOWERCASE must be a policy of at least 96 bits',
    ],
    ['EXCLUDE_NUMBERS', { EXCLUDE_NUMBERS: 'yes' }, 'EXCLUDE_NUMBERS must be true or false'],
    [
      'REQUIRE_EACH_INCLUDED_TYPE',
      { REQUIRE_EACH_INCLUDED_TYPE: '1' },
      'REQUIRE_EACH_INCLUDED_TYPE must be true or false',
    ],
  ])('fail the configuration when %s is bad', (variable, env, expected) => {
    const error = configurationErrorOf(env);
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(`Invalid configuration: ${expected}`)).toBe(true);
  });
});
