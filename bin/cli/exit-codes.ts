/**
 * The exit codes of every scram-rotator command, in one table: the CLIs,
 * the npm scripts that alias them, and the checkout's local-stack tools.
 * `--help` prints it and docs/cli.md repeats it; scripts may rely on it.
 *
 * @module
 */

/** Exit code per outcome, with what it means. */
export const EXIT_CODES = {
  ok: { code: 0, meaning: 'done: every check passed, the rotation or change completed' },
  failed: {
    code: 1,
    meaning:
      'failed: a check failed, a rotation failed, or an error stopped the command (the reason is printed)',
  },
  timedOut: {
    code: 2,
    meaning: 'timed out waiting (rotate): the rotation may still finish',
  },
  usage: {
    code: 64,
    meaning: 'bad usage: an unknown option, a missing or malformed value; nothing was sent',
  },
} as const;

/** One of the outcomes in {@link EXIT_CODES}. */
export type Outcome = keyof typeof EXIT_CODES;

/** The exit code of each outcome, e.g. `EXIT.usage` is 64. */
export const EXIT = Object.fromEntries(
  Object.entries(EXIT_CODES).map(([outcome, { code }]) => [outcome, code]),
) as { readonly [K in Outcome]: (typeof EXIT_CODES)[K]['code'] };

/** The table as `--help` prints it. */
export function exitCodesHelp(): string {
  return [
    'Exit codes:',
    ...Object.values(EXIT_CODES).map(
      ({ code, meaning }) => `  ${String(code).padStart(2)}  ${meaning}`,
    ),
  ].join('\n');
}
