/**
 * Typed errors of the construct and the app: a setting they refuse at synth,
 * named so that the app can print one clean line instead of a stack trace.
 *
 * @module
 */

/**
 * A construct setting (a prop, or one secret of a list) that would not
 * deploy or would not work. The message starts with the stable prefix
 * `Invalid rotator setting` and names the setting and the fix.
 */
export class RotatorConfigError extends Error {
  override readonly name = 'RotatorConfigError';
  /** The prop, e.g. `alarmEmail` or `secrets[1]`. */
  readonly setting: string;

  /**
   * @param setting - the prop at fault, e.g. `secrets[0]`
   * @param message - what is wrong and how to fix it
   */
  constructor(setting: string, message: string, options?: ErrorOptions) {
    super(`Invalid rotator setting ${setting}: ${message}`, options);
    this.setting = setting;
  }
}

/**
 * A context value (`-c key=value` or cdk.json) the app cannot use. The
 * message starts with `context <key>` and says what the key accepts.
 */
export class ContextError extends Error {
  override readonly name = 'ContextError';
  /** The context key at fault. */
  readonly key: string;

  /**
   * @param key - the context key at fault
   * @param message - the whole message, starting with `context <key>`
   */
  constructor(key: string, message: string) {
    super(message);
    this.key = key;
  }
}
