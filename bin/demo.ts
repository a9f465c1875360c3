/**
 * `npm run demo`: one real rotation on the local stack, then the proofs.
 *
 * Starts PostgreSQL (verify-full TLS, SCRAM only) and the Secrets Manager
 * endpoint, creates a user and its secret, registers the rotation function,
 * calls RotateSecret and shows each step as it runs. Then it proves that the
 * new password logs in by SCRAM over verify-full, that the old one is
 * rejected, and that the new cleartext password is nowhere in the server log.
 *
 * In alternating mode the proof differs: the previous user's password must
 * still log in (clients that hold it keep working until the next rotation),
 * and the new AWSCURRENT is the other user of the pair.
 *
 * Options: see `npm run demo -- --help`. Exit code 0 only when every proof holds.
 */

import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { Option } from 'commander';
import { PgConnector } from '../lambda/adapters/database.js';
import { parseScramVerifier } from '../lambda/core/scram.js';
import { parseDatabaseSecret } from '../lambda/core/secret.js';
import { AuthenticationFailedError } from '../lambda/errors.js';
import { STRATEGIES, type StrategyName } from '../lambda/strategies/strategy.js';
import { Logger } from '../lambda/telemetry.js';
import { LOCAL_ENGINES, type LocalEngine, startLocalStack } from '../local/stack.js';
import { OPTIONS } from './cli/options.js';
import { newCommand, parseTool } from './cli/program.js';

const values = parseTool<{
  json?: boolean;
  mode: StrategyName;
  verbose?: boolean;
  engine: LocalEngine;
}>(
  newCommand(
    'demo',
    'one real rotation on the local stack (embedded PostgreSQL over verify-full TLS, a local Secrets Manager), then the proofs',
  )
    .addOption(OPTIONS.json())
    .addOption(
      new Option(
        '--mode <mode>',
        'single-user; admin (an admin secret in masterarn changes the password); alternating (two users, the admin switches between them)',
      )
        .choices(STRATEGIES)
        .default('single-user'),
    )
    .addOption(new Option('--verbose', "show the function's own JSON log lines"))
    .addOption(
      new Option(
        '--engine <engine>',
        'postgres, or cockroachdb: the CockroachDB double in front of the same PostgreSQL',
      )
        .choices(LOCAL_ENGINES)
        .default('postgres'),
    ),
);
const engine = values.engine;
const mode = values.mode;
const alternating = mode === 'alternating';
const say = (line: string) => process.stdout.write(`${line}\n`);

const started = performance.now();
if (!values.verbose) process.env.POWERTOOLS_METRICS_DISABLED = 'true';
const stack = await startLocalStack({ engine });
let exitCode = 1;
try {
  say(
    `PostgreSQL ${stack.postgres.host}:${stack.postgres.port} (TLS verify-full, SCRAM only); Secrets Manager ${stack.secretsManager.url}`,
  );
  if (stack.cockroach) {
    say(
      `CockroachDB double ${stack.cockroach.host}:${stack.cockroach.port} (${stack.cockroach.version})`,
    );
  }
  const { user, admin } = await stack.createRotationTarget({
    username: 'demo_app',
    mode: mode === 'single-user' ? 'single-user' : 'admin',
  });
  if (admin) {
    say(
      `admin secret ${admin.secretName} (${engine === 'postgres' ? 'role with CREATEROLE and ADMIN OPTION on the user' : 'CREATEROLE, CREATELOGIN, VIEWCLUSTERSETTING'})`,
    );
  }
  say(`user secret ${user.secretName} -> role ${user.username} (${mode})`);

  const readCurrent = async () => {
    const out = await stack.client.send(new GetSecretValueCommand({ SecretId: user.secretArn }));
    return parseDatabaseSecret(out.SecretString ?? '', { label: 'AWSCURRENT' });
  };
  const before = await readCurrent();

  const lambdaArn = stack.registerRotationFunction({
    env: { ...process.env, ROTATION_MODE: mode },
    logger: new Logger({
      serviceName: 'scram-rotator',
      logLevel: values.verbose ? 'INFO' : 'SILENT',
    }),
  });
  stack.secretsManager.onInvocation((invocation) => {
    if (invocation.outcome === undefined) return;
    const mark = invocation.outcome === 'succeeded' ? 'ok  ' : 'FAIL';
    say(
      `  ${mark} ${invocation.step.padEnd(13)} ${String(invocation.durationMs).padStart(5)} ms${invocation.errorMessage ? `  ${invocation.errorMessage}` : ''}`,
    );
  });
  say('RotateSecret ...');
  const outcome = await stack.rotate(user.secretArn, lambdaArn, { timeoutMs: 60_000 });
  const steps = stack.secretsManager.invocations
    .filter((i) => i.secretArn === user.secretArn && i.outcome === 'succeeded')
    .map((i) => ({ step: i.step, ms: i.durationMs }));

  const after = await readCurrent();
  const connector = new PgConnector();
  const limits = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, maxScramIterations: 0 };
  const target = (password: string, username = after.username) => ({
    host: after.host,
    port: after.port,
    database: after.dbname,
    username,
    password,
    ca: after.ca,
  });

  let newPasswordAccepted = false;
  let mechanism: string | undefined;
  try {
    const session = await connector.login(target(after.password), limits);
    // An alternating pair's sessions run as the original user (ALTER ROLE ... SET role).
    newPasswordAccepted = [user.username, after.username].includes(await session.currentUser());
    mechanism = session.mechanism;
    await session.close();
  } catch (error) {
    say(`new password login failed: ${(error as Error).message}`);
  }
  let oldPasswordRejected = false;
  try {
    const session = await connector.login(target(before.password, before.username), limits);
    await session.close();
  } catch (error) {
    oldPasswordRejected = error instanceof AuthenticationFailedError;
  }
  const serverLog = await stack.postgres.readServerLog();
  const cleartextInServerLog = serverLog.includes(after.password);
  const stored = await stack.postgres.storedPassword(after.username);
  const iterations = stored ? parseScramVerifier(stored).iterations : undefined;

  // Alternating leaves the previous user's password working on purpose.
  const oldPasswordAsExpected = alternating ? !oldPasswordRejected : oldPasswordRejected;
  const ok =
    outcome.ok &&
    after.password !== before.password &&
    newPasswordAccepted &&
    oldPasswordAsExpected &&
    !cleartextInServerLog;
  const summary = {
    ok,
    engine,
    mode,
    steps,
    newPasswordAccepted,
    oldPasswordRejected,
    ...(alternating ? { previousUser: before.username, currentUser: after.username } : {}),
    authMethod: mechanism ?? null,
    channelBinding: mechanism === 'SCRAM-SHA-256-PLUS',
    cleartextInServerLog,
    iterations: iterations ?? null,
    durationMs: Math.round(performance.now() - started),
  };
  say('');
  say(
    outcome.ok
      ? 'Rotation completed.'
      : `Rotation failed at ${outcome.failedStep}: ${outcome.errorMessage}`,
  );
  say(
    `  new password logs in (verify-full, ${mechanism ?? 'no login'}): ${newPasswordAccepted ? 'yes' : 'NO'}`,
  );
  if (alternating) {
    say(
      `  previous user ${before.username} still logs in: ${oldPasswordRejected ? 'NO' : 'yes'} (AWSCURRENT is now ${after.username})`,
    );
  } else {
    say(`  old password rejected:                ${oldPasswordRejected ? 'yes' : 'NO'}`);
  }
  say(
    `  new cleartext in PostgreSQL's log:    ${cleartextInServerLog ? 'YES' : 'no'} (log_statement=all)`,
  );
  say(`  stored verifier iterations:           ${iterations ?? 'unknown'}`);
  say(ok ? 'All proofs hold.' : 'A proof failed.');
  if (values.json) say(JSON.stringify(summary));
  exitCode = ok ? 0 : 1;
} catch (error) {
  say(`demo failed: ${(error as Error).message}`);
} finally {
  await stack.stop();
}
process.exit(exitCode);
