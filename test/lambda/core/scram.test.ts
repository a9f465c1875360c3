import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { preparePassword } from '../../../lambda/core/saslprep.js';
import {
  assertVerifierAcceptable,
  COCKROACHDB_VERIFIER_PATTERN,
  clientPassword,
  createScramVerifier,
  createScramVerifierAsync,
  encodeScramVerifier,
  estimatePbkdf2Ms,
  parseScramVerifier,
  type ScramEngine,
  verifyPasswordAgainstVerifier,
} from '../../../lambda/core/scram.js';
import { PasswordPolicyError, ScramVerifierError } from '../../../lambda/errors.js';
import { referenceVerifier } from '../../fixtures/scram.js';

/** Runs `fn` and returns what it threw (fails the test if nothing). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  expect.fail('expected an error to be thrown');
}

function expectRule(fn: () => unknown, rule: string): ScramVerifierError {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(ScramVerifierError);
  expect((error as ScramVerifierError).rule).toBe(rule);
  expect((error as Error).message).toMatch(new RegExp(`^Invalid SCRAM verifier: ${rule}: `));
  return error as ScramVerifierError;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** Assembles a verifier string from its textual parts, for format tests. */
function verifierText(parts: {
  iterations?: string;
  salt?: string;
  storedKey?: string;
  serverKey?: string;
}): string {
  const {
    iterations = '4096',
    salt = b64(Buffer.alloc(16, 1)),
    storedKey = b64(Buffer.alloc(32, 2)),
    serverKey = b64(Buffer.alloc(32, 3)),
  } = parts;
  return `SCRAM-SHA-256$${iterations}:${salt}$${storedKey}:${serverKey}`;
}

describe('RFC 7677 test vector (user "user", password "pencil")', () => {
  // RFC 7677 section 3, verbatim.
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const clientFirstBare = 'n=user,r=rOprNGfwEbeRWgbNEkqO';
  const serverFirst =
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  const clientFinalWithoutProof = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const clientProof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
  const serverSignature = '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';
  const authMessage = `${clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;

  const verifier = createScramVerifier('pencil', { salt, iterations: 4096 });
  const parts = parseScramVerifier(verifier);

  it('writes the iteration count and salt of the exchange', () => {
    expect(verifier.startsWith('SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$')).toBe(true);
  });

  it("has a StoredKey that accepts the RFC's client proof, as a server checks it", () => {
    const clientSignature = createHmac('sha256', parts.storedKey).update(authMessage).digest();
    const clientKey = Buffer.from(clientProof.map((byte, i) => byte ^ (clientSignature[i] ?? 0)));
    expect(createHash('sha256').update(clientKey).digest().equals(parts.storedKey)).toBe(true);
  });

  it("has a ServerKey that produces the RFC's server signature", () => {
    const signature = createHmac('sha256', parts.serverKey).update(authMessage).digest('base64');
    expect(signature).toBe(serverSignature);
  });

  it('gives the same verifier from the async variant', async () => {
    await expect(createScramVerifierAsync('pencil', { salt, iterations: 4096 })).resolves.toBe(
      verifier,
    );
  });

  it('verifies "pencil" and rejects "pencil2"', () => {
    expect(verifyPasswordAgainstVerifier('pencil', verifier)).toBe(true);
    expect(verifyPasswordAgainstVerifier('pencil2', verifier)).toBe(false);
  });
});

describe('createScramVerifier', () => {
  it('hashes an ASCII password as its bytes, control characters included', () => {
    const salt = Buffer.alloc(16, 7);
    expect(createScramVerifier('a\u0007b', { salt })).toBe(
      referenceVerifier(Buffer.from('a\u0007b'), salt, 4096),
    );
  });

  it('hashes non-ASCII as node-postgres does: RFC 4013 mappings and NFKC, nothing prohibited', () => {
    const salt = Buffer.alloc(16, 7);
    const verifierOf = (password: string) => createScramVerifier(password, { salt });
    expect(clientPassword('pass\u00A0wo\u3000rd').toString('utf8')).toBe('pass wo rd');
    expect(clientPassword('pa\u00ADss\u200Dwo\uFE0Frd').toString('utf8')).toBe('password');
    expect(clientPassword('\uFB01le\u2168').toString('utf8')).toBe('fileIX');
    expect(verifierOf('caf\u00e9')).toBe(referenceVerifier(Buffer.from('caf\u00e9'), salt, 4096));
    // Where PostgreSQL's own SASLprep gives up (a private-use character) and
    // hashes the raw bytes, node-postgres still maps: so does the default.
    expect(clientPassword('\u00A0\uE000').toString('utf8')).toBe(' \uE000');
    expect(preparePassword('\u00A0\uE000').toString('utf8')).toBe('\u00A0\uE000');
    expect(verifyPasswordAgainstVerifier('pass\u00A0word', verifierOf('pass word'))).toBe(true);
  });

  it('hashes the bytes the given prepare returns', () => {
    const salt = Buffer.alloc(16, 7);
    const prepare = (password: string) => Buffer.from(password.toUpperCase(), 'utf8');
    expect(createScramVerifier('abc', { salt, prepare })).toBe(
      createScramVerifier('ABC', { salt }),
    );
  });

  it('writes a 16-byte salt, two 32-byte keys and 4096 iterations by default', () => {
    const parsed = parseScramVerifier(createScramVerifier('correct horse'));
    expect(parsed.iterations).toBe(4096);
    expect(parsed.salt).toHaveLength(16);
    expect(parsed.storedKey).toHaveLength(32);
    expect(parsed.serverKey).toHaveLength(32);
  });

  it('matches the RFC 5802 formulas computed independently', () => {
    const salt = randomBytes(16);
    expect(createScramVerifier('correct horse', { salt, iterations: 5000 })).toBe(
      referenceVerifier(Buffer.from('correct horse'), salt, 5000),
    );
  });

  it('draws a fresh random salt on every call', () => {
    const first = createScramVerifier('same password');
    const second = createScramVerifier('same password');
    expect(parseScramVerifier(first).salt.equals(parseScramVerifier(second).salt)).toBe(false);
    expect(first).not.toBe(second);
  });

  it('produces a verifier both engines accept', () => {
    const verifier = createScramVerifier('correct horse', { iterations: 10610 });
    expect(verifier).toMatch(COCKROACHDB_VERIFIER_PATTERN);
    expect(assertVerifierAcceptable(verifier, 'postgres').iterations).toBe(10610);
    expect(assertVerifierAcceptable(verifier, 'cockroachdb').iterations).toBe(10610);
  });

  it('refuses an iteration count below 4096', () => {
    expectRule(() => createScramVerifier('pw', { iterations: 4095 }), 'iterations-below-minimum');
    expect(parseScramVerifier(createScramVerifier('pw', { iterations: 4096 })).iterations).toBe(
      4096,
    );
  });

  it('refuses an iteration count above what PostgreSQL and PBKDF2 can hold', () => {
    expectRule(
      () => createScramVerifier('pw', { iterations: 2_147_483_648 }),
      'iterations-above-maximum',
    );
    expectRule(
      () => createScramVerifier('pw', { iterations: 240_000_000_001 }),
      'iterations-above-maximum',
    );
  });

  it.each([0, -4096, 4096.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses an iteration count of %s as not a positive integer',
    (iterations) => {
      expectRule(() => createScramVerifier('pw', { iterations }), 'iterations-syntax');
    },
  );

  it('refuses an empty salt', () => {
    expectRule(() => createScramVerifier('pw', { salt: Buffer.alloc(0) }), 'salt');
  });

  it('refuses an empty password', () => {
    const error = thrown(() => createScramVerifier(''));
    expect(error).toBeInstanceOf(PasswordPolicyError);
    expect((error as Error).message).toMatch(/^Password policy violation: the password is empty/);
  });

  it('rejects from the async variant with the same typed errors', async () => {
    await expect(createScramVerifierAsync('pw', { iterations: 100 })).rejects.toBeInstanceOf(
      ScramVerifierError,
    );
    await expect(createScramVerifierAsync('')).rejects.toBeInstanceOf(PasswordPolicyError);
  });
});

describe('parseScramVerifier', () => {
  it('reads back what encodeScramVerifier writes', () => {
    const parts = {
      iterations: 4096,
      salt: randomBytes(16),
      storedKey: randomBytes(32),
      serverKey: randomBytes(32),
    };
    const parsed = parseScramVerifier(encodeScramVerifier(parts));
    expect(parsed.iterations).toBe(parts.iterations);
    expect(parsed.salt.equals(parts.salt)).toBe(true);
    expect(parsed.storedKey.equals(parts.storedKey)).toBe(true);
    expect(parsed.serverKey.equals(parts.serverKey)).toBe(true);
  });

  it("parses CockroachDB's published example verifier", () => {
    // From CockroachDB's SCRAM documentation (shared/seeds).
    const example =
      'SCRAM-SHA-256$119680:6XN0y7A83hylmX+3uMRPvQ==$mOI18rsucBjSrNMDDqNJ1/q4cROvRDLIUqjC0BzQHEg=:4zPCVFflWWHD53ZEIrcH4q3X1+le86TBIV0Dce6fIuc=';
    expect(parseScramVerifier(example).iterations).toBe(119680);
    expect(assertVerifierAcceptable(example, 'cockroachdb').salt).toHaveLength(16);
  });

  it.each([
    ['another mechanism', 'SCRAM-SHA-1$4096:c2FsdA==$a:b'],
    ['a lower-case scheme', verifierText({}).replace('SCRAM-SHA-256', 'scram-sha-256')],
    ['an empty string', ''],
    ['a plain password', 'hunter2'],
    ['a leading space', ` ${verifierText({})}`],
  ])('rejects %s by the scheme rule', (_, text) => {
    expectRule(() => parseScramVerifier(text), 'scheme');
  });

  it.each([
    ['no ServerKey', 'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk'],
    ['an extra field', `${verifierText({})}:AAAA`],
    ['an extra dollar', `${verifierText({})}$`],
  ])('rejects a verifier with %s by the structure rule', (_, text) => {
    expectRule(() => parseScramVerifier(text), 'structure');
  });

  it.each([
    ['a leading zero', '04096'],
    ['a plus sign', '+4096'],
    ['a space', ' 4096'],
    ['a decimal point', '4096.0'],
    ['zero', '0'],
    ['nothing', ''],
    ['more digits than a double holds exactly', '99999999999999999999'],
  ])('rejects an iteration count with %s', (_, iterations) => {
    expectRule(() => parseScramVerifier(verifierText({ iterations })), 'iterations-syntax');
  });

  it.each([
    ['empty', ''],
    ['not base64', 'salt!salt!salt!='],
    ['base64url', '-_-_-_-_-_-_-_-_-_-_-w=='],
    ['unpadded', 'W22ZaJ0SNY7soEsUEjb6gQ'],
    ['non-canonical (stray bits before the padding)', 'W22ZaJ0SNY7soEsUEjb6gR=='],
    ['wrapped in whitespace', 'W22ZaJ0S NY7soEsUEjb6gQ=='],
  ])('rejects a salt that is %s', (_, salt) => {
    expectRule(() => parseScramVerifier(verifierText({ salt })), 'salt');
  });

  it.each([
    ['31 bytes', b64(Buffer.alloc(31, 2))],
    ['33 bytes', b64(Buffer.alloc(33, 2))],
    ['unpadded', b64(Buffer.alloc(32, 2)).replace('=', '')],
    ['empty', ''],
  ])('rejects a StoredKey of %s', (_, storedKey) => {
    expectRule(() => parseScramVerifier(verifierText({ storedKey })), 'stored-key');
  });

  it.each([
    ['31 bytes', b64(Buffer.alloc(31, 3))],
    ['33 bytes', b64(Buffer.alloc(33, 3))],
    ['unpadded', b64(Buffer.alloc(32, 3)).replace('=', '')],
  ])('rejects a ServerKey of %s', (_, serverKey) => {
    expectRule(() => parseScramVerifier(verifierText({ serverKey })), 'server-key');
  });

  it('never puts any part of the verifier in the error message', () => {
    const salt = b64(Buffer.from('a distinctive salt'));
    const storedKey = b64(Buffer.alloc(32, 9));
    const text = verifierText({ salt, storedKey, serverKey: 'not-a-key' });
    const error = expectRule(() => parseScramVerifier(text), 'server-key');
    expect(error.message).not.toContain(salt);
    expect(error.message).not.toContain(storedKey);
    expect(error.message).not.toContain('not-a-key');
  });
});

describe('assertVerifierAcceptable', () => {
  const engines: ScramEngine[] = ['postgres', 'cockroachdb'];

  it.each(engines)('accepts a verifier of 4096 iterations for %s', (engine) => {
    expect(assertVerifierAcceptable(verifierText({}), engine).iterations).toBe(4096);
  });

  it.each(engines)('rejects a verifier whose iteration count is below 4096 for %s', (engine) => {
    const rule = engine === 'postgres' ? 'iterations-below-minimum' : 'cockroachdb-iterations';
    expectRule(() => assertVerifierAcceptable(verifierText({ iterations: '4095' }), engine), rule);
  });

  it('accepts up to CockroachDB maximum of 240000000000 iterations for cockroachdb only', () => {
    const verifier = verifierText({ iterations: '240000000000' });
    expect(assertVerifierAcceptable(verifier, 'cockroachdb').iterations).toBe(240_000_000_000);
    expectRule(() => assertVerifierAcceptable(verifier, 'postgres'), 'iterations-above-maximum');
  });

  it('rejects more than 240000000000 iterations for cockroachdb', () => {
    expectRule(
      () => assertVerifierAcceptable(verifierText({ iterations: '240000000001' }), 'cockroachdb'),
      'cockroachdb-iterations',
    );
    expectRule(
      () =>
        assertVerifierAcceptable(
          verifierText({ iterations: '99999999999999999999999' }),
          'cockroachdb',
        ),
      'cockroachdb-iterations',
    );
  });

  it('rejects more iterations than a C int holds for postgres', () => {
    expect(
      assertVerifierAcceptable(verifierText({ iterations: '2147483647' }), 'postgres').iterations,
    ).toBe(2_147_483_647);
    expectRule(
      () => assertVerifierAcceptable(verifierText({ iterations: '2147483648' }), 'postgres'),
      'iterations-above-maximum',
    );
  });

  it.each([
    [
      'an unpadded 43-character StoredKey',
      verifierText({ storedKey: 'A'.repeat(43) }),
      'stored-key',
    ],
    ['a base64url salt', verifierText({ salt: 'ab-_ab-_ab-_ab-_ab-_aQ==' }), 'salt'],
    ['a trailing newline', `${verifierText({})}\n`, 'server-key'],
    ['a lower-case scheme', verifierText({}).toLowerCase(), 'scheme'],
    ['an empty salt', verifierText({ salt: '' }), 'salt'],
  ])(
    'rejects a verifier with %s by the CockroachDB pattern and a PostgreSQL rule',
    (_, text, pgRule) => {
      expectRule(() => assertVerifierAcceptable(text, 'cockroachdb'), 'cockroachdb-pattern');
      expectRule(() => assertVerifierAcceptable(text, 'postgres'), pgRule);
    },
  );

  it('applies the canonical checks after the CockroachDB pattern matches', () => {
    // The pattern takes any \d+ and any =* padding; our canonical form does not.
    expectRule(
      () => assertVerifierAcceptable(verifierText({ iterations: '04096' }), 'cockroachdb'),
      'iterations-syntax',
    );
    expectRule(
      () => assertVerifierAcceptable(verifierText({ salt: 'c2FsdA===' }), 'cockroachdb'),
      'salt',
    );
  });
});

describe('verifyPasswordAgainstVerifier', () => {
  const verifier = createScramVerifier('the right one', { iterations: 4096 });

  it('is true for the password the verifier was made from', () => {
    expect(verifyPasswordAgainstVerifier('the right one', verifier)).toBe(true);
  });

  it('is false for any other password', () => {
    expect(verifyPasswordAgainstVerifier('the wrong one', verifier)).toBe(false);
    expect(verifyPasswordAgainstVerifier('the right one ', verifier)).toBe(false);
  });

  it('is false when only the ServerKey differs', () => {
    const parts = parseScramVerifier(verifier);
    const serverKey = Buffer.from(parts.serverKey);
    serverKey[0] = (serverKey[0] ?? 0) ^ 1;
    const tampered = encodeScramVerifier({ ...parts, serverKey });
    expect(verifyPasswordAgainstVerifier('the right one', tampered)).toBe(false);
  });

  it('throws a ScramVerifierError for a verifier that does not parse', () => {
    expectRule(() => verifyPasswordAgainstVerifier('pw', 'md5abcdef'), 'scheme');
  });
});

describe('estimatePbkdf2Ms', () => {
  it('grows with the iteration count and stays positive', () => {
    const small = estimatePbkdf2Ms(4096);
    const large = estimatePbkdf2Ms(4096 * 1000);
    expect(small).toBeGreaterThan(0);
    expect(large / small).toBeCloseTo(1000, 5);
  });
});
