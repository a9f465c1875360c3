/**
 * Routes what code under test writes straight to stdout and stderr through
 * the console, so vitest's `silent: 'passed-only'` applies to it too: the
 * function's logger and metrics (lambda/telemetry.ts) write to
 * process.stdout and process.stderr directly, which vitest does not
 * intercept, and their lines would otherwise print for every passing test. A failing test still shows
 * them, with its other console output.
 *
 * LeakWatch (test/fixtures/leaks.ts) spies on process.stdout.write after
 * this runs, so it still sees every line.
 */
const route =
  (log: (text: string) => void) =>
  (chunk: unknown, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
    log(text.replace(/\n$/, ''));
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  };

process.stdout.write = route((text) => console.log(text)) as typeof process.stdout.write;
process.stderr.write = route((text) => console.error(text)) as typeof process.stderr.write;
