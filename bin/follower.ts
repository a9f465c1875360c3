/**
 * `npm run follower`: the client impact of rotations, measured on the local
 * stack (see bin/follower/follow.ts for the model).
 *
 *   npm run follower -- --strategy <single-user|admin|alternating> --rotations N
 *     --cache-ms M [--interval-ms I] [--json]
 *
 * Several clients cache AWSCURRENT for M ms (0: read before every login),
 * their caches starting at different moments, and log in over verify-full
 * SCRAM about every 20 ms while N rotations run, one every I ms (default
 * 2M, never less than a rotation takes), each login followed by an
 * unqualified query on a table in the user's search_path. It prints the
 * attempts, the logins the server refused, the longest a client went
 * without logging in, and the queries that failed after a login; with
 * --json, one object as the last line of stdout:
 * { strategy, rotations, cacheMs, intervalMs, attempts, failedLogins, longestFailureMs, failedQueries }.
 *
 * Exit codes: 0 every rotation completed (failed logins are a measurement,
 * not an error); 1 a rotation failed; 64 bad usage.
 */
import { Option } from 'commander';
import { startLocalStack } from '../local/stack.js';
import { EXIT } from './cli/exit-codes.js';
import { OPTIONS, wholeNumber } from './cli/options.js';
import { newCommand, parseTool, required } from './cli/program.js';
import { FOLLOWER_STRATEGIES, type FollowerStrategy, follow } from './follower/follow.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

const values = parseTool<{
  strategy: FollowerStrategy;
  rotations: number;
  cacheMs: number;
  intervalMs?: number;
  json?: boolean;
}>(
  newCommand(
    'follower',
    'the logins clients lose while rotations run, for a strategy and a client-side secret cache, measured on the local stack',
  )
    .addOption(
      required(
        new Option('--strategy <strategy>', 'the rotation strategy').choices(FOLLOWER_STRATEGIES),
      ),
    )
    .addOption(
      required(new Option('--rotations <n>', 'how many rotations').argParser(wholeNumber(1))),
    )
    .addOption(
      required(
        new Option(
          '--cache-ms <ms>',
          'how long clients keep the secret they read (0: read before every login)',
        ).argParser(wholeNumber(0)),
      ),
    )
    .addOption(
      new Option(
        '--interval-ms <ms>',
        'time from one rotation to the next (default 2 x cache, never less than a rotation takes)',
      ).argParser(wholeNumber(0)),
    )
    .addOption(OPTIONS.json()),
);
const { strategy, rotations, cacheMs, intervalMs } = values;

// The function's metrics would print an EMF line per step.
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
const stack = await startLocalStack();
let exitCode: number = EXIT.failed;
try {
  say(
    `${strategy}: ${rotations} rotation(s), clients cache AWSCURRENT for ${cacheMs} ms, a rotation every ${intervalMs ?? 2 * cacheMs} ms (or when the one before ends) (PostgreSQL ${stack.postgres.host}:${stack.postgres.port})`,
  );
  const details = await follow(stack, {
    strategy,
    rotations,
    cacheMs,
    ...(intervalMs === undefined ? {} : { intervalMs }),
    onRotation: (r) =>
      say(
        `  rotation ${String(r.index).padStart(3)}  ${r.ok ? 'ok  ' : 'FAIL'} ${String(r.durationMs).padStart(5)} ms${r.errorMessage ? `  ${r.errorMessage}` : ''}`,
      ),
  });
  const { report } = details;
  const others = Object.entries(details.otherErrors);
  say('');
  say(`${details.clients} clients, ${report.attempts} logins in ${details.durationMs} ms:`);
  say(`  refused (the credential they held no longer worked): ${report.failedLogins}`);
  say(`  longest a client went without logging in:           ${report.longestFailureMs} ms`);
  say(`  queries that failed after a login (search_path):     ${report.failedQueries}`);
  if (others.length > 0) {
    say(
      `  other login failures (not counted above): ${others.map(([k, n]) => `${k} ${n}`).join(', ')}`,
    );
  }
  if (values.json) say(JSON.stringify(report));
  exitCode = details.rotationResults.every((r) => r.ok) ? EXIT.ok : EXIT.failed;
} catch (error) {
  process.stderr.write(`follower: ${(error as Error).message}\n`);
} finally {
  await stack.stop();
}
process.exit(exitCode);
