/**
 * What a rotation cost, counted outside the function: Secrets Manager
 * requests as the local endpoint received them, and database logins and
 * statements as PostgreSQL logged them (`log_connections`, `log_statement`).
 *
 * Nothing here reads or prints a logged statement's text: the server log
 * holds the verifiers the function sent.
 *
 * @module
 */

import type { LocalPostgres } from '../local/postgres.js';
import type { Operation, SecretsManagerEndpoint } from '../local/secrets-manager/index.js';

/** Requests per operation. */
export type OperationCounts = Partial<Record<Operation, number>>;

/** Total of {@link OperationCounts}. */
export function total(counts: OperationCounts): number {
  return Object.values(counts).reduce((sum, n) => sum + (n ?? 0), 0);
}

/**
 * Counts the requests one access key sends to the endpoint, by operation,
 * between two {@link RequestCounter.take} calls.
 */
export class RequestCounter {
  #counts: OperationCounts = {};
  readonly #unsubscribe: () => void;

  constructor(endpoint: SecretsManagerEndpoint, accessKeyId: string) {
    this.#unsubscribe = endpoint.onRequest((request) => {
      if (request.accessKeyId !== accessKeyId) return;
      this.#counts[request.operation] = (this.#counts[request.operation] ?? 0) + 1;
    });
  }

  /** The counts since the last call, and a fresh start. */
  take(): OperationCounts {
    const counts = this.#counts;
    this.#counts = {};
    return counts;
  }

  stop(): void {
    this.#unsubscribe();
  }
}

/** The function's `application_name`, which tells its sessions from the bench's own. */
const FUNCTION_APPLICATION = 'scram-rotator';

/** What the server log says about a stretch of time. */
export interface ServerLogCounts {
  /** Sessions of the function that logged in (`connection authorized`). */
  readonly logins: number;
  /** Connections received that never logged in (wrong password, refused, too many clients). */
  readonly failedLogins: number;
  /** Statements the function's sessions ran (`statement:` and `execute` lines). */
  readonly statements: number;
  /** SQLSTATE-bearing FATAL lines, by message, for failures at scale (e.g. too many clients). */
  readonly fatal: Readonly<Record<string, number>>;
}

/** `2026-11-29 20:40:33.566 UTC [28309] user@db LOG:  message` */
const LINE = /^\S+ \S+ \S+ \[(\d+)\] (\S+)@(\S+) ([A-Z]+):\s+(.*)$/;

/**
 * Counts logins, failed logins and statements in a piece of the server log.
 * Continuation lines (a statement's further lines) are skipped.
 */
export function countServerLog(text: string): ServerLogCounts {
  const received = new Set<string>();
  const authorized = new Set<string>();
  const functionSessions = new Set<string>();
  const fatal: Record<string, number> = {};
  let statements = 0;
  for (const line of text.split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const [, pid = '', , , level, message = ''] = match;
    if (message.startsWith('connection received:')) received.add(pid);
    else if (message.startsWith('connection authorized:')) {
      authorized.add(pid);
      if (message.includes(`application_name=${FUNCTION_APPLICATION} `)) functionSessions.add(pid);
    } else if (
      functionSessions.has(pid) &&
      level === 'LOG' &&
      (message.startsWith('statement:') || message.startsWith('execute '))
    ) {
      statements += 1;
    } else if (level === 'FATAL') {
      // The message may name a user, never a password; keep its shape only.
      const kind = message.replace(/"[^"]*"/g, '"…"');
      fatal[kind] = (fatal[kind] ?? 0) + 1;
    }
  }
  const failedLogins = [...received].filter((pid) => !authorized.has(pid)).length;
  return { logins: functionSessions.size, failedLogins, statements, fatal };
}

/**
 * Reads the server log from where the last read ended, after a barrier
 * (see {@link LocalPostgres.readServerLog}) so that everything the server
 * did before the call is in it.
 */
export class ServerLogReader {
  readonly #postgres: LocalPostgres;
  #offset = 0;

  constructor(postgres: LocalPostgres) {
    this.#postgres = postgres;
  }

  /** Skips everything logged so far. */
  async mark(): Promise<void> {
    this.#offset = (await this.#postgres.readServerLog()).length;
  }

  /** Counts what was logged since the last {@link mark} or {@link take}. */
  async take(): Promise<ServerLogCounts> {
    const text = await this.#postgres.readServerLog();
    const counts = countServerLog(text.slice(this.#offset));
    this.#offset = text.length;
    return counts;
  }
}
