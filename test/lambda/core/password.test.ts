import { describe, expect, it } from 'vitest';
import {
  DEFAULT_EXCLUDE_CHARACTERS,
  generatePassword,
  isPortablePassword,
  MIN_PASSWORD_STRENGTH_BITS,
  PASSWORD_CHARACTER_CLASSES,
  type PasswordCharacterClass,
  type PasswordPolicy,
  passwordPolicyFromEnv,
  passwordStrengthBits,
} from '../../../lambda/core/password.js';
import { ConfigurationError, PasswordPolicyError } from '../../../lambda/errors.js';

const CLASS_NAMES = Object.keys(PASSWORD_CHARACTER_CLASSES) as PasswordCharacterClass[];
const PRINTABLE_ASCII = Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i));

function classOf(char: string): PasswordCharacterClass {
  const name = CLASS_NAMES.find((n) => PASSWORD_CHARACTER_CLASSES[n].includes(char));
  if (name === undefined) expect.fail(`unexpected character code ${char.charCodeAt(0)}`);
  return name;
}

function draw(policy: PasswordPolicy, count: number): string[] {
  return Array.from({ length: count }, () => generatePassword(policy));
}

function configurationErrorOf(env: Record<string, string | undefined>): ConfigurationError {
  try {
    passwordPolicyFromEnv(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  return expect.fail('expected a ConfigurationError');
}

describe('passwordPolicyFromEnv', () => {
  it('uses the AWS template defaults when nothing is set', () => {
    expect(passwordPolicyFromEnv({})).toEqual({
      length: 32,
      excludeCharacters: ' :/@"\'\\',
      excludeNumbers: false,
      excludePunctuation: false,
      excludeUppercase: false,
      excludeLowercase: false,
      requireEachIncludedType: true,
    });
  });

  it('treats empty variables as unset', () => {
    expect(
      passwordPolicyFromEnv({ PASSWORD_LENGTH: '', EXCLUDE_CHARACTERS: '', EXCLUDE_NUMBERS: '' }),
    ).toEqual(passwordPolicyFromEnv({}));
  });

  it('reads every variable', () => {
    expect(
      passwordPolicyFromEnv({
        PASSWORD_LENGTH: ' 40 ',
        EXCLUDE_CHARACTERS: 'abc',
        EXCLUDE_NUMBERS: 'TRUE',
        EXCLUDE_PUNCTUATION: 'true',
        EXCLUDE_UPPERCASE: ' True ',
        EXCLUDE_LOWERCASE: 'false',
        REQUIRE_EACH_INCLUDED_TYPE: 'False',
      }),
    ).toEqual({
      length: 40,
      excludeCharacters: 'abc',
      excludeNumbers: true,
      excludePunctuation: true,
      excludeUppercase: true,
      excludeLowercase: false,
      requireEachIncludedType: false,
    });
  });

  it.each(['7', '4097', '0', '-8', 'abc', '32.5', '0x20', '1e2', '32 chars'])(
    'refuses PASSWORD_LENGTH=%s, naming the variable and the range',
    (value) => {
      const error = configurationErrorOf({ PASSWORD_LENGTH: value });
      expect(error.variable).toBe('PASSWORD_LENGTH');
      expect(error.message).toBe(
        'Invalid configuration: PASSWORD_LENGTH must be an integer from 8 to 4096',
      );
    },
  );

  it('accepts PASSWORD_LENGTH up to 4096, and down to the shortest that reaches the minimum strength', () => {
    // 88 characters by default: 15 x log2(88) = 96.9 bits, 14 x log2(88) = 90.4.
    expect(passwordPolicyFromEnv({ PASSWORD_LENGTH: '15' }).length).toBe(15);
    expect(passwordPolicyFromEnv({ PASSWORD_LENGTH: '4096' }).length).toBe(4096);
  });

  it('accepts a short length over a large alphabet only as far as the strength allows', () => {
    expect(passwordStrengthBits(passwordPolicyFromEnv({}))).toBeGreaterThan(200);
    expect(() => passwordPolicyFromEnv({ PASSWORD_LENGTH: '14' })).toThrow(ConfigurationError);
  });

  it.each([
    [
      'one character left (it produced zzzzzzzz)',
      {
        PASSWORD_LENGTH: '8',
        EXCLUDE_NUMBERS: 'true',
        EXCLUDE_PUNCTUATION: 'true',
        EXCLUDE_UPPERCASE: 'true',
        EXCLUDE_CHARACTERS: 'abcdefghijklmnopqrstuvwxy',
      },
      'include more characters',
    ],
    [
      'one character left, however long',
      {
        PASSWORD_LENGTH: '4096',
        EXCLUDE_NUMBERS: 'true',
        EXCLUDE_PUNCTUATION: 'true',
        EXCLUDE_UPPERCASE: 'true',
        EXCLUDE_CHARACTERS: 'abcdefghijklmnopqrstuvwxy',
      },
      'include more characters',
    ],
    ['8 characters', { PASSWORD_LENGTH: '8' }, 'raise PASSWORD_LENGTH to 15 or more'],
    [
      '24 digits only',
      {
        PASSWORD_LENGTH: '24',
        EXCLUDE_PUNCTUATION: 'true',
        EXCLUDE_UPPERCASE: 'true',
        EXCLUDE_LOWERCASE: 'true',
      },
      'raise PASSWORD_LENGTH to 29 or more',
    ],
  ])('refuses a policy below the minimum strength: %s, naming the variables', (_, env, fix) => {
    const error = configurationErrorOf(env);
    expect(error.variable).toBe(
      'PASSWORD_LENGTH, EXCLUDE_CHARACTERS, EXCLUDE_NUMBERS, EXCLUDE_PUNCTUATION, EXCLUDE_UPPERCASE, EXCLUDE_LOWERCASE',
    );
    expect(error.message).toContain(`at least ${MIN_PASSWORD_STRENGTH_BITS} bits`);
    expect(error.message).toContain(fix);
  });

  it('refuses to generate from a hand-built policy below the minimum strength', () => {
    const weak: PasswordPolicy = { ...passwordPolicyFromEnv({}), length: 10 };
    expect(() => generatePassword(weak)).toThrow(PasswordPolicyError);
    expect(() => generatePassword(weak)).toThrow(
      /^Password policy violation: the policy is too weak/,
    );
  });

  it.each([
    'EXCLUDE_NUMBERS',
    'EXCLUDE_PUNCTUATION',
    'EXCLUDE_UPPERCASE',
    'EXCLUDE_LOWERCASE',
    'REQUIRE_EACH_INCLUDED_TYPE',
  ])('refuses %s that is neither true nor false', (name) => {
    const error = configurationErrorOf({ [name]: 'yes' });
    expect(error.variable).toBe(name);
    expect(error.message).toBe(`Invalid configuration: ${name} must be true or false`);
  });

  it('refuses excluding every character class', () => {
    const error = configurationErrorOf({
      EXCLUDE_NUMBERS: 'true',
      EXCLUDE_PUNCTUATION: 'true',
      EXCLUDE_UPPERCASE: 'true',
      EXCLUDE_LOWERCASE: 'true',
    });
    for (const name of [
      'EXCLUDE_NUMBERS',
      'EXCLUDE_PUNCTUATION',
      'EXCLUDE_UPPERCASE',
      'EXCLUDE_LOWERCASE',
    ]) {
      expect(error.variable).toContain(name);
    }
  });

  it('refuses EXCLUDE_CHARACTERS that removes every character left', () => {
    const error = configurationErrorOf({
      EXCLUDE_NUMBERS: 'true',
      EXCLUDE_PUNCTUATION: 'true',
      EXCLUDE_UPPERCASE: 'true',
      EXCLUDE_CHARACTERS: PASSWORD_CHARACTER_CLASSES.lowercase,
    });
    expect(error.variable).toBe('EXCLUDE_CHARACTERS');
  });
});

describe('generatePassword', () => {
  const defaults = passwordPolicyFromEnv({});

  it('produces the configured length', () => {
    expect(generatePassword(defaults)).toHaveLength(32);
    expect(generatePassword(passwordPolicyFromEnv({ PASSWORD_LENGTH: '15' }))).toHaveLength(15);
    expect(generatePassword(passwordPolicyFromEnv({ PASSWORD_LENGTH: '4096' }))).toHaveLength(4096);
  });

  it('gives a different password on every call', () => {
    expect(new Set(draw(defaults, 50)).size).toBe(50);
  });

  it('never uses the default excluded characters, and uses every other printable character', () => {
    const seen = new Set(draw(defaults, 500).join(''));
    for (const char of DEFAULT_EXCLUDE_CHARACTERS) expect(seen.has(char)).toBe(false);
    const allowed = PRINTABLE_ASCII.filter((c) => !DEFAULT_EXCLUDE_CHARACTERS.includes(c));
    expect([...seen].sort()).toEqual(allowed.sort());
  });

  it('honours EXCLUDE_CHARACTERS, which replaces the default set', () => {
    const policy = passwordPolicyFromEnv({ EXCLUDE_CHARACTERS: 'aeiouAEIOU01' });
    const seen = new Set(draw(policy, 500).join(''));
    for (const char of 'aeiouAEIOU01') expect(seen.has(char)).toBe(false);
    // The default set is replaced, not added to.
    expect(seen.has('@')).toBe(true);
  });

  it.each([
    ['EXCLUDE_NUMBERS', 'numbers'],
    ['EXCLUDE_PUNCTUATION', 'punctuation'],
    ['EXCLUDE_UPPERCASE', 'uppercase'],
    ['EXCLUDE_LOWERCASE', 'lowercase'],
  ] as const)('honours %s', (variable, excluded) => {
    const classes = new Set(
      [...draw(passwordPolicyFromEnv({ [variable]: 'true' }), 300).join('')].map(classOf),
    );
    expect(classes.has(excluded)).toBe(false);
    expect(classes.size).toBe(3);
  });

  it('puts at least one character of every included class in each password', () => {
    const policy = passwordPolicyFromEnv({ PASSWORD_LENGTH: '15' });
    for (const password of draw(policy, 2000)) {
      expect(new Set([...password].map(classOf)).size).toBe(4);
    }
  });

  it('does not force every class when REQUIRE_EACH_INCLUDED_TYPE is false', () => {
    // With 15 characters, about a sixth of passwords lack a digit if not forced.
    const policy = passwordPolicyFromEnv({
      PASSWORD_LENGTH: '15',
      REQUIRE_EACH_INCLUDED_TYPE: 'false',
    });
    const lacking = draw(policy, 500).filter((p) => !/[0-9]/.test(p));
    expect(lacking.length).toBeGreaterThan(40);
  });

  it('treats a class emptied by EXCLUDE_CHARACTERS as excluded rather than required', () => {
    const policy = passwordPolicyFromEnv({
      PASSWORD_LENGTH: '16',
      EXCLUDE_CHARACTERS: PASSWORD_CHARACTER_CLASSES.numbers,
    });
    for (const password of draw(policy, 200)) {
      expect(password).not.toMatch(/[0-9]/);
      expect(new Set([...password].map(classOf)).size).toBe(3);
    }
  });

  it('places the required characters anywhere, not first', () => {
    const firstClasses = new Set(draw(defaults, 400).map((p) => classOf(p[0] ?? '')));
    expect(firstClasses.size).toBe(4);
  });

  it('draws characters uniformly (no modulo bias)', () => {
    // 88 characters, about 3200 draws each. Taking a random byte modulo 88
    // would make the first 80 characters 1.5 times as likely as the last 8;
    // the bound here is over 6 standard deviations of a fair draw.
    const policy = { ...defaults, requireEachIncludedType: false, length: 4096 };
    const counts = new Map<string, number>();
    for (const char of draw(policy, 70).join('')) counts.set(char, (counts.get(char) ?? 0) + 1);
    const total = 70 * 4096;
    const expected = total / counts.size;
    expect(counts.size).toBe(88);
    for (const count of counts.values()) {
      expect(Math.abs(count - expected) / expected).toBeLessThan(0.11);
    }
  });

  it('refuses a hand-built policy with a length out of range', () => {
    expect(() => generatePassword({ ...defaults, length: 7 })).toThrow(PasswordPolicyError);
    expect(() => generatePassword({ ...defaults, length: 12.5 })).toThrow(
      /^Password policy violation: the length is out of range; use an integer from 8 to 4096$/,
    );
  });

  it('refuses a hand-built policy that leaves no character', () => {
    expect(() =>
      generatePassword({
        ...defaults,
        excludeNumbers: true,
        excludePunctuation: true,
        excludeUppercase: true,
        excludeLowercase: true,
      }),
    ).toThrow(/^Password policy violation: the policy excludes every character/);
  });
});

describe('isPortablePassword', () => {
  it('accepts printable ASCII, space included, which every client hashes as it is', () => {
    expect(isPortablePassword(PRINTABLE_ASCII.join(''))).toBe(true);
    expect(isPortablePassword('with space')).toBe(true);
    expect(isPortablePassword(generatePassword(passwordPolicyFromEnv({})))).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['a control character', 'abc\u0001def'],
    ['a NUL', 'abc\u0000def'],
    ['a non-ASCII letter', 'pässword-long-enough'],
    ['a non-ASCII space', 'pass\u00a0word'],
  ])('refuses %s', (_, password) => {
    expect(isPortablePassword(password)).toBe(false);
  });
});
