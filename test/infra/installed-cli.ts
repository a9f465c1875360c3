/**
 * The `scram-rotator` command as an operator gets it: the packed tarball
 * installed into a folder outside the checkout (package.test.ts's CDK app,
 * so that the run packs once), run through node_modules/.bin from there.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../local/postgres.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

const execute = promisify(execFile);
const SUBCOMMANDS = ['rotate', 'doctor', 'hash', 'provision', 'adopt', 'audit'] as const;
/** What an operator might paste in the wrong place. */
const PASSWORD = 'Tr0ub4dor&3-horse';

let work: string;
let consumer: string;
let bin: string;
let stack: LocalStack;
let secretName: string;

/** Counts the HTTP requests that reach it: where a request sent by mistake would go. */
let listener: Server;
let requests = 0;
let listenerUrl: string;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the installed command from the operator's folder, with local
 * credentials and no AWS settings from this machine unless given.
 */
async function scramRotator(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('AWS_') && !name.startsWith('npm_'),
    ),
  );
  try {
    const { stdout, stderr } = await execute(bin, [...args], {
      cwd: consumer,
      env: {
        ...clean,
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        ...env,
      },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const local = () => [
  '--endpoint-url',
  stack.secretsManager.url,
  '--region',
  stack.secretsManager.region,
];

/**
 * The installed command's tests, for the folder `installed()` names once
 * package.test.ts has installed the tarball there.
 */
export function describeInstalledCli(installed: () => string): void {
  beforeAll(async () => {
    consumer = installed();
    bin = join(consumer, 'node_modules/.bin/scram-rotator');
    work = mkdtempSync(join(tmpdir(), 'scram-rotator-bin-'));
    stack = await startLocalStack();
    secretName = (await stack.createApplicationUser()).secretName;
    listener = createServer((request, response) => {
      requests++;
      request.resume();
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end('{}');
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    listenerUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  }, 120_000);

  afterAll(async () => {
    listener?.close();
    await stack?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe('scram-rotator, installed from the packed tarball', () => {
    it('prints its help, its version and every subcommand, each with --help and --version, exit 0', async () => {
      const top = await scramRotator(['--help']);
      expect(top.code).toBe(0);
      for (const name of SUBCOMMANDS) expect(top.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
      expect(top.stdout).toContain('Exit codes:');
      const version = await scramRotator(['--version']);
      expect(version).toMatchObject({
        code: 0,
        stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/),
      });

      const runs = await Promise.all(
        SUBCOMMANDS.flatMap((name) => [
          scramRotator([name, '--help']),
          scramRotator([name, '-h']),
          scramRotator([name, '--version']),
        ]),
      );
      SUBCOMMANDS.forEach((name, i) => {
        const [help, short, ver] = runs.slice(3 * i, 3 * i + 3) as [Run, Run, Run];
        expect({ name, code: help.code }).toEqual({ name, code: 0 });
        expect(help.stdout).toContain(`Usage: scram-rotator ${name} [options]`);
        expect(short.stdout).toBe(help.stdout);
        expect(ver.stdout).toBe(version.stdout);
      });
    });

    it('answers an unknown option with one line and a "did you mean", no stack trace, exit 64', async () => {
      const run = await scramRotator(['doctor', '--secret-idd', secretName, ...local()]);
      expect(run.code).toBe(64);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        "scram-rotator doctor: unknown option '--secret-idd'; did you mean --secret-id? See: scram-rotator doctor --help\n",
      );
    });

    it('refuses an empty --endpoint-url before any request, where it would have gone to the configured endpoint', async () => {
      // AWS_ENDPOINT_URL stands in for AWS: the SDK sends there when no
      // endpoint is given, which is what an empty one used to mean.
      const env = { AWS_ENDPOINT_URL: listenerUrl, AWS_REGION: 'us-east-1' };
      requests = 0;
      const control = await scramRotator(['doctor', '--secret-id', secretName], env);
      expect(control.code).toBe(1);
      expect(requests).toBeGreaterThan(0);

      requests = 0;
      for (const empty of [['--endpoint-url', ''], ['--endpoint-url='], ['--endpoint-url', ' ']]) {
        const run = await scramRotator(['doctor', '--secret-id', secretName, ...empty], env);
        expect(run.code).toBe(64);
        expect(run.stderr).toMatch(/^scram-rotator doctor: --endpoint-url is empty: /);
        expect(run.stderr.split('\n')).toHaveLength(2);
      }
      const malformed = await scramRotator(
        ['rotate', '--secret-id', secretName, '--endpoint-url', 'localhost:4566'],
        env,
      );
      expect(malformed.code).toBe(64);
      expect(malformed.stderr).toMatch(/--endpoint-url must be an http:\/\/ or https:\/\/ URL/);
      expect(requests).toBe(0);
    });

    it('runs doctor against the local stack from a folder outside the checkout', async () => {
      const run = await scramRotator(['doctor', '--secret-id', secretName, ...local()]);
      expect(run.stdout).toMatch(/^PASS {2}login /m);
      expect(run.stdout).toMatch(/Ready to rotate/);
      expect(run.code).toBe(0);
      // The SDK's nine-line Node.js notice, at most as one line of ours.
      expect(run.stderr).not.toContain('NodeVersionSupportWarning');
      expect(run.stderr.split('\n').filter((line) => line !== '').length).toBeLessThanOrEqual(1);
    });

    it('says which endpoint refused the connection and asks whether the stack is running', async () => {
      const closed = `http://127.0.0.1:${await findFreePort()}`;
      const run = await scramRotator([
        'doctor',
        '--secret-id',
        secretName,
        '--endpoint-url',
        closed,
        '--region',
        'us-east-1',
      ]);
      expect(run.code).toBe(1);
      expect(run.stdout + run.stderr).toContain(
        `Endpoint unreachable: cannot connect to ${closed} (connection refused). Is the local stack running?`,
      );

      // The same failure stopping rotate: one line, and the stack trace only when asked for.
      const args = [
        'rotate',
        '--secret-id',
        secretName,
        '--endpoint-url',
        closed,
        '--region',
        'us-east-1',
      ];
      const [plain, debug] = await Promise.all([
        scramRotator(args),
        scramRotator(args, { SCRAM_ROTATOR_DEBUG: '1' }),
      ]);
      expect(plain.code).toBe(1);
      expect(plain.stderr).toMatch(
        /^scram-rotator rotate: Endpoint unreachable: cannot connect to \S+ \(connection refused\)\. Is the local stack running\?.*\n$/m,
      );
      expect(plain.stderr).not.toMatch(/^\s+at /m);
      expect(debug.code).toBe(1);
      expect(debug.stderr).toMatch(
        /rotate: EndpointUnreachableError: Endpoint unreachable: .*\n\s+at /,
      );
      expect(debug.stderr).toContain('caused by: Error: connect ECONNREFUSED');
    });

    it('says how to set a region when none is given, before any request', async () => {
      requests = 0;
      const run = await scramRotator([
        'audit',
        '--secret-id',
        secretName,
        '--endpoint-url',
        listenerUrl,
      ]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /^scram-rotator audit: No AWS region: .*--region <region>.*AWS_REGION.*aws configure set region/m,
      );
      expect(requests).toBe(0);
    });

    it('takes the region and credentials from --profile', async () => {
      const config = join(work, 'aws-config');
      const credentials = join(work, 'aws-credentials');
      writeFileSync(config, '[profile ops]\nregion = eu-west-3\n');
      writeFileSync(
        credentials,
        '[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = ops\n',
      );
      const seen: string[] = [];
      const onRequest = (request: { headers: Record<string, unknown> }) => {
        seen.push(String(request.headers.authorization ?? ''));
      };
      listener.on('request', onRequest);
      try {
        const run = await scramRotator(
          ['doctor', '--secret-id', secretName, '--endpoint-url', listenerUrl, '--profile', 'ops'],
          {
            AWS_CONFIG_FILE: config,
            AWS_SHARED_CREDENTIALS_FILE: credentials,
            AWS_ACCESS_KEY_ID: '',
            AWS_SECRET_ACCESS_KEY: '',
          },
        );
        expect(run.stderr).not.toMatch(/No AWS (region|credentials)/);
        expect(seen.length).toBeGreaterThan(0);
        // Signed with the profile's key, for the profile's region.
        expect(seen[0]).toMatch(/Credential=AKIDOPS\/\d{8}\/eu-west-3\/secretsmanager\//);
      } finally {
        listener.off('request', onRequest);
      }
    });

    it('never prints back an argument that may be a password, whatever the subcommand', async () => {
      const shapes = [
        [PASSWORD],
        [`--password=${PASSWORD}`],
        [`-${PASSWORD}`],
        [`--${PASSWORD}`],
        ['--endpoint-url', PASSWORD],
        ['--region', PASSWORD],
      ];
      const cases = [
        ...SUBCOMMANDS.flatMap((name) => shapes.map((args) => [name, ...args])),
        [PASSWORD],
        ['hash', '--iterations', PASSWORD],
        ['rotate', '--secret-id', 'x', '--timeout', PASSWORD],
        ['audit', '--secret-id', 'x', '--strict-hba-since', PASSWORD],
      ];
      const runs = await Promise.all(cases.map((args) => scramRotator(args)));
      runs.forEach((run, i) => {
        const args = cases[i]?.join(' ');
        expect({ args, code: run.code }).toEqual({ args, code: 64 });
        expect({ args, out: run.stdout + run.stderr }).not.toEqual({
          args,
          out: expect.stringContaining('Tr0ub4dor'),
        });
        expect(run.stderr.split('\n')).toHaveLength(2);
      });
      // The option is still named when it has an option's shape.
      expect(runs[1]?.stderr).toMatch(/^scram-rotator rotate: unknown option '--password'\./);
    });
  });
}
