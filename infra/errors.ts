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
  override readonly name: string = 'RotatorConfigError';
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
 * A secret given to a rotator that another rotator of the app (or this one,
 * twice) already rotates: Secrets Manager keeps one rotation configuration
 * per secret, so the second schedule would silently replace the first. The
 * message names the secret and both places.
 */
export class SecretAlreadyRotatedError extends RotatorConfigError {
  override readonly name: string = 'SecretAlreadyRotatedError';
  /** The construct path of the rotator that rotates the secret already, with its setting. */
  readonly rotatedBy: string;

  /**
   * @param setting - where the secret is given again, e.g. `secrets[0]`
   * @param secret - the secret, as its ARN or construct path
   * @param rotatedBy - the first rotator's path and setting, e.g. `App/Db/Rotator secrets[1]`
   */
  constructor(setting: string, secret: string, rotatedBy: string) {
    super(
      setting,
      `the secret ${secret} is already rotated by ${rotatedBy}; Secrets Manager keeps one rotation per secret, so give each secret to one rotator only`,
    );
    this.rotatedBy = rotatedBy;
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
