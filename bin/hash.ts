/**
 * `npm run --silent hash`: the SCRAM-SHA-256 verifier of a password, for
 * `CREATE USER ... PASSWORD '<verifier>'` or `ALTER USER ... WITH PASSWORD
 * '<verifier>'` in your own SQL shell, computed with the rotation function's
 * own code so the server never sees the cleartext.
 *
 * The password comes from standard input (a pipe or a file), or from a
 * no-echo prompt on the terminal, never from the command line (where it
 * would land in shell history and `ps`). Or `--generate` makes one with the
 * rotation's password policy (PASSWORD_LENGTH, EXCLUDE_* as the function
 * reads them) and prints it once, on the first line, before the verifier.
 *
 * Options:
 *   --iterations <n>         PBKDF2 iterations (default 4096)
 *   --from-secret <id>       log in with that secret and use the server's count,
 *                            as setSecret does (CockroachDB: the cluster cost,
 *                            after checking pre-hashed passwords are on)
 *   --generate               generate the password and print it first
 *   --region, --endpoint-url for --from-secret
 *
 * Prints the verifier only (one line), accepted by PostgreSQL and
 * CockroachDB alike (the function's format checks). Exit 0, 1 on a refused
 * password or a failed --from-secret, 64 on bad usage.
 */
import { PgConnector } from '../lambda/adapters/database.js';
import { configFromEnv } from '../lambda/config.js';
import { generatePassword, passwordPolicyFromEnv } from '../lambda/core/password.js';
import { preparePassword, saslprepProblem } from '../lambda/core/saslprep.js';
import {
  assertVerifierAcceptable,
  createScramVerifierAsync,
  SCRAM_ITERATIONS,
  type ScramEngine,
} from '../lambda/core/scram.js';
import { engineOf } from '../lambda/engines/detect.js';
import { PasswordPolicyError } from '../lambda/errors.js';
import {
  AWS_OPTIONS,
  EXIT,
  loadSecret,
  loginAs,
  parseOptions,
  runCommand,
  secretsClient,
  UsageError,
} from './workflow/common.js';
import { passwordFromText, promptHidden, readStdin } from './workflow/prompt.js';

const USAGE =
  'npm run --silent hash -- [--iterations <n> | --from-secret <id> [--region <r>] [--endpoint-url <url>]] [--generate] < password-file';

/** Where the iteration count comes from, and which servers the verifier must suit. */
async function iterationsFor(values: {
  iterations?: string | undefined;
  'from-secret'?: string | undefined;
  region?: string | undefined;
  'endpoint-url'?: string | undefined;
}): Promise<{ iterations: number; engines: ScramEngine[] }> {
  const secretId = values['from-secret'];
  if (secretId === undefined) {
    const text = values.iterations ?? String(SCRAM_ITERATIONS.default);
    const iterations = /^[0-9]{1,10}$/.test(text) ? Number(text) : Number.NaN;
    if (!(iterations >= SCRAM_ITERATIONS.min && iterations <= SCRAM_ITERATIONS.max)) {
      throw new UsageError(
        `--iterations takes an integer from ${SCRAM_ITERATIONS.min} to ${SCRAM_ITERATIONS.max}`,
      );
    }
    return { iterations, engines: ['postgres', 'cockroachdb'] };
  }
  const config = configFromEnv(process.env);
  const client = secretsClient(values);
  try {
    const { secret } = await loadSecret(client, secretId, 'secret (--from-secret)');
    const session = await loginAs(new PgConnector(), secret, config, 'secret (--from-secret)');
    try {
      const engine = await engineOf(session);
      const { iterations } = await engine.prepareChange(session, {
        changer: secret.username,
        selfService: false,
        configuredIterations: config.scramIterations,
        allowIterationMismatch: config.allowIterationMismatch,
      });
      return { iterations, engines: [engine.name] };
    } finally {
      await session.close();
    }
  } finally {
    client.destroy();
  }
}

/** The password: generated, piped in, or typed at a no-echo prompt (twice). */
async function readPassword(generate: boolean): Promise<string> {
  if (generate) return generatePassword(passwordPolicyFromEnv(process.env));
  if (!process.stdin.isTTY) {
    const password = passwordFromText(await readStdin());
    if (/[\r\n]/.test(password)) {
      throw new PasswordPolicyError(
        'standard input holds more than one line',
        'give the password alone, on one line; nothing was hashed',
      );
    }
    return password;
  }
  const first = await promptHidden('Password (not shown): ');
  const again = await promptHidden('Again: ');
  if (first !== again) {
    throw new PasswordPolicyError('the two entries differ', 'type the same password twice');
  }
  return first;
}

async function main(): Promise<number> {
  const values = parseOptions(process.argv.slice(2), {
    ...AWS_OPTIONS,
    iterations: { type: 'string' },
    'from-secret': { type: 'string' },
    generate: { type: 'boolean', default: false },
  });
  if (values.iterations !== undefined && values['from-secret'] !== undefined) {
    throw new UsageError('give --iterations or --from-secret, not both');
  }
  const { iterations, engines } = await iterationsFor(values);
  const password = await readPassword(values.generate === true);
  if (password === '') {
    throw new PasswordPolicyError('the password is empty', 'give a non-empty password');
  }
  const problem = saslprepProblem(password);
  if (problem === 'prohibited') {
    throw new PasswordPolicyError(
      'the password has characters SASLprep prohibits (control characters such as a line break or tab, private-use, unassigned or mixed-direction characters)',
      'use printable characters only; nothing was hashed',
    );
  }
  if (problem === 'changed') {
    throw new PasswordPolicyError(
      'SASLprep would change this password (a non-ASCII space, a character it maps to nothing, or a form NFKC normalises), so clients that skip SASLprep would fail to log in',
      'type it in its normalised form, or use printable ASCII; nothing was hashed',
    );
  }
  const verifier = await createScramVerifierAsync(password, {
    iterations,
    prepare: preparePassword,
  });
  for (const engine of engines) assertVerifierAcceptable(verifier, engine);
  // The one place a password is printed: asked for with --generate.
  if (values.generate) process.stdout.write(`${password}\n`);
  process.stdout.write(`${verifier}\n`);
  return EXIT.ok;
}

runCommand('hash', USAGE, main);
