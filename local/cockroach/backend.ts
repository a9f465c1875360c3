/**
 * The double's own connection to PostgreSQL for one client session: TLS
 * verify-full and SCRAM as the admin, a few set-up statements, then `SET
 * SESSION AUTHORIZATION <user>`, after which it carries the client's
 * messages (possibly rewritten) and PostgreSQL's answers unchanged.
 *
 * Why the admin and not the user: the double knows only the user's verifier,
 * never a password, so it cannot log in as the user. `SET SESSION
 * AUTHORIZATION` (superuser only) makes both `session_user` and
 * `current_user` read the user and PostgreSQL check the user's privileges;
 * `SET ROLE` would leave `session_user` as the admin.
 *
 * @module
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { ScramClient } from './scram.js';
import {
  type ErrorFields,
  type Frame,
  FrameReader,
  parseErrorFields,
  queryMessage,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
  terminateMessage,
} from './wire.js';

/** Where and how to reach PostgreSQL. */
export interface BackendTarget {
  readonly host: string;
  readonly port: number;
  /** Name the server certificate is verified against. */
  readonly serverName: string;
  readonly caPem: string;
  readonly adminUser: string;
  readonly adminPassword: string;
}

/** An error PostgreSQL sent during the set-up, kept with its fields. */
export class BackendError extends Error {
  readonly fields: ErrorFields;
  constructor(fields: ErrorFields) {
    super(fields.message);
    this.name = 'BackendError';
    this.fields = fields;
  }
}

/** A queue of frames read from the server, for the set-up conversation. */
class FrameQueue {
  readonly #frames: Frame[] = [];
  #waiter: ((frame: Frame | Error) => void) | undefined;
  #failure: Error | undefined;

  push(frame: Frame): void {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter(frame);
    } else this.#frames.push(frame);
  }

  fail(error: Error): void {
    this.#failure = error;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(error);
  }

  async next(): Promise<Frame> {
    const queued = this.#frames.shift();
    if (queued) return queued;
    if (this.#failure) throw this.#failure;
    const result = await new Promise<Frame | Error>((resolve) => {
      this.#waiter = resolve;
    });
    if (result instanceof Error) throw result;
    return result;
  }
}

const TLS_TIMEOUT_MS = 10_000;

/**
 * One backend session. Open with {@link BackendSession.open}; after that,
 * {@link write} sends client bytes, and frames from the server go to the
 * handler given to {@link forward}.
 */
export class BackendSession {
  readonly #socket: TLSSocket;
  readonly #reader: FrameReader;
  readonly #queue: FrameQueue;
  #onFrame: ((frame: Frame) => void) | undefined;
  #closed = false;
  /** The transaction status of the last ReadyForQuery: I, T or E. */
  transactionStatus = 'I';

  private constructor(socket: TLSSocket, reader: FrameReader, queue: FrameQueue) {
    this.#socket = socket;
    this.#reader = reader;
    this.#queue = queue;
  }

  /**
   * Connects, authenticates as the admin, runs `setup` statements (one
   * simple query), and ends in the state where client traffic can flow.
   */
  static async open(
    target: BackendTarget,
    startup: Readonly<Record<string, string>>,
    setupSql: string,
  ): Promise<BackendSession> {
    const tcp = await new Promise<Socket>((resolve, reject) => {
      const s = connectTcp({ host: target.host, port: target.port });
      // Client messages arrive one by one (Parse, Bind, Execute, Sync); with
      // Nagle's algorithm each small write would wait for the last ACK.
      s.setNoDelay(true);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    try {
      tcp.write(sslRequest());
      const answer = await new Promise<Buffer>((resolve, reject) => {
        tcp.once('data', resolve);
        tcp.once('error', reject);
      });
      if (answer.length !== 1 || answer[0] !== 0x53 /* S */) {
        throw new Error('PostgreSQL refused TLS; the double only talks to it over TLS');
      }
      const socket = await new Promise<TLSSocket>((resolve, reject) => {
        const s = connectTls({
          socket: tcp,
          ca: target.caPem,
          servername: target.serverName,
          rejectUnauthorized: true,
        });
        const timer = setTimeout(
          () => reject(new Error('TLS handshake timed out')),
          TLS_TIMEOUT_MS,
        );
        s.once('secureConnect', () => {
          clearTimeout(timer);
          resolve(s);
        });
        s.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
      const reader = new FrameReader();
      const queue = new FrameQueue();
      const session = new BackendSession(socket, reader, queue);
      socket.on('data', (chunk: Buffer) => session.#receive(chunk));
      socket.on('error', (error) => queue.fail(error));
      socket.on('close', () => {
        session.#closed = true;
        queue.fail(new Error('PostgreSQL closed the connection'));
      });
      try {
        await session.#authenticate(target, startup);
        await session.#simpleQuery(setupSql);
      } catch (error) {
        session.close();
        throw error;
      }
      return session;
    } catch (error) {
      tcp.destroy();
      throw error;
    }
  }

  #receive(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.#reader.push(chunk);
    } catch (error) {
      this.#queue.fail(error as Error);
      this.close();
      return;
    }
    for (const frame of frames) {
      if (frame.type === 'Z') this.transactionStatus = String.fromCharCode(frame.body[0] ?? 73);
      if (this.#onFrame) this.#onFrame(frame);
      else this.#queue.push(frame);
    }
  }

  async #authenticate(target: BackendTarget, startup: Readonly<Record<string, string>>) {
    this.#socket.write(startupMessage({ ...startup, user: target.adminUser }));
    const scram = new ScramClient(target.adminPassword);
    for (;;) {
      const frame = await this.#queue.next();
      if (frame.type === 'E') throw new BackendError(parseErrorFields(frame.body));
      if (frame.type !== 'R') continue;
      const kind = frame.body.readInt32BE(0);
      if (kind === 0) break; // AuthenticationOk
      if (kind === 10) {
        const mechanisms = frame.body.subarray(4).toString('utf8').split('\0');
        if (!mechanisms.includes('SCRAM-SHA-256')) {
          throw new Error('PostgreSQL did not offer SCRAM-SHA-256 to the double');
        }
        this.#socket.write(saslInitialResponse('SCRAM-SHA-256', scram.first()));
      } else if (kind === 11) {
        this.#socket.write(saslResponse(scram.final(frame.body.subarray(4).toString('utf8'))));
      } else if (kind === 12) {
        scram.verifyServerFinal(frame.body.subarray(4).toString('utf8'));
      } else {
        throw new Error(`PostgreSQL asked the double for authentication type ${kind}`);
      }
    }
    await this.#untilReady();
  }

  /** Reads frames until ReadyForQuery, throwing the first error seen. */
  async #untilReady(): Promise<void> {
    let failure: BackendError | undefined;
    for (;;) {
      const frame = await this.#queue.next();
      if (frame.type === 'E') {
        const fields = parseErrorFields(frame.body);
        // A FATAL error (say, an unknown database) ends the connection
        // without a ReadyForQuery.
        if (fields.severity === 'FATAL' || fields.severity === 'PANIC')
          throw new BackendError(fields);
        failure ??= new BackendError(fields);
      }
      if (frame.type === 'Z') break;
    }
    if (failure) throw failure;
  }

  async #simpleQuery(sql: string): Promise<void> {
    this.#socket.write(queryMessage(sql));
    await this.#untilReady();
  }

  /**
   * Switches to forwarding: from now on every frame from PostgreSQL goes to
   * `onFrame`, in order.
   */
  forward(onFrame: (frame: Frame) => void, onClose: () => void): void {
    this.#onFrame = onFrame;
    this.#socket.on('close', onClose);
    if (this.#closed) onClose();
  }

  /** Sends client bytes to PostgreSQL. */
  write(bytes: Uint8Array): void {
    if (!this.#closed) this.#socket.write(bytes);
  }

  /** Ends the session politely (Terminate), then closes the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.end(terminateMessage());
    this.#socket.destroySoon();
  }
}
