/**
 * PgConnector against hostile servers: a TLS server with a valid certificate
 * that plays the PostgreSQL protocol badly on purpose.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { PgConnector } from '../../../lambda/adapters/database.js';
import {
  AuthenticationFailedError,
  AuthenticationMethodRefusedError,
  ConnectionLostError,
  DatabaseUnavailableError,
  isTransientError,
  ServerSignatureError,
} from '../../../lambda/errors.js';
import { createCertificateAuthority, issueServerCertificate } from '../../../local/tls.js';

const PASSWORD = 'HUNTER2-cleartext-never-sent';
const ca = createCertificateAuthority('hostile test CA');
const cert = issueServerCertificate(ca);

/** Builds a backend message: type byte, Int32 length, body. */
function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const SASL = message('R', Buffer.concat([int32(10), Buffer.from('SCRAM-SHA-256\0\0')]));
const CLEARTEXT = message('R', int32(3));
const MD5 = message('R', Buffer.concat([int32(5), Buffer.from([1, 2, 3, 4])]));
const READY = message('Z', Buffer.from('I'));

/** An ErrorResponse with severity, SQLSTATE and message. */
function errorResponse(severity: string, code: string, text: string): Buffer {
  const field = (type: string, value: string) => Buffer.from(`${type}${value}\0`, 'utf8');
  return message(
    'E',
    Buffer.concat([
      field('S', severity),
      field('V', severity),
      field('C', code),
      field('M', text),
      Buffer.from([0]),
    ]),
  );
}

/** AuthenticationSASLContinue (11) or AuthenticationSASLFinal (12) with its text. */
const saslMessage = (kind: 11 | 12, text: string) =>
  message('R', Buffer.concat([int32(kind), Buffer.from(text, 'utf8')]));

/**
 * Plays SCRAM up to the client's proof: the mechanism, then the server-first
 * message for the client's nonce; `afterProof` answers the proof.
 */
function scramUntilProof(tls: TLSSocket, afterProof: () => void): void {
  tls.write(SASL);
  tls.once('data', (first: Buffer) => {
    // SASLInitialResponse: the client-first-message ends the packet ("...,r=<nonce>").
    const nonce = /r=([^,]+)$/.exec(first.toString('latin1'))?.[1] ?? '';
    tls.write(
      saslMessage(11, `r=${nonce}server-nonce,s=${Buffer.alloc(16, 7).toString('base64')},i=4096`),
    );
    tls.once('data', afterProof);
  });
}

let server: Server | undefined;
afterEach(() => {
  server?.close();
});

/**
 * Starts a server that answers SSLRequest with 'S', then runs `script` over
 * TLS; returns its port and everything the client sent after the startup.
 */
async function hostile(
  script: (tls: TLSSocket) => void,
): Promise<{ port: number; received: Buffer[] }> {
  const received: Buffer[] = [];
  server = createServer((raw: Socket) => {
    raw.once('data', () => {
      raw.write('S');
      const tls = new TLSSocket(raw, { isServer: true, key: cert.keyPem, cert: cert.certPem });
      let started = false;
      tls.on('data', (chunk: Buffer) => {
        if (started) received.push(chunk);
        else {
          started = true;
          script(tls);
        }
      });
      tls.on('error', () => undefined);
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, received };
}

async function login(port: number) {
  return new PgConnector().login(
    { host: 'localhost', port, database: 'x', username: 'app', password: PASSWORD, ca: ca.certPem },
    { connectTimeoutMs: 3_000, statementTimeoutMs: 3_000, maxScramIterations: 0 },
  );
}

describe('PgConnector against a hostile server', () => {
  for (const [name, weaker] of [
    ['cleartext', CLEARTEXT],
    ['MD5', MD5],
  ] as const) {
    it(`never sends the password (or its hash) when a ${name} request follows a SCRAM request`, async () => {
      const { port, received } = await hostile((tls) => {
        tls.write(SASL);
        tls.once('data', () => tls.write(weaker));
      });
      await expect(login(port)).rejects.toBeInstanceOf(AuthenticationMethodRefusedError);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const sent = Buffer.concat(received).toString('latin1');
      expect(sent).toContain('SCRAM-SHA-256');
      expect(sent).not.toContain(PASSWORD);
      expect(sent).not.toMatch(/md5[0-9a-f]{32}/);
    });
  }

  it('refuses a server that reports ready without any authentication', async () => {
    const { port } = await hostile((tls) => tls.write(READY));
    await expect(login(port)).rejects.toMatchObject({
      name: 'AuthenticationMethodRefusedError',
      message: expect.stringContaining('trust'),
    });
  });

  it('refuses a server whose SCRAM signature does not match, sending nothing after the exchange', async () => {
    // It accepts any proof, then signs with a key it cannot have.
    const { port, received } = await hostile((tls) =>
      scramUntilProof(tls, () =>
        tls.write(saslMessage(12, `v=${Buffer.alloc(32, 1).toString('base64')}`)),
      ),
    );
    const failure = await login(port).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ServerSignatureError);
    expect(failure).toMatchObject({ problem: 'mismatch' });
    expect(isTransientError(failure)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // SASLInitialResponse and SASLResponse, then nothing: no query reached this server.
    const sent = Buffer.concat(received);
    expect(sent.toString('latin1')).not.toContain('SELECT');
    expect(sent.toString('latin1')).not.toContain(PASSWORD);
  });

  it('reports a SCRAM exchange that skips the server final message as a missing signature, not a missing mechanism', async () => {
    // AuthenticationOk and ReadyForQuery, with no AuthenticationSASLFinal.
    const { port, received } = await hostile((tls) =>
      scramUntilProof(tls, () => tls.write(Buffer.concat([message('R', int32(0)), READY]))),
    );
    const failure = await login(port).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ServerSignatureError);
    expect((failure as Error).message).toMatch(
      /^Server signature refused: the server at localhost:\d+ sent no SCRAM server signature for app/,
    );
    expect((failure as Error).message).not.toContain('offered no SCRAM-SHA-256 mechanism');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(Buffer.concat(received).toString('latin1')).not.toContain('SELECT');
  });

  it.each([
    ['PostgreSQL', 'role "app" is not permitted to log in'],
    ['CockroachDB', 'app does not have login privilege'],
  ])('reports a role without LOGIN (%s) as such, not as a wrong password', async (_, text) => {
    const { port } = await hostile((tls) => tls.end(errorResponse('FATAL', '28000', text)));
    const failure = await login(port).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AuthenticationFailedError);
    expect((failure as Error).message).toMatch(
      /^Authentication failed: user app could not log in at localhost:\d+; the role may not log in \(NOLOGIN\): the password is not the cause.* run ALTER ROLE "app" LOGIN$/,
    );
    expect((failure as Error).message).not.toContain("check that the secret's password");
  });

  it('reports a server starting up as unavailable (57P03), to be retried', async () => {
    const { port } = await hostile((tls) =>
      tls.end(errorResponse('FATAL', '57P03', 'the database system is starting up')),
    );
    const failure = await login(port).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DatabaseUnavailableError);
    expect(isTransientError(failure)).toBe(true);
    expect((failure as Error).message).toMatch(
      /^Database not available: localhost:\d+ is starting up/,
    );
  });

  it('reports a connection dropped in the middle of the login as lost, to be retried', async () => {
    const { port } = await hostile((tls) => {
      tls.write(SASL);
      tls.once('data', () => tls.destroy());
    });
    const failure = await login(port).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConnectionLostError);
    expect(isTransientError(failure)).toBe(true);
  });
});
