/**
 * What a SCRAM verifier costs next to the PBKDF2 inside it (the floor: a
 * verifier cannot cost less), at the iteration counts that matter, and
 * optionally PBKDF2 on the CPU share of a 256 MB Lambda function.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { pbkdf2, randomBytes } from 'node:crypto';
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createScramVerifierAsync } from '../lambda/core/scram.js';
import { interleaved, type Stats, stats, timed } from './stats.js';

const pbkdf2Async = promisify(pbkdf2);

/** PostgreSQL's default, CockroachDB's default, and node-postgres' (and SCRAM_MAX_ITERATIONS') limit. */
export const ITERATION_COUNTS = [4096, 10_610, 100_000] as const;

/** A password like the function's: 32 printable ASCII characters. */
const PASSWORD = randomBytes(24).toString('base64');

/** One iteration count's results. */
export interface VerifierResult {
  readonly iterations: number;
  /** createScramVerifierAsync: PBKDF2, two HMACs, a hash, a format check. */
  readonly verifier: Stats;
  /** crypto.pbkdf2 alone, same count. */
  readonly pbkdf2: Stats;
}

/** Verifier and raw PBKDF2 at each count, interleaved. */
export async function benchVerifiers(samples: number): Promise<VerifierResult[]> {
  const results: VerifierResult[] = [];
  for (const iterations of ITERATION_COUNTS) {
    const { a, b } = await interleaved(
      samples,
      () => timed(() => createScramVerifierAsync(PASSWORD, { iterations })),
      () => timed(() => pbkdf2Async(PASSWORD, randomBytes(16), iterations, 32, 'sha256')),
    );
    results.push({ iterations, verifier: stats(a), pbkdf2: stats(b) });
  }
  return results;
}

/** The CPU share of a 256 MB Lambda function: 256/1769 of a vCPU (1769 MB buys one). */
export const LAMBDA_256_QUOTA = { quotaUs: 14_470, periodUs: 100_000 } as const;

/** PBKDF2 on a Lambda-sized CPU, or why it was not measured. */
export type LambdaCpuResult =
  | {
      readonly measured: true;
      readonly cgroup: 'v1' | 'v2';
      readonly quotaUs: number;
      readonly periodUs: number;
      readonly pbkdf2: readonly { readonly iterations: number; readonly ms: Stats }[];
    }
  | { readonly measured: false; readonly reason: string };

/** Runs in the child: waits for "go" on stdin, then times PBKDF2 and prints JSON. */
const CHILD = `
import { pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
const run = promisify(pbkdf2);
const [counts, samples] = JSON.parse(process.argv[1]);
process.stdin.once('data', async () => {
  const out = [];
  for (const iterations of counts) {
    const ms = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      await run('${PASSWORD}', randomBytes(16), iterations, 32, 'sha256');
      ms.push(performance.now() - t);
    }
    out.push({ iterations, ms });
  }
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
});
`;

/** A CPU-limited cgroup of our own: created here, removed after. */
interface Cgroup {
  readonly version: 'v1' | 'v2';
  readonly dir: string;
  readonly procsFile: string;
}

function createCgroup(name: string): Cgroup {
  const { quotaUs, periodUs } = LAMBDA_256_QUOTA;
  try {
    const dir = join('/sys/fs/cgroup/cpu', name);
    mkdirSync(dir);
    try {
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(periodUs));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
    } catch (error) {
      rmdirSync(dir);
      throw error;
    }
    return { version: 'v1', dir, procsFile: join(dir, 'tasks') };
  } catch (v1Error) {
    try {
      const dir = join('/sys/fs/cgroup', name);
      mkdirSync(dir);
      try {
        writeFileSync(join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
      } catch (error) {
        rmdirSync(dir);
        throw error;
      }
      return { version: 'v2', dir, procsFile: join(dir, 'cgroup.procs') };
    } catch {
      throw v1Error;
    }
  }
}

/**
 * PBKDF2 in a child process confined to a 256 MB Lambda's CPU share by a
 * cgroup CPU quota. Needs a writable cgroup hierarchy (root on a machine
 * that allows it); elsewhere, as in CI, it reports why it did not run.
 */
export async function benchLambdaCpu(samples: number): Promise<LambdaCpuResult> {
  let cgroup: Cgroup;
  try {
    cgroup = createCgroup(`scram-rotator-bench-${process.pid}`);
  } catch (error) {
    return {
      measured: false,
      reason: `no writable cgroup CPU controller here (${(error as NodeJS.ErrnoException).code ?? String(error)}); run as root where /sys/fs/cgroup/cpu (v1) or cpu.max (v2) is writable`,
    };
  }
  try {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', CHILD, JSON.stringify([ITERATION_COUNTS, samples])],
      { env: { PATH: process.env.PATH ?? '' }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const out: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    writeFileSync(cgroup.procsFile, String(child.pid));
    child.stdin.write('go\n');
    const code = await exited;
    if (code !== 0) return { measured: false, reason: `the confined child exited ${code}` };
    const raw = JSON.parse(Buffer.concat(out).toString('utf8')) as {
      iterations: number;
      ms: number[];
    }[];
    return {
      measured: true,
      cgroup: cgroup.version,
      ...LAMBDA_256_QUOTA,
      pbkdf2: raw.map(({ iterations, ms }) => ({ iterations, ms: stats(ms) })),
    };
  } finally {
    // The child has exited, so the group is empty and can go.
    rmdirSync(cgroup.dir);
  }
}
