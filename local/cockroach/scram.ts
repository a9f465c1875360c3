/**
 * SCRAM-SHA-256 as the CockroachDB double needs it: reading stored secrets,
 * hashing a cleartext password the way CockroachDB does when it is given one
 * (or a verifier it does not take as pre-hashed), checking a cleartext
 * password against a stored secret, and the client side of the exchange for
 * the double's own connection to PostgreSQL.
 *
 * Written independently of the rotation function's `lambda/core/scram.ts` on
 * purpose: the double is what that code is tested against, so sharing it
 * would let one bug hide itself on both sides.
 *
 * @module
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import saslprep from '@mongodb-js/saslprep';

/** The parts of a stored `SCRAM-SHA-256$<i>:<salt>$<StoredKey>:<ServerKey>` secret. */
export interface ScramSecret {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/**
 * PostgreSQL's stored-secret layout (`parse_scram_secret`). Whether a
 * *client-supplied* verifier is acceptable is a different, stricter question
 * that CockroachDB answers with its own pattern (see behaviours.ts).
 */
const SECRET_PATTERN =
  /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;

/** Parses a stored secret, or returns undefined when it is not a SCRAM secret. */
export function parseScramSecret(text: string | null | undefined): ScramSecret | undefined {
  if (!text) return undefined;
  const match = SECRET_PATTERN.exec(text);
  if (!match) return undefined;
  const [, iterations, salt, storedKey, serverKey] = match;
  if (!iterations || !salt || !storedKey || !serverKey) return undefined;
  const parsed = {
    iterations: Number(iterations),
    salt: Buffer.from(salt, 'base64'),
    storedKey: Buffer.from(storedKey, 'base64'),
    serverKey: Buffer.from(serverKey, 'base64'),
  };
  if (!Number.isSafeInteger(parsed.iterations) || parsed.iterations < 1) return undefined;
  if (parsed.storedKey.length !== 32 || parsed.serverKey.length !== 32) return undefined;
  return parsed;
}

/**
 * The bytes CockroachDB feeds to PBKDF2: SASLprep, or the raw string when
 * SASLprep refuses it (`hashPasswordUsingSCRAM` in
 * pkg/security/password/password.go, copying PostgreSQL's auth-scram.c).
 */
function prepare(password: string): Buffer {
  try {
    return Buffer.from(saslprep(password), 'utf8');
  } catch {
    return Buffer.from(password, 'utf8');
  }
}

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(prepare(password), salt, iterations, 32, 'sha256');
}

/**
 * Hashes a cleartext password into a stored secret, as CockroachDB does for
 * `ALTER USER ... WITH PASSWORD '<cleartext>'` and when it re-hashes a
 * password at login (16-byte random salt, the cluster's iteration count).
 */
export function hashPasswordScram(password: string, iterations: number): string {
  const salt = randomBytes(16);
  const salted = saltedPassword(password, salt, iterations);
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * Checks a cleartext password against a stored secret by recomputing the
 * ServerKey, as CockroachDB's `scramHash.compareWithCleartextPassword` does.
 */
export function cleartextMatchesSecret(password: string, secret: ScramSecret): boolean {
  const serverKey = hmac(saltedPassword(password, secret.salt, secret.iterations), 'Server Key');
  return (
    serverKey.length === secret.serverKey.length && timingSafeEqual(serverKey, secret.serverKey)
  );
}

/**
 * Verifies a SCRAM ClientProof (RFC 5802 section 3): ClientKey = proof XOR
 * HMAC(StoredKey, AuthMessage) must hash to StoredKey.
 */
export function clientProofMatches(
  secret: ScramSecret,
  authMessage: string,
  clientProofBase64: string,
): boolean {
  const proof = Buffer.from(clientProofBase64, 'base64');
  if (proof.length !== 32) return false;
  const signature = hmac(secret.storedKey, authMessage);
  const clientKey = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) clientKey[i] = (proof[i] ?? 0) ^ (signature[i] ?? 0);
  const stored = createHash('sha256').update(clientKey).digest();
  return timingSafeEqual(stored, secret.storedKey);
}

/** The client side of one SCRAM-SHA-256 exchange (no channel binding). */
export class ScramClient {
  readonly #password: string;
  readonly #nonce = randomBytes(18).toString('base64');
  #expectedServerSignature: Buffer | undefined;

  constructor(password: string) {
    this.#password = password;
  }

  /**
   * client-first-message. The gs2 header `n,,` says the client does not
   * support channel binding, which PostgreSQL accepts over TLS; `y,,` would
   * be refused as a downgrade because PostgreSQL offers SCRAM-SHA-256-PLUS.
   */
  first(): string {
    return `n,,n=*,r=${this.#nonce}`;
  }

  /** client-final-message for the server-first-message received. */
  final(serverFirst: string): string {
    const attributes = new Map(
      serverFirst.split(',').map((part) => [part.slice(0, 1), part.slice(2)] as const),
    );
    const nonce = attributes.get('r') ?? '';
    const salt = Buffer.from(attributes.get('s') ?? '', 'base64');
    const iterations = Number(attributes.get('i'));
    if (!nonce.startsWith(this.#nonce) || salt.length === 0 || !Number.isSafeInteger(iterations)) {
      throw new Error('PostgreSQL sent a malformed SCRAM server-first-message');
    }
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `n=*,r=${this.#nonce},${serverFirst},${withoutProof}`;
    const salted = saltedPassword(this.#password, salt, iterations);
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = (clientKey[i] ?? 0) ^ (signature[i] ?? 0);
    this.#expectedServerSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server-final-message, so the double knows it reached the real server. */
  verifyServerFinal(serverFinal: string): void {
    const signature = Buffer.from(serverFinal.replace(/^v=/, ''), 'base64');
    const expected = this.#expectedServerSignature;
    if (
      !expected ||
      signature.length !== expected.length ||
      !timingSafeEqual(signature, expected)
    ) {
      throw new Error('PostgreSQL sent a wrong SCRAM server signature');
    }
  }
}
