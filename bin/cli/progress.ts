/**
 * A progress line for long work (adopt over every login user, audit over
 * many users): on a terminal only, on stderr, redrawn in place, and cleared
 * before each report line and at the end, so stdout stays the report alone.
 * Quiet under `--json` and when stderr is not a terminal (a pipe, a file, CI).
 *
 * @module
 */

/** Where the line goes: stderr, or a test's stand-in. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** A progress line; the workflow calls it, the command prints around it. */
export interface ProgressLine {
  /** `done` of `total` users handled. */
  (done: number, total: number): void;
  /** Writes one report line to stdout without tearing the progress line. */
  say(line: string): void;
  /** Removes the line for good. */
  done(): void;
}

/** ANSI: back to column 0 and clear the line. */
const CLEAR = '\r\u001b[K';

/** A progress line for `command`, quiet under `--json` or off a terminal. */
export function progressLine(
  command: string,
  options: {
    readonly quiet: boolean;
    readonly stream?: ProgressStream;
    readonly out?: ProgressStream;
  },
): ProgressLine {
  const stream = options.stream ?? process.stderr;
  const out = options.out ?? process.stdout;
  const shown = !options.quiet && stream.isTTY === true;
  let current = '';
  const draw = () => {
    if (shown && current !== '') stream.write(`${CLEAR}${current}`);
  };
  const clear = () => {
    if (shown && current !== '') stream.write(CLEAR);
  };
  const line = ((done: number, total: number) => {
    current = `${command}: ${done} of ${total} user(s)${done < total ? ' ...' : ''}`;
    draw();
  }) as ProgressLine;
  line.say = (text) => {
    clear();
    out.write(`${text}\n`);
    draw();
  };
  line.done = () => {
    clear();
    current = '';
  };
  return line;
}
