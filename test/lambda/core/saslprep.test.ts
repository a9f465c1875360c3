import { describe, expect, it } from 'vitest';
import { preparePassword, saslprepProblem } from '../../../lambda/core/saslprep.js';
import { createScramVerifier, verifyPasswordAgainstVerifier } from '../../../lambda/core/scram.js';
import { referenceVerifier } from '../../fixtures/scram.js';

describe('SASLprep, as PostgreSQL applies it', () => {
  const salt = Buffer.alloc(16, 7);
  const verifierOf = (password: string) =>
    createScramVerifier(password, { salt, prepare: preparePassword });

  it('maps a non-ASCII space to an ASCII space', () => {
    expect(verifierOf('pass\u00A0word')).toBe(verifierOf('pass word'));
    expect(verifierOf('pass\u3000word')).toBe(verifierOf('pass word'));
  });

  it('drops characters that are commonly mapped to nothing', () => {
    expect(verifierOf('pass\u00ADwo\u034Frd')).toBe(verifierOf('password'));
  });

  it('applies NFKC normalization', () => {
    expect(verifierOf('\uFB01le\u2168')).toBe(verifierOf('fileIX'));
    expect(preparePassword('\u212B').toString('utf8')).toBe('\u00C5');
  });

  it('uses pure ASCII as it is, control characters included', () => {
    expect(preparePassword('a\u0007b').equals(Buffer.from([0x61, 0x07, 0x62]))).toBe(true);
    expect(verifierOf('a\u0007b')).toBe(referenceVerifier(Buffer.from('a\u0007b'), salt, 4096));
  });

  it('falls back to the raw UTF-8 bytes, unmapped, when a prohibited character is present', () => {
    // Mapping alone would turn U+00A0 into a space; PostgreSQL keeps the raw bytes instead.
    const password = '\u00A0\uE000';
    expect(preparePassword(password).equals(Buffer.from([0xc2, 0xa0, 0xee, 0x80, 0x80]))).toBe(
      true,
    );
    expect(verifierOf(password)).toBe(referenceVerifier(Buffer.from(password), salt, 4096));
    expect(verifierOf(password)).not.toBe(verifierOf(' \uE000'));
  });

  it('falls back to the raw bytes for a code point unassigned in Unicode 3.2', () => {
    // U+0221 was assigned in Unicode 4.0; stored strings treat it as prohibited.
    expect(preparePassword('x\u0221').equals(Buffer.from('x\u0221', 'utf8'))).toBe(true);
  });

  it('falls back to the raw bytes when the bidi rule fails', () => {
    expect(preparePassword('\u00A0a\u05D0').equals(Buffer.from('\u00A0a\u05D0', 'utf8'))).toBe(
      true,
    );
  });

  it('falls back to the raw bytes when mapping leaves nothing', () => {
    expect(preparePassword('\u00AD').equals(Buffer.from('\u00AD', 'utf8'))).toBe(true);
  });

  it('verifies a password typed with a non-ASCII space against a verifier made with an ASCII one', () => {
    expect(
      verifyPasswordAgainstVerifier('pass\u00A0word', verifierOf('pass word'), {
        prepare: preparePassword,
      }),
    ).toBe(true);
  });
});

describe('saslprepProblem', () => {
  it('accepts printable ASCII and stable non-ASCII passwords', () => {
    expect(saslprepProblem('correct horse battery staple')).toBeUndefined();
    expect(saslprepProblem('caf\u00e9-\u00fcber')).toBeUndefined();
  });

  it('refuses control characters, prohibited and unassigned code points', () => {
    expect(saslprepProblem('line\n')).toBe('prohibited');
    expect(saslprepProblem('tab\there')).toBe('prohibited');
    expect(saslprepProblem('private\uE000use')).toBe('prohibited');
    expect(saslprepProblem('\u00AD')).toBe('prohibited');
  });

  it('reports passwords SASLprep would change, which clients that skip it would hash differently', () => {
    expect(saslprepProblem('pass\u00A0word')).toBe('changed');
    expect(saslprepProblem('Cafe\u0301')).toBe('changed');
  });
});
