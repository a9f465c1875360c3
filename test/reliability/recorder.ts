/**
 * Records every external call a rotation step makes, and makes one fail or
 * hang on purpose. It wraps the interfaces the steps receive (the
 * SecretStore and the DatabaseConnector, and each DatabaseSession a login
 * returns) with proxies, so a method added to them later is recorded and
 * injectable without a change here; a step that reached the network some
 * other way would show up as a connection the server saw and the recorder
 * did not (see the crash-point suite).
 *
 * A call is named by what it is, never by a value: the API operation and
 * stage, `connect as user|admin`, the session method and the statement's
 * leading words. With the step and where in the function's code the call
 * is made (see {@link CallPoint.site}) it is a crash point.
 *
 * @module
 */
import { InternalServiceError } from '@aws-sdk/client-secrets-manager';
import { type CallOptions, statementName } from '../../lambda/adapters/call.js';
import type {
  DatabaseConnector,
  DatabaseSession,
  LoginTarget,
} from '../../lambda/adapters/database.js';
import type { SecretStore, VersionSelector } from '../../lambda/adapters/secrets-manager.js';
import type { RotationStep } from '../../lambda/core/event.js';
import {
  ConcurrentUpdateError,
  ConnectionLostError,
  DatabaseBusyError,
  DatabaseServerError,
} from '../../lambda/errors.js';

/** What an external call reaches. */
export type CallKind = 'secrets' | 'connect' | 'statement' | 'close';

/**
 * What an injection does at its call:
 * - `error`: the call fails before it reaches the service, with an error
 *   the step does not retry (a 500 from Secrets Manager, an unknown server
 *   error);
 * - `lost-reply`: the call takes effect and its answer is lost (a 500
 *   after the write; the connection dropped after the statement);
 * - `transient`: the call fails once with an error the step retries
 *   (53300 at a login, 40001 at a statement);
 * - `hang`: the call never answers; only the deadline ends it.
 */
export type FaultKind = 'error' | 'lost-reply' | 'transient' | 'hang';

/** The faults that make sense at each kind of call. */
export const FAULTS_BY_CALL = {
  secrets: ['error', 'lost-reply', 'hang'],
  connect: ['error', 'lost-reply', 'transient', 'hang'],
  statement: ['error', 'lost-reply', 'transient', 'hang'],
  // close never throws by contract (it swallows errors); it can still hang.
  close: ['hang'],
} as const satisfies Record<CallKind, readonly FaultKind[]>;

/** One external call as the recorder names it. */
export interface CallPoint {
  readonly step: RotationStep;
  readonly call: string;
  /**
   * Where in the function's code the call is made: the chain of call sites
   * in `lambda/` (outside the adapters), innermost first, as `file:line`.
   * A call repeated by a retry or a loop is the same point.
   */
  readonly site: string;
  readonly kind: CallKind;
}

/** A recorded call, with the phase of the scenario it happened in. */
export interface RecordedCall extends CallPoint {
  readonly phase: string;
}

/** A fault to inject at a call point in one phase; it fires at the first call of that point there. */
export interface Injection extends CallPoint {
  readonly phase: string;
  readonly fault: FaultKind;
}

/** A stable key for a call point: the same point in any phase. */
export function pointKey(point: CallPoint): string {
  return `${point.step} ${point.call} @ ${point.site}`;
}

/** The project's root, to shorten paths in call sites. */
const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * The chain of call sites in the function's own code (lambda/, outside the
 * adapters, which every call passes through alike) that led to this call.
 */
function callSite(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 60;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const sites = [...stack.matchAll(/\(?(\/[^\s()]+?\/lambda\/[^\s():]+):(\d+):\d+\)?$/gm)]
    .filter(([, file]) => !file?.includes('/lambda/adapters/'))
    .map(([, file, line]) => `${file?.replace(ROOT, '')}:${line}`);
  return sites.join(' < ') || 'unknown';
}

/** Calls with no abort signal are refused by this recorder: they could not be cut at the deadline. */
export class UnsignalledCallError extends Error {
  constructor(call: string) {
    super(`${call} was called without an abort signal: the deadline could not stop it`);
  }
}

/** Records and injects; one per scenario. */
export class Recorder {
  /** Every call, in order. */
  readonly calls: RecordedCall[] = [];
  /** Injections that fired, in order, with the index of the call they fired at. */
  readonly fired: (Injection & { readonly at: number })[] = [];
  /** Logins that reached the server and returned a session. */
  realLogins = 0;
  /** Calls that were not given an abort signal (must stay empty). */
  readonly unsignalled: string[] = [];
  /** The rotated secret's ARN, to tell it from the admin secret. */
  secretArn = '';
  /** The rotated role, to tell it from the admin. */
  username = '';
  #phase = 'first';
  #step: RotationStep = 'createSecret';
  #pending: Injection[] = [];
  #running = 0;
  readonly #openSessions = new Set<DatabaseSession>();
  /** Runs before a call goes through (restart tests take the server down here). */
  beforeCall: ((call: RecordedCall) => Promise<void> | void) | undefined;

  /** Arms injections; each fires once, at its phase, step, call and occurrence. */
  arm(injections: readonly Injection[]): void {
    this.#pending = [...injections];
  }

  /** Marks the start of one invocation (its phase and step name the calls it makes). */
  begin(phase: string, step: RotationStep): void {
    this.#phase = phase;
    this.#step = step;
  }

  /** Calls started and not yet settled. */
  get running(): number {
    return this.#running;
  }

  /** Sessions opened and not yet closed. */
  get openSessions(): number {
    return this.#openSessions.size;
  }

  /** The injections not fired yet. */
  get unfired(): readonly Injection[] {
    return this.#pending;
  }

  /** Whether an injection of `fault` is armed for a step of a phase. */
  armedFor(phase: string, step: RotationStep, fault: FaultKind): boolean {
    return this.armedIn(phase, step).some((i) => i.fault === fault);
  }

  /** The injections armed for a step of a phase. */
  armedIn(phase: string, step: RotationStep): readonly Injection[] {
    return this.#pending.filter((i) => i.phase === phase && i.step === step);
  }

  /** The SecretStore, recorded. */
  secrets(store: SecretStore): SecretStore {
    return new Proxy(store, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const method = String(property);
        return (...args: unknown[]) =>
          this.#call('secrets', this.#secretsCall(method, args), signalOf(args.at(-1)), () =>
            (value as (...a: unknown[]) => Promise<unknown>).apply(target, args),
          );
      },
    });
  }

  /** The DatabaseConnector, recorded; so are the sessions it opens. */
  database(connector: DatabaseConnector): DatabaseConnector {
    return new Proxy(connector, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          const login = (value as (...a: unknown[]) => Promise<DatabaseSession>).bind(target);
          const loginTarget = args[0] as LoginTarget;
          const signal = signalOf(args[2]);
          // The rotated user, or another role: the admin, an alternating clone.
          const who = loginTarget.username === this.username ? 'user' : 'another role';
          const where = `${loginTarget.host}:${loginTarget.port}`;
          const session = await this.#call(
            'connect',
            `connect as ${who}`,
            signal,
            async () => {
              const opened = await login(...args);
              this.realLogins++;
              this.#openSessions.add(opened);
              return opened;
            },
            async (opened) => {
              await opened.close();
              this.#openSessions.delete(opened);
            },
            where,
          );
          return this.#session(session, signal, where);
        };
      },
    });
  }

  #session(
    session: DatabaseSession,
    signal: AbortSignal | undefined,
    where: string,
  ): DatabaseSession {
    return new Proxy(session, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const method = String(property);
        const call = (...args: unknown[]) =>
          (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (method === 'close') {
          return () =>
            this.#call(
              'close',
              'session.close',
              signal,
              async () => {
                await call();
                this.#openSessions.delete(session);
              },
              undefined,
              where,
              async () => {
                // A close cut off by the deadline still lets the connection go.
                await call();
                this.#openSessions.delete(session);
              },
            );
        }
        return (...args: unknown[]) =>
          this.#call(
            'statement',
            sessionCall(method, args),
            signal,
            () => call(...args),
            () => session.close().then(() => this.#openSessions.delete(session)),
            where,
          );
      },
    });
  }

  #secretsCall(method: string, args: unknown[]): string {
    const secret = args[0] === this.secretArn ? 'secret' : 'admin secret';
    switch (method) {
      case 'describe':
        return 'DescribeSecret';
      case 'getSecretString': {
        const version = args[1] as VersionSelector;
        const by = 'versionId' in version ? ' by id' : '';
        return `GetSecretValue ${secret} ${version.stage ?? ''}${by}`;
      }
      case 'putPending':
        return 'PutSecretValue AWSPENDING';
      case 'promoteToCurrent':
        return 'UpdateSecretVersionStage AWSCURRENT';
      default:
        return `SecretStore.${method}`;
    }
  }

  async #call<T>(
    kind: CallKind,
    name: string,
    signal: AbortSignal | undefined,
    through: () => Promise<T>,
    undo?: (value: T) => Promise<unknown>,
    where = 'Secrets Manager',
    afterHang?: () => Promise<void>,
  ): Promise<T> {
    const recorded: RecordedCall = {
      phase: this.#phase,
      step: this.#step,
      call: name,
      site: callSite(),
      kind,
    };
    this.calls.push(recorded);
    if (signal === undefined) this.unsignalled.push(pointKey(recorded));
    const index = this.#pending.findIndex(
      (i) => i.phase === recorded.phase && pointKey(i) === pointKey(recorded),
    );
    const injection = index === -1 ? undefined : this.#pending.splice(index, 1)[0];
    if (injection) this.fired.push({ ...injection, at: this.calls.length - 1 });
    this.#running++;
    try {
      await this.beforeCall?.(recorded);
      switch (injection?.fault) {
        case undefined:
          return await through();
        case 'hang':
          await hangUntil(signal, name);
          // Unreachable: hangUntil only rejects.
          throw new Error('unreachable');
        case 'error':
          throw failure(kind, where, name, false);
        case 'transient':
          throw failure(kind, where, name, true);
        case 'lost-reply': {
          const value = await through();
          await undo?.(value);
          throw lostReply(kind, where, name);
        }
      }
    } catch (error) {
      if (injection?.fault === 'hang') await afterHang?.();
      throw error;
    } finally {
      this.#running--;
    }
  }
}

function signalOf(options: unknown): AbortSignal | undefined {
  return (options as CallOptions | undefined)?.signal ?? undefined;
}

/** A session method's name; statements by their leading words. */
function sessionCall(method: string, args: unknown[]): string {
  if (method === 'query' || method === 'execute') {
    return `session.${method} ${statementName(String(args[0]))}`;
  }
  if (method === 'setting') return `session.setting ${String(args[0])}`;
  return `session.${method}`;
}

/** Waits for the signal and rejects with its reason; a call without one would hang for good. */
function hangUntil(signal: AbortSignal | undefined, name: string): Promise<never> {
  return new Promise((_, reject) => {
    if (signal === undefined) {
      reject(new UnsignalledCallError(name));
      return;
    }
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** The error a call fails with before it reaches the service. */
function failure(kind: CallKind, where: string, name: string, transient: boolean): Error {
  const cause = { cause: new Error(`injected at ${name}`) };
  switch (kind) {
    case 'secrets':
      return new InternalServiceError({ message: `Injected fault at ${name}`, $metadata: {} });
    case 'connect':
      return transient
        ? new DatabaseBusyError(where, '53300', cause)
        : new DatabaseServerError(where, 'XX000', name, cause);
    case 'statement':
    case 'close':
      return transient
        ? new ConcurrentUpdateError(where, '40001', cause)
        : new DatabaseServerError(where, 'XX000', name, cause);
  }
}

/** The error a call fails with after it took effect. */
function lostReply(kind: CallKind, where: string, name: string): Error {
  return kind === 'secrets'
    ? new InternalServiceError({ message: `Injected lost reply at ${name}`, $metadata: {} })
    : new ConnectionLostError(where, name, { cause: new Error('injected lost reply') });
}
