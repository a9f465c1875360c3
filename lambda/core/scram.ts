/**
 * SCRAM-SHA-256 verifiers as PostgreSQL and CockroachDB store them, computed
 * here so that the database never sees the cleartext password:
 *
 * ```text
 * SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 * SaltedPassword = PBKDF2-HMAC-SHA-256(SASLprep(password), salt, iterations, 32)
 * StoredKey      = SHA-256(HMAC(SaltedPassword, "Client Key"))
 * ServerKey      = HMAC(SaltedPassword, "Server Key")
 * ```
 *
 * Pure: no I/O besides the CSPRNG for the salt. Neither server tells whether
 * it recognised a verifier (both store a hash of any string they cannot
 * parse, as if it were the cleartext), so {@link assertVerifierAcceptable}
 * checks ours against each server's own parser before it is sent.
 *
 * @module
 */
import {
  createHash,
  createHmac,
  pbkdf2,
  pbkdf2Sync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { promisify } from 'node:util';
import { PasswordPolicyError, ScramVerifierError } from '../errors.js';

const pbkdf2Async = promisify(pbkdf2);

/** The scheme prefix of every verifier. */
export const SCRAM_SCHEME = 'SCRAM-SHA-256';

/** Salt length PostgreSQL and CockroachDB use (`SCRAM_DEFAULT_SALT_LEN`). */
export const SCRAM_SALT_BYTES = 16;

/** Length of SHA-256 output, hence of SaltedPassword, StoredKey and ServerKey. */
export const SCRAM_KEY_BYTES = 32;

/** Iteration counts that matter, and why. */
export const SCRAM_ITERATIONS = {
  /**
   * Our floor. RFC 7677 says the count SHOULD be at least 4096, it is
   * PostgreSQL's default, and CockroachDB refuses anything lower. PostgreSQL
   * itself accepts even 1, so without this floor a bad SCRAM_ITERATIONS
   * would silently weaken every rotated password on PostgreSQL.
   */
  min: 4096,
  /** PostgreSQL's default (`scram_iterations`); what we use when not told. */
  default: 4096,
  /**
   * The highest count we can compute or PostgreSQL can hold: Node's PBKDF2
   * takes a 32-bit signed count, and PostgreSQL parses the count into a C
   * `int` (a larger one would wrap around to another count).
   */
  max: 2_147_483_647,
  /** CockroachDB's `ScramMaxCost`: it refuses verifiers above this (SQLSTATE 42601). */
  cockroachdbMax: 240_000_000_000,
} as const;

/** The servers whose verifier parsers {@link assertVerifierAcceptable} mirrors. */
export type ScramEngine = 'postgres' | 'cockroachdb';

/**
 * CockroachDB's own pattern for a pre-hashed SCRAM password, verbatim from
 * `pkg/security/password/password.go` (`scramHashRe`). A string that does not
 * match is stored as a cleartext password.
 */
export const COCKROACHDB_VERIFIER_PATTERN =
  /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]{43}=):([A-Za-z0-9+/]{43}=)$/;

/**
 * The format rules a verifier is checked against, each phrased as what it
 * requires. {@link ScramVerifierError} carries the rule id.
 */
export const SCRAM_VERIFIER_RULES = {
  scheme: `it must begin with ${SCRAM_SCHEME}$`,
  structure: `it must have the form ${SCRAM_SCHEME}$<iterations>:<salt>$<StoredKey>:<ServerKey>`,
  'iterations-syntax':
    'the iteration count must be a positive decimal integer without sign, spaces or leading zeros',
  'iterations-below-minimum': `the iteration count must be at least ${SCRAM_ITERATIONS.min} (RFC 7677 minimum; CockroachDB refuses fewer); raise SCRAM_ITERATIONS`,
  'iterations-above-maximum': `the iteration count must be at most ${SCRAM_ITERATIONS.max} (a 32-bit int in PostgreSQL and Node's PBKDF2); lower SCRAM_ITERATIONS`,
  'cockroachdb-iterations': `CockroachDB accepts iteration counts from ${SCRAM_ITERATIONS.min} to ${SCRAM_ITERATIONS.cockroachdbMax} only; set SCRAM_ITERATIONS within that range`,
  salt: 'the salt must be non-empty standard base64 with padding',
  'stored-key': `StoredKey must be ${SCRAM_KEY_BYTES} bytes in standard base64 with padding`,
  'server-key': `ServerKey must be ${SCRAM_KEY_BYTES} bytes in standard base64 with padding`,
  'cockroachdb-pattern': "it must match CockroachDB's verifier pattern (scramHashRe)",
} as const;

/** One of the keys of {@link SCRAM_VERIFIER_RULES}. */
export type ScramVerifierRule = keyof typeof SCRAM_VERIFIER_RULES;

function violation(rule: ScramVerifierRule): ScramVerifierError {
  return new ScramVerifierError(rule, SCRAM_VERIFIER_RULES[rule]);
}

/** The parts of a verifier. Buffers are copies: changing them changes nothing else. */
export interface ScramVerifier {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** Options for {@link createScramVerifier} and {@link createScramVerifierAsync}. */
export interface ScramVerifierOptions {
  /**
   * PBKDF2 iteration count, from {@link SCRAM_ITERATIONS}.min to .max.
   * Match the server's own setting (PostgreSQL `scram_iterations`;
   * CockroachDB `server.user_login.password_hashes.default_cost.scram_sha_256`,
   * 10610), or CockroachDB may ask for the cleartext password at the next
   * login to re-hash it.
   * @default 4096
   */
  readonly iterations?: number;
  /**
   * Salt bytes. Only for tests and published vectors: a salt must never be
   * reused across passwords.
   * @default 16 bytes from the CSPRNG
   */
  readonly salt?: Uint8Array;
  /**
   * The bytes PBKDF2 hashes for the password. Give `preparePassword` from
   * `saslprep.ts` to hash any password as PostgreSQL does.
   * @default {@link clientPassword}: what node-postgres hashes
   */
  readonly prepare?: (password: string) => Buffer;
}

/** Whether every character is ASCII (PostgreSQL's `pg_is_ascii_string`). */
export function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return false;
  }
  return true;
}

/**
 * The bytes fed to PBKDF2 unless told otherwise: what node-postgres, the
 * function's own login client, derives its SCRAM proof from (its
 * `lib/crypto/sasl.js`), so that the function's test login proves what it
 * stores, whoever set the password (AWSCURRENT may have been typed by hand,
 * and a roll-back puts it back). RFC 4013's mappings and NFKC, without its
 * prohibition checks: non-ASCII spaces become U+0020, "commonly mapped to
 * nothing" characters are dropped. ASCII is left as it is, as by every
 * client and server. PostgreSQL's server differs only where SASLprep
 * prohibits a character (it then hashes the raw bytes): pass
 * `prepare: preparePassword` from `saslprep.ts` to hash exactly as it does.
 *
 * @example
 * ```ts
 * clientPassword('pass\u00A0word').equals(Buffer.from('pass word')); // true
 * ```
 */
export function clientPassword(password: string): Buffer {
  return Buffer.from(
    password
      .replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, ' ')
      // biome-ignore lint/suspicious/noMisleadingCharacterClass: joiners and variation selectors are what RFC 3454 B.1 maps to nothing
      .replace(/[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, '')
      .normalize('NFKC'),
    'utf8',
  );
}

function checkIterations(iterations: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw violation('iterations-syntax');
  if (iterations < SCRAM_ITERATIONS.min) throw violation('iterations-below-minimum');
  if (iterations > SCRAM_ITERATIONS.max) throw violation('iterations-above-maximum');
}

/** Validated inputs for one verifier computation. */
interface Plan {
  readonly password: Buffer;
  readonly salt: Buffer;
  readonly iterations: number;
}

function plan(password: string, options: ScramVerifierOptions): Plan {
  if (typeof password !== 'string' || password.length === 0) {
    throw new PasswordPolicyError(
      'the password is empty',
      'generate a non-empty password (PostgreSQL clients and CockroachDB refuse empty ones)',
    );
  }
  const iterations = options.iterations ?? SCRAM_ITERATIONS.default;
  checkIterations(iterations);
  const salt =
    options.salt === undefined ? randomBytes(SCRAM_SALT_BYTES) : Buffer.from(options.salt);
  if (salt.length === 0) throw violation('salt');
  return { password: (options.prepare ?? clientPassword)(password), salt, iterations };
}

function keysFrom(saltedPassword: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  const clientKey = createHmac('sha256', saltedPassword).update('Client Key').digest();
  return {
    storedKey: createHash('sha256').update(clientKey).digest(),
    serverKey: createHmac('sha256', saltedPassword).update('Server Key').digest(),
  };
}

/**
 * Formats verifier parts as `SCRAM-SHA-256$<i>:<salt>$<StoredKey>:<ServerKey>`
 * (standard base64 with padding, as PostgreSQL's `pg_b64_encode` writes it).
 */
export function encodeScramVerifier(parts: ScramVerifier): string {
  const b64 = (bytes: Buffer) => bytes.toString('base64');
  return `${SCRAM_SCHEME}$${parts.iterations}:${b64(parts.salt)}$${b64(parts.storedKey)}:${b64(parts.serverKey)}`;
}

/**
 * Computes the SCRAM-SHA-256 verifier of `password`, blocking the event loop
 * for the PBKDF2 work (about 5 ms at 10610 iterations). In the Lambda use
 * {@link createScramVerifierAsync}.
 *
 * @throws {@link ScramVerifierError} for an iteration count outside
 *   {@link SCRAM_ITERATIONS} or an empty salt
 * @throws {@link PasswordPolicyError} for an empty password
 *
 * @example
 * ```ts
 * const verifier = createScramVerifier(password, { iterations: 4096 });
 * // 'SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>'
 * ```
 */
export function createScramVerifier(password: string, options: ScramVerifierOptions = {}): string {
  const { password: bytes, salt, iterations } = plan(password, options);
  const salted = pbkdf2Sync(bytes, salt, iterations, SCRAM_KEY_BYTES, 'sha256');
  return encodeScramVerifier({ iterations, salt, ...keysFrom(salted) });
}

/**
 * Like {@link createScramVerifier}, with PBKDF2 on libuv's thread pool so
 * the event loop stays free.
 *
 * @example
 * ```ts
 * const verifier = await createScramVerifierAsync(pending.password, { iterations: 10610 });
 * assertVerifierAcceptable(verifier, 'cockroachdb');
 * ```
 */
export async function createScramVerifierAsync(
  password: string,
  options: ScramVerifierOptions = {},
): Promise<string> {
  const { password: bytes, salt, iterations } = plan(password, options);
  const salted = await pbkdf2Async(bytes, salt, iterations, SCRAM_KEY_BYTES, 'sha256');
  return encodeScramVerifier({ iterations, salt, ...keysFrom(salted) });
}

/** Iterations of the one-off calibration run of {@link estimatePbkdf2Ms}. */
const CALIBRATION_ITERATIONS = 2048;

let msPerIteration: number | undefined;

/**
 * About how long PBKDF2 over `iterations` takes on this CPU, in ms, from one
 * calibration run per process (about 0.5 ms on a full core, a few ms on a
 * small Lambda). A PBKDF2 already started cannot be stopped, so the caller
 * compares this with the time left before it starts one.
 *
 * @example
 * ```ts
 * if (2 * estimatePbkdf2Ms(iterations) > remainingMs) throw new DeadlineError(...);
 * ```
 */
export function estimatePbkdf2Ms(iterations: number): number {
  if (msPerIteration === undefined) {
    const started = performance.now();
    pbkdf2Sync('calibration', 'salt', CALIBRATION_ITERATIONS, SCRAM_KEY_BYTES, 'sha256');
    msPerIteration = Math.max(performance.now() - started, 0.01) / CALIBRATION_ITERATIONS;
  }
  return iterations * msPerIteration;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes canonical standard base64 with padding, or returns `undefined`.
 * Canonical (it re-encodes to the same text) is stricter than PostgreSQL's
 * `pg_b64_decode`, which also skips whitespace and ignores stray bits: we
 * only ever check verifiers we wrote, so anything else is a bug to report.
 */
function decodeBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/**
 * Parses a verifier in the canonical form PostgreSQL writes and
 * `parse_scram_secret` reads: the scheme, a positive iteration count, a
 * non-empty base64 salt, and a 32-byte StoredKey and ServerKey in base64.
 * It does not apply engine limits or our iteration floor: see
 * {@link assertVerifierAcceptable}.
 *
 * @throws {@link ScramVerifierError} naming the first rule broken; the
 *   message never contains the verifier
 *
 * @example
 * ```ts
 * parseScramVerifier(stored).iterations; // 4096
 * ```
 */
export function parseScramVerifier(text: string): ScramVerifier {
  if (typeof text !== 'string' || !text.startsWith(`${SCRAM_SCHEME}$`)) throw violation('scheme');
  const fields = /^([^:$]*):([^:$]*)\$([^:$]*):([^:$]*)$/.exec(text.slice(SCRAM_SCHEME.length + 1));
  if (fields === null) throw violation('structure');
  const [, iterationText = '', saltText = '', storedKeyText = '', serverKeyText = ''] = fields;
  if (!/^[1-9][0-9]*$/.test(iterationText)) throw violation('iterations-syntax');
  const iterations = Number(iterationText);
  if (!Number.isSafeInteger(iterations)) throw violation('iterations-syntax');
  const salt = decodeBase64(saltText);
  if (salt === undefined || salt.length === 0) throw violation('salt');
  const storedKey = decodeBase64(storedKeyText);
  if (storedKey?.length !== SCRAM_KEY_BYTES) throw violation('stored-key');
  const serverKey = decodeBase64(serverKeyText);
  if (serverKey?.length !== SCRAM_KEY_BYTES) throw violation('server-key');
  return { iterations, salt, storedKey, serverKey };
}

/**
 * Checks that `engine` will recognise `verifier` as a pre-hashed SCRAM
 * password, rather than silently storing a hash of the string, and that it
 * meets our iteration floor. Returns the parsed verifier.
 *
 * - `cockroachdb`: CockroachDB's exact {@link COCKROACHDB_VERIFIER_PATTERN}
 *   first, then its iteration range 4096..240000000000, then the canonical
 *   parse.
 * - `postgres`: the canonical parse (what `parse_scram_secret` accepts),
 *   then a count that fits PostgreSQL's C `int`.
 *
 * Both then refuse fewer than {@link SCRAM_ITERATIONS}.min iterations.
 *
 * @throws {@link ScramVerifierError} naming the rule broken
 *
 * @example
 * ```ts
 * assertVerifierAcceptable(verifier, secret.engine === 'cockroachdb' ? 'cockroachdb' : 'postgres');
 * ```
 */
export function assertVerifierAcceptable(verifier: string, engine: ScramEngine): ScramVerifier {
  if (engine === 'cockroachdb') {
    const match = typeof verifier === 'string' ? COCKROACHDB_VERIFIER_PATTERN.exec(verifier) : null;
    if (match === null) throw violation('cockroachdb-pattern');
    // CockroachDB parses the count as a 64-bit integer; compare as BigInt so
    // a count with more digits than a double holds is still judged exactly.
    const count = BigInt(match[1] ?? '0');
    if (count < BigInt(SCRAM_ITERATIONS.min) || count > BigInt(SCRAM_ITERATIONS.cockroachdbMax)) {
      throw violation('cockroachdb-iterations');
    }
  }
  const parsed = parseScramVerifier(verifier);
  if (engine === 'postgres' && parsed.iterations > SCRAM_ITERATIONS.max) {
    throw violation('iterations-above-maximum');
  }
  if (parsed.iterations < SCRAM_ITERATIONS.min) throw violation('iterations-below-minimum');
  return parsed;
}

/**
 * Whether `password` is the password behind `verifier`: recomputes both
 * keys with the verifier's salt and iteration count and compares them in
 * constant time. For self-checks and tests; it costs one PBKDF2 run.
 *
 * @throws {@link ScramVerifierError} if `verifier` does not parse, or has
 *   more iterations than Node's PBKDF2 takes
 *
 * @example
 * ```ts
 * verifyPasswordAgainstVerifier(pending.password, storedVerifier); // true
 * ```
 */
export function verifyPasswordAgainstVerifier(
  password: string,
  verifier: string,
  options: Pick<ScramVerifierOptions, 'prepare'> = {},
): boolean {
  const parsed = parseScramVerifier(verifier);
  if (parsed.iterations > SCRAM_ITERATIONS.max) throw violation('iterations-above-maximum');
  const salted = pbkdf2Sync(
    (options.prepare ?? clientPassword)(password),
    parsed.salt,
    parsed.iterations,
    SCRAM_KEY_BYTES,
    'sha256',
  );
  const keys = keysFrom(salted);
  // Both comparisons always run, so the time taken does not say which key differed.
  const storedMatches = timingSafeEqual(keys.storedKey, parsed.storedKey);
  const serverMatches = timingSafeEqual(keys.serverKey, parsed.serverKey);
  return storedMatches && serverMatches;
}
