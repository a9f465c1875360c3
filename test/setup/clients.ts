/**
 * Global setup of the integration tests: the command-line clients they drive
 * as a user would, psql (interop over verify-full TLS) and the AWS CLI
 * (against the local Secrets Manager endpoint), must be on PATH.
 *
 * Missing on a Debian-like machine where this runs as root (a fresh CI
 * runner or container), they are installed with apt-get, one line saying
 * so; elsewhere the run stops before any test with one line saying what to
 * install. SCRAM_ROTATOR_INSTALL_CLIENTS=0 turns the install off.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';

/** A client, the Debian package that provides it, and how to get it elsewhere. */
const CLIENTS = [
  {
    command: 'psql',
    debian: 'postgresql-client',
    elsewhere: 'brew install libpq (add its bin to PATH)',
  },
  { command: 'aws', debian: 'awscli', elsewhere: 'brew install awscli, or pip install awscli' },
] as const;

function found(command: string): boolean {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

function canInstallWithApt(): boolean {
  return (
    process.env.SCRAM_ROTATOR_INSTALL_CLIENTS !== '0' &&
    process.getuid?.() === 0 &&
    spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0
  );
}

/**
 * Ends the run with one line. Thrown, the error would come after vitest's
 * misleading "No test files found" and its project listing.
 */
function stop(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** Vitest's global setup: runs once, before the integration project's first test. */
export default function setup(): void {
  const missing = CLIENTS.filter((client) => !found(client.command));
  if (missing.length === 0) return;
  const packages = missing.map((client) => client.debian);
  if (canInstallWithApt()) {
    process.stderr.write(
      `scram-rotator tests: ${missing.map((c) => c.command).join(' and ')} not found; installing ${packages.join(' ')} with apt-get\n`,
    );
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    const install = spawnSync(
      'apt-get',
      ['install', '-y', '-qq', '--no-install-recommends', ...packages],
      { stdio: ['ignore', 'ignore', 'inherit'], env },
    );
    if (update.status === 0 && install.status === 0 && missing.every((c) => found(c.command))) {
      return;
    }
  }
  stop(
    `scram-rotator tests need ${missing.map((c) => c.command).join(' and ')} on PATH. Install ${missing
      .map((c) => `${c.command}: apt-get install ${c.debian} (Debian/Ubuntu), or ${c.elsewhere}`)
      .join('; ')}. Then run npm test again.`,
  );
}
