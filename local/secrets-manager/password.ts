/**
 * GetRandomPassword as the API reference describes it.
 *
 * @module
 */
import { randomInt } from 'node:crypto';
import { invalidParameter } from './errors.js';
import type { OperationInputs } from './validation.js';

/**
 * The punctuation GetRandomPassword draws from, as listed in the API reference:
 * ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``.
 */
export const PASSWORD_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

const LOWERCASE = 'abcdefghijklmnopqrstuvwxyz';
const UPPERCASE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';

/** PasswordLength when the request leaves it out (API reference). */
export const DEFAULT_PASSWORD_LENGTH = 32;

/**
 * Generates a password from cryptographically random choices (`crypto.randomInt`).
 *
 * Character classes are lowercase, uppercase, digits and punctuation, each
 * unless excluded, plus the space when `IncludeSpace`. Characters in
 * `ExcludeCharacters` are removed from every class; a class left empty counts
 * as excluded. With `RequireEachIncludedType` (default true) the password holds
 * at least one character of each included letter, digit and punctuation class
 * (the space is never required: the API reference lists only those four).
 *
 * @throws AwsServiceError `InvalidParameterException` when no character is left
 *   to draw from, or the length is below the number of required classes
 *   ("Password length is too short based on the required types.", the wording
 *   moto reproduces from AWS)
 */
export function generatePassword(input: OperationInputs['GetRandomPassword']): string {
  const length = input.PasswordLength ?? DEFAULT_PASSWORD_LENGTH;
  const excluded = new Set(input.ExcludeCharacters ?? '');
  const keep = (chars: string) => [...chars].filter((c) => !excluded.has(c)).join('');

  const required = [
    input.ExcludeLowercase ? '' : keep(LOWERCASE),
    input.ExcludeUppercase ? '' : keep(UPPERCASE),
    input.ExcludeNumbers ? '' : keep(DIGITS),
    input.ExcludePunctuation ? '' : keep(PASSWORD_PUNCTUATION),
  ].filter((chars) => chars.length > 0);
  const space = input.IncludeSpace ? keep(' ') : '';
  const pool = required.join('') + space;
  if (pool.length === 0) {
    // Our wording: no AWS text for this case was found.
    throw invalidParameter('The password cannot be generated: every character is excluded.');
  }

  const requireEach = input.RequireEachIncludedType ?? true;
  if (requireEach && length < required.length) {
    throw invalidParameter('Password length is too short based on the required types.');
  }

  const pick = (chars: string) => chars.charAt(randomInt(chars.length));
  const chars = requireEach ? required.map(pick) : [];
  while (chars.length < length) chars.push(pick(pool));

  // Fisher-Yates, so the required characters do not always lead.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}
