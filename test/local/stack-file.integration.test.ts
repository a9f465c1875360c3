import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../local/postgres.js';
import { readStackFile, runningStack } from '../../local/stack-file.js';

let dir: string;
let server: Server;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scram-rotator-stack-file-'));
  server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(() => {
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A stack file whose endpoint and PostgreSQL are at the given ports. */
function stackFile(name: string, endpointPort: number, postgresPort: number): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    JSON.stringify({
      secretsManager: { endpoint: `http://127.0.0.1:${endpointPort}`, region: 'us-east-1' },
      postgres: { host: '127.0.0.1', port: postgresPort },
      secrets: [],
    }),
  );
  return path;
}

describe('runningStack', () => {
  it("names what still answers of a file's stack: its endpoint, else its PostgreSQL", async () => {
    const closed = await findFreePort();
    expect(await runningStack(stackFile('up.json', port, closed))).toBe(
      `Secrets Manager http://127.0.0.1:${port}`,
    );
    expect(await runningStack(stackFile('pg.json', closed, port))).toBe(
      `PostgreSQL 127.0.0.1:${port}`,
    );
  });

  it('finds nothing running for a stale file, no file, or a file that is not a stack file', async () => {
    const closed = await findFreePort();
    expect(await runningStack(stackFile('stale.json', closed, closed))).toBeUndefined();
    expect(await runningStack(join(dir, 'missing.json'))).toBeUndefined();
    writeFileSync(join(dir, 'other.json'), '{"name":"not a stack"}');
    expect(await runningStack(join(dir, 'other.json'))).toBeUndefined();
    expect(readStackFile(join(dir, 'other.json'))).toBeUndefined();
  });
});
