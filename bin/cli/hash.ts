/**
 * `scram-rotator hash`: the SCRAM-SHA-256 verifier of a password, for
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
 * Prints the verifier only (one line), accepted by PostgreSQL and
 * CockroachDB alike (the function's format checks). Exit 0, 1 on a refused
 * password or a failed --from-secret, 64 on bad usage.
 */

import { type Command, Option } from 'commander';
import { PgConnector } from '../../lambda/adapters/database.js';
import { configFromEnv } from '../../lambda/config.js';
import { generatePassword, passwordPolicyFromEnv } from '../../lambda/core/password.js';
import { preparePassword, saslprepProblem } from '../../lambda/core/saslprep.js';
import {
  assertVerifierAcceptable,
  createScramVerifierAsync,
  SCRAM_ITERATIONS,
  type ScramEngine,
} from '../../lambda/core/scram.js';
import { engineOf } from '../../lambda/engines/detect.js';
import { PasswordPolicyError } from '../../lambda/errors.js';
import { loadSecret, loginAs } from '../workflow/common.js';
import { passwordFromText, promptHidden, readStdin } from '../workflow/prompt.js';
import { preflight, secretsClient } from './aws.js';
import { EXIT } from './exit-codes.js';
import { type AwsOptions, nonEmpty, wholeNumber, withAwsOptions } from './options.js';
import { action, configure } from './program.js';

interface HashOptions extends AwsOptions {
  readonly iterations?: number;
  readonly fromSecret?: string;
  readonly generate?: boolean;
}

/** Where the iteration count comes from, and which servers the verifier must suit. */
async function iterationsFor(
  options: HashOptions,
): Promise<{ iterations: number; engines: ScramEngine[] }> {
  const secretId = options.fromSecret;
  if (secretId === undefined) {
    return {
      iterations: options.iterations ?? SCRAM_ITERATIONS.default,
      engines: ['postgres', 'cockroachdb'],
    };
  }
  const config = configFromEnv(process.env);
  const client = secretsClient(options);
  try {
    await preflight(client, 'hash');
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

async function hash(options: HashOptions): Promise<number> {
  const { iterations, engines } = await iterationsFor(options);
  const password = await readPassword(options.generate === true);
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
  if (options.generate) process.stdout.write(`${password}\n`);
  process.stdout.write(`${verifier}\n`);
  return EXIT.ok;
}

/** Adds `hash` to the program. */
export function registerHash(program: Command): void {
  const command = configure(
    program.command('hash'),
    'print the SCRAM-SHA-256 verifier of a password read from standard input or a no-echo prompt (never from the command line), for CREATE/ALTER USER ... PASSWORD in your own SQL shell',
  );
  command
    .addOption(
      new Option('--iterations <n>', `PBKDF2 iterations (default ${SCRAM_ITERATIONS.default})`)
        .argParser(wholeNumber(SCRAM_ITERATIONS.min, SCRAM_ITERATIONS.max))
        .conflicts('fromSecret'),
    )
    .addOption(
      new Option(
        '--from-secret <id>',
        "log in with that secret and use the server's iteration count, as setSecret does",
      ).argParser(nonEmpty("the secret's name or ARN")),
    )
    .addOption(
      new Option(
        '--generate',
        "generate the password with the rotation's policy (PASSWORD_LENGTH, EXCLUDE_*) and print it once, first",
      ),
    );
  withAwsOptions(command)
    .addHelpText(
      'after',
      '\nThe password is never taken as an argument (it would land in shell history and ps): pipe it in, e.g. scram-rotator hash < password-file, or type it at the prompt.',
    )
    .action(action(command, hash));
}
