/**
 * Whether a `.local/stack.json` still describes a running stack, so that a
 * second `npm run local:up` refuses to write over it (and, on exit, to
 * delete it) while the first still serves it.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { StackFile } from './stack.js';

/** Whether something accepts TCP connections at host:port within `timeoutMs`. */
export function listening(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The stack file at `path`, or `undefined` when there is none or it is not one. */
export function readStackFile(path: string): StackFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<StackFile>;
    return typeof parsed.secretsManager?.endpoint === 'string' ? (parsed as StackFile) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What still answers of the stack the file at `path` describes: its Secrets
 * Manager endpoint or its PostgreSQL server, as `name address`; `undefined`
 * when there is no file or nothing of it runs (a stale file, safe to replace).
 */
export async function runningStack(path: string): Promise<string | undefined> {
  const stack = readStackFile(path);
  if (stack === undefined) return undefined;
  const endpoint = new URL(stack.secretsManager.endpoint);
  if (await listening(endpoint.hostname, Number(endpoint.port))) {
    return `Secrets Manager ${stack.secretsManager.endpoint}`;
  }
  const { host, port } = stack.postgres;
  if (await listening(host, port)) return `PostgreSQL ${host}:${port}`;
  return undefined;
}
