/**
 * PostgreSQL's cancel request, sent the way libpq sends it: a new
 * connection, TLS negotiated first (verify-full, with the session's own
 * options, so the key goes only to the server the session trusted), then
 * the 16-byte CancelRequest with the backend's process id and secret key.
 * The server answers nothing and closes the connection; the statement it
 * was running then fails with SQLSTATE 57014 on the original connection.
 * node-postgres has no cancel over TLS of its own.
 *
 * @module
 */
import { connect as connectTcp } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';

/** Protocol codes (PostgreSQL, src/include/libpq/pqcomm.h). */
const SSL_REQUEST_CODE = 80877103;
const CANCEL_REQUEST_CODE = 80877102;

/** Where to send the cancel request, and the TLS options to verify the server with. */
export interface CancelTarget {
  readonly host: string;
  readonly port: number;
  readonly ssl: {
    readonly ca: string | string[];
    readonly servername?: string;
    readonly rejectUnauthorized: true;
  };
}

/**
 * Asks the server to cancel what the backend `processId` is running.
 * Resolves once the server has closed the connection (it has then read the
 * request), or after `timeoutMs`; rejects on a connection or TLS error.
 */
export function sendCancelRequest(
  target: CancelTarget,
  processId: number,
  secretKey: number,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const raw = connectTcp({ host: target.host, port: target.port });
    let tls: TLSSocket | undefined;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      tls?.destroy();
      raw.destroy();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => finish(), timeoutMs);
    raw.once('error', finish);
    raw.once('connect', () => {
      const request = Buffer.alloc(8);
      request.writeInt32BE(8, 0);
      request.writeInt32BE(SSL_REQUEST_CODE, 4);
      raw.write(request);
    });
    raw.once('data', (answer: Buffer) => {
      if (answer.toString('latin1', 0, 1) !== 'S') {
        finish(new Error('the server refused TLS for the cancel request'));
        return;
      }
      tls = connectTls({ socket: raw, ...target.ssl, host: target.host });
      tls.once('error', finish);
      tls.once('secureConnect', () => {
        const cancel = Buffer.alloc(16);
        cancel.writeInt32BE(16, 0);
        cancel.writeInt32BE(CANCEL_REQUEST_CODE, 4);
        cancel.writeInt32BE(processId, 8);
        cancel.writeInt32BE(secretKey, 12);
        tls?.write(cancel);
      });
      tls.once('close', () => finish());
    });
  });
}
