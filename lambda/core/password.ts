/**
 * Password generation from a policy, configured with the environment
 * variables of AWS's own rotation function templates so that existing
 * deployments keep their settings.
 *
 * @module
 */
import { randomInt } from 'node:crypto';
import { ConfigurationError, PasswordPolicyError } from '../errors.js';

/**
 * The character classes a password draws from: printable ASCII without
 * space, as Secrets Manager's GetRandomPassword. ASCII only, because for
 * ASCII PostgreSQL, CockroachDB and every client agree on the bytes that
 * SCRAM hashes (no SASLprep differences).
 */
export const PASSWORD_CHARACTER_CLASSES = {
  numbers: '0123456789',
  punctuation: '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
  uppercase: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  lowercase: 'abcdefghijklmnopqrstuvwxyz',
} as const;

/** One of the keys of {@link PASSWORD_CHARACTER_CLASSES}. */
export type PasswordCharacterClass = keyof typeof PASSWORD_CHARACTER_CLASSES;

/** Allowed password lengths. */
export const PASSWORD_LENGTH_LIMITS = { min: 8, max: 4096 } as const;

/**
 * Characters left out unless EXCLUDE_CHARACTERS says otherwise. They break
 * the places a password ends up in: `:`, `/` and `@` delimit
 * `postgresql://user:password@host/db` URIs; space ends a value in libpq
 * `key=value` strings and splits shell arguments; `"`, `'` and `\` end or
 * escape quoted strings in shells, SQL and JSON. (AWS's templates exclude
 * `/@"'\`; we add `:` and space for the same reasons.)
 */
export const DEFAULT_EXCLUDE_CHARACTERS = ' :/@"\'\\';

/**
 * The least strength a policy may have, in bits: length times log2 of the
 * number of distinct characters it draws from. At 96 bits an attacker who
 * stole a verifier and could test 10^12 passwords a second (each costing
 * thousands of PBKDF2 rounds, far beyond any real rig) would need about
 * 2.5 billion years; the default policy has about 200 bits. A policy below
 * this (a short password, or exclusions that leave a tiny alphabet: one
 * character left once produced `zzzzzzzz`) is refused, not used.
 */
export const MIN_PASSWORD_STRENGTH_BITS = 96;

/** What {@link generatePassword} produces. */
export interface PasswordPolicy {
  /** Number of characters, {@link PASSWORD_LENGTH_LIMITS}. */
  readonly length: number;
  /** Characters never used. */
  readonly excludeCharacters: string;
  readonly excludeNumbers: boolean;
  readonly excludePunctuation: boolean;
  readonly excludeUppercase: boolean;
  readonly excludeLowercase: boolean;
  /** At least one character from every class still included. */
  readonly requireEachIncludedType: boolean;
}

/** The policy with every variable unset. */
export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = {
  length: 32,
  excludeCharacters: DEFAULT_EXCLUDE_CHARACTERS,
  excludeNumbers: false,
  excludePunctuation: false,
  excludeUppercase: false,
  excludeLowercase: false,
  requireEachIncludedType: true,
};

/** The environment variables, as AWS's rotation templates name them. */
export const PASSWORD_POLICY_VARIABLES = {
  length: 'PASSWORD_LENGTH',
  excludeCharacters: 'EXCLUDE_CHARACTERS',
  excludeNumbers: 'EXCLUDE_NUMBERS',
  excludePunctuation: 'EXCLUDE_PUNCTUATION',
  excludeUppercase: 'EXCLUDE_UPPERCASE',
  excludeLowercase: 'EXCLUDE_LOWERCASE',
  requireEachIncludedType: 'REQUIRE_EACH_INCLUDED_TYPE',
} as const satisfies Record<keyof PasswordPolicy, string>;

const CLASS_FLAGS = {
  numbers: 'excludeNumbers',
  punctuation: 'excludePunctuation',
  uppercase: 'excludeUppercase',
  lowercase: 'excludeLowercase',
} as const satisfies Record<PasswordCharacterClass, keyof PasswordPolicy>;

const CLASS_FLAG_VARIABLES = Object.values(CLASS_FLAGS).map(
  (flag) => PASSWORD_POLICY_VARIABLES[flag],
);

/** The variables that set a policy's strength, as one error names them. */
const POLICY_VARIABLE_LIST = [
  PASSWORD_POLICY_VARIABLES.length,
  PASSWORD_POLICY_VARIABLES.excludeCharacters,
  ...CLASS_FLAG_VARIABLES,
].join(', ');

/**
 * The characters of each class that the policy still allows, leaving out
 * excluded classes and classes that EXCLUDE_CHARACTERS emptied (a class the
 * user removed character by character is as good as excluded, and could not
 * be required).
 */
export function includedCharacterClasses(
  policy: PasswordPolicy,
): Partial<Record<PasswordCharacterClass, string>> {
  const excluded = new Set(policy.excludeCharacters);
  const included: Partial<Record<PasswordCharacterClass, string>> = {};
  for (const name of Object.keys(PASSWORD_CHARACTER_CLASSES) as PasswordCharacterClass[]) {
    if (policy[CLASS_FLAGS[name]]) continue;
    const chars = [...PASSWORD_CHARACTER_CLASSES[name]].filter((c) => !excluded.has(c)).join('');
    if (chars.length > 0) included[name] = chars;
  }
  return included;
}

/**
 * The strength of passwords from `policy` in bits: length times log2 of the
 * size of the alphabet it draws from. Requiring one character of each class
 * takes away less than a bit, and is ignored.
 *
 * @example
 * ```ts
 * passwordStrengthBits(DEFAULT_PASSWORD_POLICY); // about 205
 * ```
 */
export function passwordStrengthBits(policy: PasswordPolicy): number {
  const alphabet = new Set(Object.values(includedCharacterClasses(policy)).join('')).size;
  return alphabet <= 1 ? 0 : policy.length * Math.log2(alphabet);
}

/** The advice for a weak policy: the variables to change and how far. */
function strengthAdvice(policy: PasswordPolicy): string {
  const alphabet = new Set(Object.values(includedCharacterClasses(policy)).join('')).size;
  const needed =
    alphabet <= 1 ? undefined : Math.ceil(MIN_PASSWORD_STRENGTH_BITS / Math.log2(alphabet));
  return (
    `a policy of at least ${MIN_PASSWORD_STRENGTH_BITS} bits (length times log2 of the ${alphabet} characters left, ` +
    `${Math.floor(passwordStrengthBits(policy))} bits now): ` +
    (needed === undefined || needed > PASSWORD_LENGTH_LIMITS.max
      ? 'include more characters (fewer EXCLUDE_* classes, a shorter EXCLUDE_CHARACTERS)'
      : `raise PASSWORD_LENGTH to ${needed} or more, or include more characters (fewer EXCLUDE_* classes, a shorter EXCLUDE_CHARACTERS)`)
  );
}

/**
 * Reads a `true`/`false` environment variable (case-insensitive); unset or
 * empty gives `fallback`, anything else a {@link ConfigurationError}.
 */
export function readBoolean(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: boolean,
): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigurationError(name, 'true or false');
}

/**
 * Reads the password policy from the environment, with AWS's variable names.
 * Unset or empty variables take their defaults (length 32,
 * {@link DEFAULT_EXCLUDE_CHARACTERS}, every class included, each required).
 * Setting EXCLUDE_CHARACTERS replaces the default set, as in AWS's templates.
 *
 * @throws {@link ConfigurationError} naming the variable: a length that is
 *   not an integer in 8..4096, a boolean that is not `true`/`false`,
 *   exclusions that leave no character, or a policy weaker than
 *   {@link MIN_PASSWORD_STRENGTH_BITS}
 *
 * @example
 * ```ts
 * const policy = passwordPolicyFromEnv({ PASSWORD_LENGTH: '40', EXCLUDE_PUNCTUATION: 'true' });
 * generatePassword(policy); // 40 letters and digits
 * ```
 */
export function passwordPolicyFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): PasswordPolicy {
  const lengthName = PASSWORD_POLICY_VARIABLES.length;
  const lengthText = env[lengthName]?.trim();
  let length = DEFAULT_PASSWORD_POLICY.length;
  if (lengthText !== undefined && lengthText !== '') {
    // Digits only: Number() would also take '0x20', '1e2' or '32.0'.
    length = /^[0-9]{1,5}$/.test(lengthText) ? Number(lengthText) : Number.NaN;
    if (!(length >= PASSWORD_LENGTH_LIMITS.min && length <= PASSWORD_LENGTH_LIMITS.max)) {
      throw new ConfigurationError(
        lengthName,
        `an integer from ${PASSWORD_LENGTH_LIMITS.min} to ${PASSWORD_LENGTH_LIMITS.max}`,
      );
    }
  }
  const policy: PasswordPolicy = {
    length,
    // Not trimmed: a space is a character one may mean to exclude.
    excludeCharacters:
      env[PASSWORD_POLICY_VARIABLES.excludeCharacters] || DEFAULT_PASSWORD_POLICY.excludeCharacters,
    excludeNumbers: readBoolean(env, PASSWORD_POLICY_VARIABLES.excludeNumbers, false),
    excludePunctuation: readBoolean(env, PASSWORD_POLICY_VARIABLES.excludePunctuation, false),
    excludeUppercase: readBoolean(env, PASSWORD_POLICY_VARIABLES.excludeUppercase, false),
    excludeLowercase: readBoolean(env, PASSWORD_POLICY_VARIABLES.excludeLowercase, false),
    requireEachIncludedType: readBoolean(
      env,
      PASSWORD_POLICY_VARIABLES.requireEachIncludedType,
      true,
    ),
  };
  if (Object.values(CLASS_FLAGS).every((flag) => policy[flag])) {
    throw new ConfigurationError(
      CLASS_FLAG_VARIABLES.join(', '),
      'false for at least one character class',
    );
  }
  if (Object.keys(includedCharacterClasses(policy)).length === 0) {
    throw new ConfigurationError(
      PASSWORD_POLICY_VARIABLES.excludeCharacters,
      'a set that leaves at least one character of an included class',
    );
  }
  if (passwordStrengthBits(policy) < MIN_PASSWORD_STRENGTH_BITS) {
    throw new ConfigurationError(POLICY_VARIABLE_LIST, strengthAdvice(policy));
  }
  return policy;
}

/** Fisher-Yates with a CSPRNG, so required characters land anywhere. */
function shuffle(chars: string[]): void {
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    const a = chars[i] as string;
    chars[i] = chars[j] as string;
    chars[j] = a;
  }
}

function pick(alphabet: string): string {
  // randomInt draws uniformly by rejection sampling: no modulo bias.
  return alphabet[randomInt(alphabet.length)] as string;
}

/**
 * Generates a password from `policy` with Node's CSPRNG. With
 * `requireEachIncludedType`, one character of each included class is
 * placed first and the rest drawn from all included characters, then the
 * whole is shuffled; otherwise every character is drawn uniformly.
 *
 * @throws {@link PasswordPolicyError} for a policy built by hand that cannot
 *   be met (a length out of range, or no character left) or is weaker than
 *   {@link MIN_PASSWORD_STRENGTH_BITS}
 *
 * @example
 * ```ts
 * const password = generatePassword(passwordPolicyFromEnv(process.env));
 * ```
 */
export function generatePassword(policy: PasswordPolicy): string {
  const { length } = policy;
  if (
    !Number.isInteger(length) ||
    length < PASSWORD_LENGTH_LIMITS.min ||
    length > PASSWORD_LENGTH_LIMITS.max
  ) {
    throw new PasswordPolicyError(
      'the length is out of range',
      `use an integer from ${PASSWORD_LENGTH_LIMITS.min} to ${PASSWORD_LENGTH_LIMITS.max}`,
    );
  }
  const classes = Object.values(includedCharacterClasses(policy));
  if (classes.length === 0) {
    throw new PasswordPolicyError(
      'the policy excludes every character',
      'include at least one character class and leave some of its characters out of EXCLUDE_CHARACTERS',
    );
  }
  if (passwordStrengthBits(policy) < MIN_PASSWORD_STRENGTH_BITS) {
    throw new PasswordPolicyError('the policy is too weak', `use ${strengthAdvice(policy)}`);
  }
  // At most 4 classes and at least 8 characters: the required ones always fit.
  const required = policy.requireEachIncludedType ? classes : [];
  const alphabet = classes.join('');
  const chars = required.map(pick);
  while (chars.length < length) chars.push(pick(alphabet));
  shuffle(chars);
  return chars.join('');
}

/**
 * Whether `password` hashes the same way in every client and server:
 * printable ASCII (space included), where SCRAM uses the bytes as they are
 * and no SASLprep implementation can disagree. The generator only produces
 * such passwords; a pending version stored by hand may hold anything.
 */
export function isPortablePassword(password: string): boolean {
  return /^[\x20-\x7e]+$/.test(password);
}
