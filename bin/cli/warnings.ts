/**
 * The AWS SDK's Node.js-version notice, as one line of ours, once.
 *
 * On Node.js 20 the SDK prints a nine-line NodeVersionSupportWarning when a
 * client is made. Every command makes one, so every run repeated it, before
 * the command's own output. It becomes one line on stderr, once per process;
 * with SCRAM_ROTATOR_DEBUG=1 the SDK's own text follows it. Other warnings
 * pass through unchanged.
 *
 * @module
 */

/** The SDK's warning, by the type it starts with. */
const SDK_NODE_WARNING = /^NodeVersionSupportWarning: /;

/** Our line for the SDK's warning text. */
export function nodeWarningLine(text: string): string {
  const requires = /will require node >=(\d+)/.exec(text)?.[1];
  const after = /versions published after (.+?)\n/.exec(text)?.[1];
  return `scram-rotator: note: the AWS SDK's ${after ? `releases after ${after}` : 'next releases'} need Node.js ${requires ? `${requires} or later` : 'a newer version'}; this is ${process.version}, which works today. Upgrade Node.js to keep receiving SDK fixes.`;
}

let installed = false;

/** Replaces the SDK's Node.js-version warning with {@link nodeWarningLine}. Idempotent. */
export function condenseSdkWarnings(debug: boolean): void {
  if (installed) return;
  installed = true;
  const emit = process.emitWarning.bind(process);
  let said = false;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (!SDK_NODE_WARNING.test(text)) {
      return (emit as (...args: unknown[]) => void)(warning, ...rest);
    }
    if (said) return;
    said = true;
    process.stderr.write(`${nodeWarningLine(text)}\n`);
    if (debug) (emit as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}
