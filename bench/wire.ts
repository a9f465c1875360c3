/**
 * Where a rotation's time goes, watched on the wire from outside the
 * function: its sockets to PostgreSQL (TCP connect, TLS handshake, the
 * startup and SCRAM exchange, each statement) and its HTTP requests to
 * Secrets Manager.
 *
 * The function runs in this process (bench/function.ts), so the bench can
 * observe it without touching its code: `net.Socket#connect` and
 * `tls.connect`, which node-postgres calls through `require`, are wrapped to
 * take timestamps and to read the PostgreSQL messages as they pass (type
 * bytes and lengths only, never their contents); Node's own
 * `http.client.*` diagnostics channels time each Secrets Manager request.
 *
 * @module
 */
import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import net from 'node:net';
import tls from 'node:tls';

/** Milliseconds per phase, summed over the connections and requests of one stretch of time. */
export interface Phases {
  /** Secrets Manager requests: count, and time from sending to the answer. */
  readonly smRequests: number;
  readonly smMs: number;
  /** PostgreSQL connections opened. */
  readonly connections: number;
  /** TCP connect. */
  readonly tcpMs: number;
  /** SSLRequest and the TLS handshake, up to a verified server certificate. */
  readonly tlsMs: number;
  /** Startup message to the server's SASL request (the server forks a backend, reads HBA). */
  readonly startupMs: number;
  /** The SCRAM exchange: both sides' PBKDF2 and two round trips. */
  readonly scramMs: number;
  /** AuthenticationOk to the first ReadyForQuery (backend start-up). */
  readonly sessionMs: number;
  /** Statements: count, and time from sending each to its ReadyForQuery. */
  readonly statements: number;
  readonly statementMs: number;
  /** Terminate to the socket's close. */
  readonly closeMs: number;
}

const EMPTY: Phases = {
  smRequests: 0,
  smMs: 0,
  connections: 0,
  tcpMs: 0,
  tlsMs: 0,
  startupMs: 0,
  scramMs: 0,
  sessionMs: 0,
  statements: 0,
  statementMs: 0,
  closeMs: 0,
};

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The timeline of one PostgreSQL connection. */
interface Connection {
  tcpStart: number;
  tcpDone?: number;
  tlsDone?: number;
  startupSent?: number;
  saslRequested?: number;
  authOk?: number;
  ready?: number;
  statementStart?: number;
  terminateSent?: number;
}

/** AuthenticationRequest subtypes (PostgreSQL protocol). */
const AUTH_OK = 0;
const AUTH_SASL = 10;

/**
 * Watches the PostgreSQL server on `pgPort` and Secrets Manager requests
 * signed with `accessKeyId`, accumulating {@link Phases} until
 * {@link WireTrace.take}.
 */
export class WireTrace {
  #phases: Mutable<Phases> = { ...EMPTY };
  readonly #undo: (() => void)[] = [];
  readonly #requests = new WeakMap<ClientRequest, number>();

  constructor(
    private readonly pgPort: number,
    private readonly accessKeyId: string,
  ) {}

  /** Starts watching. */
  install(): void {
    this.#watchHttp();
    this.#watchSockets();
  }

  /** Stops watching and restores what was wrapped. */
  uninstall(): void {
    for (const undo of this.#undo.splice(0).reverse()) undo();
  }

  /** The phases since the last call. */
  take(): Phases {
    const phases = this.#phases;
    this.#phases = { ...EMPTY };
    return phases;
  }

  #watchHttp(): void {
    const onStart = (message: unknown) => {
      const { request } = message as { request: ClientRequest };
      const authorization = String(request.getHeader('authorization') ?? '');
      if (authorization.includes(`Credential=${this.accessKeyId}/`)) {
        this.#requests.set(request, performance.now());
      }
    };
    const onFinish = (message: unknown) => {
      const { request } = message as { request: ClientRequest };
      const started = this.#requests.get(request);
      if (started === undefined) return;
      this.#requests.delete(request);
      this.#phases.smRequests += 1;
      this.#phases.smMs += performance.now() - started;
    };
    diagnostics.subscribe('http.client.request.start', onStart);
    diagnostics.subscribe('http.client.response.finish', onFinish);
    this.#undo.push(() => {
      diagnostics.unsubscribe('http.client.request.start', onStart);
      diagnostics.unsubscribe('http.client.response.finish', onFinish);
    });
  }

  #watchSockets(): void {
    const trace = this;
    const connections = new WeakMap<net.Socket, Connection>();
    const originalConnect = net.Socket.prototype.connect;
    const pgPort = this.pgPort;
    net.Socket.prototype.connect = function connect(this: net.Socket, ...args: unknown[]) {
      const first = args[0];
      const port =
        typeof first === 'object' && first !== null ? (first as { port?: unknown }).port : first;
      if (Number(port) === pgPort) {
        const connection: Connection = { tcpStart: performance.now() };
        connections.set(this, connection);
        trace.#phases.connections += 1;
        this.once('connect', () => {
          connection.tcpDone = performance.now();
        });
      }
      return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
    } as typeof net.Socket.prototype.connect;
    this.#undo.push(() => {
      net.Socket.prototype.connect = originalConnect;
    });

    const originalTls = tls.connect;
    (tls as { connect: typeof tls.connect }).connect = ((...args: unknown[]) => {
      const secure = (originalTls as (...a: unknown[]) => tls.TLSSocket)(...args);
      const options = args[0] as { socket?: net.Socket } | undefined;
      const connection = options?.socket ? connections.get(options.socket) : undefined;
      if (connection !== undefined) this.#follow(secure, connection);
      return secure;
    }) as typeof tls.connect;
    this.#undo.push(() => {
      (tls as { connect: typeof tls.connect }).connect = originalTls;
    });
  }

  /** Reads message boundaries on a TLS socket to PostgreSQL, both ways. */
  #follow(socket: tls.TLSSocket, connection: Connection): void {
    // Always the current accumulator: take() may start a new one meanwhile.
    const add = (key: keyof Phases, from: number | undefined, to: number) => {
      if (from !== undefined) (this.#phases[key] as number) += to - from;
    };
    socket.once('secureConnect', () => {
      connection.tlsDone = performance.now();
      add('tcpMs', connection.tcpStart, connection.tcpDone ?? connection.tcpStart);
      add('tlsMs', connection.tcpDone, connection.tlsDone);
    });

    const originalWrite = socket.write;
    socket.write = function write(this: tls.TLSSocket, ...args: unknown[]) {
      const chunk = args[0];
      if (Buffer.isBuffer(chunk) && chunk.length > 0) {
        const now = performance.now();
        if (connection.startupSent === undefined) connection.startupSent = now;
        else {
          // A chunk may hold several messages; its first type byte is the one that starts work.
          const type = String.fromCharCode(chunk[0] as number);
          if ((type === 'Q' || type === 'P') && connection.statementStart === undefined) {
            connection.statementStart = now;
          } else if (type === 'X') connection.terminateSent = now;
        }
      }
      return (originalWrite as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof socket.write;

    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      const now = performance.now();
      pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
      while (pending.length >= 5) {
        const length = pending.readUInt32BE(1);
        if (pending.length < 1 + length) break;
        const type = String.fromCharCode(pending[0] as number);
        if (type === 'R' && length >= 8) {
          const subtype = pending.readUInt32BE(5);
          if (subtype === AUTH_SASL) {
            connection.saslRequested = now;
            add('startupMs', connection.startupSent, now);
          } else if (subtype === AUTH_OK) {
            connection.authOk = now;
            add('scramMs', connection.saslRequested, now);
          }
        } else if (type === 'Z') {
          if (connection.ready === undefined) {
            connection.ready = now;
            add('sessionMs', connection.authOk, now);
          } else if (connection.statementStart !== undefined) {
            this.#phases.statements += 1;
            add('statementMs', connection.statementStart, now);
            connection.statementStart = undefined;
          }
        }
        pending = pending.subarray(1 + length);
      }
    });
    socket.once('close', () => {
      add('closeMs', connection.terminateSent, performance.now());
    });
  }
}

/** The phases' total, for comparing with a rotation's wall time. */
export function phaseTotal(phases: Phases): number {
  return (
    phases.smMs +
    phases.tcpMs +
    phases.tlsMs +
    phases.startupMs +
    phases.scramMs +
    phases.sessionMs +
    phases.statementMs +
    phases.closeMs
  );
}
