/**
 * Reading a password without it landing in argv, shell history or the
 * terminal: from standard input when it is a pipe or file, or from a
 * no-echo prompt on the terminal (raw mode: nothing is echoed).
 *
 * @module
 */

/** The state of a no-echo prompt as keys arrive. */
export interface PromptState {
  readonly value: string;
  readonly done: boolean;
  readonly cancelled: boolean;
}

/** A prompt that has read nothing yet. */
export const EMPTY_PROMPT: PromptState = { value: '', done: false, cancelled: false };

/**
 * Applies typed keys to a prompt: Enter ends it, Ctrl-C or Ctrl-D on an
 * empty line cancels it, Backspace removes the last character, other
 * control keys are ignored. Pure, so that it can be tested without a terminal.
 */
export function applyKeys(state: PromptState, keys: string): PromptState {
  let { value } = state;
  for (const key of keys) {
    if (key === '\r' || key === '\n') return { value, done: true, cancelled: false };
    if (key === '\u0003' || (key === '\u0004' && value === '')) {
      return { value: '', done: true, cancelled: true };
    }
    if (key === '\u007f' || key === '\b') value = [...value].slice(0, -1).join('');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control keys are skipped
    else if (!/[\u0000-\u001f]/.test(key)) value += key;
  }
  return { value, done: false, cancelled: false };
}

/** One password from a no-echo prompt on the terminal (`prompt` goes to stderr). */
export function promptHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.resume();
  input.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let state = EMPTY_PROMPT;
    const onData = (chunk: string) => {
      state = applyKeys(state, chunk);
      if (!state.done) return;
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (state.cancelled) reject(new Error('cancelled'));
      else resolve(state.value);
    };
    input.on('data', onData);
  });
}

/**
 * The password from standard input: all of it, without one trailing line
 * break (as `echo` or a file adds). What is left must be one line.
 */
export function passwordFromText(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/** Reads all of standard input as UTF-8. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
