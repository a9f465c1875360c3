import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

/**
 * A PEM-encoded certificate and its private key.
 */
export interface KeyPairPem {
  /** The certificate, PEM. */
  readonly certPem: string;
  /** The private key (PKCS#1 RSA), PEM. */
  readonly keyPem: string;
}

/**
 * A certificate authority generated for one run of the local stack.
 */
export interface CertificateAuthority extends KeyPairPem {
  /** The CA's subject common name, unique per generated CA. */
  readonly commonName: string;
}

/**
 * Options for {@link issueServerCertificate}.
 */
export interface ServerCertificateOptions {
  /**
   * Host names and IP addresses the certificate is valid for (subjectAltName).
   * @default ['localhost', '127.0.0.1']
   */
  readonly hosts?: readonly string[];
  /**
   * Start of validity.
   * @default one hour ago (tolerates small clock skew)
   */
  readonly notBefore?: Date;
  /**
   * End of validity. Set it in the past to produce an expired certificate.
   * @default one day after `notBefore`
   */
  readonly notAfter?: Date;
}

const HOUR_MS = 3_600_000;

/**
 * Generates an RSA-2048 key pair with Node's crypto (fast, native) and
 * returns it in node-forge's form, which does the X.509 encoding and signing.
 */
function generateForgeKeyPair(): {
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
} {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const forgePrivate = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  const forgePublic = forge.pki.setRsaPublicKey(forgePrivate.n, forgePrivate.e);
  return { privateKey: forgePrivate, publicKey: forgePublic };
}

/** A positive, random 16-byte serial number as hex (RFC 5280 asks for positive). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

/**
 * Creates a self-signed certificate authority, valid for a day.
 *
 * @example
 * ```ts
 * const ca = createCertificateAuthority('scram-rotator local CA');
 * const server = issueServerCertificate(ca, { hosts: ['localhost', '127.0.0.1'] });
 * ```
 */
export function createCertificateAuthority(name = 'scram-rotator local CA'): CertificateAuthority {
  const keys = generateForgeKeyPair();
  const cert = forge.pki.createCertificate();
  const now = Date.now();
  // A unique name per CA: two CAs of one run must not look alike to a verifier.
  const commonName = `${name} ${randomBytes(4).toString('hex')}`;
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(now - HOUR_MS);
  cert.validity.notAfter = new Date(now + 24 * HOUR_MS);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return {
    commonName,
    certPem: forge.pki.certificateToPem(cert),
    keyPem: forge.pki.privateKeyToPem(keys.privateKey),
  };
}

/**
 * Issues a TLS server certificate signed by `ca`, with the given host names
 * and IP addresses as subjectAltName entries (what verify-full checks).
 */
export function issueServerCertificate(
  ca: CertificateAuthority,
  options: ServerCertificateOptions = {},
): KeyPairPem {
  const hosts = options.hosts ?? ['localhost', '127.0.0.1'];
  const notBefore = options.notBefore ?? new Date(Date.now() - HOUR_MS);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 25 * HOUR_MS);
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const keys = generateForgeKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: 'commonName', value: hosts[0] ?? 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      // type 2 = dNSName, type 7 = iPAddress (RFC 5280 GeneralName tags)
      altNames: hosts.map((host) =>
        isIP(host) ? { type: 7, ip: host } : { type: 2, value: host },
      ),
    },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return {
    certPem: forge.pki.certificateToPem(cert),
    keyPem: forge.pki.privateKeyToPem(keys.privateKey),
  };
}
